"""Robust runs: exact resume (step, optimizer state, data order), accumulation, estimate, disk space,
and bad input named file by file. Tiny random models on the CPU."""

import numpy as np
import pytest
import torch

from packshot.core.errors import Cancelled, PackshotError
from packshot.core.progress import CancelToken
from packshot.trainer.train import TrainConfig, estimate_run, read_losses, run_dir, train_controlnet


def _config(brand_photos, **kw):
    data, masks = brand_photos
    base = dict(data_dir=data, masks_dir=masks, name="run", steps=4, batch_size=2, resolution=64,
                checkpoint_every=100, learning_rate=1e-3, device="cpu", probe_steps=0)
    base.update(kw)
    return TrainConfig(**base)


def _optimizer_state(tiny_models, name, step):
    return torch.load(run_dir(tiny_models, name) / f"checkpoint-{step:07d}" / "optimizer.pt", weights_only=True)


def test_resumed_run_matches_the_uninterrupted_one(runtime, tiny_models, brand_photos):
    train_controlnet(_config(brand_photos, name="straight", probe_steps=1), runtime)
    cancel = CancelToken()

    def stop_after_two(p):
        if p.stage == "train" and p.done == 2:
            cancel.cancel()

    config = _config(brand_photos, name="resumed", probe_steps=1)
    with pytest.raises(Cancelled, match="step 2"):
        train_controlnet(config, runtime, progress=stop_after_two, cancel=cancel)
    saved = _optimizer_state(tiny_models, "resumed", 2)
    assert saved["state"][0]["step"].item() == 2
    seen = []
    train_controlnet(config, runtime, progress=seen.append)
    assert [p.done for p in seen if p.stage == "train"] == [3, 4]  # continues at the saved step
    straight, resumed = read_losses(run_dir(tiny_models, "straight")), read_losses(run_dir(tiny_models, "resumed"))
    assert [s for s, _ in resumed] == [1, 2, 3, 4]
    # Same data order, noise and optimizer state: the resumed steps reproduce the uninterrupted run.
    np.testing.assert_allclose([v for _, v in resumed], [v for _, v in straight], rtol=1e-4)
    a, b = _optimizer_state(tiny_models, "straight", 4), _optimizer_state(tiny_models, "resumed", 4)
    for key in a["state"]:
        for name in ("exp_avg", "exp_avg_sq", "step"):
            torch.testing.assert_close(a["state"][key][name], b["state"][key][name], rtol=1e-4, atol=1e-7)


def test_gradient_accumulation_steps_once_per_accumulated_batch(runtime, tiny_models, brand_photos):
    seen = []
    train_controlnet(_config(brand_photos, name="accum", steps=2, grad_accum=2, checkpoint_every=2), runtime,
                     progress=seen.append)
    assert [p.done for p in seen if p.stage == "train"] == [1, 2]
    assert _optimizer_state(tiny_models, "accum", 2)["state"][0]["step"].item() == 2


def test_estimate_times_a_probe_and_trains_nothing(runtime, tiny_models, brand_photos):
    events = []
    estimate = estimate_run(_config(brand_photos, name="probe", steps=50, probe_steps=2), runtime, report=events.append)
    assert estimate.seconds_per_step > 0 and estimate.steps_left == 50
    assert estimate.peak_memory_bytes > estimate.checkpoint_bytes > 0
    assert "50 steps" in estimate.text()
    assert any(e["event"] == "estimate" for e in events)
    work = run_dir(tiny_models, "probe")
    assert not list(work.glob("checkpoint-*")) and not read_losses(work)


def test_full_disk_is_refused_before_training(runtime, tiny_models, brand_photos, monkeypatch):
    import shutil
    from collections import namedtuple

    usage = namedtuple("usage", "total used free")
    monkeypatch.setattr(shutil, "disk_usage", lambda path: usage(10**12, 10**12 - 1000, 1000))
    with pytest.raises(PackshotError, match="Not enough disk space") as info:
        train_controlnet(_config(brand_photos, name="full-disk"), runtime)
    assert str(run_dir(tiny_models, "full-disk")) in str(info.value)
    assert not read_losses(run_dir(tiny_models, "full-disk"))


def _bad_folder(brand_photos):
    from PIL import Image

    data, masks = brand_photos
    (data / "broken.png").write_bytes(b"not a png at all")
    Image.fromarray(np.full((40, 40, 3), 128, np.uint8)).save(data / "no_product.png")
    Image.fromarray(np.zeros((40, 40), np.uint8)).save(masks / "no_product.png")
    (data / "captions.csv").write_text("file,caption\nbottle_0.png,a bottle\nghost.png,a ghost\n")
    return data, masks


