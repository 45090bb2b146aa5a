"""The ablation engine (SD2 base + 4-channel cut-out ControlNet) on tiny random models in the real format."""

from __future__ import annotations

import json

import cv2
import numpy as np
import pytest
import torch
from PIL import Image

from packshot.core.errors import ModelMissingError, PackshotError
from packshot.core.generation.components import IncompatibleModelError
from packshot.core.generation.composite import composite
from packshot.core.generation.engines import engine_for
from packshot.core.generation.sd2_components import load_sd2_components
from packshot.core.generation.settings import GenerationSettings
from packshot.core.models.store import ModelStore
from packshot.core.runtime import Runtime
from tests.core.batch_helpers import write_photos
from tests.core.generation.helpers import CallRecorder, product_photo
from tests.factories.sd2_fixtures import SD2_CONTROLNET_ID


def fast(**changes) -> GenerationSettings:
    return GenerationSettings(**{**dict(prompt="a bottle on marble", steps=2, resolution=64), **changes})


@pytest.fixture
def engine(tiny_sd2_store):
    return engine_for(Runtime(store=tiny_sd2_store), "sd2-controlnet", "cpu", model=SD2_CONTROLNET_ID)


def test_the_controlnet_sees_four_channels_and_the_cutout_in_minus_one_to_one(engine):
    photo, mask = product_photo(96, 64)
    components = engine.models().components
    assert components.unet.config.in_channels == 4 and components.controlnet.config.in_channels == 4
    with CallRecorder(components.controlnet) as cn, CallRecorder(components.unet) as unet:
        engine.render(photo, mask, fast())
    # The photo letterboxed to 64 x 64 (96 x 64 -> 64 x 43, rows 10..53), times the soft object map resized
    # by area as for the other engines, in [-1, 1]: the product's pixels, black (-1) everywhere else.
    inner_rgb = cv2.resize(photo.rgb8, (64, 43), interpolation=cv2.INTER_AREA).astype(np.float32)
    inner_map = cv2.resize(mask.alpha, (64, 43), interpolation=cv2.INTER_AREA)
    rgb, product = np.zeros((64, 64, 3), np.float32), np.zeros((64, 64), np.float32)
    rgb[10:53], product[10:53] = inner_rgb, inner_map
    expected = torch.from_numpy(rgb * product[..., None] / 127.5 - 1.0).permute(2, 0, 1)
    assert len(cn.calls) == 2 and len(unet.calls) == 2  # one call per step, guidance halves batched
    for (cn_args, cn_kwargs), (unet_args, _) in zip(cn.calls, unet.calls):
        assert cn_args[0].shape == (2, 4, 8, 8) and torch.equal(cn_args[0], unet_args[0])  # noisy latents only
        control = cn_kwargs["controlnet_cond"]
        assert control.shape == (2, 3, 64, 64)
        torch.testing.assert_close(control, expected.expand(2, 3, 64, 64), atol=1e-5, rtol=0)
    control = cn.calls[0][1]["controlnet_cond"][0]
    assert control.min() >= -1.0 and control.max() <= 1.0
    assert (control[:, 0, :] == -1.0).all()  # the letterbox band and the background: black
    centre = torch.from_numpy(rgb[32, 32] / 127.5 - 1.0)
    torch.testing.assert_close(control[:, 32, 32], centre)  # the product itself: the photo's pixels


def test_product_pixels_are_bit_exact_after_paste_back(engine):
    photo, mask = product_photo(90, 70, seed=3)
    background = engine.render(photo, mask, fast())[0]
    assert background.shape == (70, 90, 3) and background.dtype == np.uint8
    out = composite(photo, mask.alpha, background)
    solid = mask.alpha >= 1.0
    assert np.array_equal(out[solid], photo.rgb8[solid])
    assert out[~mask.mask].std() > 1.0  # a generated background, not a flat one


def test_same_seed_same_output_other_seed_or_scale_another(engine):
    photo, mask = product_photo(80, 80)
    a = engine.render(photo, mask, fast(seed=5))[0]
    b = engine.render(photo, mask, fast(seed=5))[0]
    other = engine.render(photo, mask, fast(seed=6))[0]
    no_controlnet = engine.render(photo, mask, fast(seed=5, controlnet_scale=0.0))[0]
    assert np.array_equal(a, b)
    assert not np.array_equal(a, other) and not np.array_equal(a, no_controlnet)


