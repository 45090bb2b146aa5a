"""Reading product photos safely and writing outputs atomically.

Originals are only ever opened for reading. Every photo is normalised to a ``Photo``: pixels in
their native bit depth (so the product can be put back bit-exactly), an 8-bit RGB view for the
models, the alpha channel if the file had one, and the ICC profile and EXIF to carry into outputs.

Metadata: outputs keep the original's descriptive EXIF (camera, lens, exposure, copyright, artist,
capture time) with the orientation set to 1, because the pixels are already upright. Left out on
purpose: GPS (where a product was shot is no business of a shop page), the maker note (proprietary,
large, its offsets break on rewrite), the thumbnail (it would show the original, not the output)
and the pixel dimensions (presets change them).

Photographers' files: camera RAW goes through LibRaw (packshot.core.raw_photos); HEIC through pillow-heif,
registered on the first HEIC met; an animation gives its first frame; a floating-point TIFF is
clipped to [0, 1] at 16 bits; a damaged ICC profile is left out. Each of those is said in
``Photo.notes``, which the batch reports per photo. ``scan_photos`` names every photo-named entry it
cannot read (broken links, FIFOs, folders, unreadable files) with the reason.
"""

from __future__ import annotations

import errno
import functools
import io
import os
import stat
import struct
import warnings
import zlib
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Mapping, Optional

import numpy as np
from PIL import Image, ImageOps, PngImagePlugin, UnidentifiedImageError

from packshot.core.errors import ImageReadError, ImageWriteError, PackshotError
from packshot.core.naming import display_name
from packshot.core.raw_photos import RAW_SUFFIXES, is_raw_path

# Photos above this are refused before decoding: a 200 MP frame is beyond any camera we target and
# a decompression bomb announces a size far above it.
MAX_PIXELS = 200_000_000
Image.MAX_IMAGE_PIXELS = MAX_PIXELS  # PIL's own bomb guard (89 MP by default) would refuse real photos first
MIN_SIDE = 8
READABLE_SUFFIXES = (".jpg", ".jpeg", ".png", ".apng", ".gif", ".webp", ".tif", ".tiff", ".bmp", ".heic", ".heif",
                     ".hif") + RAW_SUFFIXES
_HEIF_SUFFIXES = (".heic", ".heif", ".hif")
_HEIF_BRANDS = {b"heic", b"heix", b"hevc", b"hevx", b"heim", b"heis", b"hevm", b"hevs", b"mif1", b"msf1"}
_TIFF_HEADERS = (b"II*\x00", b"MM\x00*")


@dataclass
class Photo:
    """A decoded photo, upright (EXIF orientation applied)."""

    pixels: np.ndarray  # H x W x 3, uint8 or uint16: the original colour values, never altered
    alpha: Optional[np.ndarray] = None  # H x W float32 in [0, 1] when the file had transparency
    icc_profile: Optional[bytes] = None
    source: Optional[Path] = None
    original_mode: str = "RGB"
    info: dict = field(default_factory=dict)  # for a RAW: info["raw"], the LibRaw settings and camera white balance
    exif: Optional[bytes] = None  # cleaned EXIF ("Exif\0\0" + TIFF block), orientation 1; see clean_exif
    source_format: str = ""  # what the file was: Pillow's format name ("JPEG", "PNG", "HEIF", "TIFF"...) or "RAW"
    notes: list[str] = field(default_factory=list)  # what reading changed, for the photo's report (first frame...)

    @property
    def size(self) -> tuple[int, int]:
        """(width, height) like PIL."""
        return self.pixels.shape[1], self.pixels.shape[0]

    @property
    def bit_depth(self) -> int:
        return 16 if self.pixels.dtype == np.uint16 else 8

    @property
    def from_raw(self) -> bool:
        """A camera RAW file, demosaiced by LibRaw (see packshot.core.raw_photos)."""
        return self.source_format == "RAW"

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


