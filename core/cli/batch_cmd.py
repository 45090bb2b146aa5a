"""``packshot batch INPUT_DIR --out OUT_DIR``: a folder of product photos in, finished shots out.

Resumable (the project store in OUT_DIR remembers what is done), one bad file never stops the
batch, and under ``accelerate launch`` the photos are split across the processes.
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import sys
from pathlib import Path
from typing import Any, Callable, Optional, Sequence

from core.errors import PackshotError
from core.jobs import ENGINES, BatchJob, BatchSummary, JobSettings, PhotoOutcome
from core.naming import DEFAULT_NAME_TEMPLATE, OUTPUT_FORMATS
from core.progress import CancelToken, Progress

EXIT_OK, EXIT_FAILED, EXIT_USAGE, EXIT_CANCELLED = 0, 1, 2, 130


def _colour(text: str) -> tuple[int, int, int]:
    """'#f0f0f0', 'f0f0f0' or '240,240,240'."""
    value = text.strip()
    hex_match = re.fullmatch(r"#?([0-9a-fA-F]{6})", value)
    if hex_match:
        raw = hex_match.group(1)
        return int(raw[0:2], 16), int(raw[2:4], 16), int(raw[4:6], 16)
    parts = [p.strip() for p in value.split(",")]
    if len(parts) == 3 and all(p.isdigit() and int(p) <= 255 for p in parts):
        return int(parts[0]), int(parts[1]), int(parts[2])
    raise argparse.ArgumentTypeError(f"'{text}' is not a colour: use #RRGGBB or R,G,B (0-255).")


def _positive(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1 (got {value})")
    return value


def _non_negative(text: str) -> int:
    value = int(text)
    if value < 0:
        raise argparse.ArgumentTypeError(f"must be 0 or more (got {value})")
    return value


def register(subparsers: Any) -> None:
    p = subparsers.add_parser(
        "batch", help="put new backgrounds behind every photo in a folder",
        description="Masks each photo, generates or paints a background behind the untouched product, and "
                    "writes finished shots to OUT_DIR. Re-running resumes where it stopped.",
        epilog="Templates: see resources/templates.json (e.g. --template marble). Prompt variables: {name} "
               "(from the file name), {caption} and any column of the --vars CSV keyed by file name.")
    p.add_argument("input_dir", metavar="INPUT_DIR", type=Path, nargs="?",
                   help="folder of JPEG/PNG/WebP/TIFF/HEIC photos")
    p.add_argument("--out", dest="out_dir", metavar="OUT_DIR", type=Path,
                   help="output folder (created; holds the project store .packshot/)")
    p.add_argument("--list-templates", action="store_true", help="print the prompt templates and exit")
    g = p.add_argument_group("prompt")
    g.add_argument("--template", help="named prompt template (studio, marble, kitchen-counter, ...)")
    g.add_argument("--prompt", help="prompt text; may use {name}, {caption} and CSV variables")
    g.add_argument("--negative", help="negative prompt (overrides the template's)")
    g.add_argument("--vars", dest="variables_csv", metavar="CSV", help="per-photo variables, keyed by file name")
    g = p.add_argument_group("background")
    g.add_argument("--engine", choices=ENGINES, default="auto",
                   help="auto: the paper's SI2+ControlNet when its weights are present, else white")
    g.add_argument("--color", type=_colour, default=(255, 255, 255), help="colour for --engine color")
    g.add_argument("--background-image", metavar="FILE", help="picture for --engine image")
    g.add_argument("--variants", type=_positive, default=1, help="images per photo (default 1)")
    g.add_argument("--seed", type=int, default=0, help="seed of the first variant (variant k: seed+k)")
    g.add_argument("--steps", type=_positive, default=20)
    g.add_argument("--guidance", type=float, default=7.5)
    g.add_argument("--controlnet-scale", type=float, default=1.0)
    g.add_argument("--model", metavar="MODEL_ID",
                   help="ControlNet model for si2-controlnet: the paper's by default, or one made with "
                        "`packshot train` (see `packshot models list`)")
    g.add_argument("--scheduler", choices=("unipc", "ddim", "euler", "dpm++"), default="unipc")
    g.add_argument("--resolution", type=int, default=512, help="generation size (multiple of 8)")
    g.add_argument("--shadow", choices=("none", "drop", "contact"), default="none", help="synthetic shadow")
    g = p.add_argument_group("masks")
    g.add_argument("--masks", dest="masks_dir", metavar="DIR",
                   help="reviewed masks named like the photos (<stem>.png, white = product; masks written by "
                        "`packshot masks --white background` are recognised and read the right way round)")
    g.add_argument("--masker", choices=("auto", "sam", "classic"), default="auto")
    g.add_argument("--prior", choices=("auto", "classic", "isnet", "birefnet", "birefnet-lite"), default="auto",
                   help="salient prior that seeds the mask (auto: BiRefNet, else IS-Net, when present)")
    g.add_argument("--sam", dest="sam_variant", choices=("vit_b", "vit_l", "vit_h"), default="vit_b")
    g = p.add_argument_group("output")
    from core.generation.presets import PRESETS

    g.add_argument("--size", dest="preset", choices=list(PRESETS), default="original",
                   help="; ".join(f"{p.name}: {p.description}" for p in PRESETS.values()).replace("%", "%%"))
    g.add_argument("--name", dest="name_template", default=DEFAULT_NAME_TEMPLATE,
                   help="output name template: {stem} {name} {engine} {template} {variant} {seed} {ext}")
    g.add_argument("--format", dest="output_format", choices=sorted(set(OUTPUT_FORMATS)), default="png",
                   help="png carries the recipe inside; other formats get a .recipe.json sidecar")
    done = g.add_mutually_exclusive_group()
    done.add_argument("--skip-done", dest="redo", action="store_false", default=False,
                      help="skip photos already finished with these settings (default)")
    done.add_argument("--redo", dest="redo", action="store_true", help="make every photo again")
    g.add_argument("--dry-run", action="store_true", help="show what would be done; write nothing")
    g = p.add_argument_group("quality control")
    g.add_argument("--qc-threshold", type=float, default=None,
                   help="flag results whose object expansion exceeds this fraction (default 0.10 for "
                        "generated backgrounds; setting it also checks plain ones)")
    g.add_argument("--qc-retries", type=_non_negative, default=0, help="regenerate flagged results N times")
    g = p.add_argument_group("machine")
    g.add_argument("--models-dir", help="folder holding model folders (<dir>/<model id>/...)")
    g.add_argument("--device", default="auto", help="auto, cpu, cuda or cuda:N")
    g.add_argument("--no-progress", action="store_true", help="no progress bar; one line per photo")
    p.set_defaults(func=run_batch)


def settings_from_args(args: argparse.Namespace) -> JobSettings:
    return JobSettings(
        engine=args.engine, template=args.template, prompt=args.prompt, negative=args.negative,
        variables_csv=args.variables_csv, variants=args.variants, seed=args.seed, steps=args.steps,
        guidance=args.guidance, controlnet_scale=args.controlnet_scale, scheduler=args.scheduler,
        resolution=args.resolution, color=tuple(args.color), background_image=args.background_image,
        preset=args.preset, shadow=None if args.shadow == "none" else args.shadow, masker=args.masker,
        prior=args.prior, sam_variant=args.sam_variant, masks_dir=args.masks_dir, qc_threshold=args.qc_threshold,
        qc_retries=args.qc_retries, name_template=args.name_template, output_format=args.output_format,
        redo=args.redo, device=args.device, models_dir=args.models_dir, model=args.model)


class Distributed:
    """This process's place among ``accelerate launch`` workers (one process: index 0 of 1)."""

    def __init__(self, device: str = "auto") -> None:
        self.index, self.count = 0, 1
        self._state: Any = None
        if int(os.environ.get("WORLD_SIZE", "1")) > 1:
            # Only under a launcher: accelerate (and torch.distributed) are heavy to import.
            import torch
            from accelerate import PartialState

            # Without CUDA (or asked for the CPU) the processes talk over gloo; accelerate only picks
            # that when told cpu=True, otherwise each worker would think it is alone.
            cpu = device == "cpu" or not torch.cuda.is_available()
            self._state = PartialState(cpu=cpu)
            self.index, self.count = self._state.process_index, self._state.num_processes

    @property
    def is_main(self) -> bool:
        return self.index == 0

    def barrier(self) -> Optional[Callable[[], None]]:
        return self._state.wait_for_everyone if self._state is not None else None

    def close(self) -> None:
        """Leave the process group cleanly once every worker is done: a worker exiting with gloo's
        threads still running aborts ("terminate called without an active exception")."""
        if self._state is None:
            return
        import torch.distributed as torch_dist

        if torch_dist.is_initialized():
            torch_dist.destroy_process_group()
        self._state = None

    def gather(self, item: dict) -> list[dict]:
        if self._state is None:
            return [item]
        from accelerate.utils import gather_object

        return gather_object([item])


