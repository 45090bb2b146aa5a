"""Shadows darkening the background before compositing: synthetic ones made from the product mask
(``drop``, ``contact``), or the photo's own (``keep``: core/generation/shadow_matte.py)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Union

import numpy as np

WORK_SIDE = 1024  # shadows are soft: compute them at this size and scale up
KINDS = ("drop", "contact", "keep")  # what a user may ask for; "keep" is resolved per photo by keep_shadow


@dataclass(frozen=True)
class Shadow:
    """``drop``: the silhouette offset and blurred; ``contact``: a soft ellipse under the product.

    ``angle`` is the direction the shadow falls in degrees (0 = right, 90 = down); ``distance`` and
    ``softness`` are fractions of the image diagonal; ``opacity`` in [0, 1].
    """

    kind: str = "drop"
    angle: float = 60.0
    distance: float = 0.015
    softness: float = 0.015
    opacity: float = 0.45
    color: tuple[int, int, int] = (0, 0, 0)

    def __post_init__(self) -> None:
        if self.kind not in ("drop", "contact"):
            hint = " ('keep' needs the photo: use keep_shadow(photo, mask))" if self.kind == "keep" else ""
            raise ValueError(f"Unknown shadow kind '{self.kind}': choose drop or contact{hint}.")
        if not 0.0 <= self.opacity <= 1.0:
            raise ValueError(f"Shadow opacity must be in [0, 1] (got {self.opacity}).")


@dataclass(eq=False)
class KeptShadow:
    """The photo's own shadow: a neutral multiplicative ``matte`` (H x W, 1 = unshadowed) for the background."""

    matte: np.ndarray
    note: str = ""


AnyShadow = Union[Shadow, KeptShadow]


def keep_shadow(photo: Any, mask: Any, fallback: Shadow | None = None) -> tuple[AnyShadow, str | None]:
    """``--shadow keep`` for one photo: its own shadow, or ``fallback`` (a drop shadow) and why.

    ``photo``: a Photo (or H x W x 3 pixels); ``mask``: a MaskResult (or an H x W alpha). Returns
    (shadow, note): the note is None when the photo's shadow was kept, else it says what was
    used instead and why (no studio backdrop, no shadow found).
    """
    from packshot.core.generation.shadow_matte import estimate_shadow_matte

    pixels = photo.pixels if hasattr(photo, "pixels") else np.asarray(photo)
    alpha = mask.alpha if hasattr(mask, "alpha") else np.asarray(mask, np.float32)
    known = getattr(photo, "alpha", None)  # a size preset's padding is not photo
    found = estimate_shadow_matte(pixels, alpha, known)
    if found.matte is not None:
        return KeptShadow(found.matte, found.note), None
    fallback = fallback or Shadow()
    return fallback, f"--shadow keep: {found.note}; used a synthetic {fallback.kind} shadow instead"


def shadow_map(alpha: np.ndarray, shadow: Shadow) -> np.ndarray:
    """H x W float32 in [0, 1]: how strongly each background pixel is shaded."""
    import cv2

    height, width = alpha.shape
    scale = min(1.0, WORK_SIDE / max(height, width))
    size = (max(1, round(width * scale)), max(1, round(height * scale)))
    small = cv2.resize(alpha.astype(np.float32), size, interpolation=cv2.INTER_AREA)
    diag = float(np.hypot(*size))
    if shadow.kind == "drop":
        rad = np.deg2rad(shadow.angle)
        shift = np.float32([[1, 0, shadow.distance * diag * np.cos(rad)], [0, 1, shadow.distance * diag * np.sin(rad)]])
        base = cv2.warpAffine(small, shift, size, flags=cv2.INTER_LINEAR, borderValue=0)
    else:
        base = np.zeros_like(small)
        ys, xs = np.nonzero(small >= 0.5)
        if ys.size:
            cx, bottom = (xs.min() + xs.max()) / 2, ys.max()
            axes = (max(1, round(0.45 * (xs.max() - xs.min() + 1))), max(1, round(0.05 * (ys.max() - ys.min() + 1))))
            cv2.ellipse(base, (round(cx), int(bottom)), axes, 0, 0, 360, 1.0, thickness=-1)
    sigma = max(0.5, shadow.softness * diag)
    soft = cv2.GaussianBlur(base, (0, 0), sigmaX=sigma, sigmaY=sigma)
    full = cv2.resize(soft, (width, height), interpolation=cv2.INTER_LINEAR)
    return np.clip(full, 0.0, 1.0) * shadow.opacity


def apply_shadow(background: np.ndarray, alpha: np.ndarray, shadow: AnyShadow) -> np.ndarray:
    """``background`` (uint8 or uint16) with the shadow blended in, same dtype."""
    if isinstance(shadow, KeptShadow):
        from packshot.core.generation.shadow_matte import apply_matte

        return apply_matte(background, shadow.matte)
    strength = shadow_map(alpha, shadow)[:, :, None]
    top = 65535 if background.dtype == np.uint16 else 255
    color = np.asarray(shadow.color, np.float32) * (top / 255.0)
    out = background.astype(np.float32) * (1 - strength) + color * strength
    return np.clip(np.rint(out), 0, top).astype(background.dtype)
