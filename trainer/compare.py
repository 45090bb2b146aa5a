"""Base vs fine-tuned on the held-out photos, through core's ``packshot eval`` (``run_eval``).

The held-out photos and their masks are linked into ``<run>/heldout`` so that eval reads exactly
what training never saw; the report (results.csv, summary.md, expansion.png) lands in ``<run>/eval``.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

from packshot.trainer.dataset import Sample


def _link(src: Path, dst: Path) -> None:
    dst.parent.mkdir(parents=True, exist_ok=True)
    dst.unlink(missing_ok=True)
    try:
        os.link(src, dst)
    except OSError:
        shutil.copy2(src, dst)


def compare_models(heldout: list[Sample], work: Path, runtime, base_id: str, trained_id: str, *, resolution: int,
                   steps: int, seeds: tuple[int, ...], prompt: str, device: str = "auto", progress=None,
                   cancel=None, mode: str = "controlnet") -> dict:
    """Run eval on ``si2-controlnet`` (base) and ``si2-controlnet@trained_id``; a JSON-able summary.

    For the ablation (``mode`` sd2-controlnet) the base, SD2 base, has no ControlNet to render with: the
    comparison is the paper's Table 3 instead, the paper's SI2 + ControlNet (when present) vs ``sd2-controlnet@trained_id``.
    """
    from packshot.core.quality.evaluate import EvalConfig, run_eval

    photos, masks = work / "heldout" / "photos", work / "heldout" / "masks"
    shutil.rmtree(work / "heldout", ignore_errors=True)
    for sample in heldout:
        _link(sample.photo, photos / sample.photo.name)
        _link(sample.mask_png, masks / f"{sample.photo.stem}.png")
    if mode == "sd2-controlnet":
        paper = runtime.store.available("photo-background-generation")
        engines = (("si2-controlnet",) if paper else ()) + (f"sd2-controlnet@{trained_id}",)
        base_id = "photo-background-generation, SI2 + ControlNet" if paper else base_id
    else:
        base_engine = "si2-controlnet" if base_id == "photo-background-generation" else f"si2-controlnet@{base_id}"
        engines = (base_engine, f"si2-controlnet@{trained_id}")
    config = EvalConfig(engines=engines, seeds=tuple(seeds), prompt=prompt, steps=steps, resolution=resolution,
                        masks_dir=masks, device=device, save_images=True)
    kwargs = {"progress": progress} if progress else {}
    report = run_eval(photos, work / "eval", config, runtime, cancel=cancel, **kwargs)
    labels = {engines[0]: f"base ({base_id})", engines[-1]: f"fine-tuned ({trained_id})"}
    rows = [{"model": labels.get(s.engine, s.engine), "engine": s.engine, "n": s.n, "failed": s.failed,
             "mean_expansion": s.mean_expansion, "median_expansion": s.median_expansion,
             "mean_iou": s.mean_iou, "mean_clip": s.mean_clip, "mean_seconds": s.mean_seconds}
            for s in report.summaries]
    return {"rows": rows, "summary_md": str(report.md_path), "csv": str(report.csv_path),
            "plot": str(report.png_path), "notes": list(report.notes)}
