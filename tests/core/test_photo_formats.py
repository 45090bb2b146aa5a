"""The files a photographer has (issue 20, item 8): camera RAW, HEIC, animations, float TIFFs, damaged ICC.

Each sample is built here for real (a DNG LibRaw demosaics, a HEIC pillow-heif encodes) and read through
``load_photo`` or a whole batch, whose outputs and notes are checked."""

from __future__ import annotations

import struct

import numpy as np
import pytest
from PIL import Image, TiffImagePlugin, TiffTags

import packshot.core.images
from packshot.core.errors import ImageReadError
from packshot.core.images import list_photos, load_photo, output_format_for, read_exif
from tests.core.batch_helpers import product_photo, run_batch, tree_hashes

# XYZ -> linear sRGB as the DNG's ColorMatrix1: the "camera" then sees linear sRGB, so colours are known.
_XYZ_TO_SRGB = (3.2406, -1.5372, -0.4986, -0.9689, 1.8758, 0.0415, 0.0557, -0.2040, 1.0570)
NEUTRAL = (0.5, 1.0, 0.8)  # the camera's white under the shot's light: blue-green, as under a warm lamp


def _tiff(width: int, height: int, strip: bytes, tags: dict, exif: dict | None = None) -> bytes:
    """A one-strip little-endian TIFF with ``tags`` ({tag: (value, type)}), written by Pillow's IFD code."""
    ifd = TiffImagePlugin.ImageFileDirectory_v2(prefix=b"II")
    base = {256: (width, TiffTags.LONG), 257: (height, TiffTags.LONG), 259: (1, TiffTags.SHORT),
            273: (0, TiffTags.LONG), 278: (height, TiffTags.LONG), 279: (len(strip), TiffTags.LONG),
            284: (1, TiffTags.SHORT)}
    for tag, (value, kind) in {**base, **tags}.items():
        ifd[tag] = value
        ifd.tagtype[tag] = kind
    if exif:
        ifd[0x8769] = exif
        ifd.tagtype[0x8769] = TiffTags.LONG
    return b"II*\x00" + struct.pack("<I", 8) + ifd.tobytes(8) + strip