def test_one_trained_model_is_the_default_and_a_missing_one_says_how_to_train(tiny_sd2_store, tmp_path):
    assert engine_for(Runtime(store=tiny_sd2_store), "sd2-controlnet", "cpu").model_ids == (SD2_CONTROLNET_ID,)
    empty = ModelStore(tmp_path / "models", offline=True, download_dir=tmp_path / "dl", use_hf_cache=False)
    lonely = engine_for(Runtime(store=empty), "sd2-controlnet", "cpu")
    assert not lonely.available()
    with pytest.raises(ModelMissingError, match="--mode sd2-controlnet"):
        lonely.model_ids  # noqa: B018


def test_an_inpainting_folder_is_refused_by_name(tiny_diffusion_models_dir, tiny_sd2_models_dir):
    with pytest.raises(IncompatibleModelError, match="si2-controlnet"):
        load_sd2_components(tiny_diffusion_models_dir / "photo-background-generation", with_controlnet=True)
    with pytest.raises(ModelMissingError, match="--mode sd2-controlnet"):
        load_sd2_components(tiny_sd2_models_dir / "stable-diffusion-2-base", with_controlnet=True)


def test_batch_cli_with_engine_and_model_and_auto_engine_from_the_model(tmp_path, capsys, tiny_sd2_models_dir,
                                                                         tiny_diffusion_models_dir):
    from packshot.core.cli.main import main as packshot
    from packshot.core.recipe import read_recipe

    write_photos(tmp_path / "in", 1, size=(80, 64))
    common = ["--models-dir", str(tiny_sd2_models_dir), "--resolution", "64", "--steps", "2", "--device", "cpu",
              "--no-progress", "--prompt", "a bottle on marble"]
    code = packshot(["batch", str(tmp_path / "in"), "--out", str(tmp_path / "out"), "--engine", "sd2-controlnet",
                     "--model", SD2_CONTROLNET_ID, *common])
    text = capsys.readouterr().out
    assert code == 0, text
    recipe = read_recipe(tmp_path / "out" / "item_000.png")
    assert recipe.engine == "sd2-controlnet" and SD2_CONTROLNET_ID in recipe.models
    # --model naming an SD2 ControlNet with the automatic engine runs the ablation engine too.
    code = packshot(["batch", str(tmp_path / "in"), "--out", str(tmp_path / "auto"), "--model", SD2_CONTROLNET_ID,
                     *common])
    text = capsys.readouterr().out
    assert code == 0 and "engine: sd2-controlnet" in text, text
    assert np.array_equal(np.asarray(Image.open(tmp_path / "out" / "item_000.png")),
                          np.asarray(Image.open(tmp_path / "auto" / "item_000.png")))
    # Replaying the recipe finds the same trained model and renders the same pixels.
    from packshot.core.jobs.replay import replay

    store = ModelStore(tiny_sd2_models_dir, offline=True, download_dir=tmp_path / "dl", use_hf_cache=False)
    again = replay(tmp_path / "out" / "item_000.png", runtime=Runtime(store=store), device="cpu")
    assert np.array_equal(again, np.asarray(Image.open(tmp_path / "out" / "item_000.png").convert("RGB")))


def test_several_trained_models_need_a_choice(tmp_path, tiny_sd2_models_dir):
    import shutil

    for name in ("sd2-a", "sd2-b"):
        shutil.copytree(tiny_sd2_models_dir / SD2_CONTROLNET_ID, tmp_path / "models" / name)
    store = ModelStore(tmp_path / "models", offline=True, download_dir=tmp_path / "dl", use_hf_cache=False)
    with pytest.raises(PackshotError, match="sd2-a, sd2-b"):
        engine_for(Runtime(store=store), "sd2-controlnet", "cpu").model_ids  # noqa: B018
    assert json.loads((tmp_path / "models" / "sd2-a" / "model_index.json").read_text())["controlnet"]


def test_the_papers_engine_points_an_sd2_model_to_its_own_engine(tiny_sd2_store):
    with pytest.raises(IncompatibleModelError, match="--engine sd2-controlnet"):
        engine_for(Runtime(store=tiny_sd2_store), "si2-controlnet", "cpu", model=SD2_CONTROLNET_ID).models()
