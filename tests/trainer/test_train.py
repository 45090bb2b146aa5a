"""Fine-tuning with tiny random models: the plumbing (frozen SI2, 9-channel ControlNet, checkpoints,
resume, export) is proven here; whether a real run improves backgrounds needs real weights and a GPU."""

import numpy as np
import pytest
import torch

from packshot.core.errors import Cancelled
from packshot.core.generation.components import load_components
from packshot.core.models.store import ModelStore
from packshot.core.progress import CancelToken
from packshot.core.runtime import Runtime
from packshot.trainer.train import TrainConfig, read_losses, run_dir, train_controlnet


def _config(brand_photos, **kw):
    data, masks = brand_photos
    base = dict(data_dir=data, masks_dir=masks, name="my-brand", steps=4, batch_size=2, resolution=64,
                checkpoint_every=2, learning_rate=1e-3, device="cpu", probe_steps=0)
    base.update(kw)
    return TrainConfig(**base)


def test_trains_controlnet_only_and_exports_a_loadable_model(tiny_models, brand_photos, tiny_diffusion_models_dir):
    store = ModelStore(tiny_models, offline=True, download_dir=tiny_diffusion_models_dir, use_hf_cache=False)
    runtime = Runtime(store=store)
    before = load_components(tiny_diffusion_models_dir / "photo-background-generation", with_controlnet=True)
    seen = []
    folder = train_controlnet(_config(brand_photos), runtime, progress=seen.append)

    assert folder == tiny_models / "my-brand"
    after = load_components(folder, with_controlnet=True)  # the same loader the app uses
    changed = [not torch.equal(a, b) for a, b in zip(before.controlnet.state_dict().values(),
                                                      after.controlnet.state_dict().values())]
    assert any(changed), "the ControlNet did not learn"
    for name, tensor in before.unet.state_dict().items():
        assert torch.equal(tensor, after.unet.state_dict()[name]), f"frozen UNet changed: {name}"
    assert after.controlnet.config.in_channels == 9
    assert "my-brand" in [s.id for s in store.list_models()]
    assert [p.done for p in seen if p.stage == "train"] == [1, 2, 3, 4]
    losses = read_losses(run_dir(tiny_models, "my-brand"))
    assert len(losses) == 4 and all(np.isfinite(v) for _, v in losses)
    # The base model is untouched by the hard-linked export.
    assert "my-brand" not in (tiny_diffusion_models_dir / "photo-background-generation" / "model_index.json").read_text()


def test_cancel_saves_a_checkpoint_and_the_next_run_resumes(tiny_models, brand_photos, tiny_diffusion_models_dir):
    store = ModelStore(tiny_models, offline=True, download_dir=tiny_diffusion_models_dir, use_hf_cache=False)
    runtime = Runtime(store=store)
    cancel = CancelToken()

    def stop_after_three(p):
        if p.stage == "train" and p.done == 3:
            cancel.cancel()

    config = _config(brand_photos, name="resumable", steps=6, checkpoint_every=100)
    with pytest.raises(Cancelled, match="step 3"):
        train_controlnet(config, runtime, progress=stop_after_three, cancel=cancel)
    work = run_dir(tiny_models, "resumable")
    assert (work / "checkpoint-0000003" / "controlnet" / "config.json").is_file()

    seen = []
    train_controlnet(config, runtime, progress=seen.append)
    assert [p.done for p in seen if p.stage == "train"] == [4, 5, 6]
    assert [s for s, _ in read_losses(work)] == [1, 2, 3, 4, 5, 6]


def test_bad_model_name_is_refused(tiny_models, brand_photos, tiny_diffusion_models_dir):
    store = ModelStore(tiny_models, offline=True, download_dir=tiny_diffusion_models_dir, use_hf_cache=False)
    runtime = Runtime(store=store)
    with pytest.raises(Exception, match="cannot be a model name"):
        train_controlnet(_config(brand_photos, name="../escape"), runtime)


def test_published_and_foreign_names_are_refused(tiny_models, brand_photos, tiny_diffusion_models_dir):
    store = ModelStore(tiny_models, offline=True, download_dir=tiny_diffusion_models_dir, use_hf_cache=False)
    runtime = Runtime(store=store)
    with pytest.raises(Exception, match="published model"):
        train_controlnet(_config(brand_photos, name="sd2-inpainting"), runtime)
    (tiny_models / "holiday-photos").mkdir()
    (tiny_models / "holiday-photos" / "keep.txt").write_text("mine")
    with pytest.raises(Exception, match="not made by the trainer"):
        train_controlnet(_config(brand_photos, name="holiday-photos"), runtime)
    assert (tiny_models / "holiday-photos" / "keep.txt").read_text() == "mine"


def test_same_name_with_other_data_is_refused_unless_restarted(tiny_models, brand_photos, tiny_diffusion_models_dir,
                                                               tmp_path):
    store = ModelStore(tiny_models, offline=True, download_dir=tiny_diffusion_models_dir, use_hf_cache=False)
    runtime = Runtime(store=store)
    train_controlnet(_config(brand_photos, name="brand", steps=2), runtime)
    other = tmp_path / "other"
    other.mkdir()
    for p in brand_photos[0].glob("*.png"):
        (other / p.name).write_bytes(p.read_bytes())
    with pytest.raises(Exception, match="already exists with other data_dir"):
        train_controlnet(_config(brand_photos, name="brand", steps=2, data_dir=other), runtime)
    seen = []
    train_controlnet(_config(brand_photos, name="brand", steps=2, data_dir=other), runtime, restart=True,
                     progress=seen.append)
    assert [p.done for p in seen if p.stage == "train"] == [1, 2]  # trained afresh, not re-exported
    # The same data with more steps continues the run.
    seen.clear()
    train_controlnet(_config(brand_photos, name="brand", steps=3, data_dir=other), runtime, progress=seen.append)
    assert [p.done for p in seen if p.stage == "train"] == [3]


def test_resume_after_an_interrupt_drops_the_lost_steps_losses_and_says_where_it_resumed(
        runtime, tiny_models, brand_photos, caplog):
    """Ctrl-C between checkpoints: the rows past the checkpoint are redone, so they must not stay twice."""
    config = _config(brand_photos, name="interrupted", steps=4, checkpoint_every=2)

    def interrupt_at_three(p):
        if p.stage == "train" and p.done == 3:
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        train_controlnet(config, runtime, progress=interrupt_at_three)
    work = run_dir(tiny_models, "interrupted")
    assert [s for s, _ in read_losses(work)] == [1, 2, 3]
    with open(work / "losses.csv", "a") as handle:
        handle.write("4,")  # a row the kill cut in half

    assert [s for s, _ in read_losses(work)] == [1, 2, 3]
    seen = []
    with caplog.at_level("INFO", logger="packshot.trainer.train"):
        train_controlnet(config, runtime, progress=seen.append)
    assert [s for s, _ in read_losses(work)] == [1, 2, 3, 4]
    resumed = [p for p in seen if p.stage == "resume"]
    assert len(resumed) == 1 and resumed[0].message.startswith("Resumed from step 2 (checkpoint ")
    assert "checkpoint-0000002" in resumed[0].message
    assert "Resumed from step 2" in caplog.text
