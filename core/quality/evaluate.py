"""``packshot eval``: the paper's comparison on the user's own photos.

Every chosen engine renders every photo with the same seeds; each result is composited at full
resolution (what the user gets), the product is re-segmented in it and scored against its input
mask; where a CLIP model is present the prompt is scored against the image. Outputs in OUT_DIR:
``results.csv`` (one row per photo x engine x seed), ``summary.md`` (per-engine table) and
``expansion.png`` (per-engine distribution, mean and median); with ``save_images`` also the
composited images and the re-segmented masks under ``images/``.
"""

from __future__ import annotations

import csv
import io
import logging
import math
import statistics
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Optional

import numpy as np

from packshot.core.errors import Cancelled, ImageReadError, ImageWriteError, ModelMissingError, PackshotError
from packshot.core.generation.settings import GenerationSettings
from packshot.core.images import list_photos, load_photo, save_image, write_atomic
from packshot.core.naming import display_name
from packshot.core.progress import CancelToken, Progress, ProgressCallback, check, no_progress
from packshot.core.quality.clip_score import ClipLookup, ClipScorer, find_clip_model
from packshot.core.quality.metric import expansion
from packshot.core.write_guard import WriteGuard

if TYPE_CHECKING:  # pragma: no cover
    from packshot.core.runtime import Runtime

log = logging.getLogger(__name__)

CSV_NAME, MD_NAME, PNG_NAME = "results.csv", "summary.md", "expansion.png"
LOW_IOU = 0.8  # below this mean IoU the summary warns that re-segmentation lost the product
CSV_FIELDS = ("photo", "engine", "seed", "expansion", "expansion_object", "signed", "iou", "input_area",
              "output_area", "flagged", "clip_score", "seconds", "mask_source", "resegmenter", "prompt",
              "image", "error")


_GENERATION = GenerationSettings()


@dataclass
class EvalConfig:
    """What to compare and how."""

    engines: tuple[str, ...] = ("si2", "si2-controlnet")
    seeds: tuple[int, ...] = (0,)
    prompt: Optional[str] = None
    template: Optional[str] = None
    negative_prompt: Optional[str] = None
    steps: int = _GENERATION.steps  # the engines' defaults, declared once in GenerationSettings
    guidance: float = _GENERATION.guidance
    resolution: int = _GENERATION.resolution
    masks_dir: Optional[Path] = None
    masker: str = "auto"  # for photos without a mask file
    resegmenter: str = "auto"  # "auto" (SAM if weights present, else classic), "sam", "classic"
    sam_variant: str = "vit_b"  # for the masker and the SAM re-segmentation
    device: str = "auto"
    threshold: float = 0.10  # QC threshold on expansion_object, for the "flagged" column
    save_images: bool = True
    clip_model: Optional[Path] = None


@dataclass
class EvalRow:
    photo: str
    engine: str
    seed: int
    expansion: Optional[float] = None
    expansion_object: Optional[float] = None
    signed: Optional[float] = None
    iou: Optional[float] = None
    input_area: Optional[int] = None
    output_area: Optional[int] = None
    flagged: Optional[bool] = None
    clip_score: Optional[float] = None
    seconds: Optional[float] = None
    mask_source: str = ""
    resegmenter: str = ""
    prompt: str = ""
    image: str = ""
    error: str = ""


@dataclass
class EngineSummary:
    engine: str
    n: int
    failed: int
    mean_expansion: float
    median_expansion: float
    mean_expansion_object: float
    median_expansion_object: float
    mean_signed: float
    mean_iou: float
    flagged_share: float
    mean_clip: Optional[float]
    mean_seconds: float


@dataclass
class EvalReport:
    rows: list[EvalRow]
    summaries: list[EngineSummary]
    csv_path: Path
    md_path: Path
    png_path: Path
    clip: ClipLookup
    resegmenter: str
    notes: list[str] = field(default_factory=list)


