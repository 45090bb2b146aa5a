"""Reading product photos safely and writing outputs atomically.

Originals are only ever opened for reading. Every photo is normalised to a ``Photo``: pixels in
their native bit depth (so the product can be put back bit-exactly), an 8-bit RGB view for the
models, the alpha channel if the file had one, and the ICC profile to carry into outputs.
"""

from __future__ import annotations

import io
import os
import struct
import tempfile
import warnings
import zlib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Mapping, Optional

import numpy as np
from PIL import Image, ImageOps, PngImagePlugin, UnidentifiedImageError

from core.errors import ImageReadError, ImageWriteError

# Photos above this are refused before decoding: a 200 MP frame is beyond any camera we target and
# a decompression bomb announces a size far above it.
MAX_PIXELS = 200_000_000
Image.MAX_IMAGE_PIXELS = MAX_PIXELS  # PIL's own bomb guard (89 MP by default) would refuse real photos first
MIN_SIDE = 8
READABLE_SUFFIXES = (".jpg", ".jpeg", ".png", ".webp", ".tif", ".tiff", ".bmp", ".heic", ".heif")

try:  # HEIC support is optional
    from pillow_heif import register_heif_opener

    register_heif_opener()
except ImportError:  # pragma: no cover - depends on the install
    pass


@dataclass
class Photo:
    """A decoded photo, upright (EXIF orientation applied)."""

    pixels: np.ndarray  # H x W x 3, uint8 or uint16: the original colour values, never altered
    alpha: Optional[np.ndarray] = None  # H x W float32 in [0, 1] when the file had transparency
    icc_profile: Optional[bytes] = None
    source: Optional[Path] = None
    original_mode: str = "RGB"
    info: dict = field(default_factory=dict)

    @property
    def size(self) -> tuple[int, int]:
        """(width, height) like PIL."""
        return self.pixels.shape[1], self.pixels.shape[0]

    @property
    def bit_depth(self) -> int:
        return 16 if self.pixels.dtype == np.uint16 else 8

    @property
    def rgb8(self) -> np.ndarray:
        """H x W x 3 uint8 view for models and previews."""
        if self.pixels.dtype == np.uint16:
            return (self.pixels >> 8).astype(np.uint8)
        return self.pixels

    def to_pil(self) -> Image.Image:
        return Image.fromarray(self.rgb8, "RGB")


def is_image_path(path: Path) -> bool:
    return path.suffix.lower() in READABLE_SUFFIXES and not path.name.startswith(".")


def list_photos(folder: Path) -> list[Path]:
    """Image files directly inside ``folder``, sorted by name (hidden files skipped)."""
    folder = Path(folder)
    if not folder.is_dir():
        raise ImageReadError(f"Input folder not found: {folder}")
    return sorted(p for p in folder.iterdir() if p.is_file() and is_image_path(p))


def load_photo(path: Path | str) -> Photo:
    """Decode ``path`` into a ``Photo`` or raise ``ImageReadError`` saying precisely why not."""
    path = Path(path)
    try:
        size = path.stat().st_size
    except OSError as exc:
        raise ImageReadError(f"{path.name}: cannot read file ({exc.strerror}).") from exc
    if size == 0:
        raise ImageReadError(f"{path.name}: the file is empty (0 bytes).")
    data = path.read_bytes()
    with warnings.catch_warnings():
        warnings.simplefilter("error", Image.DecompressionBombWarning)
        try:
            with Image.open(io.BytesIO(data)) as im:
                return _decode(im, data, path)
        except (Image.DecompressionBombError, Image.DecompressionBombWarning) as exc:
            raise ImageReadError(f"{path.name}: image is too large to process safely ({exc}).") from exc
        except UnidentifiedImageError as exc:
            raise ImageReadError(f"{path.name}: not an image file Packshot can read.") from exc
        except ImageReadError:
            raise
        except (OSError, SyntaxError, ValueError) as exc:
            raise ImageReadError(f"{path.name}: the image data is damaged or truncated ({exc}).") from exc


