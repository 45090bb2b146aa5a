import errno
import io
import os

import cv2
import numpy as np
import pytest
from PIL import Image, ImageCms

from packshot.core.errors import ImageReadError, ImageWriteError
from packshot.core.images import list_photos, load_photo, save_image


def _save(img: Image.Image, path, **kw):
    img.save(path, **kw)
    return path


def test_exif_orientation_is_applied(tmp_path):
    arr = np.zeros((30, 50, 3), np.uint8)
    arr[:, :10] = 255  # white stripe on the left
    img = Image.fromarray(arr)
    exif = img.getexif()
    exif[0x0112] = 6  # rotate 90 CW to display
    path = _save(img, tmp_path / "rot.jpg", exif=exif.tobytes(), quality=100)
    photo = load_photo(path)
    assert photo.size == (30, 50)
    assert photo.pixels[:10].mean() > 200 and photo.pixels[-10:].mean() < 50  # stripe now on top


def test_16bit_colour_png_keeps_full_depth(tmp_path):
    arr = (np.arange(21 * 13 * 3, dtype=np.uint32).reshape(21, 13, 3) * 97 % 65536).astype(np.uint16)
    cv2.imwrite(str(tmp_path / "deep.png"), cv2.cvtColor(arr, cv2.COLOR_RGB2BGR))
    photo = load_photo(tmp_path / "deep.png")
    assert photo.bit_depth == 16 and np.array_equal(photo.pixels, arr)
    assert photo.rgb8.dtype == np.uint8


def test_16bit_greyscale(tmp_path):
    arr = (np.arange(40 * 30, dtype=np.uint32).reshape(30, 40) * 50).astype(np.uint16)
    Image.fromarray(arr).save(tmp_path / "g16.png")
    photo = load_photo(tmp_path / "g16.png")
    assert photo.pixels.dtype == np.uint16 and photo.pixels.shape == (30, 40, 3)
    assert np.array_equal(photo.pixels[:, :, 1], arr)


def test_palette_with_transparency_gives_alpha(tmp_path):
    img = Image.new("P", (20, 20), 0)
    img.putpalette([255, 0, 0, 0, 255, 0] + [0] * 762)
    img.paste(1, (5, 5, 15, 15))
    img.info["transparency"] = 0
    img.save(tmp_path / "pal.png", transparency=0)
    photo = load_photo(tmp_path / "pal.png")
    assert photo.alpha is not None
    assert photo.alpha[10, 10] == 1.0 and photo.alpha[0, 0] == 0.0


def test_cmyk_jpeg_is_converted(tmp_path):
    path = _save(Image.new("CMYK", (16, 16), (0, 255, 255, 0)), tmp_path / "cmyk.jpg")
    photo = load_photo(path)
    r, g, b = photo.pixels[8, 8]
    assert r > 200 and g < 60 and b < 60


@pytest.mark.parametrize(
    "content, message",
    [(b"", "empty"), (b"not an image at all", "not an image"), (None, "damaged or truncated")],
)
def test_bad_files_have_specific_messages(tmp_path, content, message):
    path = tmp_path / "bad.jpg"
    if content is None:
        buf = io.BytesIO()
        Image.fromarray(np.random.default_rng(0).integers(0, 255, (200, 200, 3), np.uint8)).save(buf, "JPEG")
        content = buf.getvalue()[:2000]
    path.write_bytes(content)
    with pytest.raises(ImageReadError, match=message):
        load_photo(path)


def test_tiny_and_bomb_images_are_refused(tmp_path):
    Image.new("RGB", (1, 1)).save(tmp_path / "dot.png")
    with pytest.raises(ImageReadError, match="too small"):
        load_photo(tmp_path / "dot.png")
    # A PNG that declares 30000 x 30000 pixels: refused from the header, before decoding.
    Image.new("1", (30000, 30000)).save(tmp_path / "bomb.png")
    with pytest.raises(ImageReadError, match="too large|limit"):
        load_photo(tmp_path / "bomb.png")


def test_icc_profile_and_text_survive_save(tmp_path):
    icc = ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB")).tobytes()
    Image.new("RGB", (12, 10), (10, 20, 30)).save(tmp_path / "in.png", icc_profile=icc)
    photo = load_photo(tmp_path / "in.png")
    out = save_image(tmp_path / "out" / "x.png", photo.pixels, icc_profile=photo.icc_profile, text={"recipe": "{}"})
    with Image.open(out) as im:
        assert im.info["icc_profile"] == icc and im.text["recipe"] == "{}"
    assert [p.name for p in (tmp_path / "out").iterdir()] == ["x.png"]  # no temporary left


def test_save_16bit_round_trip_keeps_icc_and_text(tmp_path):
    arr = np.full((9, 12, 3), 40000, np.uint16)
    arr[0, 0] = (1, 2, 65535)
    icc = ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB")).tobytes()
    save_image(tmp_path / "d.png", arr, icc_profile=icc, text={"packshot:recipe": '{"seed": 7}'})
    photo = load_photo(tmp_path / "d.png")
    assert np.array_equal(photo.pixels, arr) and photo.icc_profile == icc
    with Image.open(tmp_path / "d.png") as im:
        assert im.text["packshot:recipe"] == '{"seed": 7}'


def test_outputs_get_the_usual_file_mode(tmp_path):
    out = save_image(tmp_path / "m.png", np.zeros((8, 8, 3), np.uint8))
    umask = os.umask(0)
    os.umask(umask)
    assert out.stat().st_mode & 0o777 == 0o666 & ~umask


def test_large_but_sane_photo_is_accepted_by_header(tmp_path):
    # 100 MP is above PIL's default bomb warning (89 MP) but below our 200 MP limit: header check only.
    import warnings

    import packshot.core.images  # noqa: F401 - sets the limit PIL checks

    Image.new("1", (12500, 8000)).save(tmp_path / "big.png")
    with warnings.catch_warnings():
        warnings.simplefilter("error", Image.DecompressionBombWarning)
        with Image.open(tmp_path / "big.png") as im:
            assert im.size == (12500, 8000)


def test_unwritable_destination_is_a_clear_error(tmp_path):
    blocker = tmp_path / "file-not-folder"
    blocker.write_bytes(b"")
    with pytest.raises(ImageWriteError, match="Cannot write"):
        save_image(blocker / "x.png", np.zeros((8, 8, 3), np.uint8))


def test_full_disk_leaves_no_partial_file(tmp_path, monkeypatch):
    def no_space(fd):
        raise OSError(errno.ENOSPC, "No space left on device")

    (tmp_path / "x.png").write_bytes(b"previous result")
    monkeypatch.setattr("packshot.core.images.os.fsync", no_space)
    with pytest.raises(ImageWriteError, match="No space left"):
        save_image(tmp_path / "x.png", np.zeros((8, 8, 3), np.uint8))
    assert [p.name for p in tmp_path.iterdir()] == ["x.png"]
    assert (tmp_path / "x.png").read_bytes() == b"previous result"  # the old file is untouched


def test_list_photos_skips_hidden_and_non_images(tmp_path):
    for name in ("b.jpg", "a.PNG", ".hidden.jpg", "notes.txt"):
        (tmp_path / name).write_bytes(b"x")
    assert [p.name for p in list_photos(tmp_path)] == ["a.PNG", "b.jpg"]
