"""The learned salient prior (IS-Net, ONNX) through the model store, the registry and the maskers.

The model here is tests/factories/isnet.py: a real ONNX file with the published model's input and
output layout whose output is a fixed "redness" function of the pixels. These tests prove the
plumbing (store path, one session per process, preprocessing, full-resolution alignment, choice of
prior, prompts for SAM, clear errors), not the quality of IS-Net's masks, which needs the real
weights.
"""

from __future__ import annotations

import hashlib
import subprocess
import sys
import threading
from dataclasses import replace
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import numpy as np
import pytest

from packshot.core.errors import ModelMissingError, UnsafeWeightsError
from packshot.core.images import Photo, load_photo
from packshot.core.masking.maskers import build_masker
from packshot.core.masking.prior import get_prior, resolve_prior
from packshot.core.masking.prior_learned import IsNetPrior
from packshot.core.models.manifest import ManifestFile, load_manifest
from packshot.core.models.store import ModelStore
from packshot.core.runtime import Runtime
from tests.factories.isnet import build_tiny_isnet, expected_probability, write_tiny_isnet

GREY, RED, BLUE = (200, 200, 200), (200, 30, 30), (30, 60, 200)


def _store(models_dir: Path) -> ModelStore:
    return ModelStore(models_dir, offline=True, download_dir=models_dir / "_downloads", use_hf_cache=False)


@pytest.fixture(scope="module")
def isnet_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    models_dir = tmp_path_factory.mktemp("isnet-models")
    write_tiny_isnet(models_dir)
    return models_dir


@pytest.fixture
def isnet_store(isnet_dir: Path) -> ModelStore:
    return _store(isnet_dir)


@pytest.fixture
def empty_store(tmp_path: Path) -> ModelStore:
    return _store(tmp_path / "no-models")


def scene(h: int, w: int, rect: tuple[int, int, int, int], colour=RED, extra=None) -> tuple[np.ndarray, np.ndarray]:
    """A grey backdrop with a coloured box (x0, y0, x1, y1 exclusive); returns image and its true mask."""
    img = np.empty((h, w, 3), np.uint8)
    img[:] = GREY
    x0, y0, x1, y1 = rect
    img[y0:y1, x0:x1] = colour
    truth = np.zeros((h, w), bool)
    truth[y0:y1, x0:x1] = True
    if extra is not None:  # a second, non-red object: salient to the eye, not to the tiny model
        ex0, ey0, ex1, ey1 = extra
        img[ey0:ey1, ex0:ex1] = BLUE
    return img, truth


def iou(a: np.ndarray, b: np.ndarray) -> float:
    return float((a & b).sum() / max(1, (a | b).sum()))


def test_loads_through_the_store_path_and_reads_the_main_output(isnet_store, isnet_dir):
    prior = get_prior("isnet", Runtime(store=isnet_store), device="cpu")
    assert isinstance(prior, IsNetPrior) and prior.name == "isnet"
    assert prior.path == isnet_dir / "isnet-general-use" / "isnet-general-use.onnx"
    assert prior.input_hw == (1024, 1024) and prior.providers == ["CPUExecutionProvider"]
    # a flat colour: the raw map equals the analytic output only if the preprocessing is the
    # published one (/255, rembg's mean, std 1) and the first output is the one read
    for colour in [(128, 64, 64), (250, 20, 90), GREY]:
        prob = prior.probabilities(np.full((37, 53, 3), colour, np.uint8))
        assert prob.shape == (1024, 1024)
        np.testing.assert_allclose(prob, expected_probability(colour), atol=2e-4)


