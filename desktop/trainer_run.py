"""The wizard's training page: a training *process* watched through its events file.

Training never runs inside the app: ``packshot.trainer.process.TrainingProcess`` starts
``python -m packshot.trainer.run_process``, and a timer polls its JSON-lines events for progress, the loss
curve and how it ended. If the process dies (crash, out-of-memory kill) the page says so and the
app carries on; the last checkpoint stays, so running again resumes.

Lifetime: no page here may sit in a Python reference cycle (a stored bound method of itself, of its
wizard, or a callback object that holds one). A cycle hands the widget's destruction to Python's
cyclic garbage collector, which runs at whatever allocation crosses its threshold, and pyqtgraph
paints in Python: a parentless page (or wizard) that was shown could be destroyed from inside its own
plot's ``paintEvent`` and crash the process. Without cycles a widget goes when its last reference
goes, or with its Qt parent. So the watcher reports through signals, and pages reach their wizard
through ``weak_method``.
"""

from __future__ import annotations

import weakref
from pathlib import Path
from typing import Callable, Optional

from PySide6.QtCore import QObject, Qt, QTimer, Signal
from PySide6.QtGui import QPixmap
from PySide6.QtWidgets import (
    QAbstractItemView,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QProgressBar,
    QPushButton,
    QSizePolicy,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWizardPage,
)

POLL_MS = 200
PLOT_MIN_HEIGHT = 220  # below this pyqtgraph's title and tick labels run into each other
GRID_MIN_HEIGHT = 120


class FittedImage(QLabel):
    """An image shown whole, scaled down to the label's size (never cropped); the full file on hover."""

    def __init__(self) -> None:
        super().__init__()
        self.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.setMinimumSize(1, GRID_MIN_HEIGHT)
        # Ignored: the image never asks the layout for its full size, it follows the space it is given.
        self.setSizePolicy(QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Ignored)
        self.original = QPixmap()

    def set_image(self, pixmap: QPixmap) -> None:
        self.original = pixmap
        self._fit()

    def resizeEvent(self, event) -> None:  # noqa: N802 - Qt naming
        super().resizeEvent(event)
        self._fit()

    def _fit(self) -> None:
        if self.original.isNull():
            return
        fitted = self.original.scaled(self.size().boundedTo(self.original.size()), Qt.AspectRatioMode.KeepAspectRatio,
                                      Qt.TransformationMode.SmoothTransformation)
        self.setPixmap(fitted)


def weak_method(method: Callable) -> Callable:
    """``method`` callable later without keeping its object alive (a page holding its wizard's bound
    method would make the two a reference cycle; see the module's note)."""
    ref = weakref.WeakMethod(method)
    return lambda *args: ref()(*args)


class ProcessWatcher(QObject):
    """Polls a TrainingProcess on a timer; emits ``event`` per event and ``ended(outcome, process)``.

    Signals rather than stored callbacks: Qt connections do not keep the receiving page alive."""

    event = Signal(object)
    ended = Signal(object, object)

    def __init__(self, parent: QObject) -> None:
        super().__init__(parent)
        self.process = None
        self.timer = QTimer(self, interval=POLL_MS, timeout=self._poll)

    def start(self, process) -> None:
        self.process = process.start()
        self.timer.start()

    def _poll(self) -> None:
        if self.process is None:
            return
        for event in self.process.poll():
            self.event.emit(event)
        outcome = self.process.outcome()
        if outcome is not None:
            self.timer.stop()
            process, self.process = self.process, None
            self.ended.emit(outcome, process)

    @property
    def busy(self) -> bool:
        return self.process is not None

    def cancel(self) -> None:
        if self.process is not None:
            self.process.cancel()


