"""The wizard's caption page: every photo's caption, where it came from, editable before training.

The reviewed table is written to the run's job folder (never into the user's photo folder) and the
training process reads it as its caption file.
"""

from __future__ import annotations

from pathlib import Path
from typing import Optional

from PySide6.QtCore import Qt
from PySide6.QtWidgets import (
    QCheckBox,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QLineEdit,
    QPushButton,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWizardPage,
)

from packshot.desktop.errors import user_message
from packshot.desktop.workers import start_worker

CAPTIONING = "Captioning with BLIP…"


class CaptionsPage(QWizardPage):
    def __init__(self, store) -> None:
        super().__init__()
        self.store = store
        self._problems = ""  # skipped files and caption problems, said above the table
        self.setTitle("Captions")
        self.setSubTitle("One caption per photo, from captions.csv, a .txt beside the photo, or the template "
                         "below. Edit any cell; photos with an empty caption train on the empty prompt.")
        self.template = QLineEdit("a photo of {stem}")
        self.template.setToolTip("{stem} is the file name without extension")
        self.use_model = QCheckBox("Caption photos without a caption with BLIP")
        self.apply_button = QPushButton("Apply")
        self.apply_button.clicked.connect(self.refill)
        self.message = QLabel("")
        self.message.setWordWrap(True)
        self.table = QTableWidget(0, 3)
        self.table.setHorizontalHeaderLabels(["Photo", "Caption", "From"])
        self.table.horizontalHeader().setSectionResizeMode(1, QHeaderView.ResizeMode.Stretch)
        row = QHBoxLayout()
        row.addWidget(QLabel("Template"))
        row.addWidget(self.template)
        row.addWidget(self.use_model)
        row.addWidget(self.apply_button)
        layout = QVBoxLayout(self)
        layout.addLayout(row)
        layout.addWidget(self.message)
        layout.addWidget(self.table)
        self._worker = None

    def _source(self):
        from packshot.trainer.captions import CaptionSource

        return CaptionSource(Path(self.field("data")), template=self.template.text().strip() or None)

    def initializePage(self) -> None:  # noqa: N802 - Qt naming
        from packshot.trainer.captions import caption_model_available

        self.use_model.setEnabled(caption_model_available(self.store))
        if not self.use_model.isEnabled():
            self.use_model.setToolTip("Download blip-image-captioning-base (Models…) to caption photos automatically")
        self.refill()

    def refill(self) -> None:
        from packshot.core.images import scan_photos
        from packshot.trainer.captions import propose_captions

        try:
            source = self._source()
            listing = scan_photos(Path(self.field("data")))
        except Exception as exc:  # a malformed captions.csv or template: shown here, the wizard stays open
            self.message.setText(user_message(exc))
            return
        photos = listing.photos
        problems = [f"Skipped {s.message}" for s in listing.skipped] + source.problems(photos)
        self._problems = "\n".join(problems)  # stays said while and after BLIP captions
        self.message.setText(self._problems)
        if self.use_model.isChecked():
            self.message.setText("\n".join([*problems, CAPTIONING]))
            self.apply_button.setEnabled(False)
            self._worker = start_worker(propose_captions, photos, source, store=self.store, use_model=True,
                                        on_result=self._fill, on_error=self._failed)
        else:
            self._fill(propose_captions(photos, source))

    def _failed(self, exc: BaseException) -> None:
        self._worker = None
        self.apply_button.setEnabled(True)
        self.message.setText(user_message(exc))

    def _fill(self, captions: dict[str, tuple[str, str]]) -> None:
        self._worker = None
        self.apply_button.setEnabled(True)
        if self.message.text().endswith(CAPTIONING):
            self.message.setText(self._problems)
        self.table.setRowCount(len(captions))
        for i, (name, (caption, origin)) in enumerate(sorted(captions.items())):
            photo = QTableWidgetItem(name)
            photo.setFlags(photo.flags() & ~Qt.ItemFlag.ItemIsEditable)
            source = QTableWidgetItem(origin)
            source.setFlags(source.flags() & ~Qt.ItemFlag.ItemIsEditable)
            self.table.setItem(i, 0, photo)
            self.table.setItem(i, 1, QTableWidgetItem(caption))
            self.table.setItem(i, 2, source)
        self.completeChanged.emit()

    def captions(self) -> dict[str, str]:
        return {self.table.item(r, 0).text(): self.table.item(r, 1).text().strip()
                for r in range(self.table.rowCount())}

    def isComplete(self) -> bool:  # noqa: N802 - Qt naming
        return self._worker is None and self.table.rowCount() > 0

    def write(self, folder: Path) -> Optional[Path]:
        from packshot.trainer.captions import write_caption_csv

        return write_caption_csv(folder / "captions-reviewed.csv", self.captions()) if self.table.rowCount() else None
