"""The original's EXIF and ICC profile reach every output and export; the recipe reads back from each format."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image

from packshot.core.images import load_photo, output_format_for, save_image
from packshot.core.jobs import BatchJob, JobSettings
from packshot.core.jobs.export import ExportJob, ExportSettings
from packshot.core.recipe import Recipe, read_recipe, save_output, sidecar_path
from packshot.core.runtime import Runtime
from tests.core.batch_helpers import no_models_runtime, no_models_store, product_photo, srgb_icc

MAKE, MODEL, LENS, ARTIST, COPYRIGHT, TAKEN = "Canon", "EOS R5", "RF 50mm F1.8 STM", "Ann Lee", "(c) Shop Ltd", \
    "2024:05:06 07:08:09"


def _camera_exif(orientation: int = 6) -> Image.Exif:
    exif = Image.Exif()
    exif[0x010F], exif[0x0110], exif[0x013B], exif[0x8298], exif[0x0112] = MAKE, MODEL, ARTIST, COPYRIGHT, orientation
    exif[0x8769] = {0x9003: TAKEN, 0xA434: LENS, 0x8827: 200, 0x927C: b"maker" * 50}
    exif[0x8825] = {1: "N", 2: (51.0, 30.0, 0.0)}  # GPS: left out of outputs on purpose
    return exif


ICC = srgb_icc()  # once: lcms stamps each profile it makes with the time


def _rotated_original(folder, name="shot.jpg"):
    """A JPEG stored on its side with EXIF orientation 6 (turn 90 degrees clockwise to view)."""
    folder.mkdir(parents=True, exist_ok=True)
    upright = product_photo(160, 120)
    path = folder / name
    Image.fromarray(np.ascontiguousarray(np.rot90(upright, 1))).save(path, exif=_camera_exif(6),
                                                                       icc_profile=ICC, quality=95)
    return path, upright


def _assert_metadata(path, icc):
    with Image.open(path) as im:
        exif = im.getexif()
        sub = exif.get_ifd(0x8769)
        assert (exif.get(0x010F), exif.get(0x0110), exif.get(0x013B), exif.get(0x8298)) == \
            (MAKE, MODEL, ARTIST, COPYRIGHT), path.name
        assert (sub.get(0x9003), sub.get(0xA434)) == (TAKEN, LENS), path.name
        assert exif.get(0x0112) == 1, path.name  # the pixels are upright already
        assert 0x927C not in sub and not exif.get_ifd(0x8825), path.name  # no maker note, no GPS
        assert im.info.get("icc_profile") == icc, path.name


@pytest.mark.parametrize("fmt", ["jpg", "png", "webp", "tiff"])
def test_batch_and_export_keep_exif_icc_and_recipe(tmp_path, fmt):
    src, upright = _rotated_original(tmp_path / "in")
    icc = ICC
    store = no_models_store(tmp_path)
    assert BatchJob(tmp_path / "in", tmp_path / "out", JobSettings.from_flat(dict(engine="white", output_format=fmt)),
                    runtime=Runtime(store=store)).run().ok
    out = tmp_path / "out" / f"shot.{'tiff' if fmt == 'tiff' else fmt}"
    _assert_metadata(out, icc)
    assert read_recipe(out).engine == "white" and not sidecar_path(out).exists()
    result = load_photo(out)
    assert result.size == (160, 120)  # upright, not on its side
    product = np.abs(upright.astype(int) - (200, 40, 40)).sum(axis=2) < 60
    err_upright = np.abs(result.rgb8[product].astype(int) - upright[product].astype(int)).mean()
    err_flipped = np.abs(result.rgb8[::-1, ::-1][product].astype(int) - upright[product].astype(int)).mean()
    assert err_upright < 6 < err_flipped

    for depth in (8, 16) if fmt in ("png", "tiff") else (8,):
        for preset in ("original", "square-1000"):
            folder = tmp_path / f"export-{depth}-{preset}"
            summary = ExportJob([out], folder, ExportSettings(preset=preset, bit_depth=depth), runtime=Runtime(store=store)).run()
            assert summary.ok, summary.failed
            [exported] = summary.written
            _assert_metadata(exported, icc)
            recipe = read_recipe(exported)
            assert recipe.preset == preset and recipe.bit_depth == depth and not sidecar_path(exported).exists()
            assert load_photo(exported).bit_depth == depth


def test_sixteen_bit_outputs_carry_exif_icc_and_recipe_inside(tmp_path):
    for fmt in ("png", "tiff"):
        folder = tmp_path / f"in-{fmt}"
        folder.mkdir()
        wide = product_photo(96, 80).astype(np.uint16) * 257 + 3
        save_image(folder / f"deep.{fmt}", wide, icc_profile=ICC,
                   exif=_camera_exif(1).tobytes())  # our writer is the only one at hand for 16-bit EXIF
        assert load_photo(folder / f"deep.{fmt}").exif
        job = BatchJob(folder, tmp_path / f"out-{fmt}", JobSettings.from_flat(dict(engine="white", output_format="auto")),
                       runtime=no_models_runtime(tmp_path))
        assert job.run().ok
        out = tmp_path / f"out-{fmt}" / f"deep.{fmt}"
        assert load_photo(out).bit_depth == 16
        _assert_metadata(out, ICC)
        assert read_recipe(out).output_format == fmt and not sidecar_path(out).exists()


def test_auto_output_format_follows_the_input():
    assert output_format_for("a.JPG", "auto") == "jpg"
    assert output_format_for("a.jpeg", "auto") == "jpg"
    assert output_format_for("a.png", "auto") == "png"
    assert output_format_for("a.webp", "auto") == "webp"
    assert output_format_for("a.tif", "auto") == "tiff"
    assert output_format_for("a.heic", "auto") == "jpg"  # Pillow writes no HEIC
    assert output_format_for("a.bmp", "auto") == "png"
    assert output_format_for("a.jpg", "auto", alpha=True) == "png"  # JPEG has no transparency
    assert output_format_for("a.jpg", "webp") == "webp" and output_format_for("a.png", "jpeg") == "jpg"
    from packshot.core.errors import PackshotError

    with pytest.raises(PackshotError, match="Unknown output format 'gif'"):
        output_format_for("a.png", "gif")


def test_auto_format_in_a_batch_names_and_writes_each_output_like_its_input(tmp_path):
    folder = tmp_path / "in"
    folder.mkdir()
    Image.fromarray(product_photo(96, 80)).save(folder / "a.jpg", quality=92)
    Image.fromarray(product_photo(96, 80, seed=1)).save(folder / "b.png")
    job = BatchJob(folder, tmp_path / "out", JobSettings.from_flat(dict(engine="white", output_format="auto")),
                   runtime=no_models_runtime(tmp_path))
    assert job.run().ok
    with Image.open(tmp_path / "out" / "a.jpg") as im:
        assert im.format == "JPEG"
    with Image.open(tmp_path / "out" / "b.png") as im:
        assert im.format == "PNG"
    assert read_recipe(tmp_path / "out" / "a.jpg").output_format == "jpg"


def test_a_recipe_too_large_for_jpeg_goes_into_a_sidecar(tmp_path):
    recipe = Recipe(input_path="/x.jpg", input_sha256="0" * 64, engine="white", seed=0, variant=1,
                    prompt="p" * 70_000)
    pixels = product_photo(32, 24)
    save_output(tmp_path / "big.jpg", pixels, recipe)
    assert sidecar_path(tmp_path / "big.jpg").is_file()
    assert read_recipe(tmp_path / "big.jpg").prompt == recipe.prompt
    save_output(tmp_path / "big.webp", pixels, recipe)  # WebP's XMP chunk has no such limit
    assert not sidecar_path(tmp_path / "big.webp").exists()
    assert read_recipe(tmp_path / "big.webp").prompt == recipe.prompt
