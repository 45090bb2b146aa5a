"""Fixtures shared by the generation tests."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.factories.upscaler import write_both


@pytest.fixture
def upscalers(tmp_path) -> Path:
    """A models folder holding both tiny upscalers (the CPU's compact one and the GPU's RRDBNet)."""
    return write_both(tmp_path / "models")
