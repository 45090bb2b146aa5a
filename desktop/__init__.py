"""Packshot Studio: the PySide6 desktop app.

Qt lives only in this package. It drives the same ``core`` job objects as the command line
(``core.jobs``, ``core.project``, ``core.masking``, ``core.generation``, ``core.quality``); every
model call runs on a worker thread, and torch is imported only when a worker first needs it so the
window appears fast.
"""
