"""Mask PNG files (IOPaint naming) and photos that bring their own alpha channel."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image

from packshot.core.errors import ImageReadError
from packshot.core.images import Photo, load_photo
from packshot.core.masking import build_masker, load_mask_png, mask_path_for, save_mask_png
from packshot.core.masking.maskers import from_alpha_channel


def test_mask_path_follows_photo_stem(tmp_path):
    assert mask_path_for("/photos/red shoe.v2.JPG", tmp_path) == tmp_path / "red shoe.v2.png"
    assert mask_path_for(tmp_path / "a.tiff", tmp_path / "masks").name == "a.png"


def test_bool_mask_round_trips_exactly(tmp_path):
    mask = np.zeros((37, 51), bool)
    mask[5:30, 7:40] = True
    path = save_mask_png(tmp_path / "m.png", mask)
    loaded = load_mask_png(path, (51, 37))
    assert loaded.source == "file" and loaded.score == 1.0
    assert loaded.mask.tolist() == mask.tolist()
    with Image.open(path) as im:
        assert im.mode == "L" and im.size == (51, 37)
    assert not any(p.name.startswith(".tmp") for p in tmp_path.iterdir()), "atomic write leaves no temp file"


def test_alpha_round_trips_to_8_bits(tmp_path):
    alpha = np.linspace(0, 1, 40 * 30, dtype=np.float32).reshape(30, 40)
    loaded = load_mask_png(save_mask_png(tmp_path / "a.png", alpha), (40, 30))
    assert np.abs(loaded.alpha - alpha).max() <= 0.5 / 255 + 1e-6


def test_inverted_polarity_is_recorded_and_honoured(tmp_path):
    mask = np.zeros((20, 20), bool)
    mask[5:15, 5:15] = True
    path = save_mask_png(tmp_path / "iopaint.png", mask, white="background")
    assert np.asarray(Image.open(path))[10, 10] == 0, "product is black in IOPaint's polarity"
    assert load_mask_png(path, (20, 20)).mask.tolist() == mask.tolist(), "the text chunk tells the reader"
    foreign = tmp_path / "foreign.png"  # an IOPaint mask without our text chunk
    Image.fromarray(np.where(mask, 0, 255).astype(np.uint8), "L").save(foreign)
    assert load_mask_png(foreign, (20, 20), white="background").mask.tolist() == mask.tolist()


def test_rgb_and_rgba_masks_are_accepted(tmp_path):
    mask = np.zeros((16, 24), bool)
    mask[4:12, 6:18] = True
    Image.fromarray(np.repeat(mask[:, :, None] * 255, 3, axis=2).astype(np.uint8)).save(tmp_path / "rgb.png")
    rgba = np.zeros((16, 24, 4), np.uint8)
    rgba[..., 3] = mask * 255
    Image.fromarray(rgba, "RGBA").save(tmp_path / "rgba.png")
    for name in ("rgb.png", "rgba.png"):
        assert load_mask_png(tmp_path / name, (24, 16)).mask.tolist() == mask.tolist()


def test_mask_of_other_size_is_resized_only_when_aspect_matches(tmp_path):
    mask = np.zeros((50, 100), bool)
    mask[10:40, 20:80] = True
    path = save_mask_png(tmp_path / "half.png", mask)
    big = load_mask_png(path, (200, 100))
    assert big.mask.shape == (100, 200) and big.details["resized_from"] == [100, 50]
    assert big.mask[50, 100] and not big.mask[5, 5]
    with pytest.raises(ImageReadError, match="aspect"):
        load_mask_png(path, (100, 100))


def test_unreadable_or_missing_mask_is_a_clear_error(tmp_path):
    bad = tmp_path / "bad.png"
    bad.write_bytes(b"not a png")
    with pytest.raises(ImageReadError, match="bad.png"):
        load_mask_png(bad, (10, 10))
    with pytest.raises(ImageReadError, match="not found"):
        load_mask_png(tmp_path / "none.png", (10, 10))


def test_photo_with_alpha_channel_uses_it(tmp_path):
    rgba = np.zeros((60, 80, 4), np.uint8)
    rgba[..., :3] = 200
    rgba[10:50, 20:60, 3] = 255
    rgba[10:50, 19, 3] = 128  # a soft edge column
    path = tmp_path / "cutout.png"
    Image.fromarray(rgba, "RGBA").save(path)
    photo = load_photo(path)
    assert photo.alpha is not None
    result = build_masker("classic").compute(photo)
    assert result.source == "alpha-channel" and result.score == 1.0
    assert result.mask.tolist() == (rgba[..., 3] >= 128).tolist()
    assert result.alpha[30, 19] == pytest.approx(128 / 255, abs=1e-6)
    assert from_alpha_channel(Photo(pixels=rgba[..., :3].copy())) is None
