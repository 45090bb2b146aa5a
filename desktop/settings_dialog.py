"""Settings dialog: the app's machine (the models folder and the device) and the export quality.

The job settings (engine, steps, masker, size preset, ...) are not here: they are the Background
step's, made from ``JobSettings`` and kept as one. The machine fields take their label and help
from ``JobSettings.machine``'s metadata, as ``packshot batch --device/--models-dir`` do.
"""

from __future__ import annotations

from typing import Any, Optional

from PySide6.QtWidgets import (
    QComboBox,
    QDialog,
    QDialogButtonBox,
    QFileDialog,
    QFormLayout,
    QHBoxLayout,
    QLineEdit,
    QPushButton,
    QSpinBox,
    QWidget,
)

from packshot.desktop.settings import DEVICES, AppSettings, absolute_path, save_settings
from packshot.desktop.settings_form import settings_fields


class SettingsDialog(QDialog):
    def __init__(self, settings: AppSettings, presets: tuple[str, ...] = (), parent: Optional[QWidget] = None) -> None:
        super().__init__(parent)
        self.setWindowTitle("Settings")
        self.settings = settings
        machine = {info.path[-1]: info for info in settings_fields() if info.path[0] == "machine"}
        self.models_dir = QLineEdit(settings.models_dir)
        self.models_dir.setPlaceholderText("default: Packshot's data folder + Hugging Face cache")
        self.models_dir.setToolTip(machine["models_dir"].help)
        browse = QPushButton("Browse…")
        browse.clicked.connect(self._browse)
        row = QHBoxLayout()
        row.addWidget(self.models_dir, 1)
        row.addWidget(browse)
        self.device = QComboBox()
        self.device.addItems(DEVICES)
        self.device.setCurrentText(settings.device)
        self.device.setToolTip(machine["device"].help)
        self.export_quality = QSpinBox()
        self.export_quality.setRange(1, 100)
        self.export_quality.setValue(settings.export_quality)
        self.export_quality.setToolTip("JPEG / WebP quality of exported files")
        # Controls by settings path, as the Background step's form has them (tests walk both).
        self.controls = {("machine", "models_dir"): self.models_dir, ("machine", "device"): self.device}
        form = QFormLayout(self)
        form.addRow(machine["models_dir"].label, row)
        form.addRow(machine["device"].label, self.device)
        form.addRow("Export quality", self.export_quality)
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Ok | QDialogButtonBox.StandardButton.Cancel)
        buttons.accepted.connect(self.accept)
        buttons.rejected.connect(self.reject)
        form.addRow(buttons)

    def _browse(self) -> None:
        folder = QFileDialog.getExistingDirectory(self, "Models folder")
        if folder:
            self.models_dir.setText(folder)

    def values(self) -> dict[str, Any]:
        models_dir = self.models_dir.text().strip()
        return {
            "models_dir": absolute_path(models_dir) if models_dir else "",
            "device": self.device.currentText(),
            "export_quality": self.export_quality.value(),
        }

    def accept(self) -> None:
        s = self.settings
        for name, value in self.values().items():
            # A value given on the command line stays for this run only unless the user changes it here.
            if value != getattr(s, name) or not s.is_overridden(name):
                s.choose(name, value)
        save_settings(s)
        super().accept()
