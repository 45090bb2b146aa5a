"""PhotoJob and BatchJob with the white engine and the classic masker (no weights needed)."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image

from core.errors import Cancelled
from core.images import load_photo
from core.jobs import BatchJob, JobContext, JobSettings, PhotoJob, load_mask_file
from core.progress import CancelToken
from core.project import ProjectStore
from core.recipe import RECIPE_KEY, read_recipe, replay, sidecar_path
from tests.core.batch_helpers import disc_mask, no_models_store, product_photo, srgb_icc, write_photos


def _context(tmp_path, **kw) -> JobContext:
    return JobContext(JobSettings(**kw), model_store=no_models_store(tmp_path))


def test_photo_job_keeps_the_product_bit_exact_on_pure_white(tmp_path):
    src = tmp_path / "in" / "mug.png"
    src.parent.mkdir()
    pixels = product_photo(161, 121)  # odd size on purpose
    icc = srgb_icc()
    Image.fromarray(pixels).save(src, icc_profile=icc)
    store = ProjectStore(tmp_path / "out")
    outcome = PhotoJob(src, tmp_path / "out", _context(tmp_path), project=store).run()
    assert outcome.status == "done", outcome.message
    [out] = outcome.outputs
    assert out == (tmp_path / "out" / "mug.png").resolve()
    with Image.open(out) as im:
        result = np.asarray(im.convert("RGB"))
        assert im.info.get("icc_profile") == icc  # colour profile carried over
        assert RECIPE_KEY in im.text
    record = store.photo(src)
    mask = load_mask_file(record.mask_path, (161, 121))
    solid, clear = mask.alpha >= 1.0, mask.alpha <= 0.0
    assert solid.sum() > 0.15 * solid.size  # the classic mask found the disc...
    truth = disc_mask(161, 121)
    assert (solid & truth).sum() / max(1, (solid | truth).sum()) > 0.8
    assert np.array_equal(result[solid], pixels[solid])  # ...and its pixels are untouched
    assert (result[clear] == 255).all()  # the background is marketplace white
    assert record.status == "done" and record.mask_state == "auto"
    assert store.results(record.id)[0].chosen


def test_recipe_replays_to_the_same_pixels(tmp_path):
    write_photos(tmp_path / "in", 1)
    job = BatchJob(tmp_path / "in", tmp_path / "out", JobSettings(engine="gradient", seed=5, shadow="contact"),
                   model_store=no_models_store(tmp_path))
    summary = job.run()
    assert summary.ok and len(summary.done) == 1
    out = tmp_path / "out" / "item_000.png"
    recipe = read_recipe(out)
    assert recipe.engine == "gradient" and recipe.seed == 5 and recipe.shadow == {"kind": "contact"}
    assert recipe.input_sha256 and recipe.mask["state"] == "auto"
    again = replay(out, store=no_models_store(tmp_path))
    assert np.array_equal(again, np.asarray(Image.open(out).convert("RGB")))


def test_jpeg_outputs_get_a_sidecar_recipe_and_variants_get_names(tmp_path):
    write_photos(tmp_path / "in", 1)
    job = BatchJob(tmp_path / "in", tmp_path / "out",
                   JobSettings(engine="color", color=(10, 20, 30), variants=2, output_format="jpg",
                               name_template="{engine}/{stem}"),
                   model_store=no_models_store(tmp_path))
    assert job.run().ok
    outs = sorted((tmp_path / "out" / "color").glob("*.jpg"))
    assert [o.name for o in outs] == ["item_000-v1.jpg", "item_000-v2.jpg"]
    for i, out in enumerate(outs):
        assert sidecar_path(out).is_file()
        assert read_recipe(out).variant == i + 1 and read_recipe(out).seed == i
    corner = np.asarray(Image.open(outs[0]))[:3, :3].reshape(-1, 3).mean(0)
    assert np.allclose(corner, (10, 20, 30), atol=4)


def test_sixteen_bit_input_gives_sixteen_bit_output(tmp_path):
    import cv2

    src = tmp_path / "in" / "deep.png"
    src.parent.mkdir()
    wide = product_photo(96, 80).astype(np.uint16) * 257 + 3
    cv2.imwrite(str(src), cv2.cvtColor(wide, cv2.COLOR_RGB2BGR))
    outcome = PhotoJob(src, tmp_path / "out", _context(tmp_path)).run()
    assert outcome.status == "done", outcome.message
    result = load_photo(outcome.outputs[0])
    assert result.bit_depth == 16
    mask = load_mask_file(tmp_path / "out" / ".packshot" / "masks" / "deep.png", (96, 80))
    inside = mask.alpha >= 1.0
    assert inside.sum() > 0.1 * inside.size
    assert np.array_equal(result.pixels[inside], wide[inside])
    assert read_recipe(outcome.outputs[0]).engine == "white"  # from the sidecar (16-bit PNG has no text)


def test_exif_rotated_photo_comes_out_upright(tmp_path):
    src = tmp_path / "in" / "side.jpg"
    src.parent.mkdir()
    upright = product_photo(80, 120)
    exif = Image.Exif()
    exif[0x0112] = 6
    Image.fromarray(upright).transpose(Image.Transpose.ROTATE_90).save(src, exif=exif.tobytes(), quality=95)
    outcome = PhotoJob(src, tmp_path / "out", _context(tmp_path)).run()
    assert Image.open(outcome.outputs[0]).size == (80, 120)


def test_masks_folder_is_used_and_recorded_as_reviewed(tmp_path):
    write_photos(tmp_path / "in", 2)
    masks = tmp_path / "masks"
    masks.mkdir()
    square = np.zeros((120, 160), np.uint8)
    square[10:40, 10:50] = 255  # deliberately not the disc
    Image.fromarray(square).save(masks / "item_000.png")
    job = BatchJob(tmp_path / "in", tmp_path / "out", JobSettings(masks_dir=str(masks)),
                   model_store=no_models_store(tmp_path))
    outcomes = []
    assert job.run(on_photo=outcomes.append).ok
    original = np.asarray(Image.open(tmp_path / "in" / "item_000.jpg"))
    result = np.asarray(Image.open(tmp_path / "out" / "item_000.png").convert("RGB"))
    assert np.array_equal(result[10:40, 10:50], original[10:40, 10:50])
    assert (result[60:100, 60:100] == 255).all()  # the disc is gone: the given mask rules
    assert job.project.photo(tmp_path / "in" / "item_000.jpg").mask_state == "reviewed"
    assert "no mask item_001.png" in outcomes[1].notes[0]  # the other photo fell back to automatic


def test_a_reviewed_mask_in_the_project_is_reused(tmp_path):
    write_photos(tmp_path / "in", 1)
    out = tmp_path / "out"
    store = ProjectStore(out)
    pid = store.add_photo(tmp_path / "in" / "item_000.jpg")
    edited = np.zeros((120, 160), np.uint8)
    edited[:, :80] = 255
    mask_file = store.masks_dir / "item_000.png"
    mask_file.parent.mkdir(parents=True)
    Image.fromarray(edited).save(mask_file)
    store.set_mask(pid, "edited", mask_file, source="edited")
    job = BatchJob(tmp_path / "in", out, JobSettings(), model_store=no_models_store(tmp_path))
    assert job.run().ok
    result = np.asarray(Image.open(out / "item_000.png").convert("RGB"))
    assert (result[:, 80:] == 255).all() and not (result[:, :80] == 255).all()
    assert read_recipe(out / "item_000.png").mask["state"] == "edited"


def test_progress_and_cancel(tmp_path):
    write_photos(tmp_path / "in", 3)
    job = BatchJob(tmp_path / "in", tmp_path / "out", JobSettings(), model_store=no_models_store(tmp_path))
    job.prepare()
    seen = []
    cancel = CancelToken()

    def progress(p):
        seen.append((p.stage, p.message))
        if p.stage == "batch" and p.done == 1:
            cancel.cancel()  # cancel once the first photo is finished

    summary = job.run(progress, cancel)
    assert summary.cancelled and summary.done == ["item_000.jpg"]
    assert ("batch", "item_000.jpg") in seen and any(s == "photo" for s, _ in seen)
    assert sorted(p.name for p in (tmp_path / "out").glob("*.png")) == ["item_000.png"]
    with pytest.raises(Cancelled):
        job.photo_jobs()[1].run(cancel=cancel)


def test_skip_done_redo_and_changed_settings(tmp_path):
    write_photos(tmp_path / "in", 2)
    store_kw = {"model_store": no_models_store(tmp_path)}
    first = BatchJob(tmp_path / "in", tmp_path / "out", JobSettings(), **store_kw).run()
    assert len(first.done) == 2
    again = BatchJob(tmp_path / "in", tmp_path / "out", JobSettings(), **store_kw).run()
    assert again.skipped == ["item_000.jpg", "item_001.jpg"] and not again.done
    redo = BatchJob(tmp_path / "in", tmp_path / "out", JobSettings(redo=True), **store_kw).run()
    assert len(redo.done) == 2
    changed = BatchJob(tmp_path / "in", tmp_path / "out", JobSettings(engine="color"), **store_kw).run()
    assert len(changed.done) == 2  # other settings: not the same job, made again
    (tmp_path / "out" / "item_001.png").unlink()
    resumed = BatchJob(tmp_path / "in", tmp_path / "out", JobSettings(engine="color"), **store_kw).run()
    assert resumed.done == ["item_001.jpg"] and resumed.skipped == ["item_000.jpg"]
    Image.fromarray(product_photo(160, 120, seed=7)).save(tmp_path / "in" / "item_000.jpg")  # a new shot
    replaced = BatchJob(tmp_path / "in", tmp_path / "out", JobSettings(engine="color"), **store_kw).run()
    assert replaced.done == ["item_000.jpg"] and replaced.skipped == ["item_001.jpg"]


def test_photo_job_alone_for_the_gui_queue(tmp_path):
    """The desktop drives single PhotoJobs, e.g. 'regenerate with a new seed'."""
    write_photos(tmp_path / "in", 1)
    out = tmp_path / "out"
    store = ProjectStore(out)
    ctx = _context(tmp_path, engine="gradient")
    job = PhotoJob(tmp_path / "in" / "item_000.jpg", out, ctx, project=store, seeds=[42],
                   stem="item_000")
    assert job.plan().outputs[0].name == "item_000.png"
    outcome = job.run()
    assert outcome.status == "done" and outcome.results[0].seed == 42
    assert store.runs() == []  # a single job needs no run row
    assert store.results(store.photo(tmp_path / "in" / "item_000.jpg").id)[0].seed == 42


def test_auto_engine_without_weights_says_how_to_enable(tmp_path):
    ctx = _context(tmp_path)
    assert ctx.engine_name == "white"
    assert any("packshot models download photo-background-generation" in n for n in ctx.notes)


def test_replay_refuses_when_the_original_or_the_mask_changed(tmp_path):
    from core.errors import PackshotError

    write_photos(tmp_path / "in", 1)
    assert BatchJob(tmp_path / "in", tmp_path / "out", JobSettings(), model_store=no_models_store(tmp_path)).run().ok
    out = tmp_path / "out" / "item_000.png"
    before = replay(out, store=no_models_store(tmp_path))
    # the app edits the photo's mask afterwards: the output's recipe still replays with the mask it used
    Image.new("L", (160, 120), 255).save(tmp_path / "out" / ".packshot" / "masks" / "item_000.png")
    assert np.array_equal(replay(out, store=no_models_store(tmp_path)), before)
    used = read_recipe(out).mask_file(out)
    kept = used.read_bytes()
    used.write_bytes(b"tampered")
    with pytest.raises(PackshotError, match="edited after"):
        replay(out, store=no_models_store(tmp_path))
    used.write_bytes(kept)
    Image.fromarray(product_photo(160, 120, seed=99)).save(tmp_path / "in" / "item_000.jpg")
    with pytest.raises(PackshotError, match="changed since"):
        replay(out, store=no_models_store(tmp_path))


def test_editing_the_variables_csv_redoes_the_photos(tmp_path):
    write_photos(tmp_path / "in", 2)
    csv_path = tmp_path / "vars.csv"
    csv_path.write_text("file,material\nitem_000.jpg,oak\nitem_001.jpg,oak\n", encoding="utf-8")
    settings = JobSettings(engine="gradient", prompt="{name} on {material}", variables_csv=str(csv_path))
    kw = {"model_store": no_models_store(tmp_path)}
    assert len(BatchJob(tmp_path / "in", tmp_path / "out", settings, **kw).run().done) == 2
    assert len(BatchJob(tmp_path / "in", tmp_path / "out", settings, **kw).run().skipped) == 2
    csv_path.write_text("file,material\nitem_000.jpg,slate\nitem_001.jpg,oak\n", encoding="utf-8")
    assert len(BatchJob(tmp_path / "in", tmp_path / "out", settings, **kw).run().done) == 2
    assert read_recipe(tmp_path / "out" / "item_000.png").prompt == "item 000 on slate"


def test_masks_made_without_isnet_are_redone_once_its_weights_appear(tmp_path):
    """'Done' means done with the same mask models: the automatic masks change when IS-Net arrives."""
    from core.jobs import BatchJob as Batch
    from core.jobs import JobSettings as Settings
    from core.models.store import ModelStore
    from tests.core.batch_helpers import write_photos as photos
    from tests.factories.isnet import write_tiny_isnet

    photos(tmp_path / "in", 2)
    store = ModelStore(tmp_path / "models", offline=True, download_dir=tmp_path / "dl", use_hf_cache=False)
    first = Batch(tmp_path / "in", tmp_path / "out", Settings(engine="white"), model_store=store).run()
    assert len(first.done) == 2
    again = Batch(tmp_path / "in", tmp_path / "out", Settings(engine="white"), model_store=store).run()
    assert len(again.skipped) == 2 and not again.done
    write_tiny_isnet(tmp_path / "models")
    job = Batch(tmp_path / "in", tmp_path / "out", Settings(engine="white"), model_store=store)
    after = job.run()
    assert len(after.done) == 2  # made again, now seeded by the learned prior
    assert [p.mask_source for p in job.project.photos()] == ["isnet", "isnet"]
