"""Settings dialog: models folder, device, masker and generation defaults."""

from __future__ import annotations

from typing import Any, Optional

from PySide6.QtWidgets import (
    QComboBox,
    QDialog,
    QDialogButtonBox,
    QDoubleSpinBox,
    QFileDialog,
    QFormLayout,
    QHBoxLayout,
    QLineEdit,
    QPushButton,
    QSpinBox,
    QWidget,
)

from core.jobs import ENGINES
from desktop.settings import DEVICES, AppSettings, absolute_path, save_settings

MASKERS = ("auto", "sam", "classic")


class SettingsDialog(QDialog):
    def __init__(self, settings: AppSettings, presets: tuple[str, ...], parent: Optional[QWidget] = None) -> None:
        super().__init__(parent)
        self.setWindowTitle("Settings")
        self.settings = settings
        self.models_dir = QLineEdit(settings.models_dir)
        self.models_dir.setPlaceholderText("default: Packshot's data folder + Hugging Face cache")
        browse = QPushButton("Browse…")
        browse.clicked.connect(self._browse)
        row = QHBoxLayout()
        row.addWidget(self.models_dir, 1)
        row.addWidget(browse)
        self.device = QComboBox()
        self.device.addItems(DEVICES)
        self.device.setCurrentText(settings.device)
        self.masker = QComboBox()
        self.masker.addItems(MASKERS)
        self.masker.setCurrentText(settings.masker)
        self.engine = QComboBox()
        self.engine.addItems(ENGINES)
        self.engine.setCurrentText(settings.engine)
        self.variants = QSpinBox()
        self.variants.setRange(1, 16)
        self.variants.setValue(settings.variants)
        self.steps = QSpinBox()
        self.steps.setRange(1, 200)
        self.steps.setValue(settings.steps)
        self.preset = QComboBox()
        self.preset.addItems(presets)
        self.preset.setCurrentText(settings.export_preset)
        self.qc = QDoubleSpinBox()
        self.qc.setRange(0.0, 1.0)
        self.qc.setSingleStep(0.01)
        self.qc.setDecimals(3)
        self.qc.setSpecialValueText("default (generative engines only)")  # 0 shows this and means None
        self.qc.setValue(settings.qc_threshold or 0.0)
        form = QFormLayout(self)
        form.addRow("Models folder", row)
        form.addRow("Device", self.device)
        form.addRow("Masker", self.masker)
        form.addRow("Default engine", self.engine)
        form.addRow("Default variants", self.variants)
        form.addRow("Default steps", self.steps)
        form.addRow("Export size preset", self.preset)
        form.addRow("QC expansion threshold", self.qc)
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
            "masker": self.masker.currentText(),
            "engine": self.engine.currentText(),
            "variants": self.variants.value(),
            "steps": self.steps.value(),
            "export_preset": self.preset.currentText(),
            "qc_threshold": self.qc.value() or None,
        }

    def accept(self) -> None:
        s = self.settings
        for name, value in self.values().items():
            # A value given on the command line stays for this run only unless the user changes it here.
            if value != getattr(s, name) or not s.is_overridden(name):
                s.choose(name, value)
        save_settings(s)
        super().accept()