@dataclass
class SkippedFile:
    """A folder entry named like a photo that is not one Packshot can open, and why."""

    path: Path
    reason: str

    @property
    def message(self) -> str:
        return f"{display_name(self.path.name)}: {self.reason}"


@dataclass
class PhotoListing:
    """A folder's photos, and the entries named like photos that cannot be read (never dropped silently)."""

    photos: list[Path]
    skipped: list[SkippedFile]


def scan_photos(folder: Path | str) -> PhotoListing:
    """The image files directly inside ``folder``, sorted by name, and the photo-named entries that are
    not readable files (broken links, folders, FIFOs, sockets, unreadable files) with the reason.

    Hidden files (``.name``, e.g. macOS's ``._IMG.jpg`` resource forks) are not photos and are left out."""
    folder = Path(folder)
    if not folder.is_dir():
        raise ImageReadError(f"Input folder not found: {display_name(folder)}")
    try:
        entries = sorted(p for p in folder.iterdir() if is_image_path(p))
    except OSError as exc:
        raise ImageReadError(cannot_read_message(f"the input folder {display_name(folder)}", exc)) from exc
    photos: list[Path] = []
    skipped: list[SkippedFile] = []
    for path in entries:
        why = _why_not_readable(path)
        if why is None:
            photos.append(path)
        else:
            skipped.append(SkippedFile(path, why))
    return PhotoListing(photos, skipped)


def list_photos(folder: Path | str) -> list[Path]:
    """Image files directly inside ``folder``, sorted by name (``scan_photos`` also says what it left out)."""
    return scan_photos(folder).photos


def _why_not_readable(path: Path) -> Optional[str]:
    """Why the entry ``path`` is not a photo file that can be read, or None when it is one (one stat)."""
    try:
        mode = path.stat().st_mode  # follows links: a link to a photo is a photo
    except FileNotFoundError:
        if path.is_symlink():
            return f"a link to {display_name(os.readlink(path))}, which does not exist (a broken link)"
        return "the file does not exist (moved or deleted?)"
    except OSError as exc:
        if exc.errno == errno.ELOOP:
            return "a link that leads back to itself (a link loop)"
        return cannot_read_message("it", exc)
    kind = _NOT_FILES.get(stat.S_IFMT(mode))
    if kind is not None:
        return kind
    if not stat.S_ISREG(mode):
        return "not a regular file"
    if not os.access(path, os.R_OK):
        return "cannot read it: permission denied"
    return None


_NOT_FILES = {stat.S_IFDIR: "a folder, not a photo", stat.S_IFIFO: "a named pipe (FIFO), not a file",
              stat.S_IFSOCK: "a socket, not a file", stat.S_IFCHR: "a device, not a file",
              stat.S_IFBLK: "a device, not a file"}


def cannot_read_message(what: str, exc: OSError) -> str:
    """'cannot read <what>: permission denied' and the like, without Python's exception names."""
    if exc.errno in (errno.EACCES, errno.EPERM):
        why = "permission denied"
    elif exc.errno == errno.ENOENT:
        why = "it does not exist (moved or deleted?)"
    else:
        why = exc.strerror or str(exc)
    return f"Cannot read {what}: {why}." if what != "it" else f"cannot read it: {why}"


def load_photo(path: Path | str) -> Photo:
    """Decode ``path`` into a ``Photo`` or raise ``ImageReadError`` saying precisely why not."""
    path = Path(path)
    name = display_name(path.name)
    why = _why_not_readable(path)  # a FIFO would block the read below; a folder would fail obscurely
    if why is not None:
        raise ImageReadError(f"{name}: {why}.")
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise ImageReadError(f"{name}: {cannot_read_message('it', exc)}.") from exc
    if not data:
        raise ImageReadError(f"{name}: the file is empty (0 bytes).")
    return decode_photo(data, path)


