"""The main window's questions to the user: where a project goes, whether to stop running work,
whether to open the models dialog. Each returns the answer; the window acts on it."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Optional

from PySide6.QtWidgets import QFileDialog, QMessageBox, QWidget

from packshot.core.errors import PackshotError
from packshot.desktop.errors import show_error, user_message
from packshot.desktop.project_session import default_out_dir, is_project_dir, user_project_dir, writable

if TYPE_CHECKING:
    from packshot.desktop.main_window import MainWindow


def ask_project_place(parent: QWidget, folder: Path, problem: str) -> Optional[Path]:
    """Where the project of ``folder`` goes when it cannot go beside it; None: the user cancelled."""
    fallback = user_project_dir(folder)
    if is_project_dir(fallback):
        return fallback  # opened before: its project is there already
    box = QMessageBox(QMessageBox.Icon.Information, "Where to keep the project",
                      f"{problem}, so Packshot cannot keep this folder's project (masks, results and its "
                      f"database) in {default_out_dir(folder)}.\n\nKeep the project in {fallback} instead? "
                      "Your photos are only read, never changed.",
                      QMessageBox.StandardButton.Cancel, parent)
    use_btn = box.addButton("Use this folder", QMessageBox.ButtonRole.AcceptRole)
    other_btn = box.addButton("Choose another…", QMessageBox.ButtonRole.ActionRole)
    box.setDefaultButton(use_btn)
    box.exec()
    if box.clickedButton() is use_btn:
        return fallback
    if box.clickedButton() is other_btn:
        chosen = QFileDialog.getExistingDirectory(parent, f"Folder for the project of {folder.name}")
        if chosen:
            if writable(Path(chosen)) or is_project_dir(Path(chosen)):
                return Path(chosen)
            show_error(parent, PackshotError(f"The folder {chosen} is read-only; choose a folder you can "
                                             "write to."), "Cannot keep the project there")
    return None


def confirm_stop(parent: QWidget, pending: int) -> bool:
    """Work is running: ask before stopping it (it stops at its next step, nothing half-written)."""
    answer = QMessageBox.question(
        parent, "Stop the work?", f"{pending} job(s) are still running or queued. Stop them "
        "and close? Finished photos are kept; a re-run continues where this one stopped.",
        QMessageBox.StandardButton.Yes | QMessageBox.StandardButton.No, QMessageBox.StandardButton.No)
    return answer == QMessageBox.StandardButton.Yes


def offer_models(parent: QWidget, exc: BaseException) -> bool:
    """A model is missing: say which; True when the user asks for the models dialog."""
    box = QMessageBox(QMessageBox.Icon.Warning, "Model missing", user_message(exc),
                      QMessageBox.StandardButton.Close, parent)
    open_btn = box.addButton("Open models…", QMessageBox.ButtonRole.AcceptRole)
    box.exec()
    return box.clickedButton() is open_btn


class ModelDialogs:
    """Settings, Models and the trainer: after each, the window asks core again what is there."""

    def __init__(self, window: MainWindow) -> None:
        self.window = window

    def open_settings(self) -> None:
        from packshot.desktop.settings_dialog import SettingsDialog

        if SettingsDialog(self.window.settings, parent=self.window).exec():
            self.models_changed()  # the models folder, the masker or the models may differ

    def open_models(self) -> None:
        from packshot.desktop.models_dialog import ModelsDialog

        ModelsDialog(self.window.settings, self.window.workspace, self.window).exec()
        self.models_changed()  # SAM may be here now, or another folder chosen

    def open_trainer(self) -> None:
        from packshot.desktop.trainer_wizard import TrainerWizard

        # The training itself runs in a process of its own, with a runtime of its own.
        session = self.window.session  # the open photos folder prefills the wizard's photos field
        TrainerWizard(self.window.workspace.runtime.store, self.window,
                      photos_folder=session.input_dir if session is not None else None).exec()
        self.models_changed()  # a newly trained model becomes selectable

    def models_changed(self) -> None:
        """The models folder or what is in it may have changed: a new runtime for another folder (the
        old one unloaded), fresh answers from core, and the panels asking again."""
        w = self.window
        w.workspace.models_changed(w.settings.models_path)
        w.templates.refresh_models()
        if w.session is not None:
            w.mask_panel.set_session(w.session, w.actions.mask_settings())
