"""The product's own colour under a soft edge, without the old backdrop mixed in.

A photo's edge pixel is ``I = a * F + (1 - a) * B``: part product (F), part the backdrop it was shot
on (B). Blending ``I`` onto a new background carries that B along (a beige rim on white). We
estimate F with pymatting's multilevel foreground estimator (Germer et al. 2020) and blend F
instead. Only tiles that hold soft-edge pixels (0 < a < 1) are estimated, each with a margin of
context, so the cost follows the outline's length, not the photo's area (a 24 MP photo has the
same few thousand edge tiles' worth of work as its outline needs, and no full-size float copy).
"""

from __future__ import annotations

import hashlib
import importlib.metadata
import importlib.util
import logging
import os
import sys
import threading
import time
from pathlib import Path
from typing import Callable, Iterator

import numpy as np

log = logging.getLogger(__name__)

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
    # numba code: loaded (compiled, the first time ever) only when a photo actually has a soft edge
    import numba

    estimate_foreground_ml = foreground_estimator()
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


ESTIMATOR_MODULE = "pymatting.foreground.estimate_foreground_ml"
FIRST_USE_MESSAGE = ("Preparing edge matting for first use: compiling its code takes a few seconds "
                     "(up to a minute on a slow or busy computer), once per install.")
_load_lock = threading.Lock()


def foreground_estimator() -> Callable[..., np.ndarray]:
    """pymatting's ``estimate_foreground_ml``, loaded once per process; compiled once per install.

    pymatting's package ``__init__`` imports every submodule, and each of its ~30 numba functions
    has an explicit signature, so importing the package compiles all of them: 31-45 s on a fresh
    install (2 cores). We use 3 of them, in one module that needs only numpy and numba: that module
    is loaded on its own (about 4 s to compile, read from numba's cache afterwards). It is registered
    under its own name, so numba's cached code (which names its module) is shared with
    ``import pymatting``. A first compile says so (a warning: the CLI shows it) and leaves a marker.
    """
    loaded = sys.modules.get(ESTIMATOR_MODULE)
    if loaded is not None and hasattr(loaded, "estimate_foreground_ml"):
        return loaded.estimate_foreground_ml
    with _load_lock:  # the app's idle warm-up and a generation's composite may race here
        loaded = sys.modules.get(ESTIMATOR_MODULE)
        if loaded is not None and hasattr(loaded, "estimate_foreground_ml"):
            return loaded.estimate_foreground_ml
        first = needs_preparing()
        if first:
            log.warning("%s", FIRST_USE_MESSAGE)
        started = time.perf_counter()
        module = _load_estimator_module()
        if first:
            log.info("Edge matting prepared in %.1f s.", time.perf_counter() - started)
            _write_marker()
        return module.estimate_foreground_ml


def _estimator_source() -> Path | None:
    """The estimator module's file, found without running pymatting's package ``__init__``."""
    spec = importlib.util.find_spec("pymatting")
    if spec is None or not spec.submodule_search_locations:
        return None
    path = Path(list(spec.submodule_search_locations)[0]) / "foreground" / "estimate_foreground_ml.py"
    return path if path.is_file() else None


def _load_estimator_module():
    source = _estimator_source()
    if source is None:  # a pymatting laid out differently: the whole package, slower the first time
        return importlib.import_module(ESTIMATOR_MODULE)
    spec = importlib.util.spec_from_file_location(ESTIMATOR_MODULE, source)
    module = importlib.util.module_from_spec(spec)
    sys.modules[ESTIMATOR_MODULE] = module  # numba's cache reloads its environment by module name
    try:
        spec.loader.exec_module(module)  # type: ignore[union-attr]
    except BaseException:
        sys.modules.pop(ESTIMATOR_MODULE, None)
        raise
    return module


def needs_preparing() -> bool:
    """True when this install has not compiled the edge-matting code yet (cheap: no numba import)."""
    marker = _marker_path()
    return marker is None or not marker.exists()


def _marker_path() -> Path | None:
    """A file beside numba's cache saying "compiled here", named after everything that invalidates it
    (Python, numba and pymatting versions, the source file, the cache folder)."""
    source = _estimator_source()
    if source is None:
        return None
    stat = source.stat()
    cache_dir = os.environ.get("NUMBA_CACHE_DIR", "")
    parts = [sys.version, _version("numba"), _version("pymatting"), str(source), str(stat.st_mtime_ns),
             str(stat.st_size), cache_dir]
    key = hashlib.sha256("|".join(parts).encode()).hexdigest()[:16]
    in_tree = source.parent / "__pycache__"
    if not cache_dir and os.access(in_tree if in_tree.is_dir() else source.parent, os.W_OK):
        folder = in_tree  # where numba keeps the compiled code itself
    else:
        import platformdirs

        folder = Path(platformdirs.user_cache_dir("packshot")) / "numba"
    return folder / f"packshot-matting-ready-{key}"


def _version(package: str) -> str:
    try:
        return importlib.metadata.version(package)
    except importlib.metadata.PackageNotFoundError:
        return "?"


def _write_marker() -> None:
    marker = _marker_path()
    if marker is None:
        return
    try:
        marker.parent.mkdir(parents=True, exist_ok=True)
        marker.write_text("numba code of pymatting's estimate_foreground_ml is compiled and cached\n")
    except OSError as exc:  # only the first-use message repeats; nothing else depends on it
        log.info("Cannot record that edge matting is prepared (%s): %s", marker, exc)


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
