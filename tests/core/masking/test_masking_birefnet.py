"""BiRefNet (ONNX) as the learned prior, through the model store, the manifest and the registry.

The model here is tests/factories/birefnet.py: a real ONNX file in the released exports' layout
(``input_image`` 1 x 3 x 1024 x 1024 in, logits ``output_image`` 1 x 1 x 1024 x 1024 out) whose
output is a fixed "redness" function of the pixels. These tests prove the plumbing (manifest entry,
store path, ImageNet preprocessing, sigmoid on the logits, choice of variant and of prior, clear
errors), not the quality of BiRefNet's masks, which needs the real weights.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from packshot.core.errors import ModelMissingError, UnsafeWeightsError
from packshot.core.images import Photo
from packshot.core.masking.maskers import build_masker
from packshot.core.masking.prior import check_prior_weights, get_prior, resolve_prior
from packshot.core.masking.prior_learned import BiRefNetPrior, IsNetPrior
from packshot.core.models.manifest import load_manifest
from packshot.core.models.store import ModelStore
from packshot.core.runtime import Runtime
from tests.factories.birefnet import (
    build_tiny_birefnet,
    expected_logit,
    expected_probability,
    write_tiny_birefnet,
)
from tests.factories.isnet import write_tiny_isnet

GREY, RED = (200, 200, 200), (200, 30, 30)


def _store(models_dir: Path) -> ModelStore:
    return ModelStore(models_dir, offline=True, download_dir=models_dir / "_downloads", use_hf_cache=False)


@pytest.fixture(scope="module")
def models_root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One folder per combination of models: lite, full, both, lite + IS-Net."""
    root = tmp_path_factory.mktemp("birefnet-models")
    write_tiny_birefnet(root / "lite", lite=True)
    write_tiny_birefnet(root / "full", lite=False)
    write_tiny_birefnet(root / "both", lite=True)
    write_tiny_birefnet(root / "both", lite=False)
    write_tiny_birefnet(root / "lite+isnet", lite=True)
    write_tiny_isnet(root / "lite+isnet")
    write_tiny_isnet(root / "isnet")
    return root


def store_with(models_root: Path, which: str) -> ModelStore:
    return _store(models_root / which)


def textured_scene(h: int, w: int, rect: tuple[int, int, int, int]) -> tuple[np.ndarray, np.ndarray]:
    """A neutral backdrop with real texture (scikit-image's camera) and a red product carrying the same
    texture; returns the image and the product's true mask."""
    import cv2
    from skimage import data

    texture = cv2.resize(data.camera(), (w, h), interpolation=cv2.INTER_AREA).astype(np.float32) / 255.0
    shade = (0.85 + 0.3 * texture)[..., None]  # +-15 % brightness
    img = np.clip(np.array(GREY, np.float32) * shade, 0, 255)
    x0, y0, x1, y1 = rect
    img[y0:y1, x0:x1] = np.clip(np.array(RED, np.float32) * shade[y0:y1, x0:x1], 0, 255)
    truth = np.zeros((h, w), bool)
    truth[y0:y1, x0:x1] = True
    return img.astype(np.uint8), truth


def iou(a: np.ndarray, b: np.ndarray) -> float:
    return float((a & b).sum() / max(1, (a | b).sum()))


def test_manifest_lists_both_variants_with_their_published_size_and_checksum():
    manifest = load_manifest()
    for model_id, file_name, size in [("birefnet-general", "BiRefNet-general-epoch_244.onnx", 972_666_916),
                                      ("birefnet-general-lite", "BiRefNet-general-bb_swin_v1_tiny-epoch_232.onnx",
                                       224_005_088)]:
        spec = manifest[model_id]
        assert spec.kind == "onnx" and spec.licence == "MIT" and spec.source["type"] == "url"
        assert spec.source["url"].endswith("/" + file_name) and spec.files[0].path == file_name
        assert spec.files[0].bytes == spec.approx_bytes == size
        assert len(spec.files[0].sha256) == 64 and int(spec.files[0].sha256, 16)