def run_batch(args: argparse.Namespace) -> int:
    if args.list_templates:
        return _list_templates()
    if args.input_dir is None or args.out_dir is None:
        raise PackshotError("usage: packshot batch INPUT_DIR --out OUT_DIR [options] (see packshot batch --help)")
    dist = Distributed(args.device)
    say = print if dist.is_main else (lambda *a, **k: None)
    settings = settings_from_args(args)
    job = BatchJob(args.input_dir, args.out_dir, settings, process_index=dist.index, num_processes=dist.count,
                   argv=sys.argv)
    try:
        code = _prepare_and_run(job, dist, args, say)
    finally:
        job.release()
    dist.close()  # only on the normal path: every worker got here through the same collectives
    return code


def _prepare_and_run(job: BatchJob, dist: Distributed, args: argparse.Namespace, say: Callable[..., None]) -> int:
    error: Optional[str] = None
    try:
        job.prepare(dry_run=args.dry_run)
    except PackshotError as exc:
        if dist.count == 1:
            raise
        error = str(exc)
    if dist.count > 1:
        # Every worker learns whether any failed (e.g. only the main one takes the folder's lock), so
        # none is left waiting at a barrier for a worker that has gone; one message is enough.
        errors = [part["error"] for part in dist.gather({"error": error}) if part["error"]]
        if errors:
            if dist.is_main:
                print(f"packshot: error: {errors[0]}", file=sys.stderr)
            return EXIT_USAGE
    for note in job.notes:
        say(note)
    if not job.photos:
        say(f"No photos in {args.input_dir} (looked for {', '.join(('jpg', 'png', 'webp', 'tiff', 'heic'))}).")
        return EXIT_OK
    if args.dry_run:
        return _dry_run(job)
    say(f"{len(job.photos)} photo(s) in {args.input_dir} -> {args.out_dir} (engine: {job.context.engine_name}"
        + (f", {dist.count} processes" if dist.count > 1 else "") + ")")
    summary = _run_with_bar(job, dist, quiet=args.no_progress)
    parts = dist.gather(summary.to_dict())
    total = BatchSummary.merge(parts)
    if dist.is_main:
        _print_summary(total, args.out_dir)
    if total.cancelled:
        return EXIT_CANCELLED
    return EXIT_OK if summary.ok and total.ok else EXIT_FAILED


