"""Every file of a hub download is checked against the hub's own metadata, and later loads against the record.

No internet here: huggingface_hub's ``HfApi.model_info(files_metadata=True)`` and ``hf_hub_download`` are
replaced by a fake hub serving a tiny FLUX.2 [klein] folder (tests/factories/flux2_klein.py) with the metadata
the real hub gives: every file's size, an LFS file's sha256, any other file's git object id (``blob_id``).
"""

from __future__ import annotations

import hashlib
from pathlib import Path
from types import SimpleNamespace

import huggingface_hub
import pytest

from packshot.core.errors import ChecksumMismatchError
from packshot.core.generation.engines.flux2_klein import DEFAULT_MODEL, Flux2KleinEngine
from packshot.core.generation.settings import GenerationSettings
from packshot.core.models import integrity
from packshot.core.models.download import git_blob_sha1
from packshot.core.models.integrity import read_lock
from packshot.core.models.store import ModelStore
from tests.factories.flux2_klein import save_flux2_klein_folder


@pytest.fixture(scope="module")
def remote(tmp_path_factory: pytest.TempPathFactory) -> Path:
    repo = save_flux2_klein_folder(tmp_path_factory.mktemp("hub") / "FLUX.2-klein-4B")
    (repo / "flux-2-klein-4b.safetensors").write_bytes(b"the single-file checkpoint: not in our patterns")
    return repo


@pytest.fixture
def fake_hub(remote, monkeypatch):
    """The hub for black-forest-labs/FLUX.2-klein-4B: metadata as model_info(files_metadata=True) gives it."""
    corrupt: set[str] = set()
    fetched: list[str] = []

    def sibling(p: Path):
        rel = p.relative_to(remote).as_posix()
        lfs = SimpleNamespace(size=p.stat().st_size, sha256=hashlib.sha256(p.read_bytes()).hexdigest(),
                              pointer_size=134) if p.suffix == ".safetensors" else None
        return SimpleNamespace(rfilename=rel, size=p.stat().st_size, blob_id=git_blob_sha1(p), lfs=lfs)

    def model_info(self, repo_id, revision=None, files_metadata=False):
        assert repo_id == "black-forest-labs/FLUX.2-klein-4B" and files_metadata
        return SimpleNamespace(sha="d" * 40, siblings=[sibling(p) for p in sorted(remote.rglob("*")) if p.is_file()])

    def hf_hub_download(repo_id, filename, revision=None, local_dir=None, tqdm_class=None):
        fetched.append(filename)
        data = (remote / filename).read_bytes()
        if filename in corrupt:  # same size, one bit flipped: only a hash can tell
            data = data[:-1] + bytes([data[-1] ^ 1])
        bar = tqdm_class(total=len(data), initial=0)
        out = Path(local_dir) / filename
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_bytes(data)
        bar.update(len(data))
        return str(out)

    monkeypatch.setattr(huggingface_hub.HfApi, "model_info", model_info)
    monkeypatch.setattr(huggingface_hub, "hf_hub_download", hf_hub_download)
    return SimpleNamespace(repo=remote, corrupt=corrupt, fetched=fetched)


def new_store(tmp_path: Path, offline: bool = False) -> ModelStore:
    return ModelStore(tmp_path / "user", offline=offline, download_dir=tmp_path / "dl", use_hf_cache=False)


def test_every_file_is_checked_against_the_hub_and_recorded(tmp_path, fake_hub):
    folder = new_store(tmp_path).ensure(DEFAULT_MODEL)
    lock = read_lock(folder)
    files = sorted(p.relative_to(folder).as_posix() for p in integrity.model_files(folder))
    assert files == sorted(lock["files"]) and len(files) > 10  # every downloaded file is in the record
    assert "flux-2-klein-4b.safetensors" not in files  # outside the manifest's patterns: never fetched
    checked = {rel: entry["checked"] for rel, entry in lock["files"].items()}
    assert checked["transformer/diffusion_pytorch_model.safetensors"] == "hub sha256"
    assert checked["text_encoder/config.json"] == checked["model_index.json"] == "hub git blob"
    assert set(checked.values()) == {"hub sha256", "hub git blob"}
    for rel, entry in lock["files"].items():
        assert entry["sha256"] == hashlib.sha256((fake_hub.repo / rel).read_bytes()).hexdigest()
    assert lock["commit"] == "d" * 40


