"""The detail pass (``--detail repaint``): a low-strength, tiled img2img of the same model over the upscaled
background, so textures are painted at the output's size rather than only enlarged.

Each tile (the engine's canvas size, overlapping its neighbours by ``OVERLAP`` pixels) is the upscaled
background with the product's own pixels where the product is, and the same soft generate-mask as the
first pass: the model repaints only background, and the product is pasted back bit-exact afterwards
(``packshot.core.generation.composite``). Tiles are cross-faded over their overlap. Every tile has its own seed,
derived from the variant's, so a replay paints the same.

What ``--detail auto`` means is one pure function of (engine, device kind, quality): ``resolve_detail``. Its
answer, not ``auto``, is what a final render runs and what its recipe records, so a replay on another device
runs the recorded pass rather than choosing again.
"""

from __future__ import annotations

import inspect
from typing import Any, Callable, Optional

import numpy as np

from packshot.core.progress import CancelToken, Progress, check

REPAINT_ENGINES = ("si2-controlnet", "si2")  # their pipeline starts from an image; sd2-controlnet's does not
GPU_KINDS = ("cuda", "mps")  # devices the detail pass is meant for (minutes per photo on a CPU)
REPAINT_STRENGTH = 0.3  # the share of the denoising schedule repainted: detail, not a new background
OVERLAP = 64  # output pixels two neighbouring tiles share (cross-faded; at most a quarter of a tile)
SEED_SPAN = 2**32


def resolve_detail(requested: str, engine: str, device_type: str, quality: str) -> str:
    """The pass a render runs: "off" (bicubic), "upscale" or "repaint", from the ``--detail`` asked for, the
    engine, the device kind ("cpu", "cuda", "cuda:1", "mps") and the quality. Pure: no model store, no device probe.

    ``auto`` gives what a user of that device should get: the detail pass on a GPU (CUDA or MPS) for the
    engines that can run it, the learned upscale alone on the CPU (its time fits the preview budget; the
    detail pass's does not). Previews and engines that paint at the photo's size never upscale; ``repaint``
    asked of an engine that cannot start from an image is its upscale."""
    from packshot.core.generation.upscale import UPSCALED_ENGINES

    if str(quality) != "final" or engine not in UPSCALED_ENGINES or str(requested) == "off":
        return "off"
    if str(requested) == "auto":
        gpu = str(device_type).split(":")[0] in GPU_KINDS
        return "repaint" if gpu and engine in REPAINT_ENGINES else "upscale"
    return "repaint" if str(requested) == "repaint" and engine in REPAINT_ENGINES else "upscale"


def auto_detail_text(engine: str, device_type: str) -> str:
    """What ``--detail auto`` means for ``engine`` at final quality on ``device_type``, in a few words (the
    app's Background step and Results' "Render final" show it)."""
    kind = str(device_type).split(":")[0]
    where = {"cuda": "this GPU (CUDA)", "mps": "this GPU (MPS)"}.get(kind, "this CPU")
    detail = resolve_detail("auto", engine, device_type, "final")
    if detail == "off":
        return f"auto: no upscale ({engine} paints at the photo's size)"
    if detail == "repaint":
        return f"auto on {where}: learned upscale + detail pass (repaint)"
    return f"auto on {where}: learned upscale, no detail pass"


def supports_repaint(pipeline: Any) -> bool:
    """True for a pipeline that can start from an image (``strength``): the SI2 (+ ControlNet) pipeline."""
    try:
        return "strength" in inspect.signature(pipeline.__call__).parameters
    except (TypeError, ValueError):
        return False


def tile_starts(length: int, tile: int, overlap: int = OVERLAP) -> list[int]:
    """Starts of ``tile``-long windows covering ``range(length)``, neighbours overlapping by at least ``overlap``."""
    if length <= tile:
        return [0]
    step = max(8, tile - overlap)
    starts = list(range(0, length - tile, step))
    return starts + [length - tile]


def _weights(start: int, end: int, length: int, overlap: int) -> np.ndarray:
    """1 inside, rising over ``overlap`` pixels from an edge shared with a neighbour (never 0)."""
    pos = np.arange(start, end, dtype=np.float32)
    w = np.ones(end - start, np.float32)
    if start > 0:
        w = np.minimum(w, (pos - start + 0.5) / overlap)
    if end < length:
        w = np.minimum(w, (end - pos - 0.5) / overlap)
    return np.clip(w, 1e-3, 1.0)


def _padded(array: np.ndarray, multiple: int) -> np.ndarray:
    """``array`` padded at its bottom and right (edge values) to a multiple of ``multiple``."""
    ph, pw = (-array.shape[0]) % multiple, (-array.shape[1]) % multiple
    pad = ((0, ph), (0, pw)) + ((0, 0),) * (array.ndim - 2)
    return np.pad(array, pad, mode="edge") if ph or pw else array


def repaint(pipeline: Any, photo_rgb: np.ndarray, product: np.ndarray, background: np.ndarray, settings: Any,
            seed: int, *, controlnet_scale: float, tile: int, cancel: Optional[CancelToken] = None,
            report: Callable[[Progress], None] = lambda _p: None, label: str = "detail") -> np.ndarray:
    """``background`` (H x W x 3 uint8, already upscaled to the photo's size) with its detail repainted.

    ``photo_rgb``: the photo at the same size; ``product``: its soft product map (1 = product)."""
    height, width = background.shape[:2]
    solid = product >= 0.5
    image = np.where(solid[..., None], photo_rgb, background)
    generate = np.clip(1.0 - product, 0.0, 1.0).astype(np.float32)
    tile = max(64, tile - tile % 8)
    overlap = min(OVERLAP, tile // 4)
    ys, xs = tile_starts(height, tile, overlap), tile_starts(width, tile, overlap)
    total = np.zeros((height, width, 3), np.float32)
    weight = np.zeros((height, width, 1), np.float32)
    count = len(ys) * len(xs)
    for k, (y0, x0) in enumerate((y, x) for y in ys for x in xs):
        check(cancel)
        report(Progress("detail", k, count, f"{label}: detail pass, tile {k + 1} of {count}"))
        y1, x1 = min(height, y0 + tile), min(width, x0 + tile)
        mask = generate[y0:y1, x0:x1]
        if mask.max() < 0.5:  # all product: nothing to repaint here
            painted = background[y0:y1, x0:x1].astype(np.float32)
        else:
            tile_seed = (int(seed) * 1_000_003 + k + 1) % SEED_SPAN
            out = pipeline(_padded(image[y0:y1, x0:x1], 8), _padded(mask, 8), prompt=settings.prompt,
                           negative_prompt=settings.negative_prompt, seeds=[tile_seed], steps=settings.steps,
                           guidance=settings.guidance, controlnet_scale=controlnet_scale,
                           scheduler=settings.scheduler, strength=REPAINT_STRENGTH)[0]
            painted = out[:y1 - y0, :x1 - x0].astype(np.float32)
        w = (_weights(y0, y1, height, overlap)[:, None] * _weights(x0, x1, width, overlap)[None, :])[..., None]
        total[y0:y1, x0:x1] += painted * w
        weight[y0:y1, x0:x1] += w
    report(Progress("detail", count, count, f"{label}: detail pass done"))
    return np.clip(np.rint(total / weight), 0, 255).astype(np.uint8)
