"""``ExportJob`` / ``packshot export``: every exported file replays bit-identically with ``packshot replay``."""

from __future__ import annotations

import io

import numpy as np
import pytest
from PIL import Image

from packshot.core.cli.main import main as packshot
from packshot.core.errors import PackshotError
from packshot.core.images import load_photo
from packshot.core.jobs.export import ExportJob, ExportSettings
from packshot.core.jobs.keepers import keeper, keeper_files
from packshot.core.models.store import ModelStore
from packshot.core.progress import CancelToken
from packshot.core.project import ProjectStore
from packshot.core.recipe import read_recipe
from packshot.core.runtime import Runtime
from tests.core.batch_helpers import no_models_store, write_photos
from tests.factories.diffusion_fixtures import tiny_diffusion_models_dir  # noqa: F401

IDENTICAL = "identical to the stored output (max pixel difference 0)"


def _batch(tmp_path, *extra: str) -> tuple:
    write_photos(tmp_path / "in", 1, size=(80, 64))
    out = tmp_path / "out"
    assert packshot(["batch", str(tmp_path / "in"), "--out", str(out), "--no-progress", *extra]) == 0
    return out, out / "item_000.png"


def _replays_identically(path, capsys, *models: str) -> None:
    capsys.readouterr()
    assert packshot(["replay", str(path), *models]) == 0
    assert IDENTICAL in capsys.readouterr().out, path.name


@pytest.mark.parametrize("fmt, cases", [
    ("png", [("original", 8), ("original", 16), ("square-2000", 8), ("square-2000", 16)]),
    ("tiff", [("original", 16), ("square-2000", 8)]),
])
def test_white_export_replays_bit_identically_for_both_presets_and_depths(tmp_path, capsys, fmt, cases):
    out, output = _batch(tmp_path, "--engine", "white")
    for preset, depth in cases:
        folder = tmp_path / f"exp-{preset}-{depth}"
        assert packshot(["export", str(output), "--out", str(folder), "--preset", preset, "--format", fmt,
                         "--bit-depth", str(depth), "--no-progress"]) == 0
        [exported] = folder.glob(f"*.{fmt}")
        assert exported.name == ("item_000" if preset == "original" else "item_000_square-2000") + f".{fmt}"
        photo = load_photo(exported)
        assert photo.bit_depth == depth
        assert photo.size == ((80, 64) if preset == "original" else (2000, 2000))
        recipe = read_recipe(exported)
        assert (recipe.preset, recipe.bit_depth, recipe.output_format) == (preset, depth, fmt)
        _replays_identically(exported, capsys)
        if preset == "original":  # same preset: the stored pixels, only re-encoded
            stored = load_photo(output).pixels
            expected = stored if depth == 8 else stored.astype(np.uint16) * 257
            assert np.array_equal(photo.pixels, expected)


def test_a_new_preset_frames_before_rendering_like_the_batch(tmp_path):
    """Exporting at square-1000 gives the same pixels as a batch run made at square-1000 directly."""
    store = no_models_store(tmp_path)
    out, output = _batch(tmp_path, "--engine", "gradient", "--shadow", "contact")
    direct = tmp_path / "direct"
    assert packshot(["batch", str(tmp_path / "in"), "--out", str(direct), "--no-progress", "--engine", "gradient",
                     "--shadow", "contact", "--size", "square-1000"]) == 0
    summary = ExportJob([output], tmp_path / "exp", ExportSettings(preset="square-1000"), runtime=Runtime(store=store)).run()
    assert summary.ok and summary.exported[0].rendered
    assert np.array_equal(load_photo(summary.written[0]).pixels, load_photo(direct / "item_000.png").pixels)


@pytest.mark.slow
def test_generated_export_replays_bit_identically(tmp_path, capsys, tiny_diffusion_models_dir):  # noqa: F811
    models = ["--models-dir", str(tiny_diffusion_models_dir), "--device", "cpu"]
    out, output = _batch(tmp_path, "--engine", "si2-controlnet", "--resolution", "64", "--steps", "2", *models)
    # Both presets and both depths: the same preset re-encodes, the other renders again (slow on a CPU).
    for preset, depth in (("original", 16), ("square-2000", 8)):
        folder = tmp_path / f"exp-{preset}-{depth}"
        assert packshot(["export", str(out), "--out", str(folder), "--preset", preset, "--bit-depth", str(depth),
                         "--no-progress", *models]) == 0
        [exported] = folder.glob("*.png")
        recipe = read_recipe(exported)
        assert recipe.engine == "si2-controlnet" and recipe.preset == preset and recipe.seed == read_recipe(output).seed
        _replays_identically(exported, capsys, *models)


def test_jpeg_quality_is_honoured_and_replays(tmp_path, capsys):
    out, output = _batch(tmp_path, "--engine", "gradient")
    sizes = {}
    for quality in (30, 95):
        folder = tmp_path / f"q{quality}"
        assert packshot(["export", str(output), "--out", str(folder), "--format", "jpg", "--quality", str(quality),
                         "--no-progress"]) == 0
        exported = folder / "item_000.jpg"
        assert read_recipe(exported).quality == quality
        reference = io.BytesIO()
        Image.new("RGB", (16, 16)).save(reference, "JPEG", quality=quality)
        with Image.open(exported) as im, Image.open(reference) as ref:
            assert im.quantization == ref.quantization  # the quantisation tables of that quality
        sizes[quality] = exported.stat().st_size
        _replays_identically(exported, capsys)
    assert sizes[30] < sizes[95]