def decode_photo(data: bytes, path: Path | str) -> Photo:
    """Decode a photo's bytes (read from anywhere: a file, an object store) named ``path`` in messages."""
    path = Path(path)
    name = display_name(path.name)
    if not data:
        raise ImageReadError(f"{name}: the file is empty (0 bytes).")
    if is_raw_path(path):
        from packshot.core.raw_photos import decode_raw

        return decode_raw(data, path)
    if path.suffix.lower() in _HEIF_SUFFIXES or (data[4:8] == b"ftyp" and data[8:12] in _HEIF_BRANDS):
        _need_heif(name)
    with warnings.catch_warnings():
        warnings.simplefilter("error", Image.DecompressionBombWarning)
        try:
            with Image.open(io.BytesIO(data)) as im:
                return _decode(im, data, path)
        except (Image.DecompressionBombError, Image.DecompressionBombWarning) as exc:
            raise ImageReadError(f"{name}: image is too large to process safely ({exc}).") from exc
        except UnidentifiedImageError as exc:
            floating = _float_tiff(data, path)  # Pillow opens only one-channel float TIFFs
            if floating is not None:
                return floating
            raise ImageReadError(f"{name}: not an image file Packshot can read.") from exc
        except ImageReadError:
            raise
        except (OSError, SyntaxError, ValueError) as exc:
            raise ImageReadError(f"{name}: the image data is damaged or truncated ({exc}).") from exc


@functools.cache
def _heif_opener() -> bool:
    """Register pillow-heif's opener once, on the first HEIC photo (its import is not free); False: absent."""
    try:
        from pillow_heif import register_heif_opener
    except ImportError:
        return False
    register_heif_opener()
    return True


def _need_heif(name: str) -> None:
    if not _heif_opener():
        raise ImageReadError(f"{name}: HEIC/HEIF photos need pillow-heif, which is not installed. Fix: pip install "
                             "pillow-heif (part of Packshot's default install), or export the photo as JPEG.")


def _check_size(width: int, height: int, name: str) -> None:
    if width * height > MAX_PIXELS:
        raise ImageReadError(f"{name}: {width} x {height} pixels is above the {MAX_PIXELS // 1_000_000} MP limit.")
    if min(width, height) < MIN_SIDE:
        raise ImageReadError(f"{name}: {width} x {height} pixels is too small (minimum {MIN_SIDE} px a side).")


def _decode(im: Image.Image, data: bytes, path: Path) -> Photo:
    _check_size(*im.size, display_name(path.name))
    notes: list[str] = []
    if getattr(im, "is_animated", False):  # Image.open stands on the first frame
        notes.append(f"an animation of {getattr(im, 'n_frames', 2)} frames: only the first frame is used")
    photo = _decode_pixels(im, data, path, _usable_icc(im.info.get("icc_profile"), notes))
    photo.source_format = im.format or ""
    photo.notes = notes + photo.notes
    return photo


def _decode_pixels(im: Image.Image, data: bytes, path: Path, icc: Optional[bytes]) -> Photo:
    mode = im.mode
    exif = clean_exif(im)
    wide = _read_16bit_colour(data, im)
    im.load()  # decode fully now so truncation is reported here
    upright = ImageOps.exif_transpose(im)
    if wide is not None:
        wide = _apply_orientation(wide, im.getexif().get(_ORIENTATION, 1))
        return replace(_photo_from_wide(wide, icc, path, mode), exif=exif)

    alpha = None
    if upright.mode == "F":  # one-channel 32-bit float (HDR tools)
        return replace(_photo_from_float(np.asarray(upright, dtype=np.float32), 32, path, icc), exif=exif)
    if upright.mode in ("I;16", "I;16B", "I;16L", "I"):
        grey = np.asarray(upright, dtype=np.int64)
        pixels = np.clip(grey, 0, 65535).astype(np.uint16)
        pixels = np.repeat(pixels[:, :, None], 3, axis=2)
        return Photo(pixels=pixels, icc_profile=icc, source=path, original_mode=mode, exif=exif)
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
                 icc_profile=icc, source=path, original_mode=mode, exif=exif)


