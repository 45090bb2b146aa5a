"""``packshot batch INPUT_DIR --out OUT_DIR``: a folder of product photos in, finished shots out.

Resumable (the project store in OUT_DIR remembers what is done), one bad file never stops the
batch, and under ``accelerate launch`` the photos are split across the processes.
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
from pathlib import Path
from typing import Any, Callable, Optional, Sequence

from packshot.core.errors import PackshotError
from packshot.core.jobs import BatchJob, BatchSummary, JobSettings, PhotoOutcome
from packshot.core.jobs.settings import CLI_GROUPS
from packshot.core.naming import display_name
from packshot.core.options import add_arguments, from_namespace
from packshot.core.progress import CancelToken, Progress

EXIT_OK, EXIT_FAILED, EXIT_USAGE, EXIT_CANCELLED = 0, 1, 2, 130


def register(subparsers: Any) -> None:
    p = subparsers.add_parser(
        "batch", help="put new backgrounds behind every photo in a folder",
        description="Masks each photo, generates or paints a background behind the untouched product, and "
                    "writes finished shots to OUT_DIR. Re-running resumes where it stopped.",
        epilog="Templates: see resources/templates.json (e.g. --template marble). Prompt variables: {name} "
               "(from the file name), {caption} and any column of the --vars CSV keyed by file name. "
               "Sizes (--size): " + _preset_help())
    p.add_argument("input_dir", metavar="INPUT_DIR", type=path_or_uri, nargs="?",
                   help="folder of JPEG/PNG/WebP/TIFF/HEIC/GIF photos or camera RAW files (with --ray also a URI: s3://bucket/photos)")
    p.add_argument("--out", dest="out_dir", metavar="OUT_DIR", type=path_or_uri,
                   help="output folder (created; holds the project store .packshot/; with --ray also a URI)")
    p.add_argument("--list-templates", action="store_true", help="print the prompt templates and exit")
    # Every job setting is an option, generated from JobSettings (its help, flag, default and choices).
    add_arguments(p, JobSettings, groups=CLI_GROUPS)
    g = p.add_argument_group("run")
    g.add_argument("--dry-run", action="store_true", help="show what would be done; write nothing")
    g.add_argument("--no-progress", action="store_true", help="no progress bar; one line per photo")
    g.add_argument("--ray", nargs="?", const="", default=None, metavar="ADDRESS",
                   help="run the photos as Ray Data stages: alone, on a local Ray runtime; with ADDRESS (or "
                        "RAY_ADDRESS), on that cluster. Needs the extra: pip install 'packshot[cluster]'")
    g.add_argument("--storage-option", action="append", metavar="KEY=VALUE", default=[],
                   help="with --ray and an s3://, gs://, az://... URI: an fsspec option for it, e.g. "
                        "endpoint_url=http://minio:9000 (repeatable; credentials come from the environment)")
    p.set_defaults(func=run_batch)


def path_or_uri(text: str) -> Path | str:
    """A local path, or a URI kept as text (``Path`` would fold ``s3://b`` into ``s3:/b``)."""
    if text.startswith("file://"):
        return Path(text[len("file://"):])
    return text if "://" in text else Path(text)


def _preset_help() -> str:
    from packshot.core.generation.presets import PRESETS

    return "; ".join(f"{p.name}: {p.description}" for p in PRESETS.values()).replace("%", "%%")


def settings_from_args(args: argparse.Namespace) -> JobSettings:
    return from_namespace(JobSettings, args)


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
    from packshot.core.runtime import Runtime

    settings = settings_from_args(args)
    runtime = Runtime(settings.machine.models_dir)  # this command's models, loaded once
    if getattr(args, "ray", None) is not None:
        return _run_on_ray(args, settings, runtime)
    for where in (args.input_dir, args.out_dir):
        if isinstance(where, str):  # the local batch keeps its project store (SQLite) in a real folder
            raise PackshotError(f"{where}: URIs are read and written by the Ray batch: add --ray (a local Ray "
                                "runtime on this machine; pip install 'packshot[cluster]'), or mount the bucket "
                                "and pass its path.")
    dist = Distributed(args.device)
    say = print if dist.is_main else (lambda *a, **k: None)
    job = BatchJob(args.input_dir, args.out_dir, settings, process_index=dist.index, num_processes=dist.count,
                   argv=sys.argv, runtime=runtime)
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
        say(f"No photos in {args.input_dir} (looked for JPEG, PNG, WebP, TIFF, HEIC, GIF, BMP and camera RAW: "
            "DNG, CR2, CR3, NEF, ARW, RAF, ORF, RW2...).")
        return EXIT_OK
    if args.dry_run:
        return _dry_run(job)
    say(f"{len(job.photos)} photo(s) in {args.input_dir} -> {args.out_dir} (engine: {job.context.engine_name}"
        + (f", {dist.count} processes" if dist.count > 1 else "") + ")")
    summary = _run_with_bar(job, dist, quiet=args.no_progress)
    parts = dist.gather(summary.to_dict())
    total = BatchSummary.merge(parts)
    if dist.is_main:
        _print_summary(total, args.out_dir, args.input_dir, str(job.settings.masks.doubtful_masks))
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
        elif outcome.mask_doubt and not line_mode:  # a bar hides messages: say it on a line of its own
            held = "held for review" if outcome.status == "doubtful" else "rendered anyway"
            bar.write(f"{display_name(outcome.path.name)}: mask doubtful ({held}): {outcome.mask_doubt}")
        if line_mode and outcome.status != "failed":
            extra = f" ({outcome.message})" if outcome.message else ""
            who = f"p{dist.index} " if dist.count > 1 else ""
            print(f"[{who}{counter['n']}/{mine}] {display_name(outcome.path.name)}: {outcome.status}{extra}", flush=True)
        for note in outcome.notes:
            bar.write(f"note: {display_name(outcome.path.name)}: {note}")

    cancel = CancelToken()
    try:
        return job.run(progress, cancel, on_photo=on_photo, barrier=dist.barrier())
    finally:
        bar.close()


def _run_on_ray(args: argparse.Namespace, settings: JobSettings, runtime: Any) -> int:
    """The same batch as Ray Data stages (packshot.core.cluster.ray_batch); the same summary at the end.
    ``runtime`` serves the local checks; each Ray actor makes its own."""
    from packshot.core.cluster.ray_batch import RayBatch, import_ray

    import_ray()  # says what to install before any work
    from packshot.core.cluster.storage import parse_storage_options

    job = RayBatch(args.input_dir, args.out_dir, settings, address=args.ray or None, runtime=runtime,
                   storage_options=parse_storage_options(args.storage_option))
    try:
        job.prepare()
    except BaseException:
        job.batch.release()
        raise
    for note in job.notes:
        print(note)
    if not job.batch.photos:
        job.batch.release()
        print(f"No photos in {args.input_dir}.")
        return EXIT_OK
    where = f"Ray cluster {job.address}" if job.address else "a local Ray runtime"
    print(f"{len(job.batch.photos)} photo(s) in {args.input_dir} -> {args.out_dir} "
          f"(engine: {job.batch.context.engine_name}, on {where})")
    counts = {"done": 0, "failed": 0, "skipped": 0}

    def on_photo(outcome: PhotoOutcome) -> None:
        counts[outcome.status] = counts.get(outcome.status, 0) + 1
        if outcome.status == "failed":
            print(f"failed: {outcome.message}", flush=True)
        elif not args.no_progress:
            print(f"[{sum(counts.values())}/{len(job.batch.photos)}] {display_name(outcome.path.name)}: {outcome.status} "
                  f"(done {counts['done']}, failed {counts['failed']})", flush=True)

    summary = job.run(on_photo)
    _print_summary(summary, args.out_dir, args.input_dir, str(settings.masks.doubtful_masks))
    return EXIT_OK if summary.ok else EXIT_FAILED


def _print_summary(summary: BatchSummary, out_dir: Path, input_dir: Path, policy: str) -> None:
    held = f"   Held (doubtful mask): {len(summary.held)}" if summary.held else ""
    print(f"Done: {len(summary.done)}   Skipped (already done): {len(summary.skipped)}{held}   "
          f"Failed: {len(summary.failed)}   [{summary.seconds:.1f} s, engine {summary.engine}]")
    if summary.rejected:
        n = len(summary.rejected)
        print(f"{n} photo{'s' if n > 1 else ''} skipped: rejected in review ({', '.join(summary.rejected[:5])}"
              + (f" and {n - 5} more" if n > 5 else "") + "). Accept their masks in the app to make them.")
    if summary.failed:
        print("Failed photos:")
        for _name, reason in summary.failed:
            print(f"  - {reason}")
    if summary.doubtful:
        n = len(summary.doubtful)
        print(f"{n} mask{'s' if n > 1 else ''} doubtful (--doubtful-masks {policy}): review "
              f"{'them' if n > 1 else 'it'} with `packshot masks {input_dir} --out MASKS_DIR` and re-run with "
              "--masks MASKS_DIR, or in the app:")
        for name, why in summary.doubtful:
            print(f"  - {name}: {why}")
    if summary.stopped:
        print(f"Stopped at {summary.stopped} (--doubtful-masks stop): finished photos are kept; review the "
              "mask and run the same command again to go on.")
    if summary.cancelled:
        print("Cancelled: finished photos are kept; run the same command again to resume.")
    print(f"Outputs in {out_dir}")


def _list_templates() -> int:
    from packshot.core.templates import load_templates

    for template in load_templates().values():
        print(f"{template.name:<16} {template.description}")
        print(f"{'':<16} prompt:   {template.prompt}")
        print(f"{'':<16} negative: {template.negative}")
    return EXIT_OK


def _dry_run(job: BatchJob) -> int:
    plans = job.plan()
    for path in job.rejected_photos():
        print(f"{display_name(path.name)} [rejected in review, skip]")
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
    """Run ``batch`` alone (``python -m packshot.core.cli.batch_cmd``); ``packshot batch`` is the usual way."""
    parser = argparse.ArgumentParser(prog="packshot")
    register(parser.add_subparsers(dest="command", required=True))
    args = parser.parse_args(["batch", *(sys.argv[1:] if argv is None else argv)])
    from packshot.core.cli.main import stop_on_signals

    try:
        with stop_on_signals():  # SIGTERM/SIGHUP stop like Ctrl-C
            return args.func(args)
    except PackshotError as exc:
        print(f"packshot: error: {exc}", file=sys.stderr)
        return EXIT_FAILED


if __name__ == "__main__":
    sys.exit(main())