@pytest.mark.parametrize("lite", [True, False])
def test_loads_through_the_store_and_applies_imagenet_normalisation_and_the_sigmoid(models_root, lite):
    prior = get_prior("birefnet-lite" if lite else "birefnet", Runtime(store=store_with(models_root, "lite" if lite else "full")),
                      device="cpu")
    assert isinstance(prior, BiRefNetPrior) and prior.name == ("birefnet-lite" if lite else "birefnet")
    folder = "birefnet-general-lite" if lite else "birefnet-general"
    assert prior.path.parent == models_root / ("lite" if lite else "full") / folder
    assert prior.input_hw == (1024, 1024) and prior.input_name == "input_image"
    # flat colours: the map equals sigmoid(logit) only with /255, ImageNet mean AND std, and the sigmoid;
    # (140, 60, 54)'s logit is in [0, 1], so a loader that trusted "already a probability" would fail it
    for colour in [(140, 60, 54), (250, 20, 90), GREY]:
        prob = prior.probabilities(np.full((41, 29, 3), colour, np.uint8))
        assert prob.shape == (1024, 1024) and prob.dtype == np.float32
        np.testing.assert_allclose(prob, expected_probability(colour), atol=2e-4)
    assert 0.0 < float(expected_logit((140, 60, 54))) < 1.0


