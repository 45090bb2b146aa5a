"""A folder of photos into an output folder; ``prepare()`` validates everything before any work."""

from __future__ import annotations

import json
import logging
import os
import socket
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, Optional

from packshot.core.errors import (
    Cancelled,
    DiskFullError,
    ImageReadError,
    ImageWriteError,
    OutputLockedError,
    OutputsTakenError,
    PackshotError,
    TemplateError,
)
from packshot.core.images import SkippedFile, load_photo, scan_photos
from packshot.core.jobs.context import JobContext
from packshot.core.jobs.outcomes import BatchSummary, PhotoOutcome, PhotoPlan
from packshot.core.jobs.photo import PhotoJob
from packshot.core.jobs.settings import LOCK_NAME, DoubtfulMasks, JobSettings
from packshot.core.naming import display_name, unique_stems
from packshot.core.progress import CancelToken, Progress, ProgressCallback, no_progress
from packshot.core.project import ProjectStore
from packshot.core.templates import check_variables
from packshot.core.write_guard import NotOursError, OtherJobError, WriteGuard, sweep_temp_files

if TYPE_CHECKING:
    from packshot.core.runtime import Runtime

log = logging.getLogger(__name__)


class BatchJob:
    """A folder of photos into an output folder. ``prepare()`` validates all before any work.

    ``runtime``: where the models come from (the caller's ``packshot.core.runtime.Runtime``).
    """

    def __init__(self, input_dir: Path | str, out_dir: Path | str, settings: JobSettings, *,
                 runtime: Runtime, process_index: int = 0, num_processes: int = 1,
                 argv: Optional[Sequence[str]] = None, templates_path: Optional[Path] = None) -> None:
        self.input_dir = Path(input_dir)
        self.out_dir = Path(out_dir)
        self.settings = settings
        self.process_index = process_index
        self.num_processes = max(1, num_processes)
        self.argv = argv
        self._runtime = runtime
        self._templates_path = templates_path
        self.context: Optional[JobContext] = None
        self.project: Optional[ProjectStore] = None
        self.photos: list[Path] = []
        self.skipped_inputs: list[SkippedFile] = []  # photo-named entries that cannot be read, with the reason
        self.run_id: Optional[int] = None
        self._lock: Any = None
        self.guard: Optional[WriteGuard] = None  # every output goes through it (packshot.core.write_guard)
        self.replaceable: set[str] = set()  # job keys whose existing outputs this run may replace

    @property
    def is_main(self) -> bool:
        return self.process_index == 0

    def prepare(self, *, dry_run: bool = False) -> None:
        """Everything that can fail for the whole batch fails here, before any photo is touched."""
        self.photos = self.list_inputs()
        s = self.settings
        if s.masks.masks_dir and not Path(s.masks.masks_dir).is_dir():
            raise ImageReadError(f"--masks folder not found: {s.masks.masks_dir}")
        if s.generation.background_image:
            load_photo(s.generation.background_image)  # a bad background image would fail every photo
        self.context = JobContext(s, runtime=self._runtime, templates_path=self._templates_path)
        check_variables(self.context.template, self.photos, self.context.variables)
        try:
            self.context.generation_settings("", "").validate()
            from packshot.core.generation.presets import get_preset

            get_preset(s.output.preset)
        except ValueError as exc:
            raise PackshotError(f"Invalid settings: {exc}") from exc
        if self.context.generative:
            self.context.check_models()
        self.context.check_prior()
        self.guard = self.write_guard()
        self.check_output_clashes()
        if s.masks.masker == "sam":
            self.context.masker  # noqa: B018 - loads SAM now: missing weights stop the batch before any photo
        if dry_run:
            store_file = self.out_dir / ".packshot" / "project.sqlite"
            self.project = ProjectStore(self.out_dir, create=False) if store_file.exists() else None
            self.check_earlier_outputs()
            return
        self.project = ProjectStore(self.out_dir)
        if self.is_main:
            self.lock()  # first: a folder another batch works on is "locked", not "taken by earlier outputs"
        try:
            self.check_earlier_outputs()
            self.project.add_photos(self.photos)
        except BaseException:
            self.release()  # refused before any work: the folder is free again
            raise

    def list_inputs(self) -> list[Path]:
        """The input folder's photos, sorted (packshot.core.cluster lists an object store's instead)."""
        if not self.input_dir.is_dir():
            raise ImageReadError(f"Input folder not found: {self.input_dir}")
        in_root, out_root = self.input_dir.resolve(), self.out_dir.resolve()
        if out_root == in_root:
            raise PackshotError("--out must not be the input folder: originals are never written.")
        WriteGuard(self.out_dir, [self.input_dir]).check_folder(self.out_dir)  # the same folder by another path
        listing = scan_photos(self.input_dir)
        self.skipped_inputs = listing.skipped  # each named in the summary's failures, never dropped silently
        if listing.skipped and not listing.photos:
            said = "; ".join(s.message for s in listing.skipped[:5])
            more = f"; and {len(listing.skipped) - 5} more" if len(listing.skipped) > 5 else ""
            raise ImageReadError(f"No photo in {display_name(self.input_dir)} can be read: {said}{more}.")
        return listing.photos

    def write_guard(self) -> WriteGuard:
        """The guard of this batch's writes: the photos, their folder, --masks and the background image
        are inputs (indexed once here, one stat each)."""
        s = self.settings
        extra = [p for p in (s.masks.masks_dir, s.generation.background_image) if p]
        return WriteGuard(self.out_dir, [self.input_dir, *extra, *self.photos])

    def lock(self) -> None:
        """Hold OUT_DIR/.packshot/batch.lock until ``release()``: a second batch on the same folder would
        work the same photos. Only the main process locks; the others of an ``accelerate launch`` run
        share its lock (their photos are disjoint shares)."""
        if self._lock is not None:
            return
        from filelock import FileLock, Timeout

        path = self.out_dir / ".packshot" / LOCK_NAME
        lock = FileLock(str(path), timeout=0)
        try:
            lock.acquire()
        except Timeout:
            raise OutputLockedError(f"Another packshot batch is already working on {self.out_dir}: the folder is "
                                    f"locked{_lock_owner(path)}. Wait for it to finish (or stop it: Ctrl-C, or "
                                    "kill its pid; finished photos are kept), then run the same command again; "
                                    "or choose another --out folder.") from None
        except OSError as exc:
            raise ImageWriteError(f"Cannot lock {self.out_dir}: {exc}") from exc
        self._lock = lock
        try:  # who holds it, for the message a second run prints
            owner = {"pid": os.getpid(), "host": socket.gethostname(), "started_at": time.time(),
                     "argv": list(self.argv) if self.argv is not None else None}
            _owner_file(path).write_text(json.dumps(owner, default=str), encoding="utf-8")
        except OSError as exc:
            log.debug("Could not write the lock's owner file: %s", exc)

    def release(self) -> None:
        if self._lock is not None:
            _owner_file(Path(self._lock.lock_file)).unlink(missing_ok=True)
            self._lock.release()
            self._lock = None

    def check_output_clashes(self) -> None:
        """Refuse, before any work, a name template that gives two photos (or variants) one output file:
        the second would overwrite the first and both would count as done."""
        owners: dict[str, list[str]] = {}
        paths: dict[str, Path] = {}
        for job in self.photo_jobs(self.photos):
            outs = job.outputs()
            for i, out in enumerate(outs):
                if self.guard is not None:  # into an input folder, or out of the output folder: before anything
                    self.guard.check_folder(out.parent)  # is created (one verdict per folder, cached)
                key = str(out)
                paths.setdefault(key, out)
                owners.setdefault(key, []).append(job.name if len(outs) == 1 else f"{job.name} (variant {i + 1})")
        clashes = [(paths[k], names) for k, names in owners.items() if len(names) > 1]
        if not clashes:
            return
        lines = []
        for out, names in clashes[:5]:
            shown = ", ".join(names[:4]) + (f" and {len(names) - 4} more" if len(names) > 4 else "")
            lines.append(f"{out.relative_to(self.out_dir.resolve())} <- {shown}")
        more = f" (and {len(clashes) - 5} more clashes)" if len(clashes) > 5 else ""
        template = self.settings.output.name_template
        if "{stem}" in template:  # only cleaning of odd characters can make stems meet
            fix = "Rename one of the photos in each pair."
        else:
            fix = f"Put {{stem}} in --name (e.g. --name \"{{stem}}-{template}\") so every photo gets its own file."
        raise TemplateError(f"--name '{template}' gives several results the same output file: "
                            + "; ".join(lines) + more + ". " + fix)

    def check_earlier_outputs(self) -> None:
        """Refuse, before any work, every output write the guard would refuse: outside the output folder
        or into an input folder (a name template walking back), onto a file Packshot did not make, or
        over an output another job made. An existing output's own recipe says which job made it, so
        this holds with the project store gone. Replaced without asking: outputs of this job key, and,
        when the store says so, of an earlier run with the same settings whose inputs changed (an edited
        template or CSV, new mask models); anything made by Packshot under ``--redo``."""
        if self.context is None or self.guard is None:
            return
        self.replaceable = self._same_settings_keys() | {self.context.job_key}
        redo = self.settings.output.redo
        # Outputs the store records as this job's need no recipe read here (a resumed batch of thousands
        # stays quick): every write is checked again, recipe and all, just before it happens.
        known = {str(r.output_path): r.job_key for r in sorted(self.project.all_results(), key=lambda r: r.id)} \
            if self.project is not None else {}
        taken: list[tuple[Path, str]] = []
        foreign: list[Path] = []
        for job in self.photo_jobs(self.photos):
            for out in job.outputs():
                if known.get(str(out)) in self.replaceable:
                    continue
                try:
                    self.guard.check(out, made_by=self.replaceable, overwrite=redo)
                except OtherJobError as exc:
                    taken.append((out, exc.key))
                except NotOursError:
                    foreign.append(out)
        if foreign:
            shown = ", ".join(display_name(p.name) for p in foreign[:5]) + (f" and {len(foreign) - 5} more" if len(foreign) > 5
                                                               else "")
            raise NotOursError(f"{len(foreign)} file(s) in {self.out_dir} have the names outputs would get but were "
                               f"not made by Packshot: {shown}. They are never replaced: move them away, or choose "
                               "another --out folder or --name.")
        if not taken:
            return
        shown = "; ".join(f"{display_name(out.name)} ({self._who_made(out, key)})" for out, key in taken[:5])
        more = f"; and {len(taken) - 5} more" if len(taken) > 5 else ""
        raise OutputsTakenError(
            f"{len(taken)} output file(s) in {self.out_dir} were made earlier with other settings and would be "
            f"overwritten: {shown}{more}. To keep both, choose another --out folder or a --name that tells them "
            "apart (e.g. --name \"{stem}-{engine}\" or --name \"{stem}-{key}\", the settings' id); to replace them, "
            "add --redo.", tuple(out for out, _ in taken))

    def _same_settings_keys(self) -> set[str]:
        """Job keys the store's earlier runs made with this run's settings (their inputs since changed)."""
        if self.project is None or self.context is None:
            return set()
        mine = self.settings.job_key(self.context.engine_name)  # the settings alone, not their resolved inputs
        same_runs = {run["id"] for run in self.project.runs() if _settings_key(run["settings"]) == mine}
        return {r.job_key for r in self.project.all_results() if r.run_id in same_runs}

    def _who_made(self, out: Path, key: str) -> str:
        """How the message names the earlier maker of ``out``: its run when the store knows it."""
        if self.project is not None:
            known = [r for r in self.project.all_results() if r.output_path == out.resolve() and r.job_key == key]
            if known:
                last = max(known, key=lambda r: r.id)
                return (f"run {last.run_id}, engine {last.engine}" if last.run_id
                        else f"made in the app, engine {last.engine}")
        return f"settings id {key[:8] or 'unknown'}, from its recipe"

    @property
    def notes(self) -> list[str]:
        return self.context.notes if self.context else []

    def my_photos(self) -> list[Path]:
        """This process's share: every n-th photo, so shares are disjoint and stable across runs; less
        the photos rejected in review (``rejected_photos``)."""
        rejected = self._rejected()
        return [p for p in self.photos[self.process_index::self.num_processes] if p.resolve() not in rejected]

    def rejected_photos(self) -> list[Path]:
        """This process's photos that the project store says were rejected in review: never rendered."""
        rejected = self._rejected()
        return [p for p in self.photos[self.process_index::self.num_processes] if p.resolve() in rejected]

    def _rejected(self) -> set[Path]:
        return self.project.rejected_paths() if self.project is not None else set()

    def photo_jobs(self, photos: Optional[Sequence[Path]] = None) -> list[PhotoJob]:
        if self.context is None:
            raise PackshotError("BatchJob.prepare() must run first.")
        stems = unique_stems(self.photos)
        chosen = self.my_photos() if photos is None else [Path(p) for p in photos]
        return [PhotoJob(p, self.out_dir, self.context, project=self.project,
                         stem=stems.get(p, p.stem), run_id=self.run_id, guard=self.guard,
                         replaceable=self.replaceable) for p in chosen]

    def plan(self) -> list[PhotoPlan]:
        return [job.plan() for job in self.photo_jobs()]

    def cleanup_partials(self) -> int:
        """Remove the temp files killed Packshot processes left behind: only Packshot's own temp names, and
        only those whose process is gone (a user's ``.tmp-*`` and an export being written stay)."""
        return sweep_temp_files(self.out_dir)

    def run(self, progress: ProgressCallback = no_progress, cancel: Optional[CancelToken] = None,
            on_photo: Optional[Callable[[PhotoOutcome], None]] = None,
            barrier: Optional[Callable[[], None]] = None) -> BatchSummary:
        """Run this process's photos. ``barrier`` (multi-process) keeps the temp-file cleanup safe."""
        if self.context is None or self.project is None:
            self.prepare()
        assert self.context is not None and self.project is not None
        if barrier is not None:
            barrier()  # every process is past prepare() (whose write probe is a temp file)...
        if self.is_main:
            self.cleanup_partials()
        if barrier is not None:
            barrier()  # ...and nobody writes before the main process has cleaned up
        self.run_id = self.project.start_run(self.settings.to_dict() | {"engine_resolved": self.context.engine_name},
                                             self.argv, process_index=self.process_index,
                                             num_processes=self.num_processes)
        summary = BatchSummary(engine=self.context.engine_name)
        if self.is_main:  # once, not per process
            summary.failed += [(display_name(s.path.name), s.message) for s in self.skipped_inputs]
        start = time.perf_counter()
        jobs = self.photo_jobs()
        summary.rejected = [display_name(p.name) for p in self.rejected_photos()]
        status = "finished"
        try:
            for i, job in enumerate(jobs):
                progress(Progress("batch", i, len(jobs), job.name))
                outcome = job.run(progress, cancel)
                summary.record(outcome)
                if on_photo is not None:
                    on_photo(outcome)
                if outcome.status == "doubtful" and self.settings.masks.doubtful_masks == DoubtfulMasks.STOP:
                    summary.stopped = job.name
                    status = "stopped"
                    break
            else:
                progress(Progress("batch", len(jobs), len(jobs), ""))
        except Cancelled:
            summary.cancelled = True
            status = "cancelled"
        except DiskFullError:  # stops the batch: every photo after it would fail the same way
            status = "disk full"
            raise
        except KeyboardInterrupt as exc:  # Ctrl-C, or SIGTERM/SIGHUP (packshot.core.cli.signals): finished work is kept
            status = getattr(exc, "status", "interrupted")
            raise
        finally:
            summary.seconds = time.perf_counter() - start
            try:
                self.project.finish_run(self.run_id, status, summary.to_dict())
            except PackshotError as exc:  # on a full disk the user is already told, once
                (log.info if isinstance(exc, DiskFullError) else log.warning)("Could not record the end of the "
                                                                              "run: %s", exc)
            if self.num_processes == 1:  # several processes: the launcher releases once all are done
                self.release()
        return summary


def _owner_file(lock_path: Path) -> Path:
    return lock_path.with_name(lock_path.name + ".owner.json")


def _lock_owner(lock_path: Path) -> str:
    """" by pid 123 on host (started 14:02:11 on 2026-12-06)", from the lock's owner file; "" when unknown."""
    try:
        owner = json.loads(_owner_file(lock_path).read_text(encoding="utf-8"))
        started = time.strftime("%H:%M:%S on %Y-%m-%d", time.localtime(float(owner["started_at"])))
        return f" by pid {int(owner['pid'])} on {owner.get('host') or 'this machine'} (started {started})"
    except (OSError, ValueError, KeyError, TypeError):
        return ""


def _settings_key(data: Optional[dict]) -> Optional[str]:
    """The settings fingerprint (no resolved inputs) of an earlier run's stored settings, flat v1 or nested."""
    if not data:
        return None
    try:
        return JobSettings.from_dict(data).job_key(str(data.get("engine_resolved") or data.get("engine")))
    except (ValueError, TypeError, KeyError):
        return None  # a store written by another version: treat as other settings
