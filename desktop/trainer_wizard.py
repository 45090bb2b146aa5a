"""The fine-tuning wizard: pick the brand's photos, name the model, train with a live loss plot.

It drives ``trainer.train.train_controlnet`` (the same job as ``packshot train``) on a pool worker;
the plot reads the run's ``losses.csv`` so it also shows the steps of a resumed run.
"""

from __future__ import annotations

from pathlib import Path
from typing import Optional

from PySide6.QtCore import QTimer
from PySide6.QtWidgets import (
    QDoubleSpinBox,
    QFileDialog,
    QFormLayout,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QProgressBar,
    QPushButton,
    QSpinBox,
    QVBoxLayout,
    QWidget,
    QWizard,
    QWizardPage,
)

from core.progress import Progress
from desktop.errors import user_message
from desktop.workers import FunctionWorker, start_worker


def _folder_row(edit: QLineEdit, parent: QWidget, title: str) -> QHBoxLayout:
    row = QHBoxLayout()
    row.addWidget(edit)
    browse = QPushButton("Browse…")
    browse.clicked.connect(lambda: edit.setText(QFileDialog.getExistingDirectory(parent, title) or edit.text()))
    row.addWidget(browse)
    return row


class DataPage(QWizardPage):
    def __init__(self) -> None:
        super().__init__()
        self.setTitle("Your product photos")
        self.setSubTitle("A folder of your brand's photos. Optional: captions.csv (file,caption) and reviewed "
                         "masks (PNG named like the photos, white = product).")
        self.data = QLineEdit()
        self.masks = QLineEdit()
        form = QFormLayout(self)
        form.addRow("Photos", _folder_row(self.data, self, "Folder of product photos"))
        form.addRow("Masks (optional)", _folder_row(self.masks, self, "Folder of reviewed masks"))
        self.registerField("data*", self.data)
        self.registerField("masks", self.masks)

    def validatePage(self) -> bool:  # noqa: N802 - Qt naming
        from core.images import list_photos

        try:
            count = len(list_photos(Path(self.data.text())))
        except Exception as exc:  # shown inline, the wizard stays open
            self.setSubTitle(user_message(exc))
            return False
        if count == 0:
            self.setSubTitle(f"No photos found in {self.data.text()}.")
        return count > 0


class SettingsPage(QWizardPage):
    def __init__(self) -> None:
        super().__init__()
        self.setTitle("The new model")
        self.setSubTitle("Only the background ControlNet trains; SI2 stays frozen, as in the paper.")
        self.name = QLineEdit("my-brand")
        self.steps = QSpinBox(minimum=1, maximum=100_000, value=1000)
        self.batch = QSpinBox(minimum=1, maximum=64, value=4)
        self.resolution = QSpinBox(minimum=64, maximum=1024, singleStep=64, value=512)
        self.lr = QDoubleSpinBox(decimals=7, minimum=1e-7, maximum=1e-3, singleStep=1e-6, value=5e-6)
        form = QFormLayout(self)
        for label, widget in (("Model name", self.name), ("Steps", self.steps), ("Batch size", self.batch),
                              ("Resolution", self.resolution), ("Learning rate", self.lr)):
            form.addRow(label, widget)
        self.registerField("name*", self.name)


class TrainPage(QWizardPage):
    """Runs the job; Cancel stops after the current step and keeps a checkpoint to resume from."""

    def __init__(self, store) -> None:
        super().__init__()
        self.store = store
        self.setTitle("Training")
        self.worker: Optional[FunctionWorker] = None
        self.result_folder: Optional[Path] = None
        self.status = QLabel("Ready.")
        self.bar = QProgressBar()
        self.cancel_button = QPushButton("Stop (keeps a checkpoint)")
        self.cancel_button.clicked.connect(self.cancel)
        layout = QVBoxLayout(self)
        layout.addWidget(self.status)
        layout.addWidget(self.bar)
        layout.addWidget(self.cancel_button)
        self.plot = None
        try:  # pyqtgraph is a declared dependency; the wizard still works without the plot
            import pyqtgraph as pg

            self.plot = pg.PlotWidget(title="Training loss")
            self.plot.setLabel("bottom", "step")
            self.curve = self.plot.plot([], [])
            layout.addWidget(self.plot)
        except ImportError:
            pass
        self.refresh = QTimer(self, interval=1000, timeout=self._update_plot)

    def config(self):
        from trainer.train import TrainConfig

        w = self.wizard()
        settings: SettingsPage = w.page(1)
        masks = self.field("masks")
        return TrainConfig(data_dir=Path(self.field("data")), masks_dir=Path(masks) if masks else None,
                           name=settings.name.text().strip(), steps=settings.steps.value(),
                           batch_size=settings.batch.value(), resolution=settings.resolution.value(),
                           learning_rate=settings.lr.value(), checkpoint_every=max(1, min(500, settings.steps.value())))

    def initializePage(self) -> None:  # noqa: N802 - Qt naming
        from trainer.train import train_controlnet

        self.result_folder = None
        self.status.setText("Preparing masks…")
        self.worker = start_worker(train_controlnet, self.config(), self.store, on_result=self._done,
                                   on_error=self._failed, on_progress=self._progress,
                                   on_cancelled=lambda: self._stopped("Stopped; run again to resume."))
        self.refresh.start()

    def _progress(self, p: Progress) -> None:
        self.bar.setMaximum(max(1, p.total))
        self.bar.setValue(p.done)
        self.status.setText(f"{p.stage}: {p.done}/{p.total} {p.message}")

    def _update_plot(self) -> None:
        if self.plot is None:
            return
        from trainer.train import read_losses, run_dir

        root = self.store.models_dir or self.store.download_dir
        rows = read_losses(run_dir(root, self.config().name))
        if rows:
            self.curve.setData([s for s, _ in rows], [v for _, v in rows])

    def _done(self, folder: Path) -> None:
        self.result_folder = folder
        self._stopped(f"Done. Model '{folder.name}' is ready in {folder}; pick it in the engine settings.")

    def _failed(self, exc: BaseException) -> None:
        self._stopped(user_message(exc))

    def _stopped(self, text: str) -> None:
        self.refresh.stop()
        self._update_plot()
        self.status.setText(text)
        self.cancel_button.setEnabled(False)
        self.worker = None
        self.completeChanged.emit()

    def cancel(self) -> None:
        if self.worker is not None:
            self.status.setText("Stopping after this step…")
            self.worker.cancel()

    def isComplete(self) -> bool:  # noqa: N802 - Qt naming
        return self.worker is None


class TrainerWizard(QWizard):
    def __init__(self, store, parent: Optional[QWidget] = None) -> None:
        super().__init__(parent)
        self.setWindowTitle("Train on your brand's photos")
        self.train_page = TrainPage(store)
        for page in (DataPage(), SettingsPage(), self.train_page):
            self.addPage(page)

    def reject(self) -> None:
        self.train_page.cancel()  # a closed wizard must not leave training running unseen
        super().reject()