def _usable_icc(icc: Optional[bytes], notes: list[str]) -> Optional[bytes]:
    """``icc`` when a colour engine can parse it; a damaged one is left out (never copied into outputs)."""
    if not icc:
        return None
    if _icc_parses(bytes(icc)):
        return icc
    notes.append("its colour profile (ICC) is damaged, so it was left out: colours are read as sRGB")
    return None


@functools.lru_cache(maxsize=32)  # a folder from one camera holds the same profile in every photo
def _icc_parses(icc: bytes) -> bool:
    from PIL import ImageCms

    try:
        ImageCms.ImageCmsProfile(io.BytesIO(icc))
    except (ImageCms.PyCMSError, OSError, ValueError, TypeError):
        return False
    return True


def _float_tiff(data: bytes, path: Path) -> Optional[Photo]:
    """A floating-point colour TIFF (from HDR and compositing tools), or None when ``data`` is not one.

    Converted, not refused: values clipped to [0, 1] and kept at 16 bits (the note says how much was
    clipped). 16-bit half floats are refused by name (OpenCV, which reads the rest, cannot)."""
    if data[:4] not in _TIFF_HEADERS:
        return None
    tags = Image.Exif()
    try:
        tags.load(data)
        formats, bits = _as_tuple(tags.get(339, 1)), max(_as_tuple(tags.get(258, 1)))
        width, height = int(tags.get(256, 0)), int(tags.get(257, 0))
    except Exception:  # noqa: BLE001 - not a TIFF we understand: the caller's message stands
        return None
    if 3 not in formats:  # SampleFormat 3: IEEE floating point
        return None
    name = display_name(path.name)
    if bits not in (32, 64):
        raise ImageReadError(f"{name}: a {bits}-bit floating-point TIFF, which Packshot cannot read. Save it as a "
                             "32-bit float or 16-bit TIFF.")
    _check_size(width, height, name)
    import cv2

    arr = cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_UNCHANGED)
    if arr is None:
        raise ImageReadError(f"{name}: the floating-point TIFF is damaged or laid out in a way Packshot cannot read.")
    arr = arr.astype(np.float32)
    if arr.ndim == 3 and arr.shape[2] in (3, 4):  # OpenCV's channel order is BGR(A)
        arr = cv2.cvtColor(arr, cv2.COLOR_BGRA2RGBA if arr.shape[2] == 4 else cv2.COLOR_BGR2RGB)
    arr = _apply_orientation(arr, tags.get(_ORIENTATION, 1))
    notes: list[str] = []
    icc = _usable_icc(tags.get(34675), notes)
    photo = _photo_from_float(arr, bits, path, icc)
    photo.exif, photo.source_format = exif_for_output(tags), "TIFF"
    photo.notes = notes + photo.notes
    return photo


def _as_tuple(value: object) -> tuple:
    return tuple(value) if isinstance(value, (tuple, list)) else (value,)


def _photo_from_float(arr: np.ndarray, bits: int, path: Path, icc: Optional[bytes]) -> Photo:
    """16-bit pixels from floats, clipped to [0, 1]; the note says how much was brighter than white."""
    arr = np.nan_to_num(arr.astype(np.float32, copy=False), nan=0.0, posinf=1.0, neginf=0.0)
    if arr.ndim == 2:
        arr = arr[:, :, None]
    colour = arr[:, :, :3] if arr.shape[2] >= 3 else np.repeat(arr[:, :, :1], 3, axis=2)
    alpha = None
    if arr.shape[2] in (2, 4):
        alpha = np.clip(arr[:, :, -1], 0.0, 1.0)
        alpha = None if alpha.min() >= 1.0 else alpha
    above = float(np.mean(colour > 1.0))
    note = f"a {bits}-bit floating-point image: converted to 16 bits per channel, values clipped to 0-1"
    if above:
        note += f" ({above:.1%} of the values were brighter than white and are clipped)"
    pixels = np.round(np.clip(colour, 0.0, 1.0) * 65535.0).astype(np.uint16)
    return Photo(pixels=np.ascontiguousarray(pixels), alpha=alpha, icc_profile=icc, source=path,
                 original_mode=f"F;{bits}", notes=[note])


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