class TrainPage(QWizardPage):
    """Runs the job; Stop asks the process to stop after the current step, keeping a checkpoint.

    ``make_config`` and ``restart`` come from the wizard: pass them through ``weak_method``."""

    def __init__(self, store, make_config: Callable, restart: Callable[[], bool]) -> None:
        super().__init__()
        self.store, self.make_config, self.restart = store, make_config, restart
        self.setTitle("Training")
        self.result_folder: Optional[Path] = None
        self.outcome = None
        self.status = QLabel("Ready.")
        self.status.setWordWrap(True)
        self.estimate = QLabel("")
        self.estimate.setWordWrap(True)
        self.problems = QLabel("")
        self.problems.setWordWrap(True)
        self.bar = QProgressBar()
        self.cancel_button = QPushButton("Stop (keeps a checkpoint)")
        self.cancel_button.clicked.connect(self.cancel)
        layout = QVBoxLayout(self)
        for widget in (self.status, self.estimate, self.problems, self.bar, self.cancel_button):
            layout.addWidget(widget)
        self.steps: list[int] = []
        self.losses: list[float] = []
        self.plot = None
        try:  # pyqtgraph is a declared dependency; the wizard still works without the plot
            import pyqtgraph as pg

            self.plot = pg.PlotWidget(title="Training loss")
            self.plot.setLabel("bottom", "step")
            self.plot.setLabel("left", "loss")
            self.plot.setMinimumHeight(PLOT_MIN_HEIGHT)
            self.curve = self.plot.plot([], [])
            layout.addWidget(self.plot, 3)
        except ImportError:
            pass
        # Validation: the base model's grid beside the latest one, and eval's table at the end.
        grids = QHBoxLayout()
        self.base_grid, self.latest_grid = FittedImage(), FittedImage()
        for label in (self.base_grid, self.latest_grid):
            grids.addWidget(label)
        layout.addLayout(grids, 2)
        self.eval_table = QTableWidget(0, 5)
        self.eval_table.setHorizontalHeaderLabels(["Model", "Renders", "Mean expansion", "Mean IoU", "CLIP"])
        self.eval_table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.eval_table.setTextElideMode(Qt.TextElideMode.ElideMiddle)  # if ever too narrow; tooltips say it all
        header = self.eval_table.horizontalHeader()
        header.setSectionResizeMode(QHeaderView.ResizeMode.ResizeToContents)
        header.setStretchLastSection(True)
        self.eval_table.hide()
        layout.addWidget(self.eval_table, 1)
        self.grid_paths: dict[int, str] = {}
        self.eval_rows: list[dict] = []
        self.watcher = ProcessWatcher(self)
        self.watcher.event.connect(self.handle_event)
        self.watcher.ended.connect(self._ended)

    @property
    def process(self):
        return self.watcher.process

    def initializePage(self) -> None:  # noqa: N802 - Qt naming
        from packshot.trainer.process import TrainingProcess
        from packshot.trainer.train import read_losses, run_dir

        self.result_folder, self.outcome = None, None
        self.grid_paths, self.eval_rows = {}, []
        self.eval_table.hide()
        config = self.make_config()
        restart = self.restart()
        rows = [] if restart else read_losses(run_dir(self.store.models_dir or self.store.download_dir, config.name))
        self.steps, self.losses = [s for s, _ in rows], [v for _, v in rows]  # a resumed run shows its earlier steps
        self._plot()
        self.status.setText("Starting the training process…")
        self.cancel_button.setEnabled(True)
        self.watcher.start(TrainingProcess(config, self.store, restart=restart))

    def handle_event(self, event: dict) -> None:
        """One event of the training process (see ``packshot.trainer.run_process``)."""
        kind = event.get("event")
        if kind == "resumed":  # the steps past the checkpoint are trained again: drop their plotted losses
            kept = [(s, v) for s, v in zip(self.steps, self.losses) if s <= event["step"]]
            self.steps, self.losses = [s for s, _ in kept], [v for _, v in kept]
            self._plot()
            self.estimate.setText("\n".join(filter(None, [self.estimate.text(), event.get("text", "")])))
        elif kind == "progress":
            self.bar.setMaximum(max(1, event["total"]))
            self.bar.setValue(event["done"])
            self.status.setText(f"{event['stage']}: {event['done']}/{event['total']} {event.get('message', '')}")
        elif kind == "loss":
            self.steps.append(event["step"])
            self.losses.append(event["loss"])
            self._plot()
        elif kind == "estimate":
            self.estimate.setText(event.get("text", ""))
        elif kind == "validation":
            self.grid_paths[event["step"]] = event["path"]
            self._show_grids()
        elif kind == "eval":
            self._show_eval(event.get("rows", []))
        elif kind == "data" and event.get("problems"):
            self.problems.setText("Skipped or questionable:\n" + "\n".join(event["problems"][:10]))
        self._fit_window()

    def _fit_window(self) -> None:
        """Content shown during the run (the comparison table, wrapped messages) can need more height than
        the wizard gave this page when it opened it; Qt then lays the plot, grids and table over each
        other rather than growing the window. So grow it, within the screen (moved up if need be)."""
        layout, window = self.layout(), self.window()
        layout.activate()
        short = layout.totalMinimumHeightForWidth(self.width()) - self.height()
        if short <= 0 or window is self:  # a window of its own is kept at its layout's minimum by Qt
            return
        screen, frame = window.screen().availableGeometry(), window.frameGeometry()
        border = frame.height() - window.height()  # title bar and frame
        height = min(window.height() + short, screen.height() - border)
        window.resize(window.width(), height)
        window.move(frame.left(), max(screen.top(), min(frame.top(), screen.bottom() + 1 - height - border)))

    def _show_grids(self) -> None:
        first, last = min(self.grid_paths), max(self.grid_paths)
        for label, step in ((self.base_grid, first), (self.latest_grid, last)):
            label.set_image(QPixmap(self.grid_paths[step]))
            label.setToolTip(f"step {step}" + (" (before training)" if step == 0 else "") + f"\n{self.grid_paths[step]}")

    def _show_eval(self, rows: list[dict]) -> None:
        self.eval_rows = rows
        self.eval_table.setRowCount(len(rows))

        def pct(x):
            return "–" if x is None else f"{100 * x:.2f}%"

        for i, row in enumerate(rows):
            cells = (row["model"], f"{row['n'] - row['failed']}/{row['n']}", pct(row.get("mean_expansion")),
                     "–" if row.get("mean_iou") is None else f"{row['mean_iou']:.3f}",
                     "–" if row.get("mean_clip") is None else f"{row['mean_clip']:.2f}")
            for j, text in enumerate(cells):
                item = QTableWidgetItem(text)
                item.setToolTip(text)
                self.eval_table.setItem(i, j, item)
        table = self.eval_table
        table.resizeColumnsToContents()
        table.resizeRowsToContents()
        # Every row, no vertical scrolling: the page's minimum counts the table, so the window grows for it
        # (_fit_window). A horizontal scroll bar, where the columns are wider than the table, takes its room.
        columns = table.horizontalHeader().length() + table.verticalHeader().sizeHint().width()
        scroll = table.horizontalScrollBar().sizeHint().height() if columns > table.width() else 0
        table.setFixedHeight(table.horizontalHeader().sizeHint().height() + table.verticalHeader().length()
                             + 2 * table.frameWidth() + scroll + 2)
        table.show()

    def _plot(self) -> None:
        if self.plot is not None:
            self.curve.setData(self.steps, self.losses)

    def _ended(self, outcome, process) -> None:
        self.outcome = outcome
        if outcome.kind == "done":
            self.result_folder = Path(outcome.event["folder"])
            text = f"Done. Model '{self.result_folder.name}' is ready in {self.result_folder}; pick it in the engine settings."
        elif outcome.kind == "cancelled":
            text = outcome.message or "Stopped; run again to resume."
        else:
            text = outcome.message
        self.status.setText(text)
        self.cancel_button.setEnabled(False)
        self._fit_window()
        self.completeChanged.emit()

    def cancel(self) -> None:
        if self.watcher.busy:
            self.status.setText("Stopping after this step…")
            self.watcher.cancel()

    def isComplete(self) -> bool:  # noqa: N802 - Qt naming
        return not self.watcher.busy
