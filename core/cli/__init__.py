"""The ``packshot`` command line: one entry point over the same core job objects as the GUI."""