@pytest.mark.parametrize("bad", ["transformer/diffusion_pytorch_model.safetensors", "transformer/config.json"])
def test_a_corrupted_file_is_refused_by_name_the_rest_arrive_and_a_rerun_completes(tmp_path, fake_hub, bad):
    store = new_store(tmp_path)
    fake_hub.corrupt.add(bad)
    with pytest.raises(ChecksumMismatchError) as refused:
        store.ensure(DEFAULT_MODEL)
    message = str(refused.value)
    assert "\n" not in message and f"{bad} arrived corrupted" in message
    assert ("hub says" in message) and ("sha256" in message if bad.endswith(".safetensors") else "git blob" in message)
    partial = store.partial_dir(DEFAULT_MODEL)
    assert not (partial / bad).exists()  # refused and deleted
    assert (partial / "vae" / "diffusion_pytorch_model.safetensors").is_file()  # the rest went on and is kept
    assert not store.available(DEFAULT_MODEL) and not (tmp_path / "dl" / DEFAULT_MODEL).exists()

    fake_hub.corrupt.clear()
    folder = store.ensure(DEFAULT_MODEL)
    assert bad in read_lock(folder)["files"] and not partial.exists()


def test_a_wrong_size_is_refused_before_hashing(tmp_path, fake_hub, monkeypatch):
    import packshot.core.models.download as download

    real = download.hub_mismatch

    def shorter_on_the_hub(local, sibling, digest):
        if sibling.rfilename == "vae/config.json":
            sibling = SimpleNamespace(**{**vars(sibling), "size": sibling.size + 1})
        return real(local, sibling, digest)

    monkeypatch.setattr(download, "hub_mismatch", shorter_on_the_hub)
    with pytest.raises(ChecksumMismatchError, match=r"vae/config.json arrived corrupted \(\d+ bytes, hub says"):
        new_store(tmp_path).ensure(DEFAULT_MODEL)


def test_later_offline_loads_are_checked_against_the_record(tmp_path, fake_hub, monkeypatch):
    from packshot.core.runtime import Runtime

    new_store(tmp_path).ensure(DEFAULT_MODEL)
    offline = new_store(tmp_path, offline=True)
    folder = offline.path(DEFAULT_MODEL)
    hashed: list[str] = []
    real_sha = integrity.sha256_file
    monkeypatch.setattr(integrity, "sha256_file", lambda path, *a, **k: hashed.append(path.name) or real_sha(path, *a, **k))

    offline.check_recorded(DEFAULT_MODEL, folder)
    assert len(hashed) == len(read_lock(folder)["files"])  # the first load hashes every file once
    hashed.clear()
    offline.check_recorded(DEFAULT_MODEL, folder)
    assert hashed == []  # later loads: a stat per file, no hashing

    weights = folder / "transformer" / "diffusion_pytorch_model.safetensors"
    data = bytearray(weights.read_bytes())
    data[-1] ^= 1  # same size, a later modification time: hashed again, and refused
    weights.write_bytes(bytes(data))
    engine = Flux2KleinEngine(Runtime(store=offline), device="cpu")
    with pytest.raises(ChecksumMismatchError) as refused:
        engine.models(GenerationSettings(resolution=64, steps=2))
    message = str(refused.value)
    assert "\n" not in message and "checksum mismatch: transformer/diffusion_pytorch_model.safetensors" in message
    assert f"packshot models download {DEFAULT_MODEL}" in message

    weights.write_bytes(bytes(data[:-1]))
    with pytest.raises(ChecksumMismatchError, match=r"wrong size: transformer/diffusion_pytorch_model.safetensors"):
        offline.check_recorded(DEFAULT_MODEL, folder)


def test_a_folder_placed_by_hand_has_no_record_and_loads(tmp_path):
    from packshot.core.runtime import Runtime

    save_flux2_klein_folder(tmp_path / "user" / DEFAULT_MODEL)
    store = new_store(tmp_path, offline=True)
    loaded = Flux2KleinEngine(Runtime(store=store), device="cpu").models(GenerationSettings(resolution=64, steps=2))
    assert loaded.pipeline is not None  # `packshot models verify` records and checks such a folder
