"""Packshot Studio: the PySide6 desktop app.

Qt lives only in this package. It drives the same ``core`` job objects as the command line
(``packshot.core.jobs``, ``packshot.core.project``, ``packshot.core.masking``, ``packshot.core.generation``, ``packshot.core.quality``); every
model call runs on a worker thread, and torch is imported only when a worker first needs it so the
window appears fast.
"""
