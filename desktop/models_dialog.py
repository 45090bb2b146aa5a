"""Models dialog: which models are here, which are missing; download with progress or pick a folder.

Looking a model up may touch the Hugging Face cache and downloading takes minutes, so both run on
the thread pool; the dialog only shows their progress and can cancel the download.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import TYPE_CHECKING, Optional

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import (
    QAbstractItemView,
    QDialog,
    QFileDialog,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QProgressBar,
    QPushButton,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from packshot.core.progress import Progress
from packshot.desktop.settings import AppSettings, absolute_path, save_settings
from packshot.desktop.workers import FunctionWorker, start_worker
from packshot.desktop.workspace import Workspace

if TYPE_CHECKING:
    from packshot.core.app_api import ModelStore

log = logging.getLogger(__name__)


def model_status(store: ModelStore) -> list[dict]:
    """One row per known model of ``store``: id, title, size, licence, local folder or None (worker thread)."""
    rows = []
    for spec in store.list_models():
        try:
            where = store.locate(spec.id)
        except Exception as exc:  # a broken folder must not hide the other models
            log.warning("Cannot check %s: %s", spec.id, exc)
            where = None
        rows.append({"id": spec.id, "title": spec.title, "size": spec.size_text, "licence": spec.licence,
                     "path": where, "used_by": ", ".join(spec.used_by)})
    return rows


def download_model(store: ModelStore, model_id: str, progress, cancel) -> Path:
    return store.allowing_downloads().ensure(model_id, progress, cancel)


class ModelsDialog(QDialog):
    models_changed = Signal()

    def __init__(self, settings: AppSettings, workspace: Workspace, parent: Optional[QWidget] = None) -> None:
        super().__init__(parent)
        self.setWindowTitle("Models")
        self.resize(860, 380)
        self._settings = settings
        self._workspace = workspace  # its runtime's store is the app's models folder
        self._rows: list[dict] = []
        self._download: Optional[FunctionWorker] = None

        self.intro = QLabel("Packshot needs these models for generated backgrounds and SAM masks. "
                            "Without them it still makes white, colour, gradient and blurred "
                            "backgrounds with the classic mask.")
        self.intro.setWordWrap(True)
        self.folder_label = QLabel()
        self.table = QTableWidget(0, 4)
        self.table.setHorizontalHeaderLabels(["Model", "Size", "Status", "Used by"])
        self.table.horizontalHeader().setSectionResizeMode(0, QHeaderView.ResizeMode.Stretch)
        self.table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.table.itemSelectionChanged.connect(self._update_buttons)
        self.progress = QProgressBar()
        self.progress.hide()
        self.message = QLabel()
        self.message.setWordWrap(True)
        self.download_btn = QPushButton("Download selected")
        self.download_btn.clicked.connect(self.download_selected)
        self.cancel_btn = QPushButton("Cancel download")
        self.cancel_btn.clicked.connect(self.cancel_download)
        self.folder_btn = QPushButton("Use a models folder…")
        self.folder_btn.clicked.connect(self._pick_folder)
        close_btn = QPushButton("Close")
        close_btn.clicked.connect(self.accept)

        buttons = QHBoxLayout()
        buttons.addWidget(self.folder_btn)
        buttons.addStretch(1)
        buttons.addWidget(self.download_btn)
        buttons.addWidget(self.cancel_btn)
        buttons.addWidget(close_btn)
        layout = QVBoxLayout(self)
        layout.addWidget(self.intro)
        layout.addWidget(self.folder_label)
        layout.addWidget(self.table, 1)
        layout.addWidget(self.progress)
        layout.addWidget(self.message)
        layout.addLayout(buttons)
        self.refresh()

    # -- status ---------------------------------------------------------------------------------
    def refresh(self) -> FunctionWorker:
        where = self._settings.models_dir or "(default: Packshot's data folder and the Hugging Face cache)"
        self.folder_label.setText(f"Models folder: {where}")
        self.message.setText("Checking which models are on this machine…")
        return start_worker(model_status, self._workspace.runtime.store, on_result=self._show_rows,
                            on_error=self._failed)

    def _show_rows(self, rows: list[dict]) -> None:
        self._rows = rows
        self.table.setRowCount(len(rows))
        for i, row in enumerate(rows):
            status = f"present: {row['path']}" if row["path"] else "missing"
            for col, text in enumerate((f"{row['id']} — {row['title']}", row["size"], status, row["used_by"])):
                item = QTableWidgetItem(text)
                if col == 2:
                    item.setForeground(Qt.GlobalColor.darkGreen if row["path"] else Qt.GlobalColor.red)
                self.table.setItem(i, col, item)
        missing = [r["id"] for r in rows if not r["path"]]
        self.message.setText(f"Missing: {', '.join(missing)}." if missing else "All models are present.")
        self._update_buttons()
        self.models_changed.emit()

    def row_of(self, model_id: str) -> int:
        """The table row of ``model_id``; -1 when it is not listed (yet)."""
        return next((i for i, r in enumerate(self._rows) if r["id"] == model_id), -1)

    def missing(self) -> list[str]:
        return [r["id"] for r in self._rows if not r["path"]]

    def _update_buttons(self) -> None:
        busy = self._download is not None
        selected = self._selected_id()
        self.download_btn.setEnabled(not busy and selected is not None
                                     and any(r["id"] == selected and not r["path"] for r in self._rows))
        self.cancel_btn.setEnabled(busy)
        self.folder_btn.setEnabled(not busy)

    def _selected_id(self) -> Optional[str]:
        rows = self.table.selectionModel().selectedRows()
        return self._rows[rows[0].row()]["id"] if rows else None

    # -- actions --------------------------------------------------------------------------------
    def download_selected(self) -> Optional[FunctionWorker]:
        model_id = self._selected_id()
        if model_id is None:
            return None
        self.progress.setValue(0)
        self.progress.show()
        self.message.setText(f"Downloading {model_id}…")
        self._download = start_worker(download_model, self._workspace.runtime.store, model_id,
                                      on_progress=self._progress, on_result=lambda _p: self._finished(None),
                                      on_error=self._finished,
                                      on_cancelled=lambda: self._finished("cancelled"))
        self._update_buttons()
        return self._download

    def cancel_download(self) -> None:
        if self._download is not None:
            self._download.cancel()

    def _progress(self, p: Progress) -> None:
        if p.total:
            # Byte counts overflow a QProgressBar's int: show per-mille.
            self.progress.setMaximum(1000)
            self.progress.setValue(int(1000 * p.done / p.total))
        self.message.setText(p.message or p.stage)

    def _finished(self, error) -> None:
        self._download = None
        self.progress.hide()
        if error == "cancelled":
            self.message.setText("Download cancelled.")
        elif error is not None:
            from packshot.desktop.errors import user_message

            self.message.setText(f"Download failed: {user_message(error)}")
        self._update_buttons()
        if error is None:
            self._workspace.models_changed(self._settings.models_path)  # a model is here now
            self.refresh()

    def use_folder(self, folder: Path) -> FunctionWorker:
        self._settings.choose("models_dir", absolute_path(folder))  # the user's choice: saved
        save_settings(self._settings)
        self._workspace.models_changed(self._settings.models_path)  # another folder: another runtime
        return self.refresh()

    def _pick_folder(self) -> None:
        folder = QFileDialog.getExistingDirectory(self, "Folder holding one sub-folder per model id")
        if folder:
            self.use_folder(Path(folder))

    def _failed(self, exc: BaseException) -> None:
        from packshot.desktop.errors import user_message

        self.message.setText(user_message(exc))
