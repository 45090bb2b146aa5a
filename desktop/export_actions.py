"""The app's export, in ONE function (``export_chosen``) so it can move onto core's ``ExportJob``.

Each photo's chosen result goes to the export folder with its recipe. When the size preset is the
one the result was made with, its pixels are written as they are; for another preset the recipe is
rendered again framed for that preset (``packshot.core.jobs.render_from_recipe`` frames before rendering,
exactly like the batch), never stretched or padded after the fact. So every exported file replays
to itself with ``packshot replay``.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import TYPE_CHECKING, Optional

from packshot.core.errors import PackshotError
from packshot.core.progress import CancelToken, ProgressCallback, check, no_progress

if TYPE_CHECKING:
    from packshot.core.app_api import ProjectStore
    from packshot.core.runtime import Runtime
    from packshot.desktop.workspace import Workspace

log = logging.getLogger(__name__)


def export_presets() -> tuple[str, ...]:
    from packshot.core.app_api import PRESETS

    return tuple(PRESETS)


class ExportJob:
    """The queue job around ``export_chosen``."""

    def __init__(self, out_dir: Path, dest: Path, preset: str, output_format: str = "png", quality: int = 95,
                 *, workspace: Workspace, device: str = "auto") -> None:
        self.out_dir, self.dest, self.preset = Path(out_dir), Path(dest), preset
        self.output_format, self.quality = output_format, quality
        self.device = device
        self.store = workspace.project_store(out_dir)
        self.runtime = workspace.runtime  # the app's models: a result rendered again for a preset uses them
        self.label = f"Export chosen · {preset} → {self.dest}"

    def run(self, progress: ProgressCallback = no_progress, cancel: Optional[CancelToken] = None) -> list[Path]:
        return export_chosen(self.store, self.out_dir, self.dest, self.preset, progress, cancel,
                             output_format=self.output_format, quality=self.quality,
                             runtime=self.runtime, device=self.device)


def export_chosen(store: ProjectStore, out_dir: Path, dest: Path, preset: str,
                  progress: ProgressCallback = no_progress, cancel: Optional[CancelToken] = None, *,
                  output_format: str = "png", quality: int = 95,
                  runtime: Runtime, device: str = "auto") -> list[Path]:
    """Write the keeper of each photo of the project ``store`` to ``dest`` with core's ``ExportJob`` and
    core's keeper rule (``keeper_files``: the same code as ``packshot export``), rendering again with
    the models of ``runtime``; returns the files written."""
    from packshot.core.jobs import CoreExportJob, ExportSettings, keeper_files

    settings = ExportSettings(preset=preset, format=output_format, quality=int(quality))
    dest = Path(dest)
    if dest.resolve() == Path(out_dir).resolve() or dest.resolve() in {r.path.parent for r in store.photos()}:
        raise PackshotError(f"Export into {dest} would mix exports with originals or project files; "
                            "choose another folder.")
    items = keeper_files(out_dir)  # only keepers whose file still exists
    job = CoreExportJob(items, dest, settings, runtime=runtime, device=device, overwrite=True)
    summary = job.run(progress, cancel)
    check(cancel)
    log.info("Exported %d results to %s (%s)", len(summary.written), dest, preset)
    if summary.failed:
        raise PackshotError(f"{len(summary.failed)} of {len(items)} could not be exported: "
                            + "; ".join(reason for _name, reason in summary.failed))
    return list(summary.written)
