"""Shared helpers for the batch tests: synthetic product photos with known masks, quick runners."""

from __future__ import annotations

import hashlib
import io
import struct
import zlib
from pathlib import Path
from typing import Optional

import numpy as np
from PIL import Image

BACKDROP = (232, 234, 238)


def product_photo(width: int = 160, height: int = 120, colour: tuple = (200, 40, 40), seed: int = 0) -> np.ndarray:
    """A shaded disc (the 'product') on a light, slightly noisy studio backdrop; H x W x 3 uint8."""
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[0:height, 0:width].astype(np.float32)
    img = np.empty((height, width, 3), np.float32)
    img[:] = BACKDROP
    img += rng.normal(0, 1.5, img.shape)
    cx, cy, r = width * 0.5, height * 0.55, min(width, height) * 0.3
    d = np.hypot(xx - cx, yy - cy)
    inside = np.clip(r - d + 0.5, 0, 1)[:, :, None]
    shade = (1.0 - 0.35 * ((xx - cx + r) / (2 * r)))[:, :, None]
    img = img * (1 - inside) + np.array(colour, np.float32) * shade * inside
    return np.clip(img, 0, 255).astype(np.uint8)


def disc_mask(width: int, height: int) -> np.ndarray:
    yy, xx = np.mgrid[0:height, 0:width].astype(np.float32)
    cx, cy, r = width * 0.5, height * 0.55, min(width, height) * 0.3
    return np.hypot(xx - cx, yy - cy) <= r


def write_photos(folder: Path, count: int, size: tuple[int, int] = (160, 120), fmt: str = "jpg",
                 prefix: str = "item") -> list[Path]:
    folder.mkdir(parents=True, exist_ok=True)
    paths = []
    colours = [(200, 40, 40), (40, 90, 200), (30, 140, 60), (180, 120, 20), (120, 40, 160)]
    for i in range(count):
        path = folder / f"{prefix}_{i:03d}.{fmt}"
        Image.fromarray(product_photo(*size, colour=colours[i % len(colours)], seed=i)).save(path, quality=92)
        paths.append(path)
    return paths


def tree_hashes(folder: Path) -> dict[str, str]:
    return {p.relative_to(folder).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(folder.rglob("*")) if p.is_file()}


def pixel_hash(path: Path) -> str:
    with Image.open(path) as im:
        return hashlib.sha256(np.asarray(im).tobytes()).hexdigest()


def png_header_only(width: int, height: int) -> bytes:
    """A PNG whose header claims ``width`` x ``height`` (a decompression-bomb shape) with a tiny body."""
    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)

    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", zlib.compress(b"\x00" * 16)) + \
        chunk(b"IEND", b"")


def jpeg_bytes(arr: np.ndarray, **kwargs) -> bytes:
    buf = io.BytesIO()
    Image.fromarray(arr).save(buf, "JPEG", **kwargs)
    return buf.getvalue()


def no_models_store(tmp: Path):
    """A ModelStore that finds nothing and downloads nothing."""
    from packshot.core.models.store import ModelStore

    return ModelStore(tmp / "no-models", offline=True, download_dir=tmp / "no-downloads", use_hf_cache=False)


def no_models_runtime(tmp: Path):
    """A Runtime around ``no_models_store``: engines and maskers that need weights fail clearly."""
    from packshot.core.runtime import Runtime

    return Runtime(store=no_models_store(tmp))


def run_batch(argv: list[str]) -> int:
    from packshot.core.cli.batch_cmd import main

    return main(argv)


def srgb_icc() -> Optional[bytes]:
    from PIL import ImageCms

    return ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB")).tobytes()


class ScoredDiscMasker:
    """A deterministic masker: the known disc of ``product_photo`` with a score chosen per product colour
    (the photo's centre pixel), so a test can make exactly some masks doubtful. ``doubt`` per colour
    stands for a masker that knows why (e.g. no studio backdrop)."""

    name = "scored-disc"

    def __init__(self, scores: dict[tuple, float], doubts: Optional[dict[tuple, str]] = None,
                 default: float = 0.95) -> None:
        self.scores, self.doubts, self.default = scores, doubts or {}, default
        self.calls = 0

    def _colour(self, pixels: np.ndarray) -> tuple:
        h, w = pixels.shape[:2]
        centre = pixels[int(h * 0.55), int(w * 0.5)].astype(int)
        near = [c for c in list(self.scores) + list(self.doubts) if np.abs(np.array(c) - centre).sum() < 90]
        return near[0] if near else tuple(centre)

    def compute(self, photo, cancel=None):
        from packshot.core.masking.result import MaskResult

        self.calls += 1
        h, w = photo.pixels.shape[:2]
        mask = disc_mask(w, h)
        colour = self._colour(photo.pixels)
        return MaskResult(mask, mask.astype(np.float32), self.scores.get(colour, self.default), self.name,
                          {"prior": "classic"}, doubt=self.doubts.get(colour))
