"""Masks as jobs use them: always exactly as stored (8-bit PNG), so a replay is bit-exact."""

from __future__ import annotations

from pathlib import Path
from typing import Any, Optional

import numpy as np


def quantize_mask(result: Any) -> Any:
    """The MaskResult as an 8-bit PNG would give it back: alpha in 1/255 steps, mask = alpha >= 0.5."""
    from packshot.core.masking.result import MaskResult, stored_mask

    alpha8 = np.clip(np.rint(np.asarray(result.alpha, np.float32) * 255.0), 0, 255).astype(np.uint8)
    alpha = alpha8.astype(np.float32) / 255.0
    return MaskResult(mask=stored_mask(alpha), alpha=alpha, score=result.score,
                      source=result.source, details=dict(result.details),
                      doubt=getattr(result, "doubt", None))


def save_mask_atomic(path: Path, alpha: np.ndarray, *, photo: Optional[Path] = None) -> Path:
    """8-bit greyscale PNG of the soft mask (255 = product), written temp-then-rename by the one mask
    writer (``packshot.core.masking.maskio.save_mask_png``), so it carries the polarity chunk every reader honours.
    ``photo``: the photo the mask is of; checked by the write guard (never that file, by any path)."""
    from packshot.core.masking.maskio import save_mask_png

    if photo is not None:
        from packshot.core.write_guard import STORE_DIRNAME, WriteGuard

        path = Path(path)
        store = next((f for f in path.parents if f.name == STORE_DIRNAME), None)
        # A project's mask is its own bookkeeping (replaced freely); elsewhere the folder is the root.
        WriteGuard(store.parent if store is not None else path.parent, inputs=[photo]).check(path)

    return save_mask_png(Path(path), np.asarray(alpha, np.float32), white="product")


def load_mask_file(path: Path, size: tuple[int, int], source: str = "file") -> Any:
    """A mask PNG as a MaskResult at ``size`` (w, h), quantised to the 8 bits the job stores.

    Read by ``packshot.core.masking.load_mask_png``: it honours the polarity chunk ``packshot masks --white
    background`` writes, resizes masks of the same aspect ratio and refuses any other size."""
    from packshot.core.masking.maskio import load_mask_png

    result = load_mask_png(Path(path), tuple(size))
    result.source = source
    return quantize_mask(result)

