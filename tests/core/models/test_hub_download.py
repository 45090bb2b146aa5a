"""Hub downloads with huggingface_hub's network calls replaced by local fakes (no internet here)."""

import hashlib
from pathlib import Path
from types import SimpleNamespace

import huggingface_hub
import pytest

from packshot.core.errors import ChecksumMismatchError
from packshot.core.models.integrity import read_lock
from packshot.core.models.store import ModelStore
from tests.factories.model_folders import make_diffusers_folder


@pytest.fixture
def fake_hub(tmp_path, monkeypatch):
    """Serve the files of a structurally complete diffusers folder as if it were the hub repo."""
    repo = make_diffusers_folder(tmp_path / "remote")
    (repo / "pipeline.py").write_text("raise SystemExit('never downloaded, never run')")
    (repo / "unet" / "diffusion_pytorch_model.bin").write_bytes(b"pickle twin of the safetensors")
    (repo / "vae" / "diffusion_pytorch_model.fp16.safetensors").write_bytes(b"variant we do not use")
    files = sorted(p for p in repo.rglob("*") if p.is_file())
    corrupt: set[str] = set()

    def sibling(p: Path):
        rel = p.relative_to(repo).as_posix()
        lfs = SimpleNamespace(sha256=hashlib.sha256(p.read_bytes()).hexdigest()) if p.suffix == ".safetensors" else None
        return SimpleNamespace(rfilename=rel, size=p.stat().st_size, lfs=lfs)

    def model_info(self, repo_id, revision=None, files_metadata=False):
        return SimpleNamespace(sha="c" * 40, siblings=[sibling(p) for p in files])

    def hf_hub_download(repo_id, filename, revision=None, local_dir=None, tqdm_class=None):
        data = (repo / filename).read_bytes()
        if filename in corrupt:
            data = data[:-1] + bytes([data[-1] ^ 1])
        bar = tqdm_class(total=len(data), initial=0)
        out = Path(local_dir) / filename
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_bytes(data)
        bar.update(len(data))
        return str(out)

    monkeypatch.setattr(huggingface_hub.HfApi, "model_info", model_info)
    monkeypatch.setattr(huggingface_hub, "hf_hub_download", hf_hub_download)
    return SimpleNamespace(repo=repo, corrupt=corrupt)


def test_hub_download_filters_verifies_and_locks(tmp_path, fake_hub):
    store = ModelStore(tmp_path / "user", offline=False, download_dir=tmp_path / "dl", use_hf_cache=False)
    seen = []
    folder = store.ensure("photo-background-generation", progress=seen.append)
    assert folder == tmp_path / "dl" / "photo-background-generation"
    assert not (folder / "pipeline.py").exists()  # not in the allow patterns: never fetched
    assert not (folder / "unet" / "diffusion_pytorch_model.bin").exists()  # safetensors preferred
    assert not (folder / "vae" / "diffusion_pytorch_model.fp16.safetensors").exists()
    lock = read_lock(folder)
    assert lock["commit"] == "c" * 40 and "unet/diffusion_pytorch_model.safetensors" in lock["files"]
    assert seen[-1].done == seen[-1].total > 0
    assert store.verify("photo-background-generation").ok


def test_hub_download_rejects_corrupted_file(tmp_path, fake_hub):
    fake_hub.corrupt.add("vae/diffusion_pytorch_model.safetensors")
    store = ModelStore(tmp_path / "user", offline=False, download_dir=tmp_path / "dl", use_hf_cache=False)
    with pytest.raises(ChecksumMismatchError, match="vae/diffusion_pytorch_model.safetensors arrived corrupted"):
        store.ensure("photo-background-generation")
    assert not (tmp_path / "dl" / "photo-background-generation" / "vae" / "diffusion_pytorch_model.safetensors").exists()
    assert not store.available("photo-background-generation")
