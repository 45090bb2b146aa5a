"""The main window: an empty state, then the guided flow Photos -> Masks -> Background -> Export
(a side bar with what each step has done and one obvious next action), and the queue dock.

All work is core's: the Background step's controls are made from ``JobSettings`` and read back as
one (``packshot.desktop.job_settings.for_run`` adds the machine and the variables), "Run" submits core's
``BatchJob``, and what the app saves and restores is that ``JobSettings``."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Optional

from PySide6.QtCore import QItemSelectionModel, Qt, QTimer, Signal
from PySide6.QtWidgets import QFileDialog, QMainWindow, QStackedWidget, QWidget

from packshot.core.errors import ModelMissingError, PackshotError
from packshot.core.jobs import JobSettings
from packshot.desktop.controller import JobController
from packshot.desktop.elided_label import ElidedLabel
from packshot.desktop.errors import show_error
from packshot.desktop.export_actions import export_presets
from packshot.desktop.flow import TAB_MASKS, TAB_PHOTOS, TAB_PROMPT, TAB_RESULTS, StepCounts
from packshot.desktop.job_settings import project_settings
from packshot.desktop.mask_review import MaskReviewPanel
from packshot.desktop.matting_warmup import MattingWarmUp, PreparingLine
from packshot.desktop.options_store import load_job_settings, save_job_settings
from packshot.desktop.photo_grid import PhotoGrid
from packshot.desktop.project_session import ProjectSession, is_project_dir, project_place_problem
from packshot.desktop.queue import GenerationQueue
from packshot.desktop.queue_panel import QueueDock
from packshot.desktop.results import ResultsPanel
from packshot.desktop.run_actions import Exports, RunActions
from packshot.desktop.settings import AppSettings, save_settings
from packshot.desktop.step_pages import StepPages
from packshot.desktop.stepper import EmptyState
from packshot.desktop.steps_guide import StepsGuide
from packshot.desktop.templates_panel import TemplatesPanel
from packshot.desktop.thumbnails import PathRole, PhotoListModel
from packshot.desktop.window_dialogs import ModelDialogs, ask_project_place, confirm_stop
from packshot.desktop.window_helpers import FolderDrops, default_window_size, reveal_in_file_manager
from packshot.desktop.window_menus import build_menus, fill_recent
from packshot.desktop.workers import favour_gui_thread
from packshot.desktop.workspace import Workspace

log = logging.getLogger(__name__)

PAGE_EMPTY, PAGE_WORK = range(2)
WARM_UP_DELAY_MS = 2000  # after the window is up: its start is not slowed


class MainWindow(QMainWindow):
    project_opened = Signal(object)  # ProjectSession
    shown = Signal()

    def __init__(self, settings: AppSettings, job: Optional[JobSettings] = None,
                 parent: Optional[QWidget] = None) -> None:
        """``job``: the job settings to start from (default: the ones saved last, else core's)."""
        super().__init__(parent)
        favour_gui_thread()  # workers run beside this window's event loop from now on
        self.settings = settings
        self.actions = RunActions(self)  # what the run buttons and menus do
        a = self.actions
        self.try_on_current, self.run_on_all, self.run_on_selection = a.try_on_current, a.run_on_all, a.run_on_selection
        self.regenerate, self.render_final, self.regenerate_flagged = a.regenerate, a.render_final, a.regenerate_flagged
        self.compute_all_masks, self.job_settings = a.compute_all_masks, a.job_settings
        self.exports = Exports(self)  # the export folder and "Export chosen"
        self.guide = StepsGuide(self)  # the stepper's words and next action
        self.export_chosen = self.exports.export_chosen
        self.dialogs = ModelDialogs(self)  # Settings, Models, the trainer
        self.open_settings, self.open_models, self.open_trainer = (self.dialogs.open_settings, self.dialogs.open_models,
                                                                   self.dialogs.open_trainer)
        # The one runtime of the app (models folder, loaded models) with the project stores and mask
        # contexts; every job this window submits is handed it.
        self.workspace = Workspace(settings.models_path)
        self.session: Optional[ProjectSession] = None
        self.setWindowTitle("Packshot Studio")
        self.resize(default_window_size(self.screen().availableGeometry().size()))

        self.queue = GenerationQueue(self)
        self.model = PhotoListModel(self)
        self.model.problem_found.connect(lambda _path, _why: (self._update_steps(), self._show_current_results()))
        self.grid = PhotoGrid()
        self.grid.setModel(self.model)
        self.grid.selectionModel().currentChanged.connect(lambda cur, _prev: self._photo_selected(cur))
        self.grid.doubleClicked.connect(lambda _idx: self.tabs.setCurrentIndex(TAB_MASKS))
        self.presets = export_presets()

        self.mask_panel = MaskReviewPanel(settings, self.workspace, self)
        self.mask_panel.mask_saved.connect(self.refresh_entry)
        self.mask_panel.photo_changed.connect(self.select_photo)

        self.mask_panel.compute_all_requested.connect(self.compute_all_masks)
        self.mask_panel.download_requested.connect(self.open_models)
        self.mask_panel.order_changed.connect(self._update_steps)
        # The saved job settings (QSettings), else JobSettings' own defaults.
        self.saved_job = job or load_job_settings() or JobSettings()
        self.templates = TemplatesPanel(settings, self.workspace, self.saved_job)
        self.templates.try_requested.connect(self.try_on_current)
        self.templates.run_all_requested.connect(self.run_on_all)
        self.templates.settings_changed.connect(self._update_steps)
        self.results = ResultsPanel(self.presets)
        self.results.keep_requested.connect(self.keep_result)
        self.results.regenerate_requested.connect(self.regenerate)
        self.results.final_requested.connect(self.render_final)
        self.results.export_requested.connect(lambda preset: self.export_chosen(preset))
        self.results.regenerate_flagged_requested.connect(self.regenerate_flagged)
        self.results.change_export_dir_requested.connect(self.exports.choose_dir)
        self.results.reveal_requested.connect(reveal_in_file_manager)
        self.results.photo_step_requested.connect(self.step_photo)
        self.results.reference_requested.connect(self.templates.set_reference)
        self.templates.detail_explained.connect(self.results.set_final_detail)
        self.results.set_final_detail(self.templates.detail_text())
        self.results.preset_combo.setCurrentText(self.templates.preset.currentText())

        self.pages = StepPages(self.grid, self.mask_panel, self.templates, self.results)
        self.tabs, self.stepper, self.skipped_line = self.pages.tabs, self.pages.stepper, self.pages.skipped_line
        self.tabs.currentChanged.connect(self._tab_changed)
        self.empty = EmptyState()
        self.empty.open_requested.connect(self.open_dialog)
        self.stack = QStackedWidget()
        self.stack.addWidget(self.empty)
        self.stack.addWidget(self.pages)
        self.setCentralWidget(self.stack)
        self.drops = FolderDrops(self, self._open_dropped)  # a folder or photos dropped anywhere open
        self.ask_before_closing = True  # tests answer for the user

        self.queue_dock = QueueDock(self.queue, self)
        self.queue_panel = self.queue_dock.panel
        self.addDockWidget(Qt.DockWidgetArea.BottomDockWidgetArea, self.queue_dock)
        self.resizeDocks([self.queue_dock], [min(190, self.height() // 5)], Qt.Orientation.Vertical)  # laptop room
        self.queue.item_progress.connect(self._progress)

        self.queue.item_finished.connect(self._job_finished)
        self.queue.item_failed.connect(self._job_failed)
        self.queue.item_cancelled.connect(lambda i: (self.jobs.ended(i), self._project_changed()))
        # Coalesces the refreshes of a "run on all": one rebuild of the grid and review list per burst.
        self._refresh_timer = QTimer(self, singleShot=True, interval=50, timeout=self._refresh_project)
        self.jobs = JobController(self._submit, self.workspace)  # builds and tracks every job
        # Elided: a deep project path must not make the window wider than the screen.
        self.status_label = ElidedLabel("Open a folder of product photos (Ctrl+O), or drop one on the window.")
        self.statusBar().addWidget(self.status_label, 1)
        self.recent_menu = build_menus(self)
        self._fill_recent()
        self.queue.idle.connect(self._update_steps)
        self._update_steps()

        # Warm the edge-matting code (numba, holds the GIL when it first loads) while the app is idle;
        # its first use on this install (a compile) is said in the status bar until it is done.
        self.matting_warm_up = MattingWarmUp(self)
        self.preparing_label = PreparingLine(self.matting_warm_up)
        self.statusBar().addWidget(self.preparing_label, 1)
        QTimer.singleShot(WARM_UP_DELAY_MS, self.matting_warm_up.start)

    def show_help(self) -> None:
        from packshot.desktop.help_overlay import HelpOverlay

        self.help = HelpOverlay(self)
        self.help.show()

    def _fill_recent(self) -> None:
        fill_recent(self.recent_menu, self.settings.recent_folders, self.open_folder)
        recent = self.settings.recent_folders[:3]
        self.empty.recent.setText(("Recent: " + " · ".join(Path(f).name for f in recent)) if recent else "")

    # -- project --------------------------------------------------------------------------------
    def _open_dropped(self, folder: Path, files: list[Path]) -> None:
        if self.open_folder(folder) and files:
            self.select_photo(files[0])

    def open_dialog(self) -> None:
        folder = QFileDialog.getExistingDirectory(self, "Folder of photos, or a Packshot output folder")
        if folder:
            self.open_folder(Path(folder))

    def open_folder(self, folder: Path, out_dir: Optional[Path] = None) -> bool:
        """Open a folder of photos (or a project output folder); False with a message on failure.

        The project goes into ``out_dir``, by default beside the folder (``PHOTOS-packshot``); when
        that cannot be (a read-only place, or inside Packshot's installation) the user is asked, with
        a folder in the user data dir offered. Never inside the photo folder unless chosen."""
        folder = Path(folder)
        try:
            if out_dir is None and not is_project_dir(folder):
                problem = project_place_problem(folder)
                if problem is not None:
                    out_dir = ask_project_place(self, folder, problem)
                    if out_dir is None:
                        self.status_label.setText(f"Not opened: no place for the project of {folder}.")
                        return False
            session = ProjectSession.open(folder, out_dir)
        except Exception as exc:
            show_error(self, exc, "Cannot open folder")
            return False
        if self.session is not None:
            self.queue.cancel_all()
            self.session.close()
        self.session = session
        self.settings.remember_folder(folder)
        save_settings(self.settings)
        self._fill_recent()
        self.templates.set_job_settings(self._project_settings(session))
        self.results.preset_combo.setCurrentText(self.templates.preset.currentText())
        self.model.set_entries(session.entries())
        self.skipped_line.set_skipped(session.skipped)
        self.mask_panel.set_session(session, self.actions.mask_settings())
        where = session.input_dir or session.out_dir
        self.setWindowTitle(f"Packshot Studio — {where}")
        skipped = f" ({len(session.skipped)} skipped)" if session.skipped else ""
        count = self.model.rowCount()
        self.status_label.setText(f"{count} photo{'' if count == 1 else 's'}{skipped} · project in {session.out_dir}")
        self.stack.setCurrentIndex(PAGE_WORK)
        self.tabs.setCurrentIndex(TAB_PHOTOS)
        self.stepper.set_current(TAB_PHOTOS)  # currentChanged does not fire when already there
        if self.model.rowCount():
            self.select_photo(self.model.entry(0).path)
        self.exports.open_project(session.out_dir)
        self._update_steps()
        self.project_opened.emit(session)
        return True

    def _project_settings(self, session: ProjectSession) -> JobSettings:
        try:
            current = self.templates.job_settings()
        except PackshotError:
            current = self.saved_job
        return project_settings(current, session.last_run_settings())

    def current_photo(self) -> Optional[Path]:
        idx = self.grid.currentIndex()
        return Path(idx.data(PathRole)) if idx.isValid() else None

    def selected_photos(self) -> list[Path]:
        return [Path(i.data(PathRole)) for i in self.grid.selectionModel().selectedIndexes()]

    def select_photo(self, path: Path) -> None:
        row = self.model.row_of(Path(path))
        if row >= 0 and row != self.grid.currentIndex().row():
            self.grid.selectionModel().setCurrentIndex(
                self.model.index(row), QItemSelectionModel.SelectionFlag.ClearAndSelect)

    def _photo_selected(self, index) -> None:
        path = Path(index.data(PathRole)) if index.isValid() else None
        self.templates.set_photo(path)
        self._update_shadow_preview(path)
        self._show_current_results()
        if path is not None and self.tabs.currentIndex() == TAB_MASKS:
            self.mask_panel.show_photo(path)
        self._update_steps()  # the next action may depend on this photo (one that cannot be read)

    def _update_shadow_preview(self, path: Optional[Path]) -> None:
        if self.tabs.currentIndex() != TAB_PROMPT:
            return  # computed when the Background step is shown
        rec = self.session.record(path) if self.session is not None and path is not None else None
        self.templates.set_preview_photo(path, rec.mask_path if rec is not None else None)

    def _tab_changed(self, tab: int) -> None:
        photo = self.current_photo()
        self.stepper.set_current(tab)
        if tab == TAB_MASKS:
            self.mask_panel.view.setFocus()  # the review's keyboard shortcuts work at once
            if photo is not None:
                self.mask_panel.show_photo(photo)
        elif tab == TAB_PROMPT:
            self._update_shadow_preview(photo)
        elif tab == TAB_RESULTS:
            self.results.strip.setFocus()  # K keeps, G regenerates, arrows move between variants
            self._show_current_results()
        self._update_steps()

    def _show_current_results(self) -> None:
        photo = self.current_photo()
        if self.session is None or photo is None:
            self.results.show_photo(None, [])
            return
        rec = self.session.record(photo)
        error = rec.error if rec is not None and rec.status == "failed" else self.model.problem(photo)
        self.results.show_photo(photo, self.session.results(photo), self.session.keeper_id(photo), error)

    def refresh_entry(self, path: Path) -> None:
        if self.session is None:
            return
        rec = self.session.record(path)
        if rec is not None:
            self.model.update_entry(self.session.entry(rec))
        if path == self.current_photo():
            self._show_current_results()
        self._update_steps()

    def _project_changed(self) -> None:
        """A job wrote to the project (masks, scores, results, errors): refresh what shows them."""
        self._refresh_timer.start()

    def _refresh_project(self) -> None:
        self.refresh_all()
        self.mask_panel.refresh_order()  # generation computes missing masks: statuses and scores change
        self._show_current_results()
        self._update_steps()

    def refresh_all(self) -> None:
        if self.session is not None:
            for entry in self.session.entries():
                self.model.update_entry(entry)

    def _progress(self, _item_id: int, p) -> None:
        if p.stage in ("batch", "masks") and p.done:
            self._project_changed()  # a photo finished: show it now, not at the end of the batch

    # -- the steps ------------------------------------------------------------------------------
    def step_counts(self) -> StepCounts:
        return self.guide.counts()

    def _update_steps(self) -> None:
        if hasattr(self, "stepper"):  # not while the window is being built
            self.guide.update()

    def step_photo(self, delta: int) -> None:
        """The next (+1) or previous (-1) photo of the grid (Results: N/PgDown, P/PgUp)."""
        rows = self.model.rowCount()
        if not rows:
            return
        row = self.grid.currentIndex().row()
        target = min(max((row if row >= 0 else 0) + delta, 0), rows - 1)
        self.select_photo(self.model.entry(target).path)

    # -- the jobs -------------------------------------------------------------------------------
    def _submit(self, job) -> int:
        item_id = self.queue.submit(job)
        self._update_steps()
        return item_id

    def _job_finished(self, item_id: int, result) -> None:
        path = self.jobs.finished(item_id, result)  # the job's own completion handling runs
        if path is not None:
            self.refresh_entry(path)
        self._project_changed()

    def _job_failed(self, item_id: int, exc: BaseException) -> None:
        path = self.jobs.ended(item_id)
        self._project_changed()
        if isinstance(exc, ModelMissingError):
            # Every queued photo would fail the same way: stop, say what is missing, offer the fix.
            self.queue.cancel_all()
            if path is not None:
                self.refresh_entry(path)
            self.actions.offer_models(exc)
            return
        if path is not None:
            self.refresh_entry(path)
            self.status_label.setText(f"{path.name}: {exc}")
        else:
            show_error(self, exc, "Job failed")

    def masks_changed(self) -> None:
        """Masks were computed: the grid's states and the review's order change."""
        self.refresh_all()
        self.mask_panel.refresh_order()

    def keep_result(self, result_id: int) -> None:
        if self.session is None:
            return
        self.session.choose(result_id)
        photo = self.current_photo()
        if photo is not None:
            self.refresh_entry(photo)

    # -- life cycle -----------------------------------------------------------------------------
    def showEvent(self, event) -> None:  # noqa: N802 - Qt API
        super().showEvent(event)
        self.shown.emit()

    def closeEvent(self, event) -> None:  # noqa: N802
        from PySide6.QtCore import QThreadPool

        if self.queue.busy:
            if self.ask_before_closing and not confirm_stop(self, self.queue.pending_count()):
                event.ignore()
                return
            self.status_label.setText("Stopping the current job at its next step…")
            self.statusBar().repaint()
        try:
            save_job_settings(self.templates.job_settings())
        except PackshotError as exc:  # e.g. the image engine without an image: keep the old options
            log.info("Options not saved: %s", exc)
        self.mask_panel.shutdown()
        self.templates.shutdown()
        self.queue.shutdown()
        for pool in (QThreadPool.globalInstance(), self.model.pool):
            pool.clear()  # queued previews/thumbnails are not needed any more
            pool.waitForDone(5000)
        if self.session is not None:
            self.session.close()
        self.workspace.runtime.unload()  # this window's models go with it
        try:
            save_settings(self.settings)
        except OSError as exc:
            log.warning("Settings not saved: %s", exc)
        super().closeEvent(event)
