"""Small synthetic product photos and mask results for the generation tests."""

from __future__ import annotations

import numpy as np

from packshot.core.generation.engines import engine_for
from packshot.core.images import Photo
from packshot.core.masking.result import MaskResult


def product_photo(width: int = 97, height: int = 61, *, dtype=np.uint8, seed: int = 0) -> tuple[Photo, MaskResult]:
    """A textured 'product' ellipse on a grey textured background, with its mask and a soft edge."""
    rng = np.random.default_rng(seed)
    top = 65535 if dtype == np.uint16 else 255
    pixels = rng.integers(0, top + 1, size=(height, width, 3), dtype=np.int64).astype(dtype)
    yy, xx = np.mgrid[0:height, 0:width]
    r = ((xx - width * 0.5) / (width * 0.3)) ** 2 + ((yy - height * 0.55) / (height * 0.3)) ** 2
    mask = r <= 1.0
    # Soft edge: 1 inside, ramping to 0 over a thin band outside, like a feathered SAM mask.
    alpha = np.clip((1.25 - r) / 0.25, 0.0, 1.0).astype(np.float32)
    alpha[mask] = 1.0
    return Photo(pixels=pixels), MaskResult(mask=mask, alpha=alpha, score=1.0, source="edited")


class CallRecorder:
    """Records the positional/keyword inputs of every forward call of a torch module."""

    def __init__(self, module) -> None:
        self.calls: list[tuple] = []
        self.handle = module.register_forward_pre_hook(self._record, with_kwargs=True)

    def _record(self, _module, args, kwargs):
        self.calls.append((tuple(a.detach().clone() if hasattr(a, "detach") else a for a in args),
                           {k: (v.detach().clone() if hasattr(v, "detach") else v) for k, v in kwargs.items()}))

    def remove(self) -> None:
        self.handle.remove()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.remove()


def plain_engine(name: str):
    """A plain engine (no weights) from a runtime of its own, as a one-off caller would get it."""
    from packshot.core.runtime import Runtime

    return engine_for(Runtime(), name)
