"""The fine-tuning wizard: photos, captions to review, the new model's settings, then training.

Training runs in a separate process (``packshot.desktop.trainer_run``), the same job as ``packshot train``;
the app stays up whatever happens to it. The settings page can time a short probe of the real
step first to estimate the run's duration and memory.
"""

from __future__ import annotations

from pathlib import Path
from typing import Optional

from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QDoubleSpinBox,
    QFileDialog,
    QFormLayout,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QPushButton,
    QSpinBox,
    QWidget,
    QWizard,
    QWizardPage,
)

from packshot.desktop.errors import user_message
from packshot.desktop.trainer_captions import CaptionsPage
from packshot.desktop.trainer_run import ProcessWatcher, TrainPage, weak_method

MODE_LABELS = {"controlnet": "Paper's ControlNet (9-channel, SI2 frozen)",
               "lora": "Brand style: LoRA on the SI2 UNet (small, quick)",
               "sd2-controlnet": "Paper's ablation: ControlNet on SD2 base (4-channel, cut-out control)"}


def _folder_row(edit: QLineEdit, parent: QWidget, title: str) -> QHBoxLayout:
    row = QHBoxLayout()
    row.addWidget(edit)
    browse = QPushButton("Browse…")
    browse.clicked.connect(lambda: edit.setText(QFileDialog.getExistingDirectory(parent, title) or edit.text()))
    row.addWidget(browse)
    return row


class DataPage(QWizardPage):
    def __init__(self, photos_folder: Optional[Path] = None) -> None:
        super().__init__()
        from packshot.trainer.dataset import MIN_USABLE_PHOTOS

        self.setTitle("Your product photos")
        self.hint = (f"A folder of at least {MIN_USABLE_PHOTOS} of your brand's photos. Optional: captions.csv "
                     "(file,caption) and reviewed masks (PNG named like the photos, white = product).")
        self.setSubTitle(self.hint)
        self.data = QLineEdit(str(photos_folder) if photos_folder else "")
        self.data.textChanged.connect(self.completeChanged)
        self.masks = QLineEdit()
        self.message = QLabel("")
        self.message.setWordWrap(True)
        form = QFormLayout(self)
        form.addRow("Photos", _folder_row(self.data, self, "Folder of product photos"))
        form.addRow("Masks (optional)", _folder_row(self.masks, self, "Folder of reviewed masks"))
        form.addRow(self.message)
        # Not a mandatory ("data*") field: Qt counts those complete only once changed, and a prefilled
        # folder is already right.
        self.registerField("data", self.data)
        self.registerField("masks", self.masks)

    def isComplete(self) -> bool:  # noqa: N802 - Qt naming
        return bool(self.data.text().strip())

    def validatePage(self) -> bool:  # noqa: N802 - Qt naming
        from packshot.core.images import scan_photos
        from packshot.desktop.skipped_files import skipped_details
        from packshot.trainer.dataset import MIN_USABLE_PHOTOS

        folder = Path(self.data.text())
        try:
            listing = scan_photos(folder)
        except Exception as exc:  # shown inline, the wizard stays open
            self.message.setText(user_message(exc))
            return False
        count = len(listing.photos)
        if count < MIN_USABLE_PHOTOS:
            skipped = f" Skipped:\n{skipped_details(listing.skipped)}" if listing.skipped else ""
            self.message.setText(f"{folder} holds {count} photo(s); training needs at least {MIN_USABLE_PHOTOS}."
                                 + skipped)
            return False
        masks = self.masks.text().strip()
        if masks and not Path(masks).is_dir():
            self.message.setText(f"The masks folder {masks} does not exist.")
            return False
        self.message.setText("")
        return True


