"""Camera RAW files (DNG, CR2, CR3, NEF, ARW, RAF, ORF, RW2...) read through LibRaw (rawpy).

LibRaw does the demosaic with the camera's own white balance and renders 16-bit sRGB, upright
(it applies the camera's orientation itself). We never demosaic by hand. rawpy gives no EXIF; the
TIFF-based RAW formats (DNG, CR2, NEF, ARW, ORF, RW2, PEF...) hold it in a TIFF directory that
Pillow reads; for the others (RAF, CR3) outputs carry none, and the log says so.
"""

from __future__ import annotations

import io
import logging
from pathlib import Path
from typing import Any, Optional

from PIL import Image

from packshot.core.errors import ImageReadError
from packshot.core.naming import display_name

log = logging.getLogger(__name__)

RAW_SUFFIXES = (".dng", ".cr2", ".cr3", ".nef", ".nrw", ".arw", ".raf", ".orf", ".rw2", ".pef", ".srw")
# What the recipe records about the decode: the same LibRaw settings give the same pixels again.
RAW_DECODE = {"use_camera_wb": True, "output_bps": 16, "output_color": "sRGB"}
# TIFF-based RAW files whose first four bytes are a maker's variant of the TIFF magic.
_TIFF_MAGIC = {b"II*\x00": b"II*\x00", b"MM\x00*": b"MM\x00*", b"IIRO": b"II*\x00", b"IIRS": b"II*\x00",
               b"MMOR": b"MM\x00*", b"IIU\x00": b"II*\x00"}


def is_raw_path(path: Path | str) -> bool:
    return Path(path).suffix.lower() in RAW_SUFFIXES


def decode_raw(data: bytes, path: Path) -> Any:
    """A ``packshot.core.images.Photo`` (16-bit sRGB, upright, ``source_format`` "RAW") from a RAW file's bytes."""
    from packshot.core.images import MAX_PIXELS, MIN_SIDE, Photo, exif_for_output

    name = display_name(path.name)
    rawpy = _import_rawpy(name)
    try:
        with rawpy.imread(io.BytesIO(data)) as raw:
            width, height = raw.sizes.width, raw.sizes.height
            if width * height > MAX_PIXELS:
                raise ImageReadError(f"{name}: {width} x {height} pixels is above the "
                                     f"{MAX_PIXELS // 1_000_000} MP limit.")
            if min(width, height) < MIN_SIDE:
                raise ImageReadError(f"{name}: {width} x {height} pixels is too small "
                                     f"(minimum {MIN_SIDE} px a side).")
            camera = _camera(raw)
            pixels = raw.postprocess(use_camera_wb=True, output_bps=16, output_color=rawpy.ColorSpace.sRGB)
    except ImageReadError:
        raise
    except rawpy.LibRawFileUnsupportedError as exc:
        raise ImageReadError(f"{name}: not a camera RAW file LibRaw can read ({exc}).") from exc
    except (rawpy.LibRawTooBigError, rawpy.LibRawUnsufficientMemoryError, MemoryError) as exc:
        raise ImageReadError(f"{name}: the RAW file is too large to process safely ({exc}).") from exc
    except (rawpy.LibRawError, OSError, ValueError) as exc:
        raise ImageReadError(f"{name}: the RAW data is damaged or truncated ({exc}).") from exc
    exif = exif_for_output(raw_exif(data, name))
    info = {"raw": {**RAW_DECODE, "libraw": ".".join(map(str, rawpy.libraw_version)), **camera}}
    return Photo(pixels=pixels, icc_profile=None, source=path, original_mode="RAW;16", info=info, exif=exif,
                 source_format="RAW")


def raw_exif(data: bytes, name: str = "") -> Optional[Image.Exif]:
    """The EXIF of a TIFF-based RAW file (its first TIFF directory and the Exif one), None for others."""
    magic = _TIFF_MAGIC.get(data[:4])
    if magic is None:
        log.info("%s: this RAW format keeps its EXIF where Packshot cannot read it; outputs carry none.", name)
        return None
    exif = Image.Exif()
    try:
        exif.load(magic + data[4:])
        exif.get_ifd(0x8769)  # reads the Exif directory now, so damage shows here
    except Exception as exc:  # noqa: BLE001 - damaged EXIF must not stop a photo; it is only left out
        log.info("%s: the RAW file's EXIF could not be read (%s); outputs carry none.", name, exc)
        return None
    return exif


def _camera(raw: Any) -> dict:
    """The camera's white balance multipliers, as LibRaw applied them (for the recipe)."""
    try:
        return {"camera_white_balance": [round(float(v), 6) for v in raw.camera_whitebalance]}
    except Exception:  # noqa: BLE001 - a detail for the recipe, not worth failing a photo over
        return {}


def _import_rawpy(name: str) -> Any:
    try:
        import rawpy
    except ImportError as exc:
        raise ImageReadError(f"{name}: camera RAW files need rawpy, which is not installed. Fix: "
                             "pip install rawpy (part of Packshot's default install), or export the photo as TIFF "
                             "from your RAW editor.") from exc
    return rawpy
