"""Fixtures for the quality tests: tiny diffusion models (real on-disk format) and a tiny CLIP."""

from __future__ import annotations

from pathlib import Path

import pytest


@pytest.fixture(scope="session")
def quality_models_dir(tiny_diffusion_models_dir: Path) -> Path:
    """``photo-background-generation`` and ``sd2-inpainting`` tiny folders, built once per session."""
    return tiny_diffusion_models_dir


@pytest.fixture(scope="session")
def tiny_clip_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from tests.core.quality.clip_factory import build_tiny_clip

    return build_tiny_clip(tmp_path_factory.mktemp("clip") / "clip")