def test_one_session_for_many_photos_and_maskers(isnet_store, monkeypatch):
    import onnxruntime as ort

    created = []
    real = ort.InferenceSession

    def counting(*args, **kwargs):
        created.append(args[0])
        return real(*args, **kwargs)

    monkeypatch.setattr(ort, "InferenceSession", counting)
    runtime = Runtime(store=isnet_store)
    first = build_masker("classic", runtime, prior="isnet", device="cpu")
    second = build_masker("auto", runtime, prior="isnet", device="cpu")
    for i in range(4):
        img, _ = scene(90 + i, 120 + 3 * i, (20, 15, 70, 60))
        first.compute(Photo(pixels=img))
        second.compute(Photo(pixels=img))
    assert len(created) == 1 and created[0].endswith("isnet-general-use.onnx")
    assert first.prior.session is second.prior.session
    other = build_masker("classic", Runtime(store=isnet_store), prior="isnet", device="cpu")
    assert other.prior.session is not first.prior.session and len(created) == 2  # another runtime: its own


@pytest.mark.parametrize("h,w", [(333, 517), (1201, 97), (64, 64)])
def test_full_resolution_mask_is_aligned_with_odd_sized_photos(isnet_store, h, w):
    prior = get_prior("isnet", Runtime(store=isnet_store), device="cpu")
    rect = (w // 5, h // 6, w // 5 + max(9, w // 2), h // 6 + max(9, h // 2) + 1)
    img, truth = scene(h, w, rect)
    result = prior(img)
    assert result.mask.shape == (h, w) and result.mask.dtype == bool
    assert (result.mask != truth).sum() <= 2 * (h + w) * 0.01 + 2  # a sliver at most along the edge
    x0, y0, x1, y1 = rect
    assert result.mask[y0 + 1:y1 - 1, x0 + 1:x1 - 1].all()  # no shift: the inside is all in
    outside = np.ones((h, w), bool)
    outside[max(0, y0 - 1):y1 + 1, max(0, x0 - 1):x1 + 1] = False
    assert not result.mask[outside].any()
    assert result.details["prior"] == "isnet" and result.details["work_size"] == [1024, 1024]
    assert result.score > 0.8


def test_exif_rotated_photo_is_masked_in_its_displayed_orientation(isnet_store, tmp_path):
    from PIL import Image

    stored, stored_truth = scene(210, 320, (30, 20, 130, 90))  # off-centre, so every rotation differs
    exif = Image.Exif()
    exif[0x0112] = 6  # the camera was turned: display rotated 90 degrees clockwise
    path = tmp_path / "turned.jpg"
    Image.fromarray(stored).save(path, quality=95, exif=exif.tobytes())
    photo = load_photo(path)
    truth = np.rot90(stored_truth, k=-1)
    assert photo.pixels.shape[:2] == (320, 210) and photo.size == (210, 320)
    masker = build_masker("classic", Runtime(store=isnet_store), prior="isnet", device="cpu")
    result = masker.compute(photo)
    assert result.mask.shape == (320, 210) and result.alpha.shape == (320, 210)
    assert iou(result.mask, truth) >= 0.95
    assert iou(result.mask, np.rot90(stored_truth, k=1)) < 0.2  # the other way round would be wrong


def test_auto_picks_isnet_when_present_and_says_so(isnet_store):
    assert resolve_prior("auto", isnet_store) == ("isnet", None)
    assert get_prior("auto", Runtime(store=isnet_store), device="cpu").name == "isnet"
    masker = build_masker("auto", Runtime(store=isnet_store), device="cpu")  # no SAM in this store
    assert masker.name == "isnet"
    img, truth = scene(120, 160, (40, 30, 110, 95))
    result = masker.compute(Photo(pixels=img))
    assert result.source == "isnet" and result.details["prior"] == "isnet"
    assert "sam-vit_b" in result.details["fallback"] and "isnet" in result.details["fallback"]
    assert "prior_fallback" not in result.details
    assert iou(result.mask, truth) >= 0.95


def test_auto_falls_back_to_classic_without_weights_and_says_so(empty_store):
    concrete, reason = resolve_prior("auto", empty_store)
    assert concrete == "classic" and "isnet-general-use" in reason and "classic" in reason
    assert get_prior("auto", Runtime(store=empty_store)).name == "classic"
    masker = build_masker("auto", Runtime(store=empty_store))
    img, _ = scene(120, 160, (40, 30, 110, 95))
    result = masker.compute(Photo(pixels=img))
    assert masker.name == "classic" and result.source == "classic" and result.details["prior"] == "classic"
    assert "packshot models download isnet-general-use" in result.details["prior_fallback"]


def test_kind_classic_stays_classic_even_with_learned_weights(isnet_store):
    masker = build_masker("classic", Runtime(store=isnet_store))
    assert masker.name == "classic"
    img, _ = scene(100, 120, (30, 30, 80, 70))
    assert masker.compute(Photo(pixels=img)).details["prior"] == "classic"


def test_explicit_isnet_without_weights_is_the_stores_clear_message(empty_store):
    with pytest.raises(ModelMissingError, match=r"isnet-general-use.*178\.6 MB.*packshot models download isnet-general-use"):
        get_prior("isnet", Runtime(store=empty_store))
    with pytest.raises(ModelMissingError, match="isnet-general-use"):
        build_masker("classic", Runtime(store=empty_store), prior="isnet")
    with pytest.raises(ValueError, match="auto, classic, isnet"):
        build_masker("auto", Runtime(store=empty_store), prior="u2net")


def test_learned_prior_seeds_sam_prompts(tiny_sam_dir, isnet_dir, tmp_path):
    """Red box (the tiny model's "object") beside a blue one: the prompts follow the prior in use."""
    models = tmp_path / "models"
    models.mkdir()
    (models / "sam-vit_b").symlink_to(tiny_sam_dir / "sam-vit_b", target_is_directory=True)
    (models / "isnet-general-use").symlink_to(isnet_dir / "isnet-general-use", target_is_directory=True)
    store = _store(models)
    red = (60, 80, 180, 230)
    img, truth = scene(300, 400, red, extra=(250, 90, 360, 220))
    masker = build_masker("auto", Runtime(store=store), device="cpu")
    assert masker.name == "sam-tiny" and masker.prior.name == "isnet"
    result = masker.compute(Photo(pixels=img))
    assert result.source == "sam-tiny" and result.details["prior"] == "isnet"
    prompts = result.details["prompts"]
    x0, y0, x1, y1 = red
    for px, py in prompts["points"]:
        assert x0 <= px < x1 and y0 <= py < y1, "every point inside the red product"
    bx0, by0, bx1, by1 = prompts["box"]
    assert bx0 <= x0 and by0 <= y0 and x1 - 1 <= bx1 < 250 and y1 - 1 <= by1 <= y1 + 10, "box around it only"
    # the classic prior sees both boxes as salient: its prompts reach the blue one
    classic = build_masker("auto", Runtime(store=store), device="cpu", prior="classic").compute(Photo(pixels=img))
    assert classic.details["prior"] == "classic" and classic.details["prompts"]["box"][2] > 300


def test_confidence_is_low_for_a_weak_map_and_zero_for_a_flat_one(isnet_store):
    prior = get_prior("isnet", Runtime(store=isnet_store), device="cpu")
    clear, _ = scene(120, 160, (40, 30, 110, 95))
    # object and backdrop both reddish, near the model's level: a timid map the stretch must blow up
    weak, truth = scene(120, 160, (40, 30, 110, 95), colour=(160, 85, 85))
    weak[~truth] = (140, 85, 85)
    assert prior(clear).score > 0.8
    assert prior(weak).score < 0.3
    flat = prior(np.full((50, 70, 3), GREY, np.uint8))
    assert not flat.mask.any() and flat.score == 0.0 and flat.mask.shape == (50, 70)


def test_a_damaged_or_foreign_model_file_is_refused_clearly(tmp_path):
    import onnx

    bad = tmp_path / "bad"
    (bad / "isnet-general-use").mkdir(parents=True)
    (bad / "isnet-general-use" / "isnet-general-use.onnx").write_bytes(b"not a protobuf" * 10)
    with pytest.raises(UnsafeWeightsError, match="packshot models verify isnet-general-use"):
        get_prior("isnet", Runtime(store=_store(bad)))
    wrong = tmp_path / "wrong"
    (wrong / "isnet-general-use").mkdir(parents=True)
    onnx.save(build_tiny_isnet(channels=1), str(wrong / "isnet-general-use" / "isnet-general-use.onnx"))
    with pytest.raises(UnsafeWeightsError, match="does not look like IS-Net"):
        get_prior("isnet", Runtime(store=_store(wrong)))


def test_downloads_through_the_url_path_of_the_manifest_entry(tmp_path, monkeypatch):
    """`packshot models download isnet-general-use` = store.ensure over the entry's URL and checksum."""
    spec = load_manifest()["isnet-general-use"]
    assert spec.kind == "onnx" and spec.source["type"] == "url" and spec.files[0].path == "isnet-general-use.onnx"
    assert spec.files[0].bytes == spec.approx_bytes == 178_648_008
    payload_path = write_tiny_isnet(tmp_path / "src")
    payload = payload_path.read_bytes()

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self):  # noqa: N802 - http.server naming
            self.send_response(200)
            self.send_header("Content-Length", str(len(payload)))
            self.end_headers()
            self.wfile.write(payload)

        def log_message(self, *args):
            pass

    httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    try:
        fake = replace(spec, source={"type": "url", "url": f"http://127.0.0.1:{httpd.server_address[1]}/m.onnx"},
                       files=(replace(spec.files[0], bytes=len(payload),
                                      sha256=hashlib.sha256(payload).hexdigest()),), approx_bytes=len(payload))
        assert isinstance(fake.files[0], ManifestFile)
        manifest = dict(load_manifest(), **{"isnet-general-use": fake})
        monkeypatch.setattr("packshot.core.models.store.load_manifest", lambda: manifest)
        store = ModelStore(tmp_path / "user", offline=False, download_dir=tmp_path / "dl", use_hf_cache=False)
        folder = store.ensure("isnet-general-use")
    finally:
        httpd.shutdown()
    assert folder == tmp_path / "dl" / "isnet-general-use"
    assert (folder / "isnet-general-use.onnx").read_bytes() == payload
    assert store.verify("isnet-general-use").ok
    assert get_prior("auto", Runtime(store=store), device="cpu").path == folder / "isnet-general-use.onnx"


