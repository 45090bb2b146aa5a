"""The batch job with the tiny SI2 + ControlNet models in their real on-disk format, QC included."""

from __future__ import annotations

import numpy as np
from PIL import Image

from packshot.core.jobs import BatchJob, JobContext, JobSettings, MachineSettings, load_mask_file
from packshot.core.jobs.replay import replay
from packshot.core.recipe import read_recipe
from packshot.core.runtime import Runtime
from tests.core.batch_helpers import write_photos
from tests.factories.diffusion_fixtures import (  # noqa: F401
    tiny_diffusion_models_dir,
    tiny_diffusion_runtime,
    tiny_diffusion_store,
)

TINY = dict(resolution=64, steps=2, device="cpu")


def test_auto_engine_uses_the_papers_model_when_its_weights_are_present(tiny_diffusion_runtime):  # noqa: F811
    ctx = JobContext(JobSettings.from_flat(dict(**TINY)), runtime=tiny_diffusion_runtime)
    # The only download it suggests is the optional upscaler's (packshot.core.generation.upscale).
    assert ctx.engine_name == "si2-controlnet" and not any("models download" in n and "No upscaler" not in n
                                                           for n in ctx.notes)


def test_generated_batch_with_qc_retries_end_to_end(tmp_path, tiny_diffusion_runtime):  # noqa: F811
    write_photos(tmp_path / "in", 2, size=(96, 72))
    settings = JobSettings.from_flat(dict(template="marble", variants=2, seed=3, qc_threshold=0.0, qc_retries=1,
                                          **TINY))
    job = BatchJob(tmp_path / "in", tmp_path / "out", settings, runtime=tiny_diffusion_runtime)
    summary = job.run()
    assert summary.ok and summary.engine == "si2-controlnet" and len(summary.done) == 2
    store = job.project
    for photo in store.photos():
        results = store.results(photo.id)
        assert [r.variant for r in results] == [1, 2]
        assert sum(r.chosen for r in results) == 1
        mask = load_mask_file(photo.mask_path, (96, 72))
        for r in results:
            recipe = read_recipe(r.output_path)
            assert recipe.engine == "si2-controlnet" and "marble" in recipe.prompt
            assert recipe.models["photo-background-generation"]["revision"]
            assert recipe.qc["expansion"] == r.expansion and r.qc["tried_seeds"][0] in (3, 4)
            assert r.attempts == len(r.qc["tried_seeds"]) and r.qc_flag == r.qc["flagged"]
            assert recipe.seed == r.seed == r.qc["seed"]  # the kept seed is the one recorded
            out = np.asarray(Image.open(r.output_path).convert("RGB"))
            original = np.asarray(Image.open(photo.path).convert("RGB"))
            solid = mask.alpha >= 1.0
            assert np.array_equal(out[solid], original[solid])  # product untouched
            assert out[~mask.mask].std() > 1.0  # a generated, not a flat, background
            again = replay(r.output_path, runtime=tiny_diffusion_runtime, device="cpu")
            # same seed, same weights: the same image; the batch rendered both variants in one batched
            # call and the replay renders one, so float sums may differ in order by one level at most
            assert np.abs(again.astype(int) - out.astype(int)).max() <= 1
            assert np.array_equal(again[solid], out[solid])
    variants = store.results(store.photos()[0].id)
    a, b = (np.asarray(Image.open(r.output_path)) for r in variants)
    assert not np.array_equal(a, b)  # variants differ (their seeds differ)


def test_cli_with_a_models_folder_generates_backgrounds(tmp_path, capsys, tiny_diffusion_models_dir):  # noqa: F811
    from packshot.core.cli.main import main as packshot

    write_photos(tmp_path / "in", 2, size=(80, 64))
    code = packshot(["batch", str(tmp_path / "in"), "--out", str(tmp_path / "out"), "--models-dir",
                     str(tiny_diffusion_models_dir), "--template", "christmas", "--resolution", "64", "--steps", "2",
                     "--device", "cpu", "--no-progress"])
    text = capsys.readouterr().out
    assert code == 0, text
    assert "engine: si2-controlnet" in text
    assert [line for line in text.splitlines() if "models download" in line and "No upscaler" not in line] == []
    recipe = read_recipe(tmp_path / "out" / "item_001.png")
    assert recipe.engine == "si2-controlnet" and "christmas" in recipe.prompt and recipe.settings["steps"] == 2