# ------------------------------------------------------------------------------------------------
def run_eval(photos_dir: Path | str, out_dir: Path | str, config: EvalConfig,
             runtime: Runtime, progress: ProgressCallback = no_progress,
             cancel: Optional[CancelToken] = None) -> EvalReport:
    """Render, score and tabulate; see the module docstring. Raises before any work if a model is missing.

    Models come from ``runtime``."""
    from packshot.core.generation.composite import composite
    from packshot.core.generation.engines import engine_for
    from packshot.core.generation.settings import GenerationSettings
    from packshot.core.masking.maskers import build_masker
    from packshot.core.quality.resegment import build_resegmenter
    from packshot.core.templates import check_variables, photo_variables, resolve_prompt

    photos_dir, out_dir = Path(photos_dir), Path(out_dir)
    if not config.engines:
        raise PackshotError("No engines to evaluate: pass at least one with --engines.")
    if not config.seeds:
        raise PackshotError("No seeds: pass at least one with --seeds.")
    photos = list_photos(photos_dir)
    if not photos:
        raise ImageReadError(f"No photos found in {photos_dir}.")
    store = runtime.store
    template = resolve_prompt(config.template, config.prompt, config.negative_prompt)
    check_variables(template, photos)
    # Everything that can be missing is checked now, not after an hour of rendering.
    if config.masks_dir is not None and not Path(config.masks_dir).is_dir():
        raise ImageReadError(f"--masks folder not found: {config.masks_dir}")
    try:
        engines = {name: engine_for(runtime, name.split("@")[0], config.device, *name.split("@")[1:2]) for name in config.engines}  # "si2-controlnet@MODEL": another model
    except ValueError as exc:  # unknown engine name
        raise PackshotError(str(exc)) from exc
    missing = [m for e in engines.values() if e.needs_models for m in e.model_ids if not store.available(m)]
    if missing:
        raise ModelMissingError(" ".join(store.missing_message(m) for m in dict.fromkeys(missing)))
    resegmenter = build_resegmenter(config.resegmenter, runtime, sam_variant=config.sam_variant,
                                    device=config.device)
    masker = None  # built on first need: a masks folder may cover every photo
    clip = find_clip_model(store, config.clip_model)
    scorer = ClipScorer(clip.folder) if clip.folder is not None else None
    if scorer is None:
        log.warning("CLIP score: %s", clip.describe())
    for name, engine in engines.items():
        if engine.needs_models:  # load now, so "seconds per image" times generation, not loading
            progress(Progress("eval", 0, 0, f"loading {name} models"))
            engine.models()
    images_dir = out_dir / "images"
    # The comparison's files go through the write guard like every other write: never a photo, never
    # outside OUT. They carry no recipe; names this specific are taken as an earlier comparison's.
    guard = WriteGuard(out_dir, inputs=[photos_dir, *photos])
    for report in (CSV_NAME, MD_NAME, PNG_NAME):
        guard.check(out_dir / report, overwrite=True, key_of=_eval_file)
    notes: list[str] = []
    from packshot.core.generation.upscale import pass_note  # the learned upscale, as the batch runs it here

    probe = GenerationSettings(steps=config.steps, guidance=config.guidance, resolution=config.resolution)
    notes.extend(note for name, engine in engines.items() if (note := pass_note(name, engine, probe)))

    rows: list[EvalRow] = []
    total = len(photos) * len(engines) * len(config.seeds)
    done = 0
    for photo_path in photos:
        check(cancel)
        try:
            photo = load_photo(photo_path)
            mask_result, mask_source = _input_mask(photo, photo_path, config.masks_dir)
            if mask_result is None:
                masker = masker or build_masker(config.masker, runtime, config.sam_variant, config.device)
                mask_result = masker.compute(photo, cancel=cancel)
                mask_source = f"auto:{mask_result.source}"
        except ImageReadError as exc:
            for name in engines:
                for seed in config.seeds:
                    rows.append(EvalRow(display_name(photo_path.name), name, seed, error=str(exc)))
            done += len(engines) * len(config.seeds)
            progress(Progress("eval", done, total, f"{display_name(photo_path.name)}: {exc}"))
            continue
        prompt, negative = template.fill(photo_variables(photo_path))
        for name, engine in engines.items():
            for seed in config.seeds:
                check(cancel)
                progress(Progress("eval", done, total, f"{display_name(photo_path.name)} · {name} · seed {seed}"))
                row = EvalRow(display_name(photo_path.name), name, seed, mask_source=mask_source,
                              resegmenter=resegmenter.name, prompt=prompt)
                try:
                    settings = GenerationSettings(prompt=prompt, negative_prompt=negative, steps=config.steps,
                                                  guidance=config.guidance, seed=seed, variants=1,
                                                  resolution=config.resolution)
                    start = time.perf_counter()
                    background = engine.render(photo, mask_result, settings, cancel=cancel)[0]
                    row.seconds = time.perf_counter() - start
                    image = composite(photo, mask_result.alpha, background)
                    m_out = resegmenter.segment(image, mask_result.mask, cancel=cancel)
                    score = expansion(mask_result.mask, m_out)
                    row.expansion, row.expansion_object = score.expansion, score.expansion_object
                    row.signed, row.iou = score.signed, score.iou
                    row.input_area, row.output_area = score.input_area, score.output_area
                    row.flagged = score.expansion_object > config.threshold
                    if scorer is not None and prompt.strip():
                        row.clip_score = scorer.score(image, prompt)
                    if config.save_images:
                        stem = f"{photo_path.stem}__{name}__s{seed}"
                        guard.check(images_dir / f"{stem}.png", overwrite=True, key_of=_eval_file)
                        save_image(images_dir / f"{stem}.png", image, icc_profile=photo.icc_profile)
                        save_image(images_dir / f"{stem}.mask.png",
                                   np.repeat((m_out.astype(np.uint8) * 255)[:, :, None], 3, axis=2))
                        row.image = display_name(f"images/{stem}.png")  # text: odd bytes escaped
                except (ImageWriteError, Cancelled):
                    raise  # a full or read-only output disk fails every row alike: stop and say so
                except (PackshotError, ValueError) as exc:  # one bad result never stops the comparison
                    row.error = str(exc)
                rows.append(row)
                done += 1
    progress(Progress("eval", total, total, "writing report"))
    if scorer is not None and not any(r.prompt.strip() for r in rows):
        notes.append("CLIP score needs a prompt; none was given (--prompt or --template).")
    if config.masks_dir is not None:
        auto = sorted({r.photo for r in rows if r.mask_source.startswith("auto")})
        if auto:
            notes.append(f"{len(auto)} photo(s) had no mask file in {config.masks_dir} and used an automatic "
                         f"mask: {', '.join(auto[:10])}{' ...' if len(auto) > 10 else ''}.")
    summaries = summarise(rows, list(engines))
    out_dir.mkdir(parents=True, exist_ok=True)
    csv_path = write_csv(out_dir / CSV_NAME, rows)
    md_path = write_markdown(out_dir / MD_NAME, summaries, rows, config, clip, resegmenter.name, notes)
    png_path = write_plot(out_dir / PNG_NAME, rows, list(engines))
    return EvalReport(rows, summaries, csv_path, md_path, png_path, clip, resegmenter.name, notes)