def test_a_bad_item_is_named_and_the_rest_is_exported(tmp_path, capsys):
    out, output = _batch(tmp_path, "--engine", "white")
    junk = tmp_path / "junk.png"
    junk.write_bytes(b"not an image")
    plain = tmp_path / "plain.png"
    Image.new("RGB", (20, 20)).save(plain)  # an image, but not a Packshot output
    capsys.readouterr()
    code = packshot(["export", str(junk), str(plain), str(tmp_path / "gone.png"), str(output),
                     "--out", str(tmp_path / "exp"), "--no-progress"])
    text = capsys.readouterr().out
    assert code == 1
    assert "junk.png: cannot read it" in text or "junk.png" in text.split("Not exported:")[1]
    assert "plain.png carries no Packshot recipe" in text
    assert "gone.png: no such file or folder" in text
    assert (tmp_path / "exp" / "item_000.png").is_file()
    assert [p.name for p in (tmp_path / "exp").iterdir()] == ["item_000.png"]  # nothing half-written


def test_existing_files_are_replaced_only_when_asked(tmp_path):
    out, output = _batch(tmp_path, "--engine", "white")
    runtime = Runtime(store=no_models_store(tmp_path))  # nothing is rendered again
    first = ExportJob([output], tmp_path / "exp", runtime=runtime).run()
    assert first.ok
    again = ExportJob([output], tmp_path / "exp", runtime=runtime).run()  # the same export again: kept (a killed one resumes)
    assert again.ok and again.kept == [tmp_path / "exp" / "item_000.png"]
    other = ExportJob([output], tmp_path / "exp", ExportSettings(bit_depth=16), runtime=runtime).run()  # another export, same name
    assert not other.ok and "already exists" in other.failed[0][1] and "item_000.png" in other.failed[0][1]
    assert ExportJob([output], tmp_path / "exp", runtime=runtime, overwrite=True).run().ok
    with pytest.raises(PackshotError, match="8 bits"):
        ExportJob([output], tmp_path / "exp", ExportSettings(format="jpg", bit_depth=16), runtime=runtime)
    with pytest.raises(PackshotError, match="Unknown output preset"):
        ExportJob([output], tmp_path / "exp", ExportSettings(preset="poster"), runtime=runtime)
    in_place = ExportJob([output], out, runtime=runtime, overwrite=True).run()  # would replace the output itself
    assert not in_place.ok and "would replace it" in in_place.failed[0][1]


def test_a_folder_exports_its_keepers_named_by_photo(tmp_path, tiny_diffusion_models_dir):  # noqa: F811
    write_photos(tmp_path / "in", 2, size=(80, 64))
    out = tmp_path / "out"
    # variants need a generative engine (a plain one paints the same background for every seed)
    assert packshot(["batch", str(tmp_path / "in"), "--out", str(out), "--no-progress", "--engine", "si2-controlnet",
                     "--variants", "2", "--resolution", "64", "--steps", "2", "--device", "cpu",
                     "--models-dir", str(tiny_diffusion_models_dir)]) == 0
    store = ProjectStore(out)
    record = store.photo(tmp_path / "in" / "item_001.jpg")
    results = store.results(record.id)
    second = next(r for r in results if r.variant == 2)
    store.choose(second.id)  # the user picks variant 2 of item_001
    assert keeper(store.results(record.id), record.job_key).id == second.id
    store.close()
    files = dict((stem, path.name) for path, stem in keeper_files(out))
    assert files == {"item_000": "item_000-v1.png", "item_001": "item_001-v2.png"}
    store = ModelStore(tiny_diffusion_models_dir, offline=True, use_hf_cache=False)
    summary = ExportJob([out], tmp_path / "exp", runtime=Runtime(store=store), device="cpu").run()
    assert summary.ok and sorted(p.name for p in summary.written) == ["item_000.png", "item_001.png"]
    assert read_recipe(tmp_path / "exp" / "item_001.png").variant == 2


def test_cancel_stops_between_files_and_keeps_what_is_written(tmp_path):
    write_photos(tmp_path / "in", 3, size=(80, 64))
    out = tmp_path / "out"
    assert packshot(["batch", str(tmp_path / "in"), "--out", str(out), "--no-progress", "--engine", "white"]) == 0
    cancel = CancelToken()
    seen = []

    def progress(p):
        seen.append(p)
        if p.stage == "export" and p.done == 1:
            cancel.cancel()  # the user presses cancel while the second file is going

    summary = ExportJob([out], tmp_path / "exp", runtime=Runtime(store=no_models_store(tmp_path))).run(progress, cancel)
    assert summary.cancelled and not summary.ok
    assert len(summary.written) == 1 or len(summary.written) == 2
    assert sorted(p.name for p in (tmp_path / "exp").iterdir()) == sorted(p.name for p in summary.written)
    assert [p.done for p in seen if p.stage == "export"][:2] == [0, 1]
