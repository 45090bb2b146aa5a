"""Backgrounds without a model, through the same engine interface as the generative ones."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image

from packshot.core.errors import Cancelled, ImageReadError
from packshot.core.generation.engines import ENGINE_NAMES, engine_for
from packshot.core.generation.framing import Letterbox
from packshot.core.generation.settings import GenerationSettings
from packshot.core.images import Photo
from packshot.core.masking.result import MaskResult
from packshot.core.progress import CancelToken
from packshot.core.runtime import Runtime
from tests.core.generation.helpers import plain_engine, product_photo


def test_engines_are_cached_by_name_and_unknown_names_are_refused(tmp_path):
    runtime = Runtime()
    assert engine_for(runtime, "white") is engine_for(runtime, "white")  # one per runtime
    assert engine_for(Runtime(), "white") is not engine_for(runtime, "white")  # another runtime: its own
    assert not plain_engine("blur").needs_models and plain_engine("blur").model_ids == ()
    with pytest.raises(ValueError, match="Unknown background engine 'sdxl'"):
        plain_engine("sdxl")
    assert engine_for(runtime, "si2").needs_models  # built lazily: its weights load on first render
    assert set(ENGINE_NAMES) == {"si2-controlnet", "si2", "sd2-controlnet", "flux2-klein", "white", "color", "gradient", "blur",
                                 "image"}


def test_color_and_gradient():
    photo, mask = product_photo(50, 40)
    (solid,) = plain_engine("color").render(photo, mask, GenerationSettings(color=(10, 200, 30)))
    assert (solid.reshape(-1, 3) == [10, 200, 30]).all()
    (grad,) = plain_engine("gradient").render(photo, mask, GenerationSettings(gradient=((0, 0, 0), (255, 255, 255))))
    assert grad.shape == (40, 50, 3) and (grad[0] == 0).all() and (grad[-1] == 255).all()
    assert (np.diff(grad[:, 0, 0].astype(int)) >= 0).all() and (grad[:, 0] == grad[:, -1]).all()
    with pytest.raises(ValueError, match="0 to 255"):  # refused by the settings' declared bounds
        plain_engine("color").render(photo, mask, GenerationSettings(color=(300, 0, 0)))


def test_blur_removes_the_product_before_blurring_so_no_halo():
    h, w = 200, 300
    pixels = np.zeros((h, w, 3), np.uint8)
    pixels[:] = (0, 120, 255)  # blue backdrop
    yy, xx = np.mgrid[0:h, 0:w]
    product = (xx - 150) ** 2 + (yy - 100) ** 2 <= 50 ** 2
    pixels[product] = (255, 0, 0)  # a red product
    mask = MaskResult(mask=product, alpha=product.astype(np.float32), score=1.0, source="edited")
    (bg,) = plain_engine("blur").render(Photo(pixels=pixels), mask, GenerationSettings(blur_sigma=0.05))
    assert bg.shape == (h, w, 3)
    # No red bleeds into the background, not even right where the product was.
    assert bg[:, :, 0].max() <= 12
    assert np.abs(bg.astype(int) - (0, 120, 255)).max() <= 12


def test_image_engine_cover_fits_the_users_background(tmp_path):
    stripes = np.zeros((100, 400, 3), np.uint8)
    stripes[:, :200] = (255, 0, 0)
    stripes[:, 200:] = (0, 0, 255)
    Image.fromarray(stripes).save(tmp_path / "bg.png")
    photo, mask = product_photo(90, 120)
    (bg,) = plain_engine("image").render(photo, mask, GenerationSettings(background_image=str(tmp_path / "bg.png")))
    assert bg.shape == (120, 90, 3)
    # Covered (height 100 -> 120, width 400 -> 480), centre 90 columns: the red/blue seam in the middle.
    assert (bg[:, 5] == (255, 0, 0)).all() and (bg[:, -5] == (0, 0, 255)).all()
    with pytest.raises(ValueError, match="needs a background image"):
        plain_engine("image").render(photo, mask, GenerationSettings())
    (tmp_path / "broken.png").write_bytes(b"not a png")
    with pytest.raises(ImageReadError):
        plain_engine("image").render(photo, mask, GenerationSettings(background_image=str(tmp_path / "broken.png")))


def test_plain_engines_honour_cancel_and_check_the_mask_size():
    photo, mask = product_photo(50, 40)
    token = CancelToken()
    token.cancel()
    with pytest.raises(Cancelled):
        plain_engine("white").render(photo, mask, GenerationSettings(), cancel=token)
    wrong = MaskResult(mask=np.zeros((10, 10), bool), alpha=np.zeros((10, 10), np.float32), score=0, source="x")
    with pytest.raises(ValueError, match="Mask is 10 x 10 but the photo is 50 x 40"):
        plain_engine("blur").render(photo, wrong, GenerationSettings())


def test_settings_validation_messages():
    with pytest.raises(ValueError, match="multiple of 8"):
        GenerationSettings(resolution=500).validate()
    with pytest.raises(ValueError, match="Unknown scheduler"):
        GenerationSettings(scheduler="pndm").validate()
    with pytest.raises(ValueError, match="2 seeds given for 3 variants"):
        GenerationSettings(variants=3, seeds=(1, 2)).validate()
    assert GenerationSettings(seed=5, variants=3).variant_seeds() == [5, 6, 7]


def test_letterbox_round_trip():
    box = Letterbox.fit(301, 101, 512)
    assert (box.inner_w, box.inner_h) == (512, 172) and box.top == (512 - 172) // 2
    canvas = box.to_canvas(np.full((101, 301, 3), 9, np.uint8), fill=0)
    assert canvas.shape == (512, 512, 3) and canvas[0].max() == 0 and canvas[256, 256, 0] == 9
    assert box.from_canvas(canvas).shape == (101, 301, 3) and (box.from_canvas(canvas) == 9).all()