def test_auto_mask_uses_sam_when_its_weights_are_present(tmp_path):
    """Tiny SAM (random weights) through the store: the job records SAM as the mask source, and the
    product pixels under the mask it made are still untouched."""
    from packshot.core.models.store import ModelStore
    from tests.factories.sam import write_tiny_sam

    write_tiny_sam(tmp_path / "models", "sam-vit_b")
    store = ModelStore(tmp_path / "models", offline=True, download_dir=tmp_path / "dl", use_hf_cache=False)
    write_photos(tmp_path / "in", 1, size=(96, 72))
    job = BatchJob(tmp_path / "in", tmp_path / "out", JobSettings(engine="white", machine=MachineSettings(device="cpu")),
                   runtime=Runtime(store=store))
    outcomes = []
    assert job.run(on_photo=outcomes.append).ok
    assert not any("classic" in n for n in job.notes)
    [record] = job.project.photos()
    assert record.mask_source.startswith("sam") and record.mask_state == "auto"
    assert outcomes[0].status == "done"
    mask = load_mask_file(record.mask_path, (96, 72))
    out = np.asarray(Image.open(tmp_path / "out" / "item_000.png").convert("RGB"))
    original = np.asarray(Image.open(record.path).convert("RGB"))
    assert np.array_equal(out[mask.alpha >= 1.0], original[mask.alpha >= 1.0])


def test_batch_with_a_users_own_controlnet_model(tmp_path, tiny_diffusion_models_dir):  # noqa: F811
    """--model picks a model folder laid out like the paper's (what `packshot train` writes)."""
    import shutil

    import torch

    from packshot.core.cli.main import main as packshot
    from packshot.core.generation.components import load_controlnet
    from packshot.core.models.store import ModelStore

    models = tmp_path / "models"
    own = models / "my-brand"
    shutil.copytree(tiny_diffusion_models_dir / "photo-background-generation", own)
    controlnet = load_controlnet(own)
    with torch.no_grad():
        for p in controlnet.parameters():
            p.add_(0.05)  # a different ControlNet than the paper's: the backgrounds must change
    controlnet.save_pretrained(own / "controlnet", safe_serialization=True)
    write_photos(tmp_path / "in", 1, size=(80, 64))
    base = ["--resolution", "64", "--steps", "2", "--device", "cpu", "--no-progress", "--engine", "si2-controlnet"]

    assert packshot(["batch", str(tmp_path / "in"), "--out", str(tmp_path / "paper"), "--models-dir",
                     str(tiny_diffusion_models_dir)] + base) == 0
    assert packshot(["batch", str(tmp_path / "in"), "--out", str(tmp_path / "own"), "--models-dir",
                     str(models), "--model", "my-brand"] + base) == 0
    [paper_out] = (tmp_path / "paper").glob("*.png")
    [own_out] = (tmp_path / "own").glob("*.png")
    recipe = read_recipe(own_out)
    assert list(recipe.models) == ["my-brand"] and recipe.models["my-brand"]["path"] == str(own)
    assert not np.array_equal(np.asarray(Image.open(paper_out)), np.asarray(Image.open(own_out)))
    again = replay(own_out, device="cpu", runtime=Runtime(store=ModelStore(models, offline=True, use_hf_cache=False)))
    assert np.abs(again.astype(int) - np.asarray(Image.open(own_out).convert("RGB")).astype(int)).max() <= 1

    assert packshot(["batch", str(tmp_path / "in"), "--out", str(tmp_path / "none"), "--models-dir",
                     str(models), "--model", "no-such-model"] + base) == 1


def test_si2_runs_on_the_papers_folder_when_sd2_inpainting_is_absent(tmp_path, tiny_diffusion_models_dir):  # noqa: F811
    from packshot.core.cli.main import main as packshot

    only_paper = tmp_path / "models"
    only_paper.mkdir()
    (only_paper / "photo-background-generation").symlink_to(tiny_diffusion_models_dir / "photo-background-generation")
    write_photos(tmp_path / "in", 1, size=(80, 64))
    assert packshot(["batch", str(tmp_path / "in"), "--out", str(tmp_path / "out"), "--models-dir", str(only_paper),
                     "--engine", "si2", "--resolution", "64", "--steps", "2", "--device", "cpu", "--no-progress"]) == 0
    [out] = (tmp_path / "out").glob("*.png")
    assert list(read_recipe(out).models) == ["photo-background-generation"]  # the folder actually used


def test_size_preset_padding_is_generated_background_and_replays(tmp_path, tiny_diffusion_runtime):  # noqa: F811
    """square-1000 frames the photo before generation: the padding is made by the model, not smeared edges."""
    write_photos(tmp_path / "in", 1, size=(96, 48))
    settings = JobSettings.from_flat(dict(engine="si2-controlnet", preset="square-1000", **TINY))
    job = BatchJob(tmp_path / "in", tmp_path / "out", settings, runtime=tiny_diffusion_runtime)
    assert job.run().ok
    [out] = (tmp_path / "out").glob("*.png")
    image = np.asarray(Image.open(out).convert("RGB")).astype(int)
    assert image.shape == (1000, 1000, 3)
    top_band = image[:150]  # the 2:1 photo is framed in the middle: the top rows are padding
    assert np.abs(np.diff(top_band, axis=0)).mean() > 1.0  # rows differ: not the edge row repeated
    again = replay(out, runtime=tiny_diffusion_runtime, device="cpu")
    assert np.abs(again.astype(int) - image).max() <= 1
