"""Fixtures for masking tests: a tiny SAM in a real model folder, loaded through the model store."""

from __future__ import annotations

from pathlib import Path

import pytest

from packshot.core.masking.sam_models import sam_for


@pytest.fixture(scope="session")
def tiny_sam_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A models folder holding ``sam-vit_b/sam_tiny.safetensors`` (random tiny SAM)."""
    from tests.factories.sam import write_tiny_sam

    models_dir = tmp_path_factory.mktemp("models")
    write_tiny_sam(models_dir)
    return models_dir


@pytest.fixture
def tiny_store(tiny_sam_dir: Path):
    from packshot.core.models.store import ModelStore

    return ModelStore(tiny_sam_dir, offline=True)


@pytest.fixture
def tiny_runtime(tiny_store):
    """The test's runtime over the tiny SAM: its maskers and ``tiny_sam`` share one loaded model."""
    from packshot.core.runtime import Runtime

    return Runtime(store=tiny_store)


@pytest.fixture
def tiny_sam(tiny_runtime):
    return sam_for(tiny_runtime, "vit_b", "cpu")


@pytest.fixture
def encoder_calls(tiny_sam):
    """Counts image-encoder forward passes of the tiny SAM during a test."""
    calls = []
    handle = tiny_sam.model.image_encoder.register_forward_hook(lambda *_: calls.append(1))
    yield calls
    handle.remove()
