"""``packshot batch --ray`` on a local Ray runtime (2 CPUs): the same outputs as the local batch."""

from __future__ import annotations

import builtins
import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from packshot.core.cli.main import main
from packshot.core.errors import PackshotError
from packshot.core.jobs import BatchJob, JobSettings
from packshot.core.recipe import read_recipe
from packshot.core.runtime import Runtime
from tests.core.batch_helpers import no_models_runtime, write_photos
from tests.factories.diffusion_fixtures import tiny_diffusion_models_dir  # noqa: F401

ray = pytest.importorskip("ray")
ROOT = Path(__file__).resolve().parents[3]


def outputs_of(folder: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in sorted(folder.iterdir()) if p.is_file()}


def test_white_batch_on_ray_equals_the_local_batch(local_ray, tmp_path, capsys):
    write_photos(tmp_path / "in", 4, size=(120, 90))
    assert main(["batch", str(tmp_path / "in"), "--out", str(tmp_path / "local"), "--engine", "white",
                 "--no-progress"]) == 0
    assert main(["batch", str(tmp_path / "in"), "--out", f"file://{tmp_path / 'ray'}", "--engine", "white",
                 "--ray", "--no-progress"]) == 0  # file:// is the folder itself
    said = capsys.readouterr().out
    assert "on a local Ray runtime" in said and "Done: 4" in said
    local, distributed = outputs_of(tmp_path / "local"), outputs_of(tmp_path / "ray")
    assert local.keys() == distributed.keys() and len(local) == 4
    assert local == distributed  # pixels, recipe and metadata: byte for byte
    for name in local:
        assert read_recipe(tmp_path / "ray" / name).job_key  # what a re-run without a store resumes by

    assert main(["batch", str(tmp_path / "in"), "--out", str(tmp_path / "ray"), "--engine", "white",
                 "--ray", "--no-progress"]) == 0
    assert "Skipped (already done): 4" in capsys.readouterr().out


@pytest.mark.slow
def test_generated_batch_on_ray_equals_the_local_batch(local_ray, tmp_path, tiny_diffusion_models_dir):  # noqa: F811
    from packshot.core.cluster.ray_batch import RayBatch
    from packshot.core.models.store import ModelStore

    write_photos(tmp_path / "in", 2, size=(96, 72))
    flat = dict(engine="si2-controlnet", template="marble", resolution=64, steps=2, device="cpu", seed=4,
                models_dir=str(tiny_diffusion_models_dir))
    store = ModelStore(tiny_diffusion_models_dir, offline=True, use_hf_cache=False)
    assert BatchJob(tmp_path / "in", tmp_path / "local", JobSettings.from_flat(flat), runtime=Runtime(store=store)).run().ok
    summary = RayBatch(tmp_path / "in", tmp_path / "ray", JobSettings.from_flat(flat), runtime=Runtime(store=store)).run()
    assert summary.ok and len(summary.done) == 2
    local, distributed = outputs_of(tmp_path / "local"), outputs_of(tmp_path / "ray")
    for name in local:  # the recipe first: it says what differs, if anything does
        assert read_recipe(tmp_path / "ray" / name) == read_recipe(tmp_path / "local" / name)
        a = np.asarray(Image.open(tmp_path / "ray" / name)).astype(int)
        b = np.asarray(Image.open(tmp_path / "local" / name)).astype(int)
        assert np.abs(a - b).max() == 0, name
    assert local == distributed


def test_bad_inputs_are_named_and_the_rest_finish(local_ray, tmp_path):
    from packshot.core.cluster.ray_batch import RayBatch

    write_photos(tmp_path / "in", 2, size=(120, 90))
    (tmp_path / "in" / "broken.jpg").write_bytes(b"not a jpeg at all")
    job = RayBatch(tmp_path / "in", tmp_path / "out", JobSettings.from_flat(dict(engine="white")),
                   runtime=no_models_runtime(tmp_path))
    summary = job.run()
    assert sorted(summary.done) == ["item_000.jpg", "item_001.jpg"]
    assert [name for name, _ in summary.failed] == ["broken.jpg"]
    failures = (tmp_path / "out" / ".packshot" / "failures.csv").read_text()
    assert "broken.jpg" in failures and "item_000" not in failures