def test_masks_command_takes_a_prior(isnet_dir, tmp_path, capsys, monkeypatch):
    import csv

    monkeypatch.setattr("packshot.core.models.store.default_download_dir", lambda: tmp_path / "downloads")
    from PIL import Image

    from packshot.core.cli.main import main

    photos, out = tmp_path / "in", tmp_path / "masks"
    photos.mkdir()
    img, truth = scene(150, 201, (50, 40, 150, 120))
    Image.fromarray(img).save(photos / "red box.png")
    argv = ["masks", str(photos), "--out", str(out), "--masker", "classic", "--prior", "isnet"]
    assert main([*argv, "--models-dir", str(isnet_dir), "--device", "cpu"]) == 0
    assert "with isnet into" in capsys.readouterr().out
    with open(out / "review.csv", newline="") as handle:
        assert [r["source"] for r in csv.DictReader(handle)] == ["isnet"]
    from packshot.core.masking import load_mask_png

    assert iou(load_mask_png(out / "red box.png", (201, 150)).mask, truth) >= 0.95
    assert main([*argv, "--redo", "--models-dir", str(tmp_path / "none")]) == 1
    assert "packshot models download isnet-general-use" in capsys.readouterr().err


def test_importing_masking_does_not_import_onnxruntime():
    code = ("import sys, packshot.core.masking, packshot.core.masking.prior, packshot.core.masking.maskers; "
            "packshot.core.masking.get_prior; sys.exit('onnxruntime' in sys.modules)")
    assert subprocess.run([sys.executable, "-c", code], cwd=Path(__file__).resolve().parents[3]).returncode == 0