def _decode(im: Image.Image, data: bytes, path: Path) -> Photo:
    width, height = im.size
    if width * height > MAX_PIXELS:
        raise ImageReadError(
            f"{path.name}: {width} x {height} pixels is above the {MAX_PIXELS // 1_000_000} MP limit."
        )
    if min(width, height) < MIN_SIDE:
        raise ImageReadError(f"{path.name}: {width} x {height} pixels is too small (minimum {MIN_SIDE} px a side).")
    icc = im.info.get("icc_profile")
    mode = im.mode
    wide = _read_16bit_colour(data, im)
    im.load()  # decode fully now so truncation is reported here
    upright = ImageOps.exif_transpose(im)
    if wide is not None:
        wide = _apply_orientation(wide, im)
        return _photo_from_wide(wide, icc, path, mode)

    alpha = None
    if upright.mode in ("I;16", "I;16B", "I;16L", "I"):
        grey = np.asarray(upright, dtype=np.int64)
        pixels = np.clip(grey, 0, 65535).astype(np.uint16)
        pixels = np.repeat(pixels[:, :, None], 3, axis=2)
        return Photo(pixels=pixels, icc_profile=icc, source=path, original_mode=mode)
    if upright.mode == "P" and "transparency" in upright.info:
        upright = upright.convert("RGBA")
    if upright.mode in ("RGBA", "LA", "PA", "La", "RGBa"):
        rgba = upright.convert("RGBA")
        alpha = np.asarray(rgba, dtype=np.uint8)[:, :, 3].astype(np.float32) / 255.0
        rgb = rgba.convert("RGB")
        if alpha.min() >= 1.0:  # fully opaque alpha carries no mask
            alpha = None
    elif upright.mode == "CMYK" and icc is None:
        rgb = upright.convert("RGB")
    elif upright.mode == "CMYK":
        rgb = _cmyk_to_srgb(upright, icc)
        icc = None  # pixels are now sRGB
    else:
        rgb = upright.convert("RGB")
    return Photo(pixels=np.ascontiguousarray(np.asarray(rgb, dtype=np.uint8)), alpha=alpha,
                 icc_profile=icc, source=path, original_mode=mode)


def _read_16bit_colour(data: bytes, im: Image.Image) -> Optional[np.ndarray]:
    """PIL reduces 16-bit colour PNG/TIFF to 8 bits; read those through OpenCV at full depth."""
    if im.format not in ("PNG", "TIFF") or im.mode not in ("RGB", "RGBA"):
        return None
    import cv2

    arr = cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_UNCHANGED)
    if arr is None or arr.dtype != np.uint16 or arr.ndim != 3:
        return None
    code = cv2.COLOR_BGRA2RGBA if arr.shape[2] == 4 else cv2.COLOR_BGR2RGB
    return cv2.cvtColor(arr, code)


def _apply_orientation(arr: np.ndarray, im: Image.Image) -> np.ndarray:
    orientation = im.getexif().get(0x0112, 1)
    ops = {2: [np.fliplr], 3: [lambda a: np.rot90(a, 2)], 4: [np.flipud],
           5: [lambda a: np.rot90(a, -1), np.fliplr], 6: [lambda a: np.rot90(a, -1)],
           7: [lambda a: np.rot90(a, 1), np.fliplr], 8: [lambda a: np.rot90(a, 1)]}
    for op in ops.get(orientation, []):
        arr = op(arr)
    return np.ascontiguousarray(arr)


def _photo_from_wide(arr: np.ndarray, icc: Optional[bytes], path: Path, mode: str) -> Photo:
    alpha = None
    if arr.shape[2] == 4:
        alpha = arr[:, :, 3].astype(np.float32) / 65535.0
        arr = arr[:, :, :3]
        if alpha.min() >= 1.0:
            alpha = None
    return Photo(pixels=np.ascontiguousarray(arr), alpha=alpha, icc_profile=icc, source=path,
                 original_mode=mode + ";16")


def _cmyk_to_srgb(im: Image.Image, icc: bytes) -> Image.Image:
    from PIL import ImageCms

    try:
        src = ImageCms.ImageCmsProfile(io.BytesIO(icc))
        return ImageCms.profileToProfile(im, src, ImageCms.createProfile("sRGB"), outputMode="RGB")
    except (ImageCms.PyCMSError, OSError):
        return im.convert("RGB")