@pytest.mark.slow
def test_a_killed_driver_resumes_to_the_same_outputs(tmp_path):
    write_photos(tmp_path / "in", 12, size=(200, 150))
    reference = tmp_path / "reference"
    BatchJob(tmp_path / "in", reference, JobSettings.from_flat(dict(engine="gradient")),
             runtime=no_models_runtime(tmp_path)).run()
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    argv = [sys.executable, "-m", "packshot.core.cli.main", "batch", str(tmp_path / "in"), "--out", str(tmp_path / "out"),
            "--engine", "gradient", "--ray", "--no-progress"]
    driver = subprocess.Popen(argv, env=env, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                              start_new_session=True)
    deadline = time.monotonic() + 240
    while time.monotonic() < deadline and len(list((tmp_path / "out").glob("*.png"))) < 2:
        assert driver.poll() is None, "the driver ended before it could be killed"
        time.sleep(0.05)  # sleep-ok: simulated work / polling a subprocess
    os.killpg(driver.pid, signal.SIGKILL)  # the driver and the Ray runtime it started
    driver.wait()
    finished = len(list((tmp_path / "out").glob("*.png")))
    assert 2 <= finished <= 12
    done = subprocess.run(argv, env=env, cwd=ROOT, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr[-2000:]
    # A save actor (its own process) may still finish the photo it held after the driver died, so
    # the re-run skips at least what was on disk at the kill and redoes only the rest.
    skipped = re.search(r"Skipped \(already done\): (\d+)", done.stdout)
    assert finished == 12 or (skipped and finished <= int(skipped.group(1)) <= 12), done.stdout[-2000:]
    assert outputs_of(tmp_path / "out") == outputs_of(reference)


def test_the_driver_and_every_stage_agree_on_the_upscaler_and_the_job_key(tmp_path, monkeypatch):
    """GPU render actors would choose Real-ESRGAN x4plus, the CPU stages (read, save; Ray hides the GPUs from
    them) and a CPU driver the compact model: the driver pins the actors' choice in the settings every stage
    gets, so the job key and the recipe's record are those of the image. No Ray is started: the render
    actors' GPUs are given (``render_gpus``)."""
    import torch

    from packshot.core import devices
    from packshot.core.cluster.ray_batch import RayBatch
    from packshot.core.generation.upscale import CPU_UPSCALER, GPU_UPSCALER
    from packshot.core.jobs import JobContext
    from packshot.core.models.store import ModelStore
    from tests.factories.upscaler import write_compact, write_rrdb

    models = tmp_path / "models"
    write_compact(models)
    write_rrdb(models)
    runtime = Runtime(store=ModelStore(models, offline=True, use_hf_cache=False, download_dir=tmp_path / "dl"))
    write_photos(tmp_path / "in", 1, size=(64, 48))
    settings = JobSettings.from_flat(dict(engine="si2-controlnet", steps=2, resolution=64, masker="classic",
                                          prior="classic"))

    def batch(gpus: float) -> RayBatch:
        return RayBatch(tmp_path / "in", tmp_path / "out", settings, render_gpus=gpus, runtime=runtime)

    pinned = batch(1.0).pinned_settings()
    assert pinned.generation.upscaler == GPU_UPSCALER
    on_cpu = JobContext(pinned, runtime=runtime)  # a read or save stage, or a CPU driver, as pinned
    unpinned_on_cpu = JobContext(settings, runtime=runtime)
    assert (on_cpu.upscaler_id, unpinned_on_cpu.upscaler_id) == (GPU_UPSCALER, CPU_UPSCALER)
    assert on_cpu.model_info()[GPU_UPSCALER]["role"] == "upscaler"  # what the save stage records
    with monkeypatch.context() as gpu:  # the render actor, on its GPU
        gpu.setattr(devices, "pick_device", lambda preference="auto": torch.device("cuda"))
        render_actor = JobContext(pinned, runtime=runtime)
        local_gpu_batch = JobContext(settings, runtime=runtime)  # `packshot batch` on that GPU, unpinned
    assert render_actor.upscaler_id == GPU_UPSCALER
    assert on_cpu.job_key == render_actor.job_key == local_gpu_batch.job_key != unpinned_on_cpu.job_key

    # CPU render actors: every process chooses alike, so the settings stay exactly the local batch's.
    assert batch(0.0).pinned_settings() == settings
    # CPU actors with only the GPU's model here while a GPU driver would use it: bicubic everywhere, said.
    (models / CPU_UPSCALER).rename(tmp_path / "elsewhere")
    monkeypatch.setattr(devices, "pick_device", lambda preference="auto": torch.device("cuda"))
    cpu_actors = batch(0.0)
    assert cpu_actors.pinned_settings().generation.detail == "off"
    assert f"packshot models download {CPU_UPSCALER}" in cpu_actors.upscale_note


def test_without_ray_installed_it_says_what_to_install(monkeypatch):
    from packshot.core.cluster import ray_batch

    real_import = builtins.__import__

    def no_ray(name, *args, **kwargs):
        if name == "ray" or name.startswith("ray."):
            raise ImportError("No module named 'ray'")
        return real_import(name, *args, **kwargs)

    monkeypatch.setattr(builtins, "__import__", no_ray)
    with pytest.raises(PackshotError, match=r"pip install 'packshot\[cluster\]'"):
        ray_batch.import_ray()
