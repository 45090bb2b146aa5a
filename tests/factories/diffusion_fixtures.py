"""Session-wide pytest fixtures for the tiny diffusion models (import them into a conftest.py)."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.factories.diffusion import build_models_dir


@pytest.fixture(scope="session")
def tiny_diffusion_models_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """``<dir>/photo-background-generation`` (SI2 + ControlNet, stray pipeline.py) and ``<dir>/sd2-inpainting``."""
    return build_models_dir(tmp_path_factory.mktemp("diffusion-models"))


@pytest.fixture
def tiny_diffusion_store(tiny_diffusion_models_dir: Path, tmp_path: Path):
    """A ModelStore that finds the tiny models and can neither download nor read a HF cache."""
    from packshot.core.models.store import ModelStore

    return ModelStore(tiny_diffusion_models_dir, offline=True, download_dir=tmp_path / "downloads",
                      use_hf_cache=False)


@pytest.fixture(scope="session")
def tiny_diffusion_runtime(tiny_diffusion_models_dir: Path, tmp_path_factory: pytest.TempPathFactory):
    """One Runtime over the tiny models for the whole session: they load once, as in one app or CLI run."""
    from packshot.core.models.store import ModelStore
    from packshot.core.runtime import Runtime

    return Runtime(store=ModelStore(tiny_diffusion_models_dir, offline=True, use_hf_cache=False,
                                    download_dir=tmp_path_factory.mktemp("runtime-downloads")))
