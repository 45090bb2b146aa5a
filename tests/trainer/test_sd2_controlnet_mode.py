"""Training the paper's ablation (``--mode sd2-controlnet``) on tiny random models: a 4-channel ControlNet from
SD2 base's UNet, the cut-out as control image; the output loads in the ``sd2-controlnet`` engine."""

import json

import numpy as np
import pytest
import torch

from packshot.core.errors import Cancelled
from packshot.core.generation.engines import engine_for
from packshot.core.generation.sd2_components import load_sd2_components
from packshot.core.generation.settings import GenerationSettings
from packshot.core.models.store import ModelStore
from packshot.core.progress import CancelToken
from packshot.core.runtime import Runtime
from packshot.trainer.dataset import prepare_samples
from packshot.trainer.train import TRAINED_MARKER, TrainConfig, read_losses, run_dir, train_controlnet
from packshot.trainer.validation import fixed_loss
from tests.core.generation.helpers import CallRecorder, product_photo


@pytest.fixture
def sd2_store(tiny_models, tiny_sd2_models_dir):
    """The trained model lands in our own empty folder; SD2 base is found in the shared session folder."""
    return ModelStore(tiny_models, offline=True, download_dir=tiny_sd2_models_dir, use_hf_cache=False)


def _config(brand_photos, **kw):
    data, masks = brand_photos
    base = dict(data_dir=data, masks_dir=masks, name="ablation", mode="sd2-controlnet", steps=3, batch_size=2,
                resolution=64, checkpoint_every=100, learning_rate=1e-3, device="cpu", probe_steps=0)
    base.update(kw)
    return TrainConfig(**base)


def test_config_defaults_to_sd2_base_and_the_papers_learning_rate(brand_photos):
    config = _config(brand_photos, learning_rate=None)
    assert config.base_model == "stable-diffusion-2-base" and config.lr == 5e-6
    assert TrainConfig(data_dir=".", name="x").base_model == "photo-background-generation"  # other modes unchanged
    assert TrainConfig.from_json(config.to_json()) == config


def test_trains_a_4_channel_controlnet_on_the_cutout_and_the_engine_loads_it(sd2_store, tiny_models, brand_photos,
                                                                             tiny_sd2_models_dir):
    from packshot.trainer import train as train_module

    seen_controls = []
    original = train_module._Run.micro_loss

    def spy(run, batch):
        with CallRecorder(run.mode.module) as cn:
            loss = original(run, batch)
        seen_controls.append((batch, cn.calls[0]))
        return loss

    train_module._Run.micro_loss = spy
    try:
        folder = train_controlnet(_config(brand_photos), Runtime(store=sd2_store))
    finally:
        train_module._Run.micro_loss = original
    # What the ControlNet saw: 4 noisy-latent channels and the photo times its object map, in [-1, 1].
    batch, (args, kwargs) = seen_controls[0]
    assert args[0].shape[1] == 4
    image, background = batch["image"], batch["background"]
    expected = (image + 1) * (1 - background) - 1
    torch.testing.assert_close(kwargs["controlnet_cond"], expected)
    assert kwargs["controlnet_cond"].min() >= -1 and (kwargs["controlnet_cond"][(background >= 1).expand_as(image)]
                                                       == -1).all()

    assert folder == tiny_models / "ablation"
    index = json.loads((folder / "model_index.json").read_text())
    assert index["_class_name"] == "StableDiffusionControlNetPipeline" and index["controlnet"]
    marker = json.loads((folder / TRAINED_MARKER).read_text())
    assert marker["mode"] == "sd2-controlnet" and marker["base"].endswith("stable-diffusion-2-base")
    after = load_sd2_components(folder, with_controlnet=True)  # the engine's loader
    base = load_sd2_components(tiny_sd2_models_dir / "stable-diffusion-2-base", with_controlnet=False)
    assert after.controlnet.config.in_channels == 4
    for name, tensor in base.unet.state_dict().items():
        assert torch.equal(tensor, after.unet.state_dict()[name]), f"frozen UNet changed: {name}"
    zero_convs = [p for n, p in after.controlnet.named_parameters() if n.startswith("controlnet_down_blocks")]
    assert any(p.abs().sum() > 0 for p in zero_convs), "the zero-initialised outputs did not learn"
    assert "ablation" in [s.id for s in sd2_store.list_models()]

    settings = GenerationSettings(prompt="a bottle on marble", steps=2, resolution=64, seed=7)
    photo, mask = product_photo()
    engine = engine_for(Runtime(store=sd2_store), "sd2-controlnet", "cpu", model="ablation")
    (a,) = engine.render(photo, mask, settings)
    (b,) = engine.render(photo, mask, settings)
    assert np.array_equal(a, b) and a.shape == photo.rgb8.shape
    assert engine.models().folder == folder