def _input_mask(photo: Any, photo_path: Path, masks_dir: Optional[Path]) -> tuple[Any, str]:
    """The reviewed mask from ``masks_dir`` (IOPaint naming) or (None, "") when there is none."""
    if masks_dir is None:
        return None, ""
    from packshot.core.jobs import (
        load_mask_file,  # the batch job's reader: eval sees masks exactly as batch does
    )

    path = Path(masks_dir) / f"{photo_path.stem}.png"
    if not path.is_file():
        return None, ""
    return load_mask_file(path, photo.size, source="file"), "file"


# ------------------------------------------------------------------------------------------------
def summarise(rows: list[EvalRow], engines: list[str]) -> list[EngineSummary]:
    """Per-engine statistics over the rows that scored (failed rows counted apart)."""
    out = []
    for name in engines:
        ok = [r for r in rows if r.engine == name and not r.error]
        failed = sum(1 for r in rows if r.engine == name and r.error)
        if not ok:
            out.append(EngineSummary(name, 0, failed, *([math.nan] * 7), None, math.nan))
            continue
        e = [r.expansion for r in ok]
        eo = [r.expansion_object for r in ok]
        clips = [r.clip_score for r in ok if r.clip_score is not None]
        out.append(EngineSummary(
            engine=name, n=len(ok), failed=failed,
            mean_expansion=statistics.fmean(e), median_expansion=statistics.median(e),
            mean_expansion_object=statistics.fmean(eo), median_expansion_object=statistics.median(eo),
            mean_signed=statistics.fmean(r.signed for r in ok), mean_iou=statistics.fmean(r.iou for r in ok),
            flagged_share=sum(bool(r.flagged) for r in ok) / len(ok),
            mean_clip=statistics.fmean(clips) if clips else None,
            mean_seconds=statistics.fmean(r.seconds for r in ok),
        ))
    return out