def test_bad_input_is_named_and_skipped(runtime, brand_photos):
    events = []
    train_controlnet(_config(_bad_folder(brand_photos), name="bad-ok", steps=1), runtime, report=events.append)
    data = next(e for e in events if e["event"] == "data")
    assert data["usable"] == 4
    text = "\n".join(data["problems"])
    assert "broken.png" in text and "no_product.png" in text and "ghost.png" in text


def test_too_few_usable_photos_refuse_to_start(runtime, brand_photos):
    with pytest.raises(PackshotError, match="Only 4 usable photo.*at least 6") as info:
        train_controlnet(_config(_bad_folder(brand_photos), name="bad-few", steps=1, min_photos=6), runtime)
    assert "broken.png" in str(info.value) and "no_product.png" in str(info.value)


def test_validation_grids_are_written_at_the_right_steps(runtime, tiny_models, brand_photos):
    from PIL import Image

    from tests.trainer.conftest import make_photos

    data, masks = brand_photos
    make_photos(data, masks, count=5)  # a fifth photo, held out (the last by name)
    events = []
    train_controlnet(_config(brand_photos, name="validated", steps=4, checkpoint_every=2, holdout=1,
                             validation_steps=2, validation_seeds=(0, 1)), runtime, report=events.append)
    grids = sorted((run_dir(tiny_models, "validated") / "validation").glob("step-*.png"))
    assert [g.name for g in grids] == ["step-0000000.png", "step-0000002.png", "step-0000004.png"]
    assert [e["step"] for e in events if e["event"] == "validation"] == [0, 2, 4]
    assert Image.open(grids[-1]).size == (3 * 256, 256)  # one held-out photo: the photo + 2 seeds
    first, last = (np.asarray(Image.open(g), dtype=np.float32) for g in (grids[0], grids[-1]))
    assert np.abs(first - last).mean() > 0  # the model changed between the base and step 4
    data_event = next(e for e in events if e["event"] == "data")
    assert data_event["usable"] == 5
    # At the end, core's eval compares base and fine-tuned on the held-out photo.
    comparison = next(e for e in events if e["event"] == "eval")
    assert [r["model"] for r in comparison["rows"]] == ["base (photo-background-generation)",
                                                         "fine-tuned (validated)"]
    assert all(r["n"] == 2 and r["failed"] == 0 for r in comparison["rows"])  # 1 photo x 2 seeds each
    assert (run_dir(tiny_models, "validated") / "eval" / "summary.md").is_file()


class _CountingMasker:
    """A masker that records each photo it is asked to mask (the checks below must not need any)."""

    def __init__(self) -> None:
        self.calls = 0

    def compute(self, photo, cancel=None):
        from types import SimpleNamespace

        self.calls += 1
        mask = np.zeros(photo.size[::-1], np.float32)
        mask[20:50, 30:60] = 1.0
        return SimpleNamespace(mask=mask)


def test_a_missing_base_model_is_refused_before_any_mask(tmp_path, brand_photos):
    from packshot.core.models.store import ModelStore
    from packshot.core.runtime import Runtime

    (tmp_path / "empty-models").mkdir()
    empty = Runtime(store=ModelStore(tmp_path / "empty-models", offline=True, use_hf_cache=False))
    masker = _CountingMasker()
    with pytest.raises(PackshotError, match="photo-background-generation"):
        train_controlnet(_config(brand_photos, name="no-base", masks_dir=None), empty, masker=masker)
    assert masker.calls == 0


def test_too_few_photo_files_are_refused_before_any_mask(runtime, brand_photos):
    masker = _CountingMasker()
    with pytest.raises(PackshotError, match="Only 4 photo.*at least 5"):
        train_controlnet(_config(brand_photos, name="few", masks_dir=None, holdout=1), runtime, masker=masker)
    assert masker.calls == 0


def test_an_unwritable_run_folder_is_refused_before_any_mask(runtime, tiny_models, brand_photos):
    (tiny_models / ".training").write_text("a file where the runs' folder goes")  # fails for root too
    masker = _CountingMasker()
    with pytest.raises(PackshotError, match="Cannot write the training run's folder"):
        train_controlnet(_config(brand_photos, name="blocked", masks_dir=None), runtime, masker=masker)
    assert masker.calls == 0
