"""Session-wide pytest fixtures for the tiny SD2 base + 4-channel ControlNet models (the paper's ablation)."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.factories.sd2_controlnet import (
    build_sd2_components,
    save_sd2_base_folder,
    save_sd2_controlnet_folder,
)

SD2_CONTROLNET_ID = "my-sd2-controlnet"  # a model folder as `packshot train --mode sd2-controlnet` writes it


@pytest.fixture(scope="session")
def tiny_sd2_models_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """``<dir>/stable-diffusion-2-base`` and ``<dir>/my-sd2-controlnet`` (the same SD2 base + a ControlNet)."""
    root = tmp_path_factory.mktemp("sd2-models")
    components = build_sd2_components("tiny", with_controlnet=True)
    save_sd2_base_folder(root / "stable-diffusion-2-base", components)
    save_sd2_controlnet_folder(root / SD2_CONTROLNET_ID, components)
    return root


@pytest.fixture
def tiny_sd2_store(tiny_sd2_models_dir: Path, tiny_diffusion_models_dir: Path):
    """A ModelStore with the SD2 models as the user's folder and the SI2 models (paper, SD2 inpainting) beside."""
    from packshot.core.models.store import ModelStore

    return ModelStore(tiny_sd2_models_dir, offline=True, download_dir=tiny_diffusion_models_dir, use_hf_cache=False)
