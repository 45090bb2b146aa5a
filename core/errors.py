"""Errors meant to be read by a person: each says what went wrong and what fixes it."""

from __future__ import annotations


class PackshotError(Exception):
    """Base class for every error Packshot reports to a user (CLI message or GUI dialog)."""


class ModelMissingError(PackshotError):
    """A model's weights are not on this machine and cannot be downloaded now."""


class ChecksumMismatchError(PackshotError):
    """A model file's size or sha256 does not match what the manifest or download recorded."""


class UnsafeWeightsError(PackshotError):
    """A weights file would run code or has an unexpected format; it was not loaded."""


class ImageReadError(PackshotError):
    """An input file is not a usable image (empty, truncated, too large, unknown format...)."""


class ImageWriteError(PackshotError):
    """An output could not be written (read-only folder, disk full...)."""


class TemplateError(PackshotError):
    """A prompt template is malformed or names a variable that has no value."""


class Cancelled(PackshotError):
    """The user cancelled a long operation; partial work was discarded cleanly."""