def _apply_orientation(arr: np.ndarray, orientation: int) -> np.ndarray:
    """``arr`` turned upright for the EXIF ``orientation`` (1: already upright)."""
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


# Descriptive IFD0 tags kept from the original (everything structural is the writer's business).
_KEEP_IFD0 = (0x010E, 0x010F, 0x0110, 0x0131, 0x0132, 0x013B, 0x8298, 0x011A, 0x011B, 0x0128)
_EXIF_IFD, _GPS_IFD, _ORIENTATION = 0x8769, 0x8825, 0x0112
# Exif sub-IFD tags left out: maker note, pixel dimensions (presets change them), interop pointer.
_DROP_EXIF = {0x927C, 0xA002, 0xA003, 0xA005}


def clean_exif(im: Image.Image) -> Optional[bytes]:
    """The EXIF an output carries from ``im`` (see the module's note), or None when it has none."""
    try:
        source = im.getexif()
    except Exception:  # damaged EXIF must not stop a photo; it is only left out
        return None
    return exif_for_output(source)


def exif_for_output(source: Optional[Image.Exif]) -> Optional[bytes]:
    """The EXIF an output carries from the tags ``source`` (e.g. a RAW file's), or None when none is worth it."""
    if source is None:
        return None
    try:
        sub = {k: v for k, v in source.get_ifd(_EXIF_IFD).items() if k not in _DROP_EXIF}
    except Exception:  # damaged EXIF must not stop a photo; it is only left out
        return None
    out = Image.Exif()
    for tag in _KEEP_IFD0:
        if tag in source:
            out[tag] = source[tag]
    if not len(out) and not sub:
        return None
    out[_ORIENTATION] = 1
    if sub:
        out[_EXIF_IFD] = sub
    try:
        return out.tobytes()
    except Exception:  # a tag of an unexpected type: keep the readable IFD0 part rather than nothing
        out.pop(_EXIF_IFD, None)
        try:
            return out.tobytes()
        except Exception:
            return None


def read_exif(data: Optional[bytes]) -> Image.Exif:
    """``Image.Exif`` from bytes as ``Photo.exif`` holds them (empty for None)."""
    exif = Image.Exif()
    if data:
        exif.load(data)
    return exif


_FORMATS = {".jpg": "JPEG", ".jpeg": "JPEG", ".png": "PNG", ".webp": "WEBP", ".tif": "TIFF", ".tiff": "TIFF"}
OUTPUT_FORMAT_CHOICES = ("auto", "png", "jpg", "webp", "tiff")
_FOLLOW_INPUT = {".jpg": "jpg", ".jpeg": "jpg", ".png": "png", ".webp": "webp", ".tif": "tiff", ".tiff": "tiff",
                 ".heic": "jpg", ".heif": "jpg", ".hif": "jpg", ".bmp": "png", ".gif": "png", ".apng": "png",
                 **{suffix: "tiff" for suffix in RAW_SUFFIXES}}


def image_format(path: Path | str) -> str:
    """PIL's format name for an output path, or ``ImageWriteError`` for a suffix Packshot cannot write."""
    path = Path(path)
    fmt = _FORMATS.get(path.suffix.lower())
    if fmt is None:
        raise ImageWriteError(f"{path.name}: unsupported output format '{path.suffix}'.")
    return fmt


def output_format_for(input_path: Optional[Path | str], requested: str, *, alpha: bool = False) -> str:
    """The output format ("png", "jpg", "webp" or "tiff") for a photo.

    ``auto`` follows the input: JPEG in, JPEG out; PNG, WebP and TIFF keep theirs (so 16 bits and
    lossless stay so); HEIC becomes JPEG (Pillow writes no HEIC), BMP and GIF become PNG, camera RAW
    becomes TIFF (16 bits and the EXIF kept, what a RAW editor exports). An output with
    transparency (``alpha``) never becomes JPEG, which has none: PNG then. An explicit format wins.
    """
    fmt = requested.lower().lstrip(".")
    fmt = {"jpeg": "jpg", "tif": "tiff"}.get(fmt, fmt)
    if fmt not in OUTPUT_FORMAT_CHOICES:
        raise PackshotError(f"Unknown output format '{requested}'. Use one of: {', '.join(OUTPUT_FORMAT_CHOICES)}.")
    if fmt != "auto":
        return fmt
    fmt = _FOLLOW_INPUT.get(Path(input_path).suffix.lower(), "png") if input_path is not None else "png"
    return "png" if alpha and fmt == "jpg" else fmt


