import json

import pytest

from packshot.core.errors import ModelMissingError
from packshot.core.models.store import ModelStore
from tests.factories.model_folders import make_diffusers_folder


def test_user_folder_is_found_first(fake_models_dir, tmp_path):
    store = ModelStore(fake_models_dir, offline=True, download_dir=tmp_path / "dl")
    assert store.path("photo-background-generation") == fake_models_dir / "photo-background-generation"
    assert store.available("sam-vit_b")
    assert not store.available("sd2-inpainting")


def test_download_dir_used_when_user_folder_lacks_model(tmp_path):
    dl = tmp_path / "dl"
    make_diffusers_folder(dl / "photo-background-generation")
    store = ModelStore(tmp_path / "empty", offline=True, download_dir=dl)
    assert store.path("photo-background-generation") == dl / "photo-background-generation"


def test_incomplete_folder_is_not_used(fake_models_dir, tmp_path):
    (fake_models_dir / "photo-background-generation" / "controlnet" / "diffusion_pytorch_model.safetensors").unlink()
    store = ModelStore(fake_models_dir, offline=True, download_dir=tmp_path / "dl")
    assert store.locate("photo-background-generation") is None


def test_missing_model_offline_names_size_and_fix(tmp_path):
    store = ModelStore(tmp_path / "m", offline=True, download_dir=tmp_path / "dl")
    with pytest.raises(ModelMissingError) as err:
        store.ensure("photo-background-generation")
    text = str(err.value)
    assert "photo-background-generation" in text and "6.7 GB" in text
    assert "packshot models download photo-background-generation" in text
    assert str(tmp_path / "m" / "photo-background-generation") in text
    assert "offline" in text


def test_unknown_model_is_a_clear_error(tmp_path):
    with pytest.raises(ModelMissingError, match="Unknown model 'nope'"):
        ModelStore(tmp_path, offline=True).spec("nope")


def test_user_models_are_listed(fake_models_dir, tmp_path):
    make_diffusers_folder(fake_models_dir / "my-brand-controlnet")
    store = ModelStore(fake_models_dir, offline=True, download_dir=tmp_path / "dl")
    ids = [s.id for s in store.list_models()]
    assert ids[:6] == ["photo-background-generation", "sd2-inpainting", "stable-diffusion-2-base", "sam-vit_b",
                       "sam-vit_l", "sam-vit_h"]
    assert "my-brand-controlnet" in ids
    assert store.path("my-brand-controlnet") == fake_models_dir / "my-brand-controlnet"


def test_hf_cache_layout_is_used(tmp_path, monkeypatch):
    # A snapshot in the Hugging Face cache layout (blobs named by sha256, snapshots linking to them).
    import huggingface_hub.constants as hc

    cache = tmp_path / "hub"
    repo = cache / "models--yahoo-inc--photo-background-generation"
    snapshot = make_diffusers_folder(repo / "snapshots" / ("a" * 40))
    (repo / "refs").mkdir(parents=True)
    (repo / "refs" / "main").write_text("a" * 40)
    monkeypatch.setattr(hc, "HF_HUB_CACHE", str(cache))
    store = ModelStore(tmp_path / "none", offline=True, download_dir=tmp_path / "dl")
    assert store.path("photo-background-generation") == snapshot


def test_verify_records_then_detects_corruption_and_truncation(fake_models_dir, tmp_path):
    store = ModelStore(fake_models_dir, offline=True, download_dir=tmp_path / "dl")
    before = sorted(p.relative_to(fake_models_dir) for p in fake_models_dir.rglob("*"))
    first = store.verify("photo-background-generation")
    assert first.ok and first.checked > 5
    # The hashes are kept in our own data folder: the user's models folder is not written to.
    assert sorted(p.relative_to(fake_models_dir) for p in fake_models_dir.rglob("*")) == before
    assert list((tmp_path / "verified").glob("photo-background-generation-*.json"))

    unet = fake_models_dir / "photo-background-generation" / "unet" / "diffusion_pytorch_model.safetensors"
    data = bytearray(unet.read_bytes())
    data[-3] ^= 0xFF  # flip a bit inside the tensor data: header still parses
    unet.write_bytes(bytes(data))
    report = store.verify("photo-background-generation")
    assert not report.ok
    assert any("checksum mismatch: unet/diffusion_pytorch_model.safetensors" in p for p in report.problems)

    vae = fake_models_dir / "photo-background-generation" / "vae" / "diffusion_pytorch_model.safetensors"
    vae.write_bytes(vae.read_bytes()[:-40])
    report = store.verify("photo-background-generation")
    assert any(p.startswith("truncated: vae/diffusion_pytorch_model.safetensors") for p in report.problems)


def test_verify_sam_against_manifest_checksum(fake_models_dir, tmp_path):
    # The fake checkpoint has the real file name but not the real bytes: the manifest's size catches it.
    report = ModelStore(fake_models_dir, offline=True, download_dir=tmp_path / "dl").verify("sam-vit_b")
    assert not report.ok
    assert any("wrong size: sam_vit_b_01ec64.pth" in p for p in report.problems)


def test_verify_names_file_missing_since_lock(fake_models_dir, tmp_path):
    store = ModelStore(fake_models_dir, offline=True, download_dir=tmp_path / "dl")
    store.verify("photo-background-generation")
    (fake_models_dir / "photo-background-generation" / "scheduler" / "scheduler_config.json").unlink()
    problems = store.verify("photo-background-generation").problems
    assert sum("scheduler/scheduler_config.json" in p for p in problems) == 1  # named once
    [record] = (tmp_path / "verified").glob("photo-background-generation-*.json")
    assert "scheduler/scheduler_config.json" in json.loads(record.read_text())["files"]


def test_revision_comes_from_the_download_record(fake_models_dir, tmp_path):
    from packshot.core.models.integrity import write_lock

    store = ModelStore(fake_models_dir, offline=True, download_dir=tmp_path / "dl")
    assert store.revision("photo-background-generation") == "local"  # placed by hand: no hub commit known
    write_lock(fake_models_dir / "photo-background-generation", "photo-background-generation", {}, commit="abc123")
    assert store.revision("photo-background-generation") == "abc123"


def test_single_file_model_under_another_name_is_checked_against_the_manifest(tmp_path):
    folder = tmp_path / "models" / "sam-vit_b"
    folder.mkdir(parents=True)
    (folder / "my_sam.pth").write_bytes(b"not the published checkpoint")
    store = ModelStore(tmp_path / "models", offline=True, download_dir=tmp_path / "dl")
    report = store.verify("sam-vit_b")
    assert not report.ok and any("my_sam.pth" in p for p in report.problems)
    assert not (folder / "packshot-lock.json").exists()  # nothing recorded for a foreign file


def test_relative_models_dir_becomes_absolute(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    assert ModelStore("models", offline=True).models_dir == tmp_path / "models"
