"""The main window's questions to the user: where a project goes, whether to stop running work,
whether to open the models dialog. Each returns the answer; the window acts on it."""

from __future__ import annotations

from pathlib import Path
from typing import Optional

from PySide6.QtWidgets import QFileDialog, QMessageBox, QWidget

from core.errors import PackshotError
from desktop.errors import show_error, user_message
from desktop.project_session import default_out_dir, is_project_dir, user_project_dir, writable


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
