"""Test-wide setup: offscreen Qt, offline hub, and an isolated home so no test touches real user data."""

from __future__ import annotations

import os
import tempfile

# Set before anything imports Qt or huggingface_hub.
os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
os.environ["HF_HUB_OFFLINE"] = "1"
os.environ.setdefault("HF_HUB_DISABLE_TELEMETRY", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
# huggingface_hub reads its cache location once, at import: give the whole run an empty one.
os.environ["HF_HOME"] = tempfile.mkdtemp(prefix="packshot-test-hf-")

import pytest  # noqa: E402

# Tiny diffusion models in the real on-disk formats, built once per test session.
from tests.factories.diffusion_fixtures import (  # noqa: E402, F401
    tiny_diffusion_models_dir,
    tiny_diffusion_runtime,
    tiny_diffusion_store,
)
from tests.factories.sd2_fixtures import tiny_sd2_models_dir, tiny_sd2_store  # noqa: E402, F401


@pytest.fixture(autouse=True)
def isolated_user_dirs(tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch) -> None:
    """Point HOME, XDG dirs, the HF cache and Packshot's models folder at a fresh temporary place."""
    home = tmp_path_factory.mktemp("home")
    monkeypatch.setenv("HOME", str(home))
    monkeypatch.setenv("XDG_DATA_HOME", str(home / ".local" / "share"))
    monkeypatch.setenv("XDG_CONFIG_HOME", str(home / ".config"))
    monkeypatch.setenv("XDG_CACHE_HOME", str(home / ".cache"))
    monkeypatch.setenv("XDG_STATE_HOME", str(home / ".local" / "state"))
    monkeypatch.setenv("HF_HOME", str(home / ".cache" / "huggingface"))
    monkeypatch.delenv("PACKSHOT_MODELS_DIR", raising=False)
    monkeypatch.delenv("PACKSHOT_DEVICE", raising=False)


@pytest.fixture
def fake_models_dir(tmp_path):
    """A models folder with a structurally complete paper-weights folder and a (fake) SAM vit_b file."""
    from tests.factories.model_folders import make_models_dir

    return make_models_dir(tmp_path / "models")