class SettingsPage(QWizardPage):
    def __init__(self, store, make_config) -> None:
        super().__init__()
        self.store, self.make_config = store, make_config
        self.setTitle("The new model")
        self.setSubTitle("The paper trains only the background ControlNet (SI2 frozen); a LoRA learns a brand's "
                         "style on top of the paper's model in a fraction of the time and disk.")
        self.mode = QComboBox()
        for key, label in MODE_LABELS.items():
            self.mode.addItem(label, key)
        self.name = QLineEdit("my-brand")
        self.name.textChanged.connect(self.completeChanged)
        self.steps = QSpinBox(minimum=1, maximum=100_000, value=1000)
        self.batch = QSpinBox(minimum=1, maximum=64, value=4)
        self.accum = QSpinBox(minimum=1, maximum=64, value=1)
        self.accum.setToolTip("Micro-batches per step: a larger effective batch in the same memory")
        self.resolution = QSpinBox(minimum=64, maximum=1024, singleStep=64, value=512)
        self.lr = QDoubleSpinBox(decimals=7, minimum=0.0, maximum=1e-2, singleStep=1e-6, value=0.0)
        self.lr.setSpecialValueText("mode default")
        self.checkpoint_every = QSpinBox(minimum=1, maximum=100_000, value=500)
        self.holdout = QSpinBox(minimum=0, maximum=50, value=0)
        self.holdout.setToolTip("Photos kept out of training: rendered at every checkpoint with fixed seeds, and "
                                "compared base vs fine-tuned at the end")
        self.validation_steps = QSpinBox(minimum=1, maximum=100, value=20)
        self.restart = QCheckBox("Discard an earlier run of this name")
        self.estimate_button = QPushButton("Estimate time and memory")
        self.estimate_button.clicked.connect(self.estimate)
        self.estimate_label = QLabel("")
        self.estimate_label.setWordWrap(True)
        form = QFormLayout(self)
        for label, widget in (("Mode", self.mode), ("Model name", self.name), ("Steps", self.steps),
                              ("Batch size", self.batch), ("Gradient accumulation", self.accum),
                              ("Resolution", self.resolution), ("Learning rate", self.lr),
                              ("Checkpoint every", self.checkpoint_every),
                              ("Held-out photos (validation)", self.holdout),
                              ("Validation render steps", self.validation_steps), ("", self.restart),
                              ("", self.estimate_button)):
            form.addRow(label, widget)
        form.addRow(self.estimate_label)
        self.registerField("name", self.name)  # not "name*": the valid default must not need an edit
        self.watcher = ProcessWatcher(self)
        self.watcher.ended.connect(self._estimated)

    def estimate(self) -> None:
        from packshot.trainer.process import TrainingProcess

        if self.watcher.busy:
            return
        self.estimate_label.setText("Timing two steps in a separate process…")
        self.estimate_button.setEnabled(False)
        try:
            config = self.make_config()
        except Exception as exc:
            self._estimated_text(user_message(exc))
            return
        self.watcher.start(TrainingProcess(config, self.store, restart=self.restart.isChecked(), estimate_only=True))

    def _estimated(self, outcome, process) -> None:
        self._estimated_text(outcome.message)

    def _estimated_text(self, text: str) -> None:
        self.estimate_label.setText(text)
        self.estimate_button.setEnabled(True)
        self.completeChanged.emit()

    def isComplete(self) -> bool:  # noqa: N802 - Qt naming
        return bool(self.name.text().strip()) and not self.watcher.busy

    def validatePage(self) -> bool:  # noqa: N802 - Qt naming
        try:
            self.make_config()
        except Exception as exc:  # e.g. a name that is taken: said here, before any process starts
            self.estimate_label.setText(user_message(exc))
            return False
        return True


class TrainerWizard(QWizard):
    """``photos_folder``: the folder open in the main window, proposed as the training photos."""

    def __init__(self, store, parent: Optional[QWidget] = None, *, photos_folder: Optional[Path] = None) -> None:
        super().__init__(parent)
        self.store = store
        self.setWindowTitle("Train on your brand's photos")
        self.data_page = DataPage(photos_folder)
        self.captions_page = CaptionsPage(store)
        # Weak: a page holding the wizard's own bound method would make a reference cycle (see trainer_run).
        self.settings_page = SettingsPage(store, weak_method(self.config))
        self.train_page = TrainPage(store, weak_method(self.config), weak_method(self.restart_requested))
        for page in (self.data_page, self.captions_page, self.settings_page, self.train_page):
            self.addPage(page)
        # Room for the training page's plot, validation grids and table from the start (it grows the
        # window, within the screen, if its content needs more).
        screen = self.screen().availableGeometry()
        self.resize(min(960, screen.width() * 9 // 10), min(720, screen.height() * 9 // 10))

    def restart_requested(self) -> bool:
        return self.settings_page.restart.isChecked()

    def config(self):
        """The TrainConfig of the pages as they stand; writes the reviewed captions for the process."""
        from packshot.trainer.train import TrainConfig, check_model_name

        s = self.settings_page
        name = s.name.text().strip()
        root = Path(self.store.models_dir or self.store.download_dir)
        check_model_name(name, root)
        captions = self.captions_page.write(root / ".training" / ".captions" / name)
        masks = self.data_page.masks.text().strip()
        return TrainConfig(data_dir=Path(self.data_page.data.text()), masks_dir=Path(masks) if masks else None,
                           name=name, mode=s.mode.currentData(), steps=s.steps.value(), batch_size=s.batch.value(),
                           grad_accum=s.accum.value(), resolution=s.resolution.value(),
                           learning_rate=s.lr.value() or None, captions_file=captions, holdout=s.holdout.value(),
                           validation_steps=s.validation_steps.value(),
                           checkpoint_every=max(1, min(s.checkpoint_every.value(), s.steps.value())))

    def reject(self) -> None:
        # A closed wizard must not leave training running unseen: the process stops after this step,
        # keeping a checkpoint.
        self.train_page.cancel()
        self.settings_page.watcher.cancel()
        super().reject()

    def done(self, result: int) -> None:
        super().done(result)
        # Opened from the main window, the wizard is its child: kept, it would stay hidden for the rest
        # of the session with its plot and timers, one more per opening. Deleted by Qt's event loop, at
        # a safe point; a process still stopping writes its checkpoint on its own.
        self.deleteLater()
