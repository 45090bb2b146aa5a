"""The app's work, without Qt: builds the queue's jobs (core's batch, photo, mask and export jobs) from
the open project and the settings the Background step gives, and tracks each until it ends.

Every tracked job carries its own completion handling (``on_done``) and the photo it is about, so
the window never sorts finished jobs by kind; it hands the controller the queue's ``submit`` and
reports what finished, failed or was cancelled.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable, Optional

from packshot.core.jobs import JobSettings
from packshot.desktop.export_actions import ExportJob
from packshot.desktop.gui_jobs import AutoMaskJob, BatchRunJob, PhotoRunJob

if TYPE_CHECKING:
    from packshot.desktop.workspace import Workspace

log = logging.getLogger(__name__)

Done = Callable[[Any], None]


def _nothing(_result: Any) -> None:
    pass


@dataclass(frozen=True)
class RunPlan:
    """What a generation needs from the app: the photo folder, the project, the settings of the run
    (``packshot.desktop.job_settings.for_run``) and the prompt templates file."""

    folder: Path
    out_dir: Path
    settings: JobSettings
    templates_path: Optional[Path] = None


@dataclass
class TrackedJob:
    job: Any
    photo: Optional[Path] = None  # the photo whose grid entry and results change when it ends
    on_done: Done = _nothing  # called with the job's result when it finishes


class JobController:
    """Builds and tracks the app's jobs; ``submit`` queues one and returns its item id."""

    def __init__(self, submit: Callable[[Any], int], workspace: Workspace) -> None:
        self._submit = submit
        self.workspace = workspace
        self._tracked: dict[int, TrackedJob] = {}

    # -- building -----------------------------------------------------------------------------
    def try_photo(self, plan: RunPlan, photo: Path) -> int:
        """"Try on this photo": the batch's own ``PhotoJob`` for ``photo``, made again even when done."""
        return self.track(PhotoRunJob(plan.folder, plan.out_dir, photo, plan.settings, runtime=self.workspace.runtime,
                                      templates_path=plan.templates_path), photo=photo)

    def new_seeds(self, plan: RunPlan, photo: Path, first_seed: int, **generation: Any) -> int:
        """``photo`` again from ``first_seed`` on (one seed per variant), ``generation`` settings changed:
        "Regenerate" and "Render final"; written beside the earlier results."""
        settings = replace(plan.settings, generation=replace(plan.settings.generation, **generation))
        seeds = [first_seed + i for i in range(settings.generation.variants)]
        return self.track(PhotoRunJob(plan.folder, plan.out_dir, photo, settings, runtime=self.workspace.runtime,
                                      seeds=seeds, templates_path=plan.templates_path), photo=photo)

    def run_batch(self, plan: RunPlan, photos: Optional[Sequence[Path]] = None,
                  on_done: Done = _nothing) -> int:
        """Core's ``BatchJob`` over the folder (``photos``: only those); ``on_done`` gets its summary."""
        return self.track(BatchRunJob(plan.folder, plan.out_dir, plan.settings, runtime=self.workspace.runtime,
                                      photos=photos, templates_path=plan.templates_path), on_done=on_done)

    def compute_masks(self, out_dir: Path, mask_settings: JobSettings, on_done: Done = _nothing) -> int:
        """Core's ``MaskJob`` over the project's photos; ``on_done`` gets the count computed."""
        return self.track(AutoMaskJob(out_dir, mask_settings, self.workspace), on_done=on_done)

    def export(self, out_dir: Path, dest: Path, preset: str, output_format: str, quality: int, device: str,
               on_done: Done = _nothing) -> int:
        """Every keeper of the project to ``dest``; ``on_done`` gets the files written."""
        return self.track(ExportJob(out_dir, dest, preset, output_format, quality, workspace=self.workspace,
                                    device=device), on_done=on_done)

    # -- tracking -----------------------------------------------------------------------------
    def track(self, job: Any, *, photo: Optional[Path] = None, on_done: Done = _nothing) -> int:
        item_id = self._submit(job)
        self._tracked[item_id] = TrackedJob(job, Path(photo) if photo is not None else None, on_done)
        return item_id

    def finished(self, item_id: int, result: Any) -> Optional[Path]:
        """The job ``item_id`` finished: its completion handling runs; returns the photo it was about."""
        tracked = self._tracked.pop(item_id, None)
        if tracked is None:
            return None
        tracked.on_done(result)
        return tracked.photo

    def ended(self, item_id: int) -> Optional[Path]:
        """The job ``item_id`` failed or was cancelled: forgotten; returns the photo it was about."""
        tracked = self._tracked.pop(item_id, None)
        return tracked.photo if tracked is not None else None

    def tracking(self) -> int:
        """How many submitted jobs have not ended yet."""
        return len(self._tracked)


def batch_message(summary: Any) -> str:
    """The status line of a finished batch (core's ``BatchSummary``)."""
    failed = f", {len(summary.failed)} failed" if summary.failed else ""
    return (f"Batch finished: {len(summary.done)} made, {len(summary.skipped)} already done{failed} "
            f"({summary.engine}).")


def next_seed(used: Sequence[int], default: int) -> int:
    """The first seed of a "Regenerate": past every seed used for the photo, else ``default``."""
    return (max(used) + 1) if used else int(default)
