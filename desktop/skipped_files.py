"""The line above the photo grid naming the folder entries left out (core's ``scan_photos``): a
broken link, a FIFO, a file that cannot be opened... is said with its reason, never dropped silently."""

from __future__ import annotations

from typing import Optional, Sequence

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QHBoxLayout, QMessageBox, QPushButton, QWidget

from packshot.core.images import SkippedFile
from packshot.desktop.elided_label import ElidedLabel

TOOLTIP_LINES = 15  # the details dialog has every entry


def skipped_summary(skipped: Sequence[SkippedFile]) -> str:
    """'2 files skipped: not photos Packshot can read (a.jpg, b.png)', or '' when none."""
    if not skipped:
        return ""
    names = ", ".join(_shown_name(s) for s in skipped[:3]) + (", …" if len(skipped) > 3 else "")
    count = "1 file" if len(skipped) == 1 else f"{len(skipped)} files"
    return f"{count} skipped: not photos Packshot can read ({names})"


def _shown_name(entry: SkippedFile) -> str:
    """The entry's name as core shows it (escaped when not UTF-8): its message less the reason."""
    return entry.message[: -len(entry.reason) - 2]


def skipped_details(skipped: Sequence[SkippedFile]) -> str:
    """One line per entry: its name and why it was left out."""
    return "\n".join(s.message for s in skipped)


class SkippedFilesLine(QWidget):
    """Hidden when nothing was skipped; else a summary (every entry in its tooltip) and "Details…"."""

    def __init__(self, parent: Optional[QWidget] = None) -> None:
        super().__init__(parent)
        self.skipped: list[SkippedFile] = []
        self.label = ElidedLabel(mode=Qt.TextElideMode.ElideRight)
        self.label.setStyleSheet("color:#a60")
        self.details_btn = QPushButton("Details…")
        self.details_btn.clicked.connect(self.show_details)
        row = QHBoxLayout(self)
        row.setContentsMargins(4, 2, 4, 2)
        row.addWidget(self.label, 1)
        row.addWidget(self.details_btn)
        self.dialog: Optional[QMessageBox] = None
        self.hide()

    def set_skipped(self, skipped: Sequence[SkippedFile]) -> None:
        self.skipped = list(skipped)
        self.label.setText(skipped_summary(self.skipped))
        lines = [s.message for s in self.skipped[:TOOLTIP_LINES]]
        if len(self.skipped) > TOOLTIP_LINES:
            lines.append(f"… and {len(self.skipped) - TOOLTIP_LINES} more (Details…)")
        self.label.setToolTip("\n".join(lines))
        self.setVisible(bool(self.skipped))

    def show_details(self) -> None:
        """Every skipped entry with its reason, in a window-modal box that does not block the queue."""
        box = QMessageBox(QMessageBox.Icon.Information, "Files skipped", skipped_summary(self.skipped) + ".",
                          QMessageBox.StandardButton.Ok, self.window())
        box.setInformativeText("Packshot left these out of the project; the files themselves are not changed.")
        box.setDetailedText(skipped_details(self.skipped))
        box.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        box.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        self.dialog = box
        box.finished.connect(lambda _r: setattr(self, "dialog", None))
        box.open()
