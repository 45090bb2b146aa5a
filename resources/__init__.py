"""Data shipped with Packshot: the model manifest, prompt templates, sample photos, screenshots.

A package only so that a wheel carries these files to the same place relative to ``core``.
"""
