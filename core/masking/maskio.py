"""Mask PNG files: one per photo, same stem, ``.png`` (IOPaint's batch convention).

Polarity: white = product (the object mask a reviewer sees), black = background. IOPaint itself
uses white = "area to repaint"; pass ``white="background"`` to read or write that form. Files we
write carry a PNG text chunk naming their polarity, and reading honours it.
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal

import numpy as np
from PIL import Image, UnidentifiedImageError

from packshot.core.errors import ImageReadError
from packshot.core.images import save_image
from packshot.core.masking.postprocess import resize_alpha
from packshot.core.masking.result import MaskResult, stored_mask

Polarity = Literal["product", "background"]
POLARITY_KEY = "packshot:mask-white"


def mask_path_for(photo_path: Path | str, masks_dir: Path | str) -> Path:
    """``masks_dir/<photo stem>.png`` (``shoe.jpg`` -> ``masks/shoe.png``)."""
    return Path(masks_dir) / f"{Path(photo_path).stem}.png"


def save_mask_png(path: Path | str, mask_or_alpha: np.ndarray | MaskResult, white: Polarity = "product") -> Path:
    """Write a bool mask or float alpha (or a MaskResult's alpha) as an 8-bit grey PNG, atomically."""
    if isinstance(mask_or_alpha, MaskResult):
        mask_or_alpha = mask_or_alpha.alpha
    arr = np.asarray(mask_or_alpha)
    if arr.ndim != 2:
        raise ValueError(f"a mask must be 2-D, got shape {arr.shape}")
    if arr.dtype == bool:
        grey = arr.astype(np.uint8) * 255
    elif arr.dtype == np.uint8:
        grey = arr
    else:
        grey = np.round(np.clip(arr.astype(np.float32), 0, 1) * 255).astype(np.uint8)
    if white == "background":
        grey = 255 - grey
    return save_image(Path(path), np.ascontiguousarray(grey), text={POLARITY_KEY: white})


def load_mask_png(path: Path | str, size: tuple[int, int], white: Polarity = "product") -> MaskResult:
    """Read a mask PNG for a photo of ``size`` = (width, height) as a ``MaskResult`` (source "file").

    Grey, RGB or RGBA files are accepted (an RGBA cut-out's alpha is the mask). A mask of another
    size but the same aspect ratio is resized; any other size is an error, since it cannot be
    aligned with the photo.
    """
    path = Path(path)
    try:
        with Image.open(path) as im:
            im.load()
            written = im.info.get(POLARITY_KEY)
            if im.mode in ("RGBA", "LA", "PA") or (im.mode == "P" and "transparency" in im.info):
                rgba = np.asarray(im.convert("RGBA"))
                grey = rgba[:, :, 3] if rgba[:, :, 3].min() < 255 else np.asarray(im.convert("L"))
            elif im.mode in ("I;16", "I;16B", "I;16L", "I"):
                grey = (np.asarray(im, np.float32) / 65535.0 * 255.0).round().astype(np.uint8)
            else:
                grey = np.asarray(im.convert("L"))
    except FileNotFoundError as exc:
        raise ImageReadError(f"Mask file not found: {path}") from exc
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError) as exc:
        raise ImageReadError(f"{path.name}: not a readable mask image ({exc}).") from exc
    alpha = grey.astype(np.float32) / 255.0
    if (written or white) == "background":
        alpha = 1.0 - alpha
    w, h = size
    mh, mw = alpha.shape
    details = {"path": str(path)}
    if (mw, mh) != (w, h):
        if abs(mw / mh - w / h) > max(1.0 / mh, 1.0 / mw) * 2:
            raise ImageReadError(f"{path.name}: mask is {mw} x {mh} but the photo is {w} x {h}; "
                                 "they cannot be aligned (different aspect ratio).")
        alpha = resize_alpha(alpha, (w, h))
        details["resized_from"] = [mw, mh]
    return MaskResult(stored_mask(alpha), alpha, 1.0, "file", details)