def save_image(
    path: Path | str,
    pixels: np.ndarray,
    *,
    icc_profile: Optional[bytes] = None,
    text: Optional[Mapping[str, str]] = None,
    quality: int = 95,
) -> Path:
    """Write ``pixels`` (H x W grey, or H x W x 3|4; uint8 or uint16) to ``path`` atomically.

    The file appears complete or not at all: data goes to a temporary file in the same folder
    which is then renamed over the target. ``text`` becomes PNG text chunks (PNG only).
    """
    path = Path(path)
    fmt = {".jpg": "JPEG", ".jpeg": "JPEG", ".png": "PNG", ".webp": "WEBP",
           ".tif": "TIFF", ".tiff": "TIFF"}.get(path.suffix.lower())
    if fmt is None:
        raise ImageWriteError(f"{path.name}: unsupported output format '{path.suffix}'.")
    return write_atomic(path, encode_image(pixels, fmt, icc_profile=icc_profile, text=text, quality=quality))


def write_atomic(path: Path | str, data: bytes) -> Path:
    """Write ``data`` to ``path`` so that it appears complete or not at all (temp file, fsync, rename)."""
    path = Path(path)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=".tmp-", suffix=path.suffix, dir=path.parent)
    except OSError as exc:
        raise ImageWriteError(f"Cannot write to {path.parent}: {exc.strerror}.") from exc
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        os.chmod(tmp, 0o666 & ~_UMASK)  # mkstemp creates 0600; outputs get the user's usual mode
        os.replace(tmp, path)
    except OSError as exc:
        _remove_quietly(tmp)
        raise ImageWriteError(f"Cannot write {path.name}: {exc.strerror or exc}.") from exc
    except BaseException:
        _remove_quietly(tmp)
        raise
    return path


def _read_umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


_UMASK = _read_umask()  # once, at import: probing os.umask later races with other threads


def encode_image(pixels: np.ndarray, fmt: str, *, icc_profile: Optional[bytes] = None,
                 text: Optional[Mapping[str, str]] = None, quality: int = 95) -> bytes:
    """Encode to bytes. 16-bit arrays go through OpenCV (PIL cannot write 16-bit colour)."""
    if pixels.dtype == np.uint16:
        if fmt not in ("PNG", "TIFF"):
            pixels = (pixels >> 8).astype(np.uint8)
        else:
            data = _encode_16bit(pixels, fmt)
            return _add_png_chunks(data, icc_profile, text) if fmt == "PNG" else data
    mode = "L" if pixels.ndim == 2 else ("RGBA" if pixels.shape[2] == 4 else "RGB")
    im = Image.fromarray(np.ascontiguousarray(pixels), mode)
    kwargs: dict = {}
    if icc_profile:
        kwargs["icc_profile"] = icc_profile
    if fmt == "PNG" and text:
        info = PngImagePlugin.PngInfo()
        for key, value in text.items():
            info.add_itxt(key, value)
        kwargs["pnginfo"] = info
    if fmt in ("JPEG", "WEBP"):
        kwargs["quality"] = quality
        if fmt == "JPEG":
            im = im.convert("RGB")
    buffer = io.BytesIO()
    im.save(buffer, fmt, **kwargs)
    return buffer.getvalue()


def _encode_16bit(pixels: np.ndarray, fmt: str) -> bytes:
    import cv2

    if pixels.ndim == 3:
        pixels = cv2.cvtColor(pixels, cv2.COLOR_RGBA2BGRA if pixels.shape[2] == 4 else cv2.COLOR_RGB2BGR)
    ok, buf = cv2.imencode(".png" if fmt == "PNG" else ".tiff", pixels)
    if not ok:
        raise ImageWriteError("OpenCV could not encode the 16-bit image.")
    return buf.tobytes()


def _png_chunk(kind: bytes, body: bytes) -> bytes:
    return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body) & 0xFFFFFFFF)


def _add_png_chunks(png: bytes, icc_profile: Optional[bytes], text: Optional[Mapping[str, str]]) -> bytes:
    """Insert iCCP and iTXt chunks right after IHDR (OpenCV writes neither; both must precede IDAT)."""
    extra = b""
    if icc_profile:
        extra += _png_chunk(b"iCCP", b"icc\x00\x00" + zlib.compress(icc_profile))
    for key, value in (text or {}).items():
        extra += _png_chunk(b"iTXt", key.encode("latin-1") + b"\x00\x00\x00\x00\x00" + value.encode("utf-8"))
    ihdr_end = 8 + 4 + 4 + 13 + 4  # signature, then IHDR: length, type, 13 data bytes, crc
    return png[:ihdr_end] + extra + png[ihdr_end:]


def _remove_quietly(path: str) -> None:
    try:
        os.unlink(path)
    except OSError:
        pass
