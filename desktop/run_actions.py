"""What the window's run buttons and menus do: check, build the run's settings, and hand the work to
the ``JobController`` (which builds and tracks the jobs). Uses only the window's public parts."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Optional

from packshot.core.jobs import JobSettings
from packshot.desktop.controller import RunPlan, batch_message, next_seed
from packshot.desktop.errors import show_error
from packshot.desktop.gui_jobs import input_folder
from packshot.desktop.job_settings import for_run, mask_settings, write_variables_csv
from packshot.desktop.options_store import save_job_settings
from packshot.desktop.window_dialogs import offer_models

if TYPE_CHECKING:
    from packshot.desktop.main_window import MainWindow


class RunActions:
    """Try, run on all or on the selection, regenerate, render final, compute the masks."""

    def __init__(self, window: MainWindow) -> None:
        self.window = window

    def mask_settings(self) -> JobSettings:
        """The mask group of the Background step (masker, prior, SAM, doubtful masks) for the review
        and the automatic masks."""
        return mask_settings(self.window.templates.form.group_settings(), self.window.settings)

    def job_settings(self) -> JobSettings:
        """The ``JobSettings`` of the next run: the panel's, with the machine and the variables."""
        w = self.window
        settings = w.templates.job_settings()
        photos = [r.path for r in w.session.photos()]
        values = {p: w.templates.variables_for(p) for p in photos}
        csv = write_variables_csv(w.session.out_dir / ".packshot" / "app-variables.csv", photos, values)
        return for_run(settings, w.settings, w.workspace, csv)

    def prepare(self) -> Optional[RunPlan]:
        """What a run needs (folder, project, settings), or None after telling the user why not."""
        w = self.window
        if w.session is None:
            w.status_label.setText("Open a folder first.")
            return None
        if not self.models_ready():
            return None
        try:
            save_job_settings(w.templates.job_settings())
            return RunPlan(input_folder(w.session.store, w.session.input_dir), w.session.out_dir,
                           self.job_settings(), w.templates.templates_file())
        except Exception as exc:
            show_error(w, exc, "Cannot queue this run")
            return None

    def models_ready(self) -> bool:
        """Check the chosen engine's weights (core's check) before queueing anything: one clear
        message offering the models dialog, instead of a failure per photo."""
        try:
            lacking = self.window.templates.missing_models()
            if lacking is None:
                return True
            self.offer_models(lacking)
        except Exception as exc:
            show_error(self.window, exc, "Cannot check the models")
        return False

    def offer_models(self, exc: BaseException) -> None:
        if offer_models(self.window, exc):
            self.window.open_models()

    def try_on_current(self) -> Optional[int]:
        w = self.window
        photo = w.current_photo()
        if w.session is None or photo is None:
            w.status_label.setText("Select a photo first.")
            return None
        plan = self.prepare()
        return w.jobs.try_photo(plan, photo) if plan is not None else None

    def run_on_all(self) -> list[int]:
        """Queue core's ``BatchJob`` for the folder (skips what is done; rejected masks are left out)."""
        return self._run_batch(None, "Queued the batch of all photos.")

    def run_on_selection(self) -> list[int]:
        photos = self.window.selected_photos()
        if not photos:
            self.window.status_label.setText("Select photos in the Photos step first.")
            return []
        return self._run_batch(photos, f"Queued the batch of {len(photos)} photos.")

    def _run_batch(self, photos: Optional[list[Path]], queued: str) -> list[int]:
        plan = self.prepare()
        if plan is None:
            return []
        status = self.window.status_label
        item = self.window.jobs.run_batch(plan, photos, on_done=lambda summary: status.setText(batch_message(summary)))
        status.setText(queued)
        return [item]

    def regenerate(self, path: Path) -> Optional[int]:
        """The photo again with new seeds; new seeds are new settings (their own job key), so the earlier
        results stay recorded beside them."""
        w = self.window
        if w.session is None:
            return None
        seed = next_seed([r.seed for r in w.session.results(path)], w.templates.form.control("generation", "seed").get())
        return self._new_seeds(path, seed, seed=seed)

    def render_final(self, path: Path, seed: int) -> Optional[int]:
        """A preview's seed again at final quality (the same as ``packshot replay OUTPUT --quality final``),
        recorded beside the preview."""
        return self._new_seeds(path, seed, quality="final", seed=seed, variants=1)

    def _new_seeds(self, path: Path, first_seed: int, **generation: object) -> Optional[int]:
        plan = self.prepare() if self.window.session is not None else None
        return self.window.jobs.new_seeds(plan, path, first_seed, **generation) if plan is not None else None

    def regenerate_flagged(self) -> list[int]:
        """A new seed for every photo whose chosen result QC flagged."""
        flagged = [e.path for e in self.window.model.entries() if e.flagged]
        ids = [i for p in flagged if (i := self.regenerate(p)) is not None]
        self.window.status_label.setText(f"Regenerating {len(ids)} flagged photo(s).")
        return ids

    def compute_all_masks(self) -> Optional[int]:
        w = self.window
        if w.session is None:
            return None
        try:
            settings = self.mask_settings()
        except Exception as exc:
            show_error(w, exc, "Cannot compute the masks")
            return None
        return w.jobs.compute_masks(w.session.out_dir, settings, on_done=lambda _n: w.masks_changed())


class Exports:
    """The export folder, the files of the last export, and "Export chosen"."""

    def __init__(self, window: MainWindow) -> None:
        self.window = window
        self.dir: Optional[Path] = None  # where the next export goes
        self.last: list[Path] = []  # the files the last export wrote

    def open_project(self, out_dir: Path) -> None:
        """A project was opened: its own export folder, nothing exported yet."""
        self.dir, self.last = Path(out_dir) / "export", []
        self.show_dir()

    def show_dir(self) -> None:
        session = self.window.session
        self.window.results.set_export_dir(self.dir, session.out_dir if session else None)

    def choose_dir(self) -> None:
        from PySide6.QtWidgets import QFileDialog

        folder = QFileDialog.getExistingDirectory(self.window, "Export the chosen results to", str(self.dir or ""))
        if folder:
            self.dir = Path(folder)
            self.show_dir()

    def export_chosen(self, preset: str, dest: Optional[Path] = None) -> Optional[int]:
        """Export every photo's keeper to ``dest`` (default: the export folder shown in Results)."""
        w = self.window
        if w.session is None:
            return None
        if dest is not None:
            self.dir = Path(dest)
            self.show_dir()
        output_format = str(w.templates.form.control("output", "output_format").get())
        return w.jobs.export(w.session.out_dir, Path(self.dir), preset, output_format, w.settings.export_quality,
                             w.settings.device, on_done=self._exported)

    def _exported(self, files: Optional[list[Path]]) -> None:
        self.last = list(files or [])
        self.window.results.export_done(self.dir, len(self.last))
        self.window.status_label.setText(f"Exported {len(self.last)} files to {self.dir}.")