def dng_bytes(width: int = 64, height: int = 48, orientation: int = 1) -> bytes:
    """A real (if tiny) DNG: a 12-bit RGGB Bayer mosaic of a grey left half and a red right half, shot
    under a light the camera's AsShotNeutral records; with Make, Model and an Exif directory."""
    scene = np.empty((height, width, 3))
    scene[:, : width // 2] = 0.4
    scene[:, width // 2:] = (0.6, 0.08, 0.08)
    seen = scene * np.array(NEUTRAL)
    cfa = np.empty((height, width))
    cfa[0::2, 0::2], cfa[0::2, 1::2] = seen[0::2, 0::2, 0], seen[0::2, 1::2, 1]
    cfa[1::2, 0::2], cfa[1::2, 1::2] = seen[1::2, 0::2, 1], seen[1::2, 1::2, 2]
    black, white = 64, 4095
    strip = np.round(black + cfa * (white - black)).astype("<u2").tobytes()
    T = TiffTags
    tags = {254: (0, T.LONG), 258: (16, T.SHORT), 262: (32803, T.SHORT), 271: ("Packshot", T.ASCII),
            272: ("Test DNG", T.ASCII), 274: (orientation, T.SHORT), 277: (1, T.SHORT),
            33421: ((2, 2), T.SHORT), 33422: (bytes((0, 1, 1, 2)), T.BYTE),  # CFA pattern R G / G B
            50706: (bytes((1, 4, 0, 0)), T.BYTE), 50707: (bytes((1, 1, 0, 0)), T.BYTE),
            50708: ("Packshot Test DNG", T.ASCII), 50714: (black, T.SHORT), 50717: (white, T.SHORT),
            50721: (_XYZ_TO_SRGB, T.SIGNED_RATIONAL), 50728: (NEUTRAL, T.RATIONAL), 50778: (21, T.SHORT)}
    return _tiff(width, height, strip, tags, exif={0x9003: "2026:01:02 03:04:05", 0x829A: 0.01})


def float_tiff_bytes(arr: np.ndarray, bits: int = 32) -> bytes:
    """An RGB floating-point TIFF as HDR tools write them (SampleFormat 3), which Pillow cannot open."""
    height, width, samples = arr.shape
    strip = arr.astype(f"<f{bits // 8}").tobytes()
    T = TiffTags
    return _tiff(width, height, strip, {258: ((bits,) * samples, T.SHORT), 262: (2, T.SHORT),
                                        277: (samples, T.SHORT), 339: ((3,) * samples, T.SHORT)})


# -- camera RAW ------------------------------------------------------------------------------------

def test_dng_is_demosaiced_with_the_cameras_white_balance_to_16_bit_srgb(tmp_path):
    path = tmp_path / "shot.DNG"  # suffixes are case-insensitive
    path.write_bytes(dng_bytes())
    assert list_photos(tmp_path) == [path]
    photo = load_photo(path)
    assert photo.from_raw and photo.source_format == "RAW"
    assert photo.pixels.dtype == np.uint16 and photo.pixels.shape == (48, 64, 3)
    grey, red = photo.pixels[24, 10].astype(float), photo.pixels[24, 54].astype(float)
    assert np.ptp(grey) / grey.mean() < 0.01  # the camera's white balance made the grey neutral again
    assert red[0] > 2 * red[1] and red[0] > 2 * red[2]
    assert photo.info["raw"]["use_camera_wb"] and photo.info["raw"]["output_bps"] == 16
    assert photo.info["raw"]["output_color"] == "sRGB" and photo.info["raw"]["camera_white_balance"][:3] == [2, 1, 1.25]
    exif = read_exif(photo.exif)
    assert exif[0x010F] == "Packshot" and exif[0x0110] == "Test DNG" and exif[0x0112] == 1
    assert exif.get_ifd(0x8769)[0x9003] == "2026:01:02 03:04:05"


def test_raw_orientation_is_applied_by_libraw(tmp_path):
    path = tmp_path / "portrait.dng"
    path.write_bytes(dng_bytes(orientation=6))  # rotate 90 degrees clockwise to view
    photo = load_photo(path)
    assert photo.pixels.shape[:2] == (64, 48)
    assert read_exif(photo.exif)[0x0112] == 1  # the pixels are upright now


def test_raw_outputs_follow_the_input_as_16_bit_tiff():
    for suffix in (".dng", ".CR2", ".cr3", ".nef", ".arw", ".raf", ".orf", ".rw2"):
        assert output_format_for(f"a{suffix}", "auto") == "tiff"


@pytest.mark.parametrize("data", [b"not a raw file at all" * 10, dng_bytes()[:300]])
def test_a_damaged_raw_is_one_line_naming_the_file(tmp_path, data):
    path = tmp_path / "bad.nef"
    path.write_bytes(data)
    with pytest.raises(ImageReadError, match=r"^bad\.nef: ") as refused:
        load_photo(path)
    assert "\n" not in str(refused.value)


def test_raw_format_without_readable_exif_is_logged_not_fatal(tmp_path, caplog):
    from packshot.core.raw_photos import raw_exif

    with caplog.at_level("INFO", logger="packshot.core.raw_photos"):
        assert raw_exif(b"FUJIFILMCCD-RAW 0201" + bytes(100), "x.raf") is None
    assert "x.raf" in caplog.text and "carry none" in caplog.text


# -- HEIC --------------------------------------------------------------------------------------------

def test_heic_is_read_by_the_default_install(tmp_path):
    import pillow_heif

    pixels = product_photo(96, 64)
    pillow_heif.from_bytes(mode="RGB", size=(96, 64), data=pixels.tobytes()).save(tmp_path / "phone.HEIC", quality=95)
    photo = load_photo(tmp_path / "phone.HEIC")
    assert photo.source_format == "HEIF" and photo.pixels.shape == (64, 96, 3)
    assert np.abs(photo.pixels.astype(int) - pixels).mean() < 6  # lossy, but the same picture


def test_pillow_heif_is_imported_only_for_a_heic_photo():
    import subprocess
    import sys

    code = "import sys, packshot.core.images; print('pillow_heif' in sys.modules)"
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert done.stdout.strip() == "False"  # its import costs every command that never meets a HEIC


def test_heic_without_pillow_heif_is_a_one_line_hint(tmp_path, monkeypatch):
    monkeypatch.setattr(packshot.core.images, "_heif_opener", lambda: False)
    (tmp_path / "phone.heic").write_bytes(b"\x00\x00\x00\x18ftypheic" + bytes(64))
    with pytest.raises(ImageReadError, match=r"^phone\.heic: HEIC/HEIF photos need pillow-heif.*pip install "
                                             r"pillow-heif"):
        load_photo(tmp_path / "phone.heic")


# -- animations --------------------------------------------------------------------------------------

@pytest.mark.parametrize("suffix, kwargs", [(".gif", {}), (".webp", {"lossless": True}), (".png", {})])
def test_animation_gives_its_first_frame_with_a_note(tmp_path, suffix, kwargs):
    frames = [product_photo(64, 48, colour=c) for c in ((200, 40, 40), (40, 90, 200), (30, 140, 60))]
    path = tmp_path / f"anim{suffix}"
    ims = [Image.fromarray(f) for f in frames]
    ims[0].save(path, save_all=True, append_images=ims[1:], duration=100, loop=0, **kwargs)
    photo = load_photo(path)
    assert photo.notes == ["an animation of 3 frames: only the first frame is used"]
    centre = photo.pixels[26, 32].astype(int)
    assert np.abs(centre - frames[0][26, 32]).max() < 40 and np.abs(centre - frames[1][26, 32]).max() > 60


def test_a_still_image_has_no_note(tmp_path):
    Image.fromarray(product_photo(64, 48)).save(tmp_path / "still.gif")
    assert load_photo(tmp_path / "still.gif").notes == []


# -- floating-point TIFFs ------------------------------------------------------------------------------

def test_float_rgb_tiff_is_clipped_to_16_bits_with_a_note(tmp_path):
    arr = np.zeros((16, 24, 3), np.float32)
    arr[:, :12] = (0.25, 0.5, 0.75)
    arr[:, 12:] = 3.0  # an HDR highlight, brighter than white
    (tmp_path / "hdr.tif").write_bytes(float_tiff_bytes(arr))
    photo = load_photo(tmp_path / "hdr.tif")
    assert photo.pixels.dtype == np.uint16
    assert tuple(photo.pixels[3, 3]) == (16384, 32768, 49151) and tuple(photo.pixels[3, 20]) == (65535,) * 3
    assert len(photo.notes) == 1 and "32-bit floating-point" in photo.notes[0]
    assert "values clipped to 0-1 (50.0% of the values were brighter than white" in photo.notes[0]


def test_float_grey_tiff_that_pillow_opens_is_converted_too(tmp_path):
    grey = np.linspace(0, 1, 16 * 24, dtype=np.float32).reshape(16, 24)
    Image.fromarray(grey, "F").save(tmp_path / "grey.tif")
    photo = load_photo(tmp_path / "grey.tif")
    assert photo.pixels.dtype == np.uint16 and photo.pixels[-1, -1, 0] == 65535 and photo.pixels[0, 0, 2] == 0
    assert "brighter than white" not in photo.notes[0]


def test_half_float_tiff_is_refused_by_name(tmp_path):
    (tmp_path / "half.tiff").write_bytes(float_tiff_bytes(np.full((16, 24, 3), 0.5, np.float32), bits=16))
    with pytest.raises(ImageReadError, match=r"^half\.tiff: a 16-bit floating-point TIFF, which Packshot cannot "
                                             r"read"):
        load_photo(tmp_path / "half.tiff")


# -- colour profiles -----------------------------------------------------------------------------------

def test_a_damaged_icc_profile_is_dropped_with_a_note(tmp_path):
    Image.fromarray(product_photo(64, 48)).save(tmp_path / "bad-icc.jpg", icc_profile=b"not a profile" * 20)
    photo = load_photo(tmp_path / "bad-icc.jpg")
    assert photo.icc_profile is None
    assert photo.notes == ["its colour profile (ICC) is damaged, so it was left out: colours are read as sRGB"]


def test_a_good_icc_profile_is_kept(tmp_path):
    from tests.core.batch_helpers import srgb_icc

    Image.fromarray(product_photo(64, 48)).save(tmp_path / "ok.jpg", icc_profile=srgb_icc())
    photo = load_photo(tmp_path / "ok.jpg")
    assert photo.icc_profile == srgb_icc() and photo.notes == []


# -- the whole batch -----------------------------------------------------------------------------------

def test_a_photographers_folder_runs_end_to_end(tmp_path, capsys):
    """RAW, HEIC, an animation, a float TIFF and a damaged profile in one folder: every one becomes an
    output, each change is a note on its photo, and no original changes."""
    import pillow_heif

    folder = tmp_path / "in"
    folder.mkdir()
    (folder / "shot.dng").write_bytes(dng_bytes(160, 120))
    pillow_heif.from_bytes(mode="RGB", size=(160, 120), data=product_photo().tobytes()).save(folder / "phone.heic")
    ims = [Image.fromarray(product_photo(seed=i)) for i in range(2)]
    ims[0].save(folder / "anim.gif", save_all=True, append_images=ims[1:], duration=100)
    (folder / "hdr.tif").write_bytes(float_tiff_bytes(product_photo().astype(np.float32) / 255.0))
    Image.fromarray(product_photo(seed=3)).save(folder / "bad-icc.jpg", icc_profile=b"garbage" * 40)
    before = tree_hashes(folder)
    out = tmp_path / "out"
    code = run_batch([str(folder), "--out", str(out), "--no-progress", "--format", "auto"])
    said = capsys.readouterr().out
    assert code == 0, said
    assert sorted(p.name for p in out.iterdir() if p.is_file()) == ["anim.png", "bad-icc.jpg", "hdr.tiff",
                                                                    "phone.jpg", "shot.tiff"]
    assert tree_hashes(folder) == before
    assert "note: anim.gif: an animation of 2 frames: only the first frame is used" in said
    assert "note: bad-icc.jpg: its colour profile (ICC) is damaged" in said
    assert "note: hdr.tif: a 32-bit floating-point image" in said
    with Image.open(out / "bad-icc.jpg") as im:
        assert "icc_profile" not in im.info  # a profile no colour engine can parse is never copied
    import cv2

    raw_out = cv2.imread(str(out / "shot.tiff"), cv2.IMREAD_UNCHANGED)
    assert raw_out.dtype == np.uint16 and raw_out.shape == (120, 160, 3)
    with Image.open(out / "shot.tiff") as im:
        exif = im.getexif()
        assert exif[0x010F] == "Packshot" and exif.get_ifd(0x8769)[0x9003] == "2026:01:02 03:04:05"
