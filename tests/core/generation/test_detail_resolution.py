"""What ``--detail auto`` means: one pure function of (engine, device kind, quality), its answer recorded in the
recipe in place of "auto", and replays that run the recorded pass (or refuse in one line where it cannot run).

No GPU here: the device kind is an input (``resolve_detail``, ``JobContext(render_device=...)``, the engine's
device probe stood in for)."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import pytest

from packshot.core.errors import PackshotError
from packshot.core.generation.detail import REPAINT_ENGINES, auto_detail_text, resolve_detail
from packshot.core.generation.settings import GenerationSettings
from packshot.core.generation.upscale import (
    CPU_UPSCALER,
    GPU_UPSCALER,
    RECIPE_ROLE,
    UPSCALED_ENGINES,
    check_replay_device,
    replay_settings,
    resolve_pass,
)
from packshot.core.jobs import JobContext, JobSettings
from packshot.core.runtime import Runtime
from tests.factories.diffusion_fixtures import tiny_diffusion_models_dir  # noqa: F401
from tests.factories.upscaler import offline_store

SHA0 = "0" * 64


@pytest.mark.parametrize("engine", ["si2-controlnet", "si2"])
@pytest.mark.parametrize("device,expected", [("cuda", "repaint"), ("cuda:1", "repaint"), ("mps", "repaint"),
                                             ("cpu", "upscale")])
def test_auto_is_the_detail_pass_on_a_gpu_and_the_upscale_on_the_cpu(engine, device, expected):
    assert resolve_detail("auto", engine, device, "final") == expected
    assert resolve_detail("auto", engine, device, "preview") == "off"  # previews never upscale


@pytest.mark.parametrize("engine", ["sd2-controlnet", "flux2-klein"])
@pytest.mark.parametrize("device", ["cuda", "mps", "cpu"])
def test_engines_that_cannot_repaint_get_the_upscale_everywhere(engine, device):
    assert engine in UPSCALED_ENGINES and engine not in REPAINT_ENGINES
    assert resolve_detail("auto", engine, device, "final") == "upscale"
    assert resolve_detail("repaint", engine, device, "final") == "upscale"


@pytest.mark.parametrize("engine", ["white", "color", "gradient", "blur", "image"])
def test_engines_that_paint_at_the_photo_size_never_upscale(engine):
    assert resolve_detail("auto", engine, "cuda", "final") == "off"
    assert "no upscale" in auto_detail_text(engine, "cuda")


def test_an_explicit_choice_is_kept_on_every_device():
    for device in ("cpu", "cuda", "mps"):
        assert resolve_detail("off", "si2-controlnet", device, "final") == "off"
        assert resolve_detail("upscale", "si2-controlnet", device, "final") == "upscale"
        assert resolve_detail("repaint", "si2-controlnet", device, "final") == "repaint"


def test_the_words_say_what_auto_means_on_each_device():
    assert auto_detail_text("si2-controlnet", "cuda") == "auto on this GPU (CUDA): learned upscale + detail pass (repaint)"
    assert auto_detail_text("si2-controlnet", "mps").startswith("auto on this GPU (MPS): learned upscale + detail")
    assert auto_detail_text("si2-controlnet", "cpu") == "auto on this CPU: learned upscale, no detail pass"


# -- with the model store: the upscaler that runs it ---------------------------------------------------------
def test_the_pass_and_its_upscaler_per_device(upscalers, tmp_path):
    store = offline_store(upscalers, tmp_path)
    auto = GenerationSettings()
    assert resolve_pass(store, auto, "si2-controlnet", "cuda") == ("repaint", GPU_UPSCALER)
    assert resolve_pass(store, auto, "si2-controlnet", "mps") == ("repaint", GPU_UPSCALER)
    assert resolve_pass(store, auto, "si2-controlnet", "cpu") == ("upscale", CPU_UPSCALER)
    assert resolve_pass(store, auto, "sd2-controlnet", "cuda") == ("upscale", GPU_UPSCALER)
    assert resolve_pass(store, replace(auto, quality="preview"), "si2", "cuda") == ("off", None)
    assert resolve_pass(store, auto, "white", "cuda") == ("off", None)
    # auto with no model here: bicubic, and that is what is recorded
    assert resolve_pass(offline_store(tmp_path / "empty", tmp_path), auto, "si2", "cuda") == ("off", None)


def _context(upscalers: Path, tmp_path: Path, device: str, **generation) -> JobContext:
    settings = JobSettings.from_flat(dict(engine="si2-controlnet", steps=2, resolution=64, masker="classic",
                                          prior="classic", **generation))
    return JobContext(settings, runtime=Runtime(store=offline_store(upscalers, tmp_path)), render_device=device)


def test_the_recipe_records_the_resolved_pass_not_auto(upscalers, tmp_path):
    on_gpu, on_cpu = _context(upscalers, tmp_path, "cuda"), _context(upscalers, tmp_path, "cpu")
    gpu, cpu = on_gpu.generation_settings("p", "n").to_dict(), on_cpu.generation_settings("p", "n").to_dict()
    assert (gpu["detail"], gpu["upscaler"]) == ("repaint", GPU_UPSCALER)
    assert (cpu["detail"], cpu["upscaler"]) == ("upscale", CPU_UPSCALER)
    assert on_gpu.job_key != on_cpu.job_key  # other pixels, another job
    # The upscaler's record names the device it ran on (a replay elsewhere is checked against it).
    record = on_gpu.model_info()[GPU_UPSCALER]
    assert (record["role"], record["device"]) == (RECIPE_ROLE, "cuda")
    # An explicit repaint is the same job as the auto that gives it; "off" with a model here is bicubic.
    assert _context(upscalers, tmp_path, "cuda", detail="repaint").job_key == on_gpu.job_key
    off = _context(upscalers, tmp_path, "cuda", detail="off")
    assert off.generation_settings("p", "n").detail == "off" and off.upscaler_id is None
    # A preview ran no pass: it keeps what was asked, so a final render of it resolves on its own machine.
    preview = _context(upscalers, tmp_path, "cuda", quality="preview")
    assert preview.generation_settings("p", "n").detail == "auto"


def test_a_replay_runs_the_recorded_pass_whatever_the_device(upscalers, tmp_path, monkeypatch):
    """An output made with the upscale alone (a CPU's auto) replayed where auto would repaint (a GPU) still
    gets the upscale alone: the engine is handed the recorded value, not auto."""
    from packshot.core.generation.engines import engine_for

    recorded = {"quality": "final", "detail": "upscale", "upscaler": CPU_UPSCALER}
    models = {"photo-background-generation": {}, CPU_UPSCALER: {"role": RECIPE_ROLE, "sha256": SHA0, "device": "cpu"}}
    settings = replay_settings(GenerationSettings(detail="upscale", upscaler=CPU_UPSCALER), recorded, models)
    engine = engine_for(Runtime(store=offline_store(upscalers, tmp_path)), "si2-controlnet", "cuda")
    monkeypatch.setattr(type(engine), "_device_type", lambda self: "cuda")
    assert engine.with_resolved_detail(settings).detail == "upscale"
    assert engine.with_resolved_detail(GenerationSettings()).detail == "repaint"  # auto, on this "GPU"
    # An older recipe recorded "auto" with an upscaler: that ran the upscale alone (auto never repainted then).
    assert replay_settings(GenerationSettings(), {"quality": "final"}, models).detail == "upscale"


def test_a_detail_pass_made_on_a_gpu_is_refused_on_the_cpu_in_one_line():
    repaint = GenerationSettings(detail="repaint", upscaler=GPU_UPSCALER)
    models = {GPU_UPSCALER: {"role": RECIPE_ROLE, "sha256": SHA0, "device": "cuda"}}
    with pytest.raises(PackshotError) as caught:
        check_replay_device(repaint, models, "cpu", "shoe.png")
    line = str(caught.value)
    assert "\n" not in line and line.startswith("shoe.png was made with the detail pass")
    assert "--device cuda" in line and "--detail upscale" in line  # what it would take
    check_replay_device(repaint, models, "cuda", "shoe.png")  # on a GPU: replayed
    check_replay_device(replace(repaint, detail="upscale"), models, "cpu", "shoe.png")  # the upscale runs anywhere
    check_replay_device(replace(repaint, quality="preview"), models, "cpu", "shoe.png")  # a preview runs no pass
    made_on_cpu = {GPU_UPSCALER: {**models[GPU_UPSCALER], "device": "cpu"}}
    check_replay_device(repaint, made_on_cpu, "cpu", "shoe.png")


def test_ray_stages_agree_with_gpu_actors_on_the_pass_its_key_and_its_record(upscalers, tmp_path):
    """GPU render actors would resolve auto to the detail pass, the CPU stages (read, save) and a CPU driver to
    the upscale: the driver pins the actors' pass and every stage records the actors' device. No Ray is started
    (the actors' GPUs are given)."""
    from packshot.core.cluster.ray_batch import RayBatch
    from tests.core.batch_helpers import write_photos

    write_photos(tmp_path / "in", 1, size=(64, 48))
    runtime = Runtime(store=offline_store(upscalers, tmp_path))
    settings = JobSettings.from_flat(dict(engine="si2-controlnet", steps=2, resolution=64, masker="classic",
                                          prior="classic"))
    batch = RayBatch(tmp_path / "in", tmp_path / "out", settings, render_gpus=1.0, runtime=runtime)
    pinned = batch.pinned_settings()
    assert (pinned.generation.detail, pinned.generation.upscaler) == ("repaint", GPU_UPSCALER)
    assert batch.stage_kwargs(threads=0)["render_device"] == "cuda"
    save_stage = JobContext(pinned, runtime=runtime, render_device=batch.pinned_device)  # on a CPU
    render_actor = JobContext(pinned, runtime=runtime, render_device="cuda")
    local_gpu = JobContext(settings, runtime=runtime, render_device="cuda")  # `packshot batch` on that GPU
    assert save_stage.job_key == render_actor.job_key == local_gpu.job_key
    assert save_stage.generation_settings("p", "n").detail == "repaint"
    assert save_stage.model_info()[GPU_UPSCALER]["device"] == "cuda"
    # CPU actors: every process resolves alike, nothing is pinned.
    assert RayBatch(tmp_path / "in", tmp_path / "out", settings, render_gpus=0.0, runtime=runtime).pinned_settings() \
        == settings
