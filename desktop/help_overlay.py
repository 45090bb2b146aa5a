"""The keyboard shortcuts, listed in one overlay (F1 or ?)."""

from __future__ import annotations

from typing import Optional

from PySide6.QtWidgets import QDialog, QDialogButtonBox, QLabel, QVBoxLayout, QWidget

from packshot.desktop.mask_review import SHORTCUT_HELP, SHORTCUTS

GLOBAL_KEYS = (
    ("Ctrl+O", "Open a folder (or drop one on the window)"),
    ("Ctrl+1 … Ctrl+4", "Photos, Masks, Background, Results & export"),
    ("Ctrl+Enter", "The step's next action (the highlighted button)"),
    ("Ctrl+M", "Compute all masks"),
    ("Ctrl+T", "Try on this photo"),
    ("Ctrl+Shift+R", "Run on all"),
    ("Ctrl+P", "Pause / resume"),
    ("Ctrl+.", "Cancel current · Ctrl+Shift+. cancel all"),
    ("Ctrl+E", "Export the chosen results"),
    ("F1 or ?", "This help"),
)
RESULT_KEYS = (("K", "Keep the selected variant"), ("G", "Regenerate with a new seed"),
               ("Z", "Zoom to 100 % / fit"), ("←/→", "Variants"))


def shortcut_rows() -> list[tuple[str, str]]:
    rows = list(GLOBAL_KEYS)
    rows += [(" or ".join(SHORTCUTS[name]), f"Masks: {text}") for name, text in SHORTCUT_HELP.items()]
    rows += [(keys, f"Results: {text}") for keys, text in RESULT_KEYS]
    return rows


class HelpOverlay(QDialog):
    def __init__(self, parent: Optional[QWidget] = None) -> None:
        super().__init__(parent)
        self.setWindowTitle("Keyboard shortcuts")
        rows = "".join(f"<tr><td><b>{k}</b></td><td>&nbsp;&nbsp;{t}</td></tr>" for k, t in shortcut_rows())
        label = QLabel(f"<table>{rows}</table>")
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Close)
        buttons.rejected.connect(self.reject)
        layout = QVBoxLayout(self)
        layout.addWidget(label)
        layout.addWidget(buttons)