def _run_with_bar(job: BatchJob, dist: Distributed, quiet: bool) -> BatchSummary:
    from tqdm import tqdm

    mine = len(job.my_photos())
    # shutil falls back to 100 x 20 where a terminal reports a size of 0 (tqdm would then draw nothing)
    columns, rows = shutil.get_terminal_size((100, 20))
    bar = tqdm(total=mine, unit="photo", desc="packshot" if dist.count == 1 else f"packshot[{dist.index}]",
               position=dist.index, ncols=columns, nrows=max(rows, dist.count + 1), disable=True if quiet else None, leave=True)
    line_mode = bar.disable  # no terminal (or --no-progress): one plain line per photo instead
    counter = {"n": 0}

    def progress(p: Progress) -> None:
        if p.stage == "batch" and p.message:
            bar.set_postfix_str(p.message, refresh=True)
        elif p.stage in ("generate", "denoise", "steps") and p.total:
            bar.set_postfix_str(f"{p.message} {p.done}/{p.total}", refresh=False)

    def on_photo(outcome: PhotoOutcome) -> None:
        counter["n"] += 1
        bar.update(1)
        if outcome.status == "failed":
            bar.write(f"failed: {outcome.message}")
        elif line_mode:
            extra = f" ({outcome.message})" if outcome.message else ""
            who = f"p{dist.index} " if dist.count > 1 else ""
            print(f"[{who}{counter['n']}/{mine}] {outcome.path.name}: {outcome.status}{extra}", flush=True)
        for note in outcome.notes:
            bar.write(f"note: {outcome.path.name}: {note}")

    cancel = CancelToken()
    try:
        return job.run(progress, cancel, on_photo=on_photo, barrier=dist.barrier())
    finally:
        bar.close()


def _print_summary(summary: BatchSummary, out_dir: Path) -> None:
    print(f"Done: {len(summary.done)}   Skipped (already done): {len(summary.skipped)}   "
          f"Failed: {len(summary.failed)}   [{summary.seconds:.1f} s, engine {summary.engine}]")
    if summary.failed:
        print("Failed photos:")
        for _name, reason in summary.failed:
            print(f"  - {reason}")
    if summary.cancelled:
        print("Cancelled: finished photos are kept; run the same command again to resume.")
    print(f"Outputs in {out_dir}")


def _list_templates() -> int:
    from core.templates import load_templates

    for template in load_templates().values():
        print(f"{template.name:<16} {template.description}")
        print(f"{'':<16} prompt:   {template.prompt}")
        print(f"{'':<16} negative: {template.negative}")
    return EXIT_OK


def _dry_run(job: BatchJob) -> int:
    plans = job.plan()
    todo = [p for p in plans if not p.done]
    for plan in plans:
        state = "done, skip" if plan.done else "to do"
        outs = ", ".join(o.name for o in plan.outputs)
        print(f"{plan.path.name} -> {outs} [{state}]")
        if job.context.generative or plan.prompt:
            print(f"    prompt: {plan.prompt}")
            if plan.negative:
                print(f"    negative: {plan.negative}")
    print(f"Dry run: {len(todo)} to do, {len(plans) - len(todo)} already done "
          f"(engine {job.context.engine_name}); nothing was written.")
    return EXIT_OK


def main(argv: Optional[Sequence[str]] = None) -> int:
    """Run ``batch`` alone (``python -m core.cli.batch_cmd``); ``packshot batch`` is the usual way."""
    parser = argparse.ArgumentParser(prog="packshot")
    register(parser.add_subparsers(dest="command", required=True))
    args = parser.parse_args(["batch", *(sys.argv[1:] if argv is None else argv)])
    try:
        return args.func(args)
    except PackshotError as exc:
        print(f"packshot: error: {exc}", file=sys.stderr)
        return EXIT_FAILED


if __name__ == "__main__":
    sys.exit(main())
