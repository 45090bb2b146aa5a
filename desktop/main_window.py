"""The main window: photo grid, mask review, prompt templates, results, and the queue dock."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Optional

from PySide6.QtCore import QItemSelectionModel, Qt, QTimer, Signal
from PySide6.QtGui import QAction, QKeySequence
from PySide6.QtWidgets import (
    QDockWidget,
    QFileDialog,
    QLabel,
    QMainWindow,
    QTabWidget,
    QWidget,
)

from core.errors import ModelMissingError, PackshotError
from desktop.errors import show_error
from desktop.gui_jobs import AutoMaskJob, ExportJob, GenerateJob, export_presets
from desktop.mask_review import MaskReviewPanel
from desktop.photo_grid import PhotoGrid
from desktop.project_session import (
    ProjectSession,
    default_out_dir,
    is_project_dir,
    project_place_problem,
    user_project_dir,
)
from desktop.queue import GenerationQueue
from desktop.queue_panel import QueuePanel
from desktop.results import ResultsPanel
from desktop.settings import AppSettings, save_settings
from desktop.templates_panel import TemplatesPanel
from desktop.thumbnails import PathRole, PhotoListModel

log = logging.getLogger(__name__)

TAB_PHOTOS, TAB_MASKS, TAB_PROMPT, TAB_RESULTS = range(4)


class MainWindow(QMainWindow):
    project_opened = Signal(object)  # ProjectSession
    shown = Signal()

    def __init__(self, settings: AppSettings, parent: Optional[QWidget] = None) -> None:
        super().__init__(parent)
        self.settings = settings
        self.session: Optional[ProjectSession] = None
        self.setWindowTitle("Packshot Studio")
        self.resize(1280, 860)

        self.queue = GenerationQueue(self)
        self.model = PhotoListModel(self)
        self.grid = PhotoGrid()
        self.grid.setModel(self.model)
        self.grid.selectionModel().currentChanged.connect(lambda cur, _prev: self._photo_selected(cur))
        self.grid.doubleClicked.connect(lambda _idx: self.tabs.setCurrentIndex(TAB_MASKS))
        self.presets = export_presets()

        self.mask_panel = MaskReviewPanel(settings, self)
        self.mask_panel.mask_saved.connect(self.refresh_entry)
        self.mask_panel.photo_changed.connect(self.select_photo)
        self.mask_panel.compute_all_requested.connect(self.compute_all_masks)
        self.templates = TemplatesPanel(settings)
        self.templates.try_requested.connect(self.try_on_current)
        self.templates.run_all_requested.connect(self.run_on_all)
        self.results = ResultsPanel(self.presets)
        self.results.keep_requested.connect(self.keep_result)
        self.results.regenerate_requested.connect(self.regenerate)
        self.results.export_requested.connect(self.export_chosen)
        self.results.preset_combo.setCurrentText(settings.export_preset)

        self.tabs = QTabWidget()
        self.tabs.addTab(self.grid, "Photos")
        self.tabs.addTab(self.mask_panel, "Mask review")
        self.tabs.addTab(self.templates, "Prompt && engine")
        self.tabs.addTab(self.results, "Results")
        self.tabs.currentChanged.connect(self._tab_changed)
        self.setCentralWidget(self.tabs)

        self.queue_panel = QueuePanel(self.queue)
        dock = QDockWidget("Generation queue", self)
        dock.setObjectName("queue-dock")
        dock.setWidget(self.queue_panel)
        dock.setFeatures(QDockWidget.DockWidgetFeature.DockWidgetMovable
                         | QDockWidget.DockWidgetFeature.DockWidgetFloatable)
        self.addDockWidget(Qt.DockWidgetArea.BottomDockWidgetArea, dock)
        self.resizeDocks([dock], [190], Qt.Orientation.Vertical)
        self.queue_dock = dock

        self.queue.item_finished.connect(self._job_finished)
        self.queue.item_failed.connect(self._job_failed)
        self.queue.item_cancelled.connect(lambda i: (self._job_paths.pop(i, None), self._project_changed()))
        # Coalesces the refreshes of a "run on all": one rebuild of the grid and review list per burst.
        self._refresh_timer = QTimer(self)
        self._refresh_timer.setSingleShot(True)
        self._refresh_timer.setInterval(50)
        self._refresh_timer.timeout.connect(self._refresh_project)
        self._job_paths: dict[int, Path] = {}
        self._mask_jobs: set[int] = set()
        self.status_label = QLabel("Open a folder of product photos (Ctrl+O).")
        self.statusBar().addWidget(self.status_label, 1)
        self._build_menus()

    # -- menus and shortcuts --------------------------------------------------------------------
    def _action(self, menu, text: str, slot, shortcut: Optional[str] = None) -> QAction:
        action = QAction(text, self)
        if shortcut:
            action.setShortcut(QKeySequence(shortcut))
        action.triggered.connect(slot)
        menu.addAction(action)
        self.addAction(action)  # shortcuts work whichever tab has focus
        return action

    def _build_menus(self) -> None:
        bar = self.menuBar()
        file_menu = bar.addMenu("&File")
        self._action(file_menu, "Open folder…", self._open_dialog, "Ctrl+O")
        self.recent_menu = file_menu.addMenu("Open recent")
        self._fill_recent()
        self._action(file_menu, "Export chosen…", lambda: self.export_chosen(self.settings.export_preset), "Ctrl+E")
        file_menu.addSeparator()
        self._action(file_menu, "Settings…", self.open_settings, "Ctrl+,")
        self._action(file_menu, "Models…", self.open_models)
        self._action(file_menu, "Train a brand model…", self.open_trainer)
        file_menu.addSeparator()
        self._action(file_menu, "Quit", self.close, "Ctrl+Q")
        run_menu = bar.addMenu("&Generate")
        self._action(run_menu, "Compute all masks", self.compute_all_masks, "Ctrl+M")
        self._action(run_menu, "Try on this photo", self.try_on_current, "Ctrl+T")
        self._action(run_menu, "Run on all", self.run_on_all, "Ctrl+Shift+R")
        self._action(run_menu, "Pause / resume queue", lambda: self.queue.set_paused(not self.queue.paused), "Ctrl+P")
        self._action(run_menu, "Cancel current", self.queue.cancel_current, "Ctrl+.")
        self._action(run_menu, "Cancel all", self.queue.cancel_all, "Ctrl+Shift+.")
        view_menu = bar.addMenu("&View")
        for i, name in enumerate(("Photos", "Mask review", "Prompt and engine", "Results")):
            self._action(view_menu, name, lambda _c=False, i=i: self.tabs.setCurrentIndex(i), f"Ctrl+{i + 1}")

    def _fill_recent(self) -> None:
        self.recent_menu.clear()
        for folder in self.settings.recent_folders:
            action = self.recent_menu.addAction(folder)
            action.triggered.connect(lambda _c=False, f=folder: self.open_folder(Path(f)))

    # -- project --------------------------------------------------------------------------------
    def _open_dialog(self) -> None:
        folder = QFileDialog.getExistingDirectory(self, "Folder of photos, or a Packshot output folder")
        if folder:
            self.open_folder(Path(folder))

    def open_folder(self, folder: Path, out_dir: Optional[Path] = None) -> bool:
        """Open a folder of photos (or a project output folder); False with a message on failure.

        The project goes into ``out_dir``, by default ``FOLDER/packshot-output``; when that cannot be
        (a read-only folder, or one inside Packshot's installation) the user is asked where."""
        folder = Path(folder)
        try:
            if out_dir is None and not is_project_dir(folder):
                problem = project_place_problem(folder)
                if problem is not None:
                    out_dir = self._ask_project_place(folder, problem)
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
        self.model.set_entries(session.entries())
        self.mask_panel.set_session(session)
        where = session.input_dir or session.out_dir
        self.setWindowTitle(f"Packshot Studio — {where}")
        self.status_label.setText(f"{self.model.rowCount()} photos · project in {session.out_dir}")
        if self.model.rowCount():
            self.select_photo(self.model.entry(0).path)
        self.project_opened.emit(session)
        return True

    def _ask_project_place(self, folder: Path, problem: str) -> Optional[Path]:
        """Where the project of ``folder`` goes when it cannot go inside it; None: the user cancelled."""
        from PySide6.QtWidgets import QMessageBox

        fallback = user_project_dir(folder)
        if is_project_dir(fallback):
            return fallback  # opened before: its project is there already
        box = QMessageBox(QMessageBox.Icon.Information, "Where to keep the project",
                          f"{problem}, so Packshot cannot keep this folder's project (masks, results and its "
                          f"database) in {default_out_dir(folder)}.\n\nKeep the project in {fallback} instead? "
                          "Your photos are only read, never changed.",
                          QMessageBox.StandardButton.Cancel, self)
        use_btn = box.addButton("Use this folder", QMessageBox.ButtonRole.AcceptRole)
        other_btn = box.addButton("Choose another…", QMessageBox.ButtonRole.ActionRole)
        box.setDefaultButton(use_btn)
        box.exec()
        if box.clickedButton() is use_btn:
            return fallback
        if box.clickedButton() is other_btn:
            chosen = QFileDialog.getExistingDirectory(self, f"Folder for the project of {folder.name}")
            if chosen:
                reason = project_place_problem(Path(chosen))
                if reason is None or is_project_dir(Path(chosen)):
                    return Path(chosen)
                show_error(self, PackshotError(f"{reason}; choose a folder you can write to."), "Cannot keep the project there")
        return None

    def current_photo(self) -> Optional[Path]:
        idx = self.grid.currentIndex()
        return Path(idx.data(PathRole)) if idx.isValid() else None

    def select_photo(self, path: Path) -> None:
        row = self.model.row_of(path)
        if row >= 0 and row != self.grid.currentIndex().row():
            self.grid.selectionModel().setCurrentIndex(
                self.model.index(row), QItemSelectionModel.SelectionFlag.ClearAndSelect)

    def _photo_selected(self, index) -> None:
        path = Path(index.data(PathRole)) if index.isValid() else None
        self.templates.set_photo(path)
        self._show_current_results()
        if path is not None and self.tabs.currentIndex() == TAB_MASKS:
            self.mask_panel.show_photo(path)

    def _tab_changed(self, tab: int) -> None:
        photo = self.current_photo()
        if tab == TAB_MASKS:
            self.mask_panel.view.setFocus()  # the review's keyboard shortcuts work at once
            if photo is not None:
                self.mask_panel.show_photo(photo)
        elif tab == TAB_RESULTS:
            self.results.strip.setFocus()  # K keeps, G regenerates, arrows move between variants
            self._show_current_results()

    def _show_current_results(self) -> None:
        photo = self.current_photo()
        if self.session is None or photo is None:
            self.results.show_photo(None, [])
            return
        rec = self.session.record(photo)
        error = rec.error if rec is not None and rec.status == "failed" else None
        self.results.show_photo(photo, self.session.results(photo), self.session.keeper_id(photo), error)

    def refresh_entry(self, path: Path) -> None:
        if self.session is None:
            return
        rec = self.session.record(path)
        if rec is not None:
            self.model.update_entry(self.session.entry(rec))
        if path == self.current_photo():
            self._show_current_results()

    def _project_changed(self) -> None:
        """A job wrote to the project (masks, scores, results, errors): refresh what shows them."""
        self._refresh_timer.start()

    def _refresh_project(self) -> None:
        self._refresh_all()
        self.mask_panel.refresh_order()  # generation computes missing masks: statuses and scores change

    def _refresh_all(self) -> None:
        if self.session is not None:
            for entry in self.session.entries():
                self.model.update_entry(entry)

    # -- generation -----------------------------------------------------------------------------
    def _generate_job(self, path: Path, seed: Optional[int] = None) -> Optional[GenerateJob]:
        try:
            gen = self.templates.generation_settings(path, seed)
            template = self.templates.current_template()
            return GenerateJob(self.session.out_dir, path, self.templates.engine(), gen, self.settings,
                               template_prompt=template.prompt, template_negative=template.negative,
                               template_name=template.name, variables=self.templates.variables_for(path),
                               seeds=gen.variant_seeds(), qc_retries=self.templates.qc_retries.value(),
                               model=self.templates.model())
        except Exception as exc:
            show_error(self, exc, "Cannot queue this photo")
            return None

    def _submit(self, job: GenerateJob) -> int:
        item_id = self.queue.submit(job)
        self._job_paths[item_id] = job.photo
        return item_id

    def _models_ready(self) -> bool:
        """Check the chosen engine's weights before queueing anything: one clear message offering the
        models dialog, instead of a failure per photo ("auto" needs none: it falls back to white)."""
        from core.models.store import ModelStore
        from desktop.templates_panel import missing_model

        try:
            store = ModelStore(self.settings.models_path)
            lacking = missing_model(self.templates.engine(), store.available, self.templates.model())
            if lacking is None:
                return True
            self._offer_models(ModelMissingError(store.missing_message(lacking)))
        except Exception as exc:
            show_error(self, exc, "Cannot check the models")
        return False

    def try_on_current(self) -> Optional[int]:
        photo = self.current_photo()
        if self.session is None or photo is None:
            self.status_label.setText("Select a photo first.")
            return None
        if not self._models_ready():
            return None
        job = self._generate_job(photo)
        return self._submit(job) if job else None

    def run_on_all(self) -> list[int]:
        if self.session is None or not self._models_ready():
            return []
        ids = []
        for entry in self.model.entries():
            if entry.mask_state == "rejected":
                continue  # a rejected mask means: do not generate this photo
            job = self._generate_job(entry.path)
            if job is None:
                break  # the message was shown once; the same error would repeat for every photo
            ids.append(self._submit(job))
        self.status_label.setText(f"Queued {len(ids)} photos.")
        return ids

    def regenerate(self, path: Path) -> Optional[int]:
        if self.session is None:
            return None
        if not self._models_ready():
            return None
        used = [r.seed for r in self.session.results(path)]
        seed = (max(used) + 1) if used else self.templates.seed.value()
        job = self._generate_job(path, seed=seed)
        return self._submit(job) if job else None

    def _job_finished(self, item_id: int, _result) -> None:
        if item_id in self._mask_jobs:
            self._mask_jobs.discard(item_id)
            self._refresh_all()
            self.mask_panel.refresh_order()
        path = self._job_paths.pop(item_id, None)
        if path is not None:
            self.refresh_entry(path)
            self._project_changed()

    def _job_failed(self, item_id: int, exc: BaseException) -> None:
        path = self._job_paths.pop(item_id, None)
        self._project_changed()
        if isinstance(exc, ModelMissingError):
            # Every queued photo would fail the same way: stop, say what is missing, offer the fix.
            self.queue.cancel_all()
            if path is not None:
                self.refresh_entry(path)
            self._offer_models(exc)
            return
        if path is not None:
            self.refresh_entry(path)
            self.status_label.setText(f"{path.name}: {exc}")
        else:
            show_error(self, exc, "Job failed")

    def compute_all_masks(self) -> Optional[int]:
        if self.session is None:
            return None
        item = self.queue.submit(AutoMaskJob(self.session.out_dir, self.settings))
        self._mask_jobs.add(item)
        return item

    def keep_result(self, result_id: int) -> None:
        if self.session is None:
            return
        self.session.choose(result_id)
        photo = self.current_photo()
        if photo is not None:
            self.refresh_entry(photo)

    def export_chosen(self, preset: str, dest: Optional[Path] = None) -> Optional[int]:
        if self.session is None:
            return None
        if dest is None:
            folder = QFileDialog.getExistingDirectory(self, "Export the chosen results to")
            if not folder:
                return None
            dest = Path(folder)
        self.settings.export_preset = preset
        return self.queue.submit(ExportJob(self.session.out_dir, Path(dest), preset))

    # -- dialogs --------------------------------------------------------------------------------
    def open_settings(self) -> None:
        from desktop.settings_dialog import SettingsDialog

        if SettingsDialog(self.settings, self.presets, self).exec():
            self.templates.refresh_models()  # the models folder may differ
            if self.session is not None:
                self.mask_panel.set_session(self.session)  # masker kind, device or models folder may differ

    def open_models(self) -> None:
        from desktop.models_dialog import ModelsDialog

        ModelsDialog(self.settings, self).exec()
        self.templates.refresh_models()

    def _offer_models(self, exc: BaseException) -> None:
        from PySide6.QtWidgets import QMessageBox

        from desktop.errors import user_message

        box = QMessageBox(QMessageBox.Icon.Warning, "Model missing", user_message(exc),
                          QMessageBox.StandardButton.Close, self)
        open_btn = box.addButton("Open models…", QMessageBox.ButtonRole.AcceptRole)
        box.exec()
        if box.clickedButton() is open_btn:
            self.open_models()

    def open_trainer(self) -> None:
        from core.models.store import ModelStore
        from desktop.trainer_wizard import TrainerWizard

        TrainerWizard(ModelStore(self.settings.models_path), self).exec()
        self.templates.refresh_models()  # a newly trained model becomes selectable

    # -- life cycle -----------------------------------------------------------------------------
    def showEvent(self, event) -> None:  # noqa: N802 - Qt API
        super().showEvent(event)
        self.shown.emit()

    def closeEvent(self, event) -> None:  # noqa: N802
        from PySide6.QtCore import QThreadPool

        if self.queue.busy:
            self.status_label.setText("Stopping the current job at its next step…")
            self.statusBar().repaint()
        self.mask_panel.shutdown()
        self.queue.shutdown()
        for pool in (QThreadPool.globalInstance(), self.model.pool):
            pool.clear()  # queued previews/thumbnails are not needed any more
            pool.waitForDone(5000)
        if self.session is not None:
            self.session.close()
        try:
            save_settings(self.settings)
        except OSError as exc:
            log.warning("Settings not saved: %s", exc)
        super().closeEvent(event)