def _eval_file(_path: Path) -> str:
    """The write guard's "who made it" for eval's own report and image names (they carry no recipe)."""
    return "eval"


def write_csv(path: Path, rows: list[EvalRow]) -> Path:
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=CSV_FIELDS)
    writer.writeheader()
    for row in rows:
        record = asdict(row)
        writer.writerow({k: ("" if record[k] is None else record[k]) for k in CSV_FIELDS})
    return write_atomic(path, buffer.getvalue().encode("utf-8"))


def _pct(x: Optional[float], digits: int = 2) -> str:
    return "-" if x is None or (isinstance(x, float) and math.isnan(x)) else f"{100 * x:.{digits}f}"


def write_markdown(path: Path, summaries: list[EngineSummary], rows: list[EvalRow], config: EvalConfig,
                   clip: ClipLookup, resegmenter: str, notes: list[str]) -> Path:
    photos = sorted({r.photo for r in rows})
    lines = [
        "# Object expansion",
        "",
        f"{len(photos)} photo(s) x {len(config.seeds)} seed(s) {list(config.seeds)}; {config.steps} steps; "
        f"re-segmentation: {resegmenter}; masks: {config.masks_dir or 'automatic (' + config.masker + ')'}.",
        "E = area(output object outside the input mask) (paper: area(m_out ∪ m_in) - area(m_in)); "
        "signed = mean(out) - mean(in) (authors' notebook); measured on the composited result.",
        "",
        "| engine | n | failed | mean E (% image) | median E (% image) | mean E (% object) | "
        "median E (% object) | mean signed (% image) | mean IoU | flagged (> "
        f"{100 * config.threshold:g} % of object) | CLIP score | s / image |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for s in summaries:
        clip_cell = f"{s.mean_clip:.2f}" if s.mean_clip is not None else "n/a"
        lines.append(
            f"| {s.engine} | {s.n} | {s.failed} | {_pct(s.mean_expansion, 3)} | {_pct(s.median_expansion, 3)} | "
            f"{_pct(s.mean_expansion_object)} | {_pct(s.median_expansion_object)} | {_pct(s.mean_signed, 3)} | "
            f"{'-' if math.isnan(s.mean_iou) else f'{s.mean_iou:.3f}'} | {_pct(s.flagged_share, 0)} % | "
            f"{clip_cell} | {'-' if math.isnan(s.mean_seconds) else f'{s.mean_seconds:.2f}'} |")
    lines.append("")
    by_name = {s.engine: s for s in summaries}
    if "si2" in by_name and "si2-controlnet" in by_name:
        a, b = by_name["si2"].mean_expansion, by_name["si2-controlnet"].mean_expansion
        if b > 0 and not math.isnan(a):
            lines.append(f"si2 expands the object {a / b:.2f}x as much as si2-controlnet (mean E); "
                         "the paper reports 3.6x on its benchmark.")
        elif not math.isnan(a):
            lines.append("si2-controlnet showed no expansion at all (mean E = 0); no ratio.")
        lines.append("")
    ablation = next((s for s in summaries if s.engine.split("@")[0] == "sd2-controlnet"), None)
    if ablation is not None and "si2-controlnet" in by_name:  # the paper's Table 3: SD2 + ControlNet vs SI2 + ControlNet
        a, b = ablation.mean_expansion, by_name["si2-controlnet"].mean_expansion
        if b > 0 and not math.isnan(a):
            lines += [f"{ablation.engine} (SD2 + ControlNet, the paper's ablation) expands the object {a / b:.2f}x "
                      "as much as si2-controlnet (mean E); the paper reports SI2 + ControlNet ahead.", ""]
    for s in summaries:
        # The re-segmentation lost much of the product: E counts only growth, so it would look good.
        if s.n and s.mean_iou < LOW_IOU and s.mean_signed < 0:
            lines += [f"Warning: for {s.engine} the re-segmented product overlaps its input mask poorly "
                      f"(mean IoU {s.mean_iou:.2f}, area shrank by {-100 * s.mean_signed:.2f} % of the image): "
                      f"the re-segmentation ({resegmenter}) missed product, so E may understate expansion."
                      + (" SAM re-segmentation (--reseg sam) is more reliable." if resegmenter == "classic" else ""),
                      ""]
    lines.append("CLIP score (100 x max(cos, 0), prompt vs composited image): "
                 + (f"model {clip.folder}." if clip.folder else clip.describe()))
    for note in notes:
        lines.append(f"\nNote: {note}")
    errors = [r for r in rows if r.error]
    if errors:
        lines += ["", "## Failures", ""]
        lines += [f"- {r.photo} / {r.engine} / seed {r.seed}: {r.error}" for r in errors]
    lines += ["", f"Per-result numbers: {CSV_NAME}; plot: {PNG_NAME}.", ""]
    return write_atomic(path, "\n".join(lines).encode("utf-8"))


def write_plot(path: Path, rows: list[EvalRow], engines: list[str]) -> Path:
    """Distribution of E per engine (% of image and % of object) with mean and median marked."""
    import matplotlib

    matplotlib.use("Agg")  # no display; the CLI may run on a headless server
    from matplotlib.figure import Figure

    fig = Figure(figsize=(4 + 1.6 * len(engines), 4.2), dpi=110, layout="constrained")
    axes = fig.subplots(1, 2)
    rng = np.random.default_rng(0)  # jitter of the dots only
    for ax, key, label in ((axes[0], "expansion", "E, % of image"), (axes[1], "expansion_object", "E, % of object")):
        data = [[100 * getattr(r, key) for r in rows if r.engine == e and not r.error] for e in engines]
        positions = list(range(1, len(engines) + 1))
        filled = [(p, d) for p, d in zip(positions, data) if d]
        if filled:
            ax.boxplot([d for _, d in filled], positions=[p for p, _ in filled], widths=0.5, showmeans=True,
                       meanprops={"marker": "^", "markerfacecolor": "tab:red", "markeredgecolor": "tab:red"},
                       medianprops={"color": "tab:blue"}, showfliers=False)
            for p, d in filled:
                ax.scatter(p + rng.uniform(-0.12, 0.12, len(d)), d, s=10, alpha=0.6, color="0.3", zorder=3)
                ax.annotate(f"mean {statistics.fmean(d):.2f}\nmedian {statistics.median(d):.2f}", (p, max(d)),
                            textcoords="offset points", xytext=(0, 6), ha="center", fontsize=7)
        ax.set_xticks(positions, engines, rotation=15)
        ax.set_ylabel(label)
        ax.set_xlim(0.4, len(engines) + 0.6)
        ax.margins(y=0.2)
        ax.grid(axis="y", alpha=0.3)
    fig.suptitle("Object expansion per engine (box: quartiles, line: median, triangle: mean)", fontsize=9)
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png")
    return write_atomic(path, buffer.getvalue())