def test_cancel_then_resume_continues_at_the_saved_step(sd2_store, tiny_models, brand_photos):
    cancel = CancelToken()

    def stop_after_two(p):
        if p.stage == "train" and p.done == 2:
            cancel.cancel()

    config = _config(brand_photos, name="ablation-resume", steps=4)
    with pytest.raises(Cancelled, match="step 2"):
        train_controlnet(config, Runtime(store=sd2_store), progress=stop_after_two, cancel=cancel)
    work = run_dir(tiny_models, "ablation-resume")
    assert (work / "checkpoint-0000002" / "controlnet" / "config.json").is_file()
    seen = []
    train_controlnet(config, Runtime(store=sd2_store), progress=seen.append)
    assert [p.done for p in seen if p.stage == "train"] == [3, 4]
    assert [s for s, _ in read_losses(work)] == [1, 2, 3, 4]


def test_resumed_run_equals_the_uninterrupted_one(sd2_store, tiny_models, brand_photos):
    """Same optimizer state, RNG and data order after a resume: the same ControlNet as one run."""
    straight = train_controlnet(_config(brand_photos, name="straight", steps=3, checkpoint_every=1), Runtime(store=sd2_store))
    cancel = CancelToken()

    def stop(p):
        if p.stage == "train" and p.done == 1:
            cancel.cancel()

    config = _config(brand_photos, name="resumed", steps=3, checkpoint_every=1)
    with pytest.raises(Cancelled):
        train_controlnet(config, Runtime(store=sd2_store), progress=stop, cancel=cancel)
    resumed = train_controlnet(config, Runtime(store=sd2_store))
    a = load_sd2_components(straight, with_controlnet=True).controlnet.state_dict()
    b = load_sd2_components(resumed, with_controlnet=True).controlnet.state_dict()
    assert all(torch.allclose(a[k], b[k], atol=1e-6) for k in a)


@pytest.mark.slow
def test_loss_falls_when_overfitting_four_photos(sd2_store, tiny_models, brand_photos, tiny_sd2_models_dir):
    config = _config(brand_photos, name="overfit-sd2", steps=25, batch_size=4, empty_caption_rate=0.0)
    folder = train_controlnet(config, Runtime(store=sd2_store))
    samples = prepare_samples(config.data_dir, run_dir(tiny_models, config.name), masks_dir=config.masks_dir).samples
    before = fixed_loss(tiny_sd2_models_dir / "stable-diffusion-2-base", samples, 64, mode="sd2-controlnet")
    after = fixed_loss(folder, samples, 64, mode="sd2-controlnet")
    assert after < 0.9 * before, (before, after)


@pytest.mark.slow
def test_held_out_photos_get_validation_grids_and_an_eval_of_the_trained_ablation(sd2_store, tiny_models, tmp_path):
    from tests.trainer.conftest import make_photos

    data, masks = make_photos(tmp_path / "five", tmp_path / "five-masks", count=5)
    events = []
    config = _config((data, masks), name="ablation-validated", steps=2, checkpoint_every=2, holdout=1,
                     validation_steps=2)
    train_controlnet(config, Runtime(store=sd2_store), report=events.append)
    work = run_dir(tiny_models, "ablation-validated")
    grids = sorted(p.name for p in (work / "validation").glob("*.png"))
    assert grids == ["step-0000000.png", "step-0000002.png"]  # the start (a fresh ControlNet) and the end
    [result] = [e for e in events if e["event"] == "eval"]
    # No paper weights in this store: the trained ablation alone, on the held-out photo, without failures.
    assert [(r["engine"], r["n"], r["failed"]) for r in result["rows"]] == [("sd2-controlnet@ablation-validated", 1, 0)]


@pytest.mark.parametrize("prediction_type", ["epsilon", "v_prediction"])
def test_the_target_follows_the_base_schedulers_prediction_type(tmp_path, brand_photos, monkeypatch,
                                                               prediction_type):
    from diffusers import DDPMScheduler

    from tests.factories.sd2_controlnet import build_sd2_components, save_sd2_base_folder

    base_dir = tmp_path / "bases"
    save_sd2_base_folder(base_dir / "stable-diffusion-2-base",
                         build_sd2_components("tiny", with_controlnet=False, prediction_type=prediction_type))
    (tmp_path / "mine").mkdir()
    store = ModelStore(tmp_path / "mine", offline=True, download_dir=base_dir, use_hf_cache=False)
    velocities = []
    original = DDPMScheduler.get_velocity

    def recording(self, sample, noise, timesteps):
        velocities.append(self.config.prediction_type)
        return original(self, sample, noise, timesteps)

    monkeypatch.setattr(DDPMScheduler, "get_velocity", recording)
    train_controlnet(_config(brand_photos, name=f"target-{prediction_type}", steps=2), Runtime(store=store))
    assert velocities == ([] if prediction_type == "epsilon" else ["v_prediction"] * 2)  # one per micro-batch
