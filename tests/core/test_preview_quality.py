"""--quality preview through the batch, its recipe, and replaying a preview as final (tiny models)."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from packshot.core.cli.main import main
from packshot.core.jobs import BatchJob, JobSettings
from packshot.core.models.store import ModelStore
from packshot.core.recipe import read_recipe
from packshot.core.runtime import Runtime
from tests.core.batch_helpers import write_photos
from tests.factories.diffusion import save_taesd_folder
from tests.factories.diffusion_fixtures import tiny_diffusion_models_dir  # noqa: F401

TINY = dict(resolution=64, steps=4, device="cpu", engine="si2-controlnet", template="marble")


@pytest.fixture
def models_with_taesd(tiny_diffusion_models_dir, tmp_path) -> Path:  # noqa: F811
    models = tmp_path / "models"
    shutil.copytree(tiny_diffusion_models_dir / "photo-background-generation", models / "photo-background-generation")
    save_taesd_folder(models / "taesd")
    return models


def store_for(models: Path, tmp_path: Path) -> ModelStore:
    return ModelStore(models, offline=True, download_dir=tmp_path / "dl", use_hf_cache=False)


def pixels(path: Path) -> np.ndarray:
    return np.asarray(Image.open(path).convert("RGB"))


def test_preview_records_itself_and_replays_as_the_final_of_the_same_seed(models_with_taesd, tmp_path):
    write_photos(tmp_path / "in", 1, size=(96, 72))
    store = store_for(models_with_taesd, tmp_path)
    preview_job = BatchJob(tmp_path / "in", tmp_path / "preview",
                           JobSettings.from_flat(dict(quality="preview", seed=7, **TINY)), runtime=Runtime(store=store))
    assert preview_job.run().ok
    final_job = BatchJob(tmp_path / "in", tmp_path / "final",
                         JobSettings.from_flat(dict(quality="final", seed=7, **TINY)), runtime=Runtime(store=store))
    assert final_job.run().ok
    preview = next((tmp_path / "preview").glob("*.png"))
    final = next((tmp_path / "final").glob("*.png"))
    assert read_recipe(preview).settings["quality"] == "preview"
    assert read_recipe(final).settings["quality"] == "final"
    assert read_recipe(preview).seed == read_recipe(final).seed == 7
    assert not np.array_equal(pixels(preview), pixels(final))  # less work: another image

    code = main(["replay", str(preview), "--quality", "final", "--models-dir", str(models_with_taesd),
                 "--device", "cpu"])
    assert code == 0
    promoted = preview.with_name(f"{preview.stem}.final{preview.suffix}")
    assert read_recipe(promoted).settings["quality"] == "final"
    assert np.array_equal(pixels(promoted), pixels(final))  # replay as final == a direct final


def test_preview_quality_is_part_of_the_job(models_with_taesd, tmp_path):
    store = store_for(models_with_taesd, tmp_path)
    preview = JobSettings.from_flat(dict(quality="preview", **TINY))
    final = JobSettings.from_flat(dict(**TINY))
    assert preview.job_key("si2-controlnet") != final.job_key("si2-controlnet")
    assert final.job_key("si2-controlnet") == JobSettings.from_flat(dict(quality="final", **TINY)).job_key(
        "si2-controlnet")  # the default stays out of the key: earlier runs stay done
    assert store.locate("taesd") == models_with_taesd / "taesd"


def test_live_previews_reach_a_callback_that_asks_for_them(models_with_taesd, tmp_path):
    from packshot.core.jobs import JobContext, PhotoJob

    write_photos(tmp_path / "in", 1, size=(96, 72))
    ctx = JobContext(JobSettings.from_flat(dict(**TINY)), runtime=Runtime(store=store_for(models_with_taesd, tmp_path)))
    images = []

    def progress(p):
        if p.image is not None:
            images.append(p.image.shape)

    progress.preview_every = 2
    photo = next((tmp_path / "in").iterdir())
    outcome = PhotoJob(photo, tmp_path / "out", ctx).run(progress)
    assert outcome.status == "done", outcome.message
    assert images == [(1, 64, 64, 3), (1, 64, 64, 3)]  # steps 2 and 4, TAESD at canvas size