def to_bit_depth(pixels: np.ndarray, depth: Optional[int]) -> np.ndarray:
    """``pixels`` at 8 or 16 bits per channel (None: as they are). 8 -> 16 is exact (x 257)."""
    if depth is None:
        return pixels
    if depth == 16:
        return pixels if pixels.dtype == np.uint16 else pixels.astype(np.uint16) * 257
    if depth == 8:
        return pixels if pixels.dtype == np.uint8 else (pixels >> 8).astype(np.uint8)
    raise ValueError(f"bit depth must be 8 or 16, not {depth}")


def save_image(
    path: Path | str,
    pixels: np.ndarray,
    *,
    icc_profile: Optional[bytes] = None,
    text: Optional[Mapping[str, str]] = None,
    quality: int = 95,
    exif: Optional[bytes] = None,
    xmp: Optional[bytes] = None,
) -> Path:
    """Write ``pixels`` (H x W grey, or H x W x 3|4; uint8 or uint16) to ``path`` atomically.

    The file appears complete or not at all: data goes to a temporary file in the same folder
    which is then renamed over the target. ``text`` becomes PNG text chunks (PNG only); ``exif``
    goes into every format, ``xmp`` into JPEG, WebP and TIFF.
    """
    path = Path(path)
    data = encode_image(pixels, image_format(path), icc_profile=icc_profile, text=text, quality=quality,
                        exif=exif, xmp=xmp)
    return write_atomic(path, data)


def write_atomic(path: Path | str, data: bytes) -> Path:
    """Write ``data`` to ``path`` so that it appears complete or not at all (temp file, fsync, rename)."""
    from packshot.core.write_guard import (
        make_temp,  # temp names only Packshot makes, so a sweep removes only its own
    )

    path = Path(path)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = make_temp(path.parent, path.suffix)  # beside the target: the rename stays on one disk
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
                 text: Optional[Mapping[str, str]] = None, quality: int = 95, exif: Optional[bytes] = None,
                 xmp: Optional[bytes] = None) -> bytes:
    """Encode to bytes. TIFF is written here (PIL cannot write 16-bit colour), 16-bit PNG by OpenCV."""
    if fmt == "TIFF":
        return _encode_tiff(pixels, icc_profile, exif, xmp)
    if pixels.dtype == np.uint16:
        if fmt != "PNG":
            pixels = (pixels >> 8).astype(np.uint8)
        else:
            return _add_png_chunks(_encode_16bit_png(pixels), icc_profile, text, exif)
    mode = "L" if pixels.ndim == 2 else ("RGBA" if pixels.shape[2] == 4 else "RGB")
    im = Image.fromarray(np.ascontiguousarray(pixels), mode)
    kwargs: dict = {}
    if icc_profile:
        kwargs["icc_profile"] = icc_profile
    if exif:
        # WebP's EXIF chunk is the bare TIFF block; JPEG's APP1 and Pillow's PNG writer take the prefix.
        kwargs["exif"] = exif[6:] if fmt == "WEBP" and exif.startswith(b"Exif\x00\x00") else exif
    if xmp and fmt in ("JPEG", "WEBP"):
        kwargs["xmp"] = xmp
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


def _encode_16bit_png(pixels: np.ndarray) -> bytes:
    import cv2

    if pixels.ndim == 3:
        pixels = cv2.cvtColor(pixels, cv2.COLOR_RGBA2BGRA if pixels.shape[2] == 4 else cv2.COLOR_RGB2BGR)
    ok, buf = cv2.imencode(".png", pixels)
    if not ok:
        raise ImageWriteError("OpenCV could not encode the 16-bit image.")
    return buf.tobytes()


