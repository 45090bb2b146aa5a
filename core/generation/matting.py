"""The product's own colour under a soft edge, without the old backdrop mixed in.

A photo's edge pixel is ``I = a * F + (1 - a) * B``: part product (F), part the backdrop it was shot
on (B). Blending ``I`` onto a new background carries that B along (a beige rim on white). We
estimate F with pymatting's multilevel foreground estimator (Germer et al. 2020) and blend F
instead. Only tiles that hold soft-edge pixels (0 < a < 1) are estimated, each with a margin of
context, so the cost follows the outline's length, not the photo's area (a 24 MP photo has the
same few thousand edge tiles' worth of work as its outline needs, and no full-size float copy).
"""

from __future__ import annotations

from typing import Iterator

import numpy as np

TILE = 128  # edge tiles are estimated one at a time: bounded memory, little work off the edge
MARGIN = 24  # context around a tile: known product and backdrop pixels the estimate spreads from


def edge_pixels(alpha: np.ndarray) -> np.ndarray:
    """H x W bool: the soft edge, where the photo's colour is a mix of product and backdrop."""
    return (alpha > 0.0) & (alpha < 1.0)


def _edge_tiles(edge: np.ndarray, tile: int) -> Iterator[tuple[int, int]]:
    """(top, left) of every ``tile`` x ``tile`` block that holds an edge pixel, without copying ``edge``."""
    width = edge.shape[1]
    starts = np.arange(0, width, tile)
    for top in range(0, edge.shape[0], tile):
        columns = edge[top:top + tile].any(axis=0)
        for left in starts[np.add.reduceat(columns, starts) > 0]:
            yield top, int(left)


def foreground_tiles(pixels: np.ndarray, alpha: np.ndarray, *, tile: int = TILE,
                     margin: int = MARGIN) -> Iterator[tuple[slice, slice, np.ndarray]]:
    """Yield ``(rows, cols, foreground)`` for each tile with soft-edge pixels.

    ``pixels`` is H x W x 3 (uint8, uint16 or float in [0, 1]); ``alpha`` H x W float in [0, 1].
    ``foreground`` is the estimated product colour over ``pixels[rows, cols]``, float32 in the
    photo's own scale (0..255 or 0..65535). It is meaningful where ``0 < alpha < 1``; elsewhere
    the caller keeps the photo (alpha 1) or the background (alpha 0).
    """
    # pymatting's package import compiles (numba, cached after the first run) and pulls in scipy:
    # import it only when a photo actually has a soft edge.
    import numba
    from pymatting.foreground.estimate_foreground_ml import estimate_foreground_ml

    if pixels.dtype == np.uint8:
        scale = 255.0
    elif pixels.dtype == np.uint16:
        scale = 65535.0
    else:
        scale = 1.0
    height, width = alpha.shape
    for top, left in _edge_tiles(edge_pixels(alpha), tile):
        y0, x0 = max(0, top - margin), max(0, left - margin)
        y1, x1 = min(height, top + tile + margin), min(width, left + tile + margin)
        crop = pixels[y0:y1, x0:x1].astype(np.float32) / np.float32(scale)
        # pymatting's resizes are numba-parallel; on small tiles waking the thread pool costs more
        # than the work (measured 4x slower with 2 threads on a busy CPU). The setting is thread-local.
        threads = numba.get_num_threads()
        numba.set_num_threads(1)
        try:
            fg = estimate_foreground_ml(crop, alpha[y0:y1, x0:x1].astype(np.float32))
        finally:
            numba.set_num_threads(threads)
        inner = fg[top - y0:min(height, top + tile) - y0, left - x0:min(width, left + tile) - x0]
        yield slice(top, top + tile), slice(left, left + tile), inner * np.float32(scale)


def warm_up() -> None:
    """Load (or compile, in a fresh install) the numba code of the foreground estimate once.

    Its compiled functions hold the GIL; the first call in a process takes a few hundred ms even
    from numba's cache. The app calls this on a worker while idle, so the first composite of a
    generation does not stall the window.
    """
    alpha = np.zeros((32, 32), np.float32)
    alpha[8:24, 8:24] = 1.0
    alpha[7, 8:24] = 0.5
    for _ in foreground_tiles(np.full((32, 32, 3), 128, np.uint8), alpha, tile=32, margin=4):
        pass
