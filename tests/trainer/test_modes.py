"""Both modes overfit four tiny photos (a fixed-noise loss falls), and the LoRA, loaded by the generator
through the model store, changes its output for the same seed. Tiny random models: plumbing, not quality."""

import numpy as np
import pytest
import torch

from packshot.core.generation.engines.diffusion import DiffusionEngine
from packshot.core.generation.settings import GenerationSettings
from packshot.trainer.dataset import prepare_samples
from packshot.trainer.train import TrainConfig, run_dir, train_controlnet
from packshot.trainer.validation import fixed_loss
from tests.core.generation.helpers import product_photo


def _overfit(runtime, brand_photos, mode, lr):
    data, masks = brand_photos
    config = TrainConfig(data_dir=data, masks_dir=masks, name=f"overfit-{mode}", mode=mode, steps=25, batch_size=4,
                         resolution=64, checkpoint_every=100, learning_rate=lr, device="cpu", probe_steps=0,
                         empty_caption_rate=0.0, lora_rank=4)
    return config, train_controlnet(config, runtime)


@pytest.mark.slow
@pytest.mark.parametrize("mode,lr", [("controlnet", 1e-3), ("lora", 3e-2)])
def test_loss_falls_when_overfitting_four_photos(runtime, tiny_models, brand_photos, tiny_diffusion_models_dir, mode, lr):
    config, folder = _overfit(runtime, brand_photos, mode, lr)
    samples = prepare_samples(config.data_dir, run_dir(tiny_models, config.name), masks_dir=config.masks_dir).samples
    before = fixed_loss(tiny_diffusion_models_dir / "photo-background-generation", samples, 64)
    after = fixed_loss(folder, samples, 64)
    # The run is seeded, so this is deterministic; a LoRA that did not train or did not load leaves it equal.
    # The tiny UNet keeps little of its capacity in the transformer blocks the LoRA adapts: a smaller drop.
    assert after < (0.9 if mode == "controlnet" else 0.97) * before, (before, after)
    if mode == "lora":
        weights = folder / "lora" / "pytorch_lora_weights.safetensors"
        assert weights.is_file() and weights.stat().st_size < 1_000_000  # small: only the adapter
        assert not (folder / "controlnet").is_symlink()  # the paper's ControlNet, hard-linked


def test_lora_model_is_listed_and_changes_the_generators_output(store, runtime, tiny_models, brand_photos):
    data, masks = brand_photos
    config = TrainConfig(data_dir=data, masks_dir=masks, name="brand-style", mode="lora", steps=2, batch_size=2,
                         resolution=64, checkpoint_every=2, learning_rate=5e-2, device="cpu", probe_steps=0)
    folder = train_controlnet(config, runtime)
    assert "brand-style" in [s.id for s in store.list_models()]
    assert (folder / "lora").is_dir() and (folder / "controlnet" / "config.json").is_file()
    settings = GenerationSettings(prompt="a bottle on marble", steps=2, resolution=64, seed=7)
    photo, mask = product_photo()
    try:
        paper = DiffusionEngine("si2-controlnet", runtime, "cpu", model_id="photo-background-generation")
        styled = DiffusionEngine("si2-controlnet", runtime, "cpu", model_id="brand-style")
        (a,) = paper.render(photo, mask, settings)
        (a2,) = paper.render(photo, mask, settings)
        (b,) = styled.render(photo, mask, settings)
        a, a2, b = (np.asarray(getattr(x, "pixels", x), dtype=np.float32) for x in (a, a2, b))
        np.testing.assert_array_equal(a, a2)  # same seed, same model: same output
        assert np.abs(a - b).mean() > 0.5  # the LoRA changes it
        unet = styled.models().components.unet
        assert not any("lora" in name for name, _ in unet.named_parameters())  # fused into the weights
        assert torch.isfinite(next(unet.parameters())).all()
    finally:
        runtime.unload()


def test_training_computes_gradients_whatever_the_callers_grad_mode(runtime, tiny_models, brand_photos):
    """A thread that left autograd off (an inference context the app or a library entered) must not
    turn a training step into "element 0 of tensors does not require grad"."""
    import torch

    data, masks = brand_photos
    config = TrainConfig(data_dir=data, masks_dir=masks, name="grad-off", mode="controlnet", steps=1, batch_size=2,
                         resolution=64, checkpoint_every=1, learning_rate=1e-3, device="cpu", probe_steps=0)
    with torch.no_grad():
        folder = train_controlnet(config, runtime)
    assert (folder / "controlnet" / "config.json").is_file()