def _encode_tiff(pixels: np.ndarray, icc: Optional[bytes], exif: Optional[bytes], xmp: Optional[bytes]) -> bytes:
    """A baseline little-endian TIFF, one deflate strip, 8 or 16 bits, with ICC, XMP and an Exif IFD.

    Written by hand on PIL's IFD serialiser because PIL cannot write 16-bit colour and OpenCV writes
    no metadata; deterministic bytes, so a replay compares equal file for file."""
    from PIL import TiffImagePlugin, TiffTags

    pixels = np.ascontiguousarray(pixels)
    height, width = pixels.shape[:2]
    samples = 1 if pixels.ndim == 2 else pixels.shape[2]
    bits = 16 if pixels.dtype == np.uint16 else 8
    strip = zlib.compress(pixels.astype("<u2" if bits == 16 else np.uint8).tobytes(), 6)
    ifd = TiffImagePlugin.ImageFileDirectory_v2(prefix=b"II")
    source = read_exif(exif)
    for tag, value in source.items():
        if tag in _KEEP_IFD0 or tag == _ORIENTATION:
            ifd[tag] = value
    sub = source.get_ifd(_EXIF_IFD)
    if sub:
        ifd[_EXIF_IFD] = dict(sub)
        ifd.tagtype[_EXIF_IFD] = TiffTags.LONG
    structure = {256: (width, TiffTags.LONG), 257: (height, TiffTags.LONG),
                 258: ((bits,) * samples, TiffTags.SHORT), 259: (8, TiffTags.SHORT),  # Adobe deflate
                 262: (2 if samples >= 3 else 1, TiffTags.SHORT), 273: (0, TiffTags.LONG),  # PIL adds the offset
                 277: (samples, TiffTags.SHORT), 278: (height, TiffTags.LONG), 279: (len(strip), TiffTags.LONG),
                 284: (1, TiffTags.SHORT), 339: ((1,) * samples, TiffTags.SHORT)}
    if samples in (2, 4):
        structure[338] = (2, TiffTags.SHORT)  # unassociated alpha
    if icc:
        structure[34675] = (icc, TiffTags.UNDEFINED)
    if xmp:
        structure[700] = (xmp, TiffTags.BYTE)
    for tag, (value, kind) in structure.items():
        ifd[tag] = value
        ifd.tagtype[tag] = kind
    header = b"II*\x00" + struct.pack("<I", 8)
    # StripOffsets 0 + the end of the IFD's own data: PIL's serialiser points it right past that.
    return header + ifd.tobytes(8) + strip


def _png_chunk(kind: bytes, body: bytes) -> bytes:
    return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body) & 0xFFFFFFFF)


def _add_png_chunks(png: bytes, icc_profile: Optional[bytes], text: Optional[Mapping[str, str]],
                    exif: Optional[bytes] = None) -> bytes:
    """Insert iCCP, eXIf and iTXt chunks right after IHDR (OpenCV writes none; all must precede IDAT)."""
    extra = b""
    if icc_profile:
        extra += _png_chunk(b"iCCP", b"icc\x00\x00" + zlib.compress(icc_profile))
    if exif:
        extra += _png_chunk(b"eXIf", exif[6:] if exif.startswith(b"Exif\x00\x00") else exif)
    for key, value in (text or {}).items():
        extra += _png_chunk(b"iTXt", key.encode("latin-1") + b"\x00\x00\x00\x00\x00" + value.encode("utf-8"))
    ihdr_end = 8 + 4 + 4 + 13 + 4  # signature, then IHDR: length, type, 13 data bytes, crc
    return png[:ihdr_end] + extra + png[ihdr_end:]


def _remove_quietly(path: str | Path) -> None:
    try:
        os.unlink(path)
    except OSError:
        pass
