"""The main window's menus and their shortcuts (every shortcut works whichever step has focus)."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Callable, Optional

from PySide6.QtGui import QAction, QKeySequence
from PySide6.QtWidgets import QMenu

from packshot.desktop.window_helpers import reveal_in_file_manager

if TYPE_CHECKING:
    from packshot.desktop.main_window import MainWindow


def build_menus(window: MainWindow) -> QMenu:
    """File, Generate, View and Help on ``window``'s menu bar; returns the "Open recent" menu."""

    def add(menu: QMenu, text: str, slot: Callable, shortcut: Optional[str] = None, *more: str) -> QAction:
        action = QAction(text, window)
        if shortcut:
            action.setShortcuts([QKeySequence(k) for k in (shortcut, *more)])
        action.triggered.connect(slot)
        menu.addAction(action)
        window.addAction(action)  # shortcuts work whichever step has focus
        return action

    bar = window.menuBar()
    file_menu = bar.addMenu("&File")
    add(file_menu, "Open folder…", window.open_dialog, "Ctrl+O")
    recent = file_menu.addMenu("Open recent")
    add(file_menu, "Export chosen", lambda: window.export_chosen(window.results.preset_combo.currentText()), "Ctrl+E")
    add(file_menu, "Reveal the project in the file manager",
        lambda: window.session and reveal_in_file_manager(window.session.out_dir))
    file_menu.addSeparator()
    add(file_menu, "Settings…", window.open_settings, "Ctrl+,")
    add(file_menu, "Models…", window.open_models)
    add(file_menu, "Train a brand model…", window.open_trainer)
    file_menu.addSeparator()
    add(file_menu, "Quit", window.close, "Ctrl+Q")
    run_menu = bar.addMenu("&Generate")
    add(run_menu, "Next step's action", window.stepper.next_btn.click, "Ctrl+Return", "Ctrl+Enter")
    add(run_menu, "Compute all masks", window.compute_all_masks, "Ctrl+M")
    add(run_menu, "Try on this photo", window.try_on_current, "Ctrl+T")
    add(run_menu, "Run on the selected photos", window.run_on_selection, "Ctrl+Shift+S")
    add(run_menu, "Run on all", window.run_on_all, "Ctrl+Shift+R")
    add(run_menu, "Pause / resume", lambda: window.queue.set_paused(not window.queue.paused), "Ctrl+P")
    add(run_menu, "Cancel current", window.queue.cancel_current, "Ctrl+.")
    add(run_menu, "Cancel all", window.queue.cancel_all, "Ctrl+Shift+.")
    view_menu = bar.addMenu("&View")
    for i, name in enumerate(("Photos", "Masks", "Background", "Results and export")):
        add(view_menu, name, lambda _c=False, i=i: window.tabs.setCurrentIndex(i), f"Ctrl+{i + 1}")
    help_menu = bar.addMenu("&Help")
    add(help_menu, "Keyboard shortcuts", window.show_help, "F1", "?")
    return recent


def fill_recent(menu: QMenu, folders: list[str], open_folder: Callable[[Path], object]) -> None:
    """The "Open recent" entries, newest first."""
    menu.clear()
    for folder in folders:
        action = menu.addAction(folder)
        action.triggered.connect(lambda _c=False, f=folder: open_folder(Path(f)))
