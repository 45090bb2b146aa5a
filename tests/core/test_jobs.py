"""PhotoJob and BatchJob with the white engine and the classic masker (no weights needed)."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image

from packshot.core.errors import Cancelled, PackshotError
from packshot.core.generation.settings import GenerationSettings
from packshot.core.images import load_photo
from packshot.core.jobs import (
    BatchJob,
    JobContext,
    JobSettings,
    MachineSettings,
    MaskSettings,
    OutputSettings,
    PhotoJob,
    PromptSettings,
    load_mask_file,
)
from packshot.core.jobs.replay import replay
from packshot.core.progress import CancelToken
from packshot.core.project import ProjectStore
from packshot.core.recipe import RECIPE_KEY, read_recipe, sidecar_path
from packshot.core.runtime import Runtime
from tests.core.batch_helpers import (
    disc_mask,
    no_models_runtime,
    product_photo,
    srgb_icc,
    write_photos,
)


def _context(tmp_path, **kw) -> JobContext:
    return JobContext(JobSettings.from_flat(dict(**kw)), runtime=no_models_runtime(tmp_path))


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
    job = BatchJob(tmp_path / "in", tmp_path / "out", JobSettings(engine="gradient", shadow="contact",
                               generation=GenerationSettings(seed=5)),
                   runtime=no_models_runtime(tmp_path))
    summary = job.run()
    assert summary.ok and len(summary.done) == 1
    out = tmp_path / "out" / "item_000.png"
    recipe = read_recipe(out)
    assert recipe.engine == "gradient" and recipe.seed == 5 and recipe.shadow == {"kind": "contact"}
    assert recipe.input_sha256 and recipe.mask["state"] == "auto"
    again = replay(out, runtime=no_models_runtime(tmp_path))
    assert np.array_equal(again, np.asarray(Image.open(out).convert("RGB")))


def test_jpeg_outputs_carry_their_recipe_and_plain_variants_are_one_file_with_a_note(tmp_path):
    """A plain engine paints the same background for every seed: --variants 2 writes one file and says why."""
    write_photos(tmp_path / "in", 1)
    settings = JobSettings.from_flat(dict(engine="color", color=(10, 20, 30), variants=2, output_format="jpg",
                                          name_template="{engine}/{stem}"))
    job = BatchJob(tmp_path / "in", tmp_path / "out", settings, runtime=no_models_runtime(tmp_path))
    assert job.run().ok
    assert any("--variants 2" in note and "one file" in note for note in job.notes)
    outs = sorted((tmp_path / "out" / "color").glob("*.jpg"))
    assert [o.name for o in outs] == ["item_000.jpg"]
    assert not sidecar_path(outs[0]).is_file()  # the recipe is in the JPEG's XMP
    assert read_recipe(outs[0]).variant == 1 and read_recipe(outs[0]).seed == 0
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
    assert read_recipe(outcome.outputs[0]).engine == "white"  # from the file (a 16-bit PNG carries it too)


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
    job = BatchJob(tmp_path / "in", tmp_path / "out", JobSettings.from_flat(dict(masks_dir=str(masks))),
                   runtime=no_models_runtime(tmp_path))
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
    job = BatchJob(tmp_path / "in", out, JobSettings(), runtime=no_models_runtime(tmp_path))
    assert job.run().ok
    result = np.asarray(Image.open(out / "item_000.png").convert("RGB"))
    assert (result[:, 80:] == 255).all() and not (result[:, :80] == 255).all()
    assert read_recipe(out / "item_000.png").mask["state"] == "edited"


def test_progress_and_cancel(tmp_path):
    write_photos(tmp_path / "in", 3)
    job = BatchJob(tmp_path / "in", tmp_path / "out", JobSettings(), runtime=no_models_runtime(tmp_path))
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
    store_kw = {"runtime": no_models_runtime(tmp_path)}
    first = BatchJob(tmp_path / "in", tmp_path / "out", JobSettings(), **store_kw).run()
    assert len(first.done) == 2
    again = BatchJob(tmp_path / "in", tmp_path / "out", JobSettings(), **store_kw).run()
    assert again.skipped == ["item_000.jpg", "item_001.jpg"] and not again.done
    redo = BatchJob(tmp_path / "in", tmp_path / "out", JobSettings.from_flat(dict(redo=True)), **store_kw).run()
    assert len(redo.done) == 2
    with pytest.raises(PackshotError, match="made earlier with other settings") as refused:
        BatchJob(tmp_path / "in", tmp_path / "out", JobSettings(engine="color"), **store_kw).run()
    said = str(refused.value)
    assert "item_000.png" in said and "--redo" in said and "--name" in said
    changed = BatchJob(tmp_path / "in", tmp_path / "out", JobSettings(engine="color", output=OutputSettings(redo=True)),
                       **store_kw).run()
    assert len(changed.done) == 2  # other settings, replacing was asked for: made again
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
    from packshot.core.errors import PackshotError

    write_photos(tmp_path / "in", 1)
    assert BatchJob(tmp_path / "in", tmp_path / "out", JobSettings(), runtime=no_models_runtime(tmp_path)).run().ok
    out = tmp_path / "out" / "item_000.png"
    before = replay(out, runtime=no_models_runtime(tmp_path))
    # the app edits the photo's mask afterwards: the output's recipe still replays with the mask it used
    Image.new("L", (160, 120), 255).save(tmp_path / "out" / ".packshot" / "masks" / "item_000.png")
    assert np.array_equal(replay(out, runtime=no_models_runtime(tmp_path)), before)
    used = read_recipe(out).mask_file(out)
    kept = used.read_bytes()
    used.write_bytes(b"tampered")
    with pytest.raises(PackshotError, match="edited after"):
        replay(out, runtime=no_models_runtime(tmp_path))
    used.write_bytes(kept)
    Image.fromarray(product_photo(160, 120, seed=99)).save(tmp_path / "in" / "item_000.jpg")
    with pytest.raises(PackshotError, match="changed since"):
        replay(out, runtime=no_models_runtime(tmp_path))


def test_editing_the_variables_csv_redoes_the_photos(tmp_path):
    write_photos(tmp_path / "in", 2)
    csv_path = tmp_path / "vars.csv"
    csv_path.write_text("file,material\nitem_000.jpg,oak\nitem_001.jpg,oak\n", encoding="utf-8")
    settings = JobSettings(engine="gradient",
                           prompt=PromptSettings(prompt="{name} on {material}", variables_csv=str(csv_path)))
    kw = {"runtime": no_models_runtime(tmp_path)}
    assert len(BatchJob(tmp_path / "in", tmp_path / "out", settings, **kw).run().done) == 2
    assert len(BatchJob(tmp_path / "in", tmp_path / "out", settings, **kw).run().skipped) == 2
    csv_path.write_text("file,material\nitem_000.jpg,slate\nitem_001.jpg,oak\n", encoding="utf-8")
    assert len(BatchJob(tmp_path / "in", tmp_path / "out", settings, **kw).run().done) == 2
    assert read_recipe(tmp_path / "out" / "item_000.png").prompt == "item 000 on slate"


def test_masks_made_without_isnet_are_redone_once_its_weights_appear(tmp_path):
    """'Done' means done with the same mask models: the automatic masks change when IS-Net arrives."""
    from packshot.core.jobs import BatchJob as Batch
    from packshot.core.jobs import JobSettings as Settings
    from packshot.core.models.store import ModelStore
    from tests.core.batch_helpers import write_photos as photos
    from tests.factories.isnet import write_tiny_isnet

    photos(tmp_path / "in", 2)
    store = ModelStore(tmp_path / "models", offline=True, download_dir=tmp_path / "dl", use_hf_cache=False)
    first = Batch(tmp_path / "in", tmp_path / "out", Settings(engine="white"), runtime=Runtime(store=store)).run()
    assert len(first.done) == 2
    again = Batch(tmp_path / "in", tmp_path / "out", Settings(engine="white"), runtime=Runtime(store=store)).run()
    assert len(again.skipped) == 2 and not again.done
    write_tiny_isnet(tmp_path / "models")
    job = Batch(tmp_path / "in", tmp_path / "out", Settings(engine="white"), runtime=Runtime(store=store))
    after = job.run()
    assert len(after.done) == 2  # made again, now seeded by the learned prior
    assert [p.mask_source for p in job.project.photos()] == ["isnet", "isnet"]


# -- review fixes ------------------------------------------------------------------------------
def test_job_key_ignores_fields_at_their_default_so_new_fields_keep_old_keys():
    from dataclasses import dataclass

    @dataclass
    class Later(JobSettings):  # what JobSettings looks like after someone adds a defaulted field
        brand_new: int = 3

    extra = {"template": {"name": "custom"}, "masks": None}
    assert Later().job_key("white", extra) == JobSettings().job_key("white", extra)
    seed5 = {"seed": 5}
    assert Later.from_flat(seed5).job_key("white", extra) == JobSettings.from_flat(seed5).job_key("white", extra)
    assert Later.from_flat(dict(brand_new=4)).job_key("white", extra) != JobSettings().job_key("white", extra)
    assert JobSettings.from_flat(dict(seed=5)).job_key("white", extra) != JobSettings().job_key("white", extra)
    assert JobSettings().job_key("si2", extra) != JobSettings().job_key("white", extra)  # engine always in
    assert JobSettings().job_key("white", {"other": 1}) != JobSettings().job_key("white", extra)
    elsewhere = JobSettings(output=OutputSettings(redo=True), machine=MachineSettings(device="cuda"))
    assert elsewhere.job_key("white") == JobSettings().job_key("white")


def test_mask_files_written_with_white_background_are_read_the_right_way_round(tmp_path):
    from packshot.core.masking.maskio import save_mask_png

    disc = disc_mask(80, 60)
    save_mask_png(tmp_path / "bg.png", disc, white="background")  # `packshot masks --white background`
    save_mask_png(tmp_path / "fg.png", disc)
    for name in ("bg.png", "fg.png"):
        mask = load_mask_file(tmp_path / name, (80, 60), source="file")
        assert (mask.mask == disc).all(), name
        assert mask.source == "file"
    bigger = load_mask_file(tmp_path / "fg.png", (160, 120))  # same aspect: resized
    assert bigger.mask.shape == (120, 160) and bigger.mask.mean() == pytest.approx(disc.mean(), abs=0.02)
    assert (np.rint(bigger.alpha * 255) == bigger.alpha * 255).all()  # 8-bit steps, as the job stores it
    from packshot.core.errors import ImageReadError

    with pytest.raises(ImageReadError, match="aspect"):
        load_mask_file(tmp_path / "fg.png", (60, 80))


def test_batch_with_background_white_masks_keeps_the_product(tmp_path):
    from packshot.core.masking.maskio import save_mask_png

    write_photos(tmp_path / "in", 1)
    save_mask_png(tmp_path / "masks" / "item_000.png", disc_mask(160, 120), white="background")
    job = BatchJob(tmp_path / "in", tmp_path / "out", JobSettings(masks=MaskSettings(masks_dir=str(tmp_path / "masks"))),
                   runtime=no_models_runtime(tmp_path))
    summary = job.run()
    assert summary.done == ["item_000.jpg"]
    out = np.asarray(Image.open(tmp_path / "out" / "item_000.png").convert("RGB"))
    assert (out[~disc_mask(160, 120)] == 255).all()  # background painted white...
    assert (out[disc_mask(160, 120)] != 255).any(axis=-1).mean() > 0.9  # ...the product kept


def test_generative_engine_without_prompt_uses_the_studio_template(tmp_path):
    from packshot.core.templates import get_template

    ctx = _context(tmp_path, engine="si2-controlnet")
    assert ctx.template.name == "studio" and ctx.template.prompt == get_template("studio").prompt
    assert ctx.template.prompt.strip()
    assert any("'studio' template" in note for note in ctx.notes)
    ctx = _context(tmp_path, engine="si2", negative="blurry")
    assert ctx.template.name == "studio" and ctx.template.negative == "blurry"
    assert _context(tmp_path, engine="si2", prompt="on a beach").template.prompt == "on a beach"
    assert _context(tmp_path, engine="si2", template="marble").template.name == "marble"
    plain = _context(tmp_path, engine="white")
    assert plain.template.prompt == "" and not any("studio" in n for n in plain.notes)


def test_explicit_isnet_prior_without_weights_fails_before_any_work(tmp_path):
    from packshot.core.errors import ModelMissingError

    write_photos(tmp_path / "in", 2)
    job = BatchJob(tmp_path / "in", tmp_path / "out", JobSettings(masks=MaskSettings(prior="isnet")),
                   runtime=no_models_runtime(tmp_path))
    with pytest.raises(ModelMissingError, match="isnet-general-use"):
        job.prepare()
    assert not (tmp_path / "out").exists()
    (tmp_path / "masks").mkdir()  # with reviewed masks no prior runs: no weights needed
    BatchJob(tmp_path / "in", tmp_path / "out2", JobSettings(masks=MaskSettings(prior="isnet", masks_dir=str(tmp_path / "masks"))),
             runtime=no_models_runtime(tmp_path)).prepare(dry_run=True)


def test_model_must_be_a_known_controlnet_folder(tmp_path):
    from packshot.core.errors import ModelMissingError, PackshotError

    with pytest.raises(ModelMissingError, match="Unknown model 'nope'"):
        _context(tmp_path, engine="si2-controlnet", model="nope")
    with pytest.raises(PackshotError, match="not a ControlNet model"):
        _context(tmp_path, engine="si2-controlnet", model="sd2-inpainting")
    with pytest.raises(PackshotError, match="not a ControlNet model"):
        _context(tmp_path, model="sam-vit_b")
    assert _context(tmp_path, engine="si2-controlnet", model="photo-background-generation").generative


def test_a_second_batch_on_the_same_folder_is_refused_while_the_first_runs(tmp_path):
    from packshot.core.errors import PackshotError

    write_photos(tmp_path / "in", 1)
    first = BatchJob(tmp_path / "in", tmp_path / "out", JobSettings(), runtime=no_models_runtime(tmp_path))
    first.prepare()
    second = BatchJob(tmp_path / "in", tmp_path / "out", JobSettings(), runtime=no_models_runtime(tmp_path))
    with pytest.raises(PackshotError, match="Another packshot batch is already working"):
        second.prepare()
    assert first.run().done == ["item_000.jpg"]  # run() lets go of the folder at the end
    assert second.run().skipped == ["item_000.jpg"]
    other = BatchJob(tmp_path / "in", tmp_path / "out", JobSettings(), runtime=no_models_runtime(tmp_path),
                     process_index=1, num_processes=2)
    first.prepare()
    other.prepare()  # a worker of a multi-process run shares its main process's lock
    first.release()


def test_output_names_that_collide_are_refused_before_any_work(tmp_path):
    from packshot.core.errors import TemplateError

    write_photos(tmp_path / "in", 3)
    job = BatchJob(tmp_path / "in", tmp_path / "out", JobSettings.from_flat(dict(name_template="{engine}")),
                   runtime=no_models_runtime(tmp_path))
    with pytest.raises(TemplateError) as err:
        job.prepare()
    text = str(err.value)
    assert "white.png" in text and "item_000.jpg, item_001.jpg, item_002.jpg" in text and "{stem}" in text
    assert not (tmp_path / "out").exists()
    (tmp_path / "in" / "item_000.png").write_bytes((tmp_path / "in" / "item_000.jpg").read_bytes())
    ok = BatchJob(tmp_path / "in", tmp_path / "out", JobSettings(), runtime=no_models_runtime(tmp_path))
    ok.prepare(dry_run=True)  # same stems get their extension: no clash
    assert len({o for plan in ok.plan() for o in plan.outputs}) == 4


def test_blank_prompt_counts_as_none_and_stems_that_clean_to_one_name_are_refused(tmp_path):
    from packshot.core.errors import TemplateError

    assert _context(tmp_path, engine="si2", prompt="  ").template.name == "studio"
    write_photos(tmp_path / "in", 1, prefix="a:b")
    write_photos(tmp_path / "in", 1, prefix="a_b")
    job = BatchJob(tmp_path / "in", tmp_path / "out", JobSettings(), runtime=no_models_runtime(tmp_path))
    with pytest.raises(TemplateError, match=r"a_b_000.png <- a:b_000.jpg, a_b_000.jpg.*Rename one"):
        job.prepare()