@pytest.mark.parametrize("h,w", [(1500, 2000), (333, 517), (97, 1201)])
def test_mask_has_the_photos_size_and_follows_the_product(models_root, h, w):
    prior = get_prior("birefnet", Runtime(store=store_with(models_root, "lite")), device="cpu")
    rect = (w // 5, h // 6, w // 5 + max(9, w // 2), h // 6 + max(9, h // 2) + 1)
    img, truth = textured_scene(h, w, rect)
    result = prior(img)
    assert result.mask.shape == (h, w) and result.mask.dtype == bool
    assert iou(result.mask, truth) >= 0.97
    x0, y0, x1, y1 = rect
    assert result.mask[y0 + 2:y1 - 2, x0 + 2:x1 - 2].all()
    assert result.details["prior"] == "birefnet-lite" and result.details["model_id"] == "birefnet-general-lite"
    assert result.score > 0.8


def test_reads_the_first_output_when_the_export_has_more(tmp_path):
    import onnx

    folder = tmp_path / "birefnet-general-lite"
    folder.mkdir()
    onnx.save(build_tiny_birefnet(extra_outputs=2), str(folder / "BiRefNet-general-bb_swin_v1_tiny-epoch_232.onnx"))
    prior = get_prior("birefnet-lite", Runtime(store=_store(tmp_path)), device="cpu")
    assert [o.name for o in prior.session.get_outputs()] == ["output_image", "decoy_0", "decoy_1"]
    img, truth = textured_scene(120, 160, (40, 30, 110, 95))
    assert iou(prior(img).mask, truth) >= 0.95  # a decoy (the inverted map) would give the backdrop


def test_auto_picks_birefnet_over_isnet_and_isnet_stays_selectable(models_root):
    store = store_with(models_root, "lite+isnet")
    assert resolve_prior("auto", store, device="cpu") == ("birefnet-lite", None)
    assert get_prior("auto", Runtime(store=store), device="cpu").name == "birefnet-lite"
    isnet = get_prior("isnet", Runtime(store=store), device="cpu")
    assert isinstance(isnet, IsNetPrior) and isnet.name == "isnet"
    masker = build_masker("auto", Runtime(store=store), device="cpu")  # no SAM in this store: the prior alone
    img, truth = textured_scene(150, 200, (50, 40, 150, 120))
    result = masker.compute(Photo(pixels=img))
    assert masker.name == "birefnet-lite" and result.source == "birefnet-lite"
    assert "prior_fallback" not in result.details and iou(result.mask, truth) >= 0.95
    # without BiRefNet, auto is IS-Net as before; without either, classic and the reason names BiRefNet
    assert resolve_prior("auto", store_with(models_root, "isnet"), device="cpu") == ("isnet", None)
    concrete, reason = resolve_prior("auto", _store(models_root / "none"), device="cpu")
    assert concrete == "classic"
    assert "packshot models download birefnet-general-lite" in reason and "224.0 MB" in reason
    assert "birefnet-general" in reason and "isnet-general-use" in reason and "classic" in reason


def test_cpu_picks_lite_a_gpu_picks_the_full_model_and_either_alone_is_used(models_root, monkeypatch):
    both = store_with(models_root, "both")
    assert resolve_prior("auto", both, device="cpu") == ("birefnet-lite", None)
    assert resolve_prior("birefnet", both, device="cpu") == ("birefnet-lite", None)
    assert get_prior("birefnet", Runtime(store=both), device="cpu").model_id == "birefnet-general-lite"
    # this machine has no GPU: what a session for "auto" would run on decides
    monkeypatch.setattr("packshot.core.masking.prior_learned.runs_on_gpu", lambda device="auto": True)
    assert resolve_prior("auto", both, device="auto") == ("birefnet", None)
    assert resolve_prior("auto", both, device="cpu") == ("birefnet-lite", None)  # an explicit CPU stays lite
    assert resolve_prior("birefnet-lite", both, device="auto") == ("birefnet-lite", None)
    monkeypatch.setattr("packshot.core.masking.prior_learned.runs_on_gpu", lambda device="auto": False)
    assert resolve_prior("auto", both, device="auto") == ("birefnet-lite", None)
    # only one variant present: that one, whatever the device
    assert resolve_prior("auto", store_with(models_root, "full"), device="cpu") == ("birefnet", None)
    assert resolve_prior("birefnet", store_with(models_root, "full"), device="cpu") == ("birefnet", None)
    assert get_prior("auto", Runtime(store=store_with(models_root, "full")), device="cpu").model_id == "birefnet-general"


def test_explicit_birefnet_without_weights_is_the_stores_clear_message(models_root, tmp_path, monkeypatch):
    empty = _store(tmp_path / "no-models")
    with pytest.raises(ModelMissingError, match=r"birefnet-general-lite.*224\.0 MB.*packshot models download"):
        get_prior("birefnet", Runtime(store=empty), device="cpu")  # on the CPU the lite one is the one to get
    with pytest.raises(ModelMissingError, match="birefnet-general-lite"):
        check_prior_weights("birefnet-lite", store_with(models_root, "full"))
    check_prior_weights("birefnet", store_with(models_root, "full"), device="cpu")  # the full one will do
    check_prior_weights("auto", empty)  # auto falls back, never raises
    check_prior_weights("classic", empty)
    monkeypatch.setattr("packshot.core.masking.prior_learned.runs_on_gpu", lambda device="auto": True)
    with pytest.raises(ModelMissingError, match=r"'birefnet-general' .*972\.7 MB"):
        check_prior_weights("birefnet", empty)  # on a GPU, the full one
    with pytest.raises(ValueError, match="auto, classic, isnet, birefnet, birefnet-lite"):
        resolve_prior("u2net", empty)


def test_batch_with_explicit_birefnet_and_no_weights_fails_before_any_work(tmp_path):
    from packshot.core.jobs import BatchJob, JobSettings
    from tests.core.batch_helpers import no_models_runtime, write_photos

    write_photos(tmp_path / "in", 1)
    job = BatchJob(tmp_path / "in", tmp_path / "out", JobSettings.from_flat(dict(prior="birefnet-lite", device="cpu")),
                   runtime=no_models_runtime(tmp_path))
    with pytest.raises(ModelMissingError, match="packshot models download birefnet-general-lite"):
        job.prepare()
    assert not (tmp_path / "out").exists()


def test_a_damaged_truncated_or_foreign_model_file_is_refused_clearly(tmp_path):
    import onnx

    name = "BiRefNet-general-bb_swin_v1_tiny-epoch_232.onnx"
    bad = tmp_path / "bad" / "birefnet-general-lite"
    bad.mkdir(parents=True)
    (bad / name).write_bytes(b"\x08\x07 not a protobuf" * 40)
    with pytest.raises(UnsafeWeightsError, match=rf"{name} is not a loadable ONNX model.*"
                                                 "packshot models verify birefnet-general-lite"):
        get_prior("birefnet-lite", Runtime(store=_store(tmp_path / "bad")))
    whole = build_tiny_birefnet().SerializeToString()
    cut = tmp_path / "cut" / "birefnet-general-lite"
    cut.mkdir(parents=True)
    (cut / name).write_bytes(whole[: len(whole) // 2])  # an interrupted copy
    with pytest.raises(UnsafeWeightsError, match="is not a loadable ONNX model"):
        get_prior("birefnet-lite", Runtime(store=_store(tmp_path / "cut")))
    wrong = tmp_path / "wrong" / "birefnet-general"
    wrong.mkdir(parents=True)
    onnx.save(build_tiny_birefnet(channels=1), str(wrong / "BiRefNet-general-epoch_244.onnx"))
    with pytest.raises(UnsafeWeightsError, match=r"BiRefNet-general-epoch_244\.onnx does not look like BiRefNet"):
        get_prior("birefnet", Runtime(store=_store(tmp_path / "wrong")))
    # and `packshot models verify` names the file that is not the published one
    report = _store(tmp_path / "cut").verify("birefnet-general-lite")
    assert not report.ok and any(name in p for p in report.problems)


def test_masks_command_takes_the_birefnet_prior(models_root, tmp_path, capsys, monkeypatch):
    import csv

    from PIL import Image

    from packshot.core.cli.main import main
    from packshot.core.masking import load_mask_png

    monkeypatch.setattr("packshot.core.models.store.default_download_dir", lambda: tmp_path / "downloads")
    photos, out = tmp_path / "in", tmp_path / "masks"
    photos.mkdir()
    img, truth = textured_scene(150, 201, (50, 40, 150, 120))
    Image.fromarray(img).save(photos / "red box.png")
    argv = ["masks", str(photos), "--out", str(out), "--masker", "classic", "--prior", "birefnet",
            "--models-dir", str(models_root / "both"), "--device", "cpu"]
    assert main(argv) == 0
    assert "with birefnet-lite into" in capsys.readouterr().out
    with open(out / "review.csv", newline="") as handle:
        assert [r["source"] for r in csv.DictReader(handle)] == ["birefnet-lite"]
    assert iou(load_mask_png(out / "red box.png", (201, 150)).mask, truth) >= 0.95


def test_no_weights_notes_say_what_birefnet_and_sam_would_improve(models_root, tmp_path, tiny_sam_dir):
    from packshot.core.jobs.context import JobContext
    from packshot.core.jobs.settings import JobSettings
    from packshot.core.masking.hints import mask_weights_missing, missing_weights_notes

    # nothing at all: backgrounds, and the masks (BiRefNet for the CPU + SAM), each with its command and size
    ctx = JobContext(JobSettings.from_flat(dict(device="cpu")), runtime=Runtime(store=_store(tmp_path / "no-models")))
    text = " ".join(ctx.notes)
    assert ctx.engine_name == "white" and "packshot models download photo-background-generation" in text
    assert "classic (OpenCV) prior" in text and "backdrop" in text and "shadow" in text
    assert "packshot models download birefnet-general-lite sam-vit_b" in text
    assert "224.0 MB" in text and "375.0 MB" in text
    # BiRefNet present, SAM missing: the masks come from BiRefNet and only SAM is suggested
    ctx = JobContext(JobSettings.from_flat(dict(device="cpu")), runtime=Runtime(store=store_with(models_root, "lite")))
    text = " ".join(ctx.notes)
    assert "with the BiRefNet mask" in text and "Masks come from BiRefNet alone" in text
    assert "packshot models download sam-vit_b" in text and "birefnet-general-lite" not in text
    # SAM present, no learned prior: SAM's prompts come from the classic prior, BiRefNet is suggested
    missing = mask_weights_missing(_store(tiny_sam_dir), device="cpu")
    assert missing == {"sam_model": None, "prior_model": "birefnet-general-lite", "prior": "classic"}
    (note,) = missing_weights_notes(**missing)
    assert "seeding SAM" in note and note.endswith("packshot models download birefnet-general-lite")
    # an explicit classic masker and prior ask for neither; everything present: nothing to say
    assert mask_weights_missing(_store(tmp_path / "none"), prior="classic", masker="classic") == {
        "sam_model": None, "prior_model": None, "prior": "classic"}
    assert missing_weights_notes(prior="birefnet-lite") == []
