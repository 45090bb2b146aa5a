"""The work area of the main window: the stepper beside the four step pages (Photos, Masks,
Background, Results and export). The stepper is the one way through the steps (no tab bar)."""

from __future__ import annotations

from PySide6.QtWidgets import QHBoxLayout, QTabWidget, QVBoxLayout, QWidget

from packshot.desktop.skipped_files import SkippedFilesLine
from packshot.desktop.stepper import Stepper


class StepPages(QWidget):
    """``tabs`` holds the pages (index = ``packshot.desktop.flow.TAB_*``); ``stepper`` moves between them."""

    def __init__(self, grid: QWidget, masks: QWidget, background: QWidget, results: QWidget) -> None:
        super().__init__()
        self.skipped_line = SkippedFilesLine()  # folder entries named like photos that cannot be read
        photos_page = QWidget()
        photos_column = QVBoxLayout(photos_page)
        photos_column.setContentsMargins(0, 0, 0, 0)
        photos_column.addWidget(self.skipped_line)
        photos_column.addWidget(grid, 1)
        self.tabs = QTabWidget()
        self.tabs.addTab(photos_page, "Photos")
        self.tabs.addTab(masks, "Masks")
        self.tabs.addTab(background, "Background")
        self.tabs.addTab(results, "Results && export")
        self.tabs.tabBar().hide()
        self.stepper = Stepper()
        self.stepper.step_chosen.connect(self.tabs.setCurrentIndex)
        row = QHBoxLayout(self)
        row.setContentsMargins(0, 0, 0, 0)
        row.addWidget(self.stepper)
        row.addWidget(self.tabs, 1)
