"""Packshot engine: masks, background generation, compositing, batch jobs.

This package never imports Qt, ``desktop`` or ``trainer``; the GUI and the CLI both drive it.
"""

__version__ = "0.1.0"
