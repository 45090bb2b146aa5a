"""Start Packshot Studio: ``packshot-studio [FOLDER]``, ``packshot gui [FOLDER]``, ``python -m packshot.desktop``.

Start-up imports Qt, numpy and PIL only; torch and the model code are imported by the worker
thread the first time it needs them, so the window shows within about a second.
"""

from __future__ import annotations

import argparse
import logging
import os
import sys
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Optional, Sequence

from packshot.core.app_api import DEVICE_CHOICES

T0 = time.perf_counter()  # process start, near enough: this module is imported first


log = logging.getLogger("packshot.desktop")


def display_problem(environ: Mapping[str, str] = os.environ, platform: str = sys.platform) -> Optional[str]:
    """Why no window can open here (no X11 or Wayland display on Linux), or None when one can.

    Checked before ``QApplication`` exists: Qt aborts the whole process (SIGABRT) when its platform
    plugin finds no display."""
    if not platform.startswith(("linux", "freebsd", "openbsd", "netbsd")):
        return None  # macOS and Windows always have their own platform plugin
    has_x11, has_wayland = bool(environ.get("DISPLAY")), bool(environ.get("WAYLAND_DISPLAY"))
    wanted = [p.split(":")[0].strip().lower() for p in environ.get("QT_QPA_PLATFORM", "").split(";") if p.strip()]

    def usable(name: str) -> bool:
        if name == "xcb":
            return has_x11
        if name.startswith("wayland"):
            return has_wayland
        return True  # headless plugins, or one we do not know: let Qt try it

    # QT_QPA_PLATFORM may list fallbacks ("wayland;xcb"); unset, Qt picks whichever display there is.
    if any(usable(p) for p in wanted) if wanted else (has_x11 or has_wayland):
        return None
    return ("no display to open a window on (DISPLAY and WAYLAND_DISPLAY are not set"
            + (f", QT_QPA_PLATFORM={environ['QT_QPA_PLATFORM']}" if wanted else "") + "). Start it from a desktop "
            "session or over `ssh -X`, use the command line (`packshot batch --help`), or set "
            "QT_QPA_PLATFORM=offscreen to run the app without a screen.")


def parse_args(argv: Optional[Sequence[str]]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="packshot-studio", description="Packshot desktop app")
    parser.add_argument("folder", nargs="?", type=Path, help="folder of photos or a Packshot output folder")
    parser.add_argument("--models-dir", type=Path, help="folder holding one sub-folder per model id")
    parser.add_argument("--device", choices=DEVICE_CHOICES, help="compute device for this session")
    return parser.parse_args(argv)


def main(argv: Optional[Sequence[str]] = None) -> int:
    args = parse_args(sys.argv[1:] if argv is None else argv)
    from PySide6.QtCore import QTimer
    from PySide6.QtWidgets import QApplication

    from packshot.core.app_api import FILE_ONLY
    from packshot.desktop.errors import install_excepthook, setup_logging
    from packshot.desktop.settings import absolute_path, load_settings

    log_path = setup_logging()
    if QApplication.instance() is None and (problem := display_problem()) is not None:
        log.error("Cannot start the app: %s", problem, extra=FILE_ONLY)  # printed just below
        print(f"packshot gui: {problem}", file=sys.stderr)
        return 1
    app = QApplication.instance() or QApplication(sys.argv[:1])
    app.setApplicationName("Packshot Studio")
    app.setOrganizationName("packshot")
    settings = load_settings()
    # Command-line options hold for this run only; the saved settings change in the settings dialog.
    if args.models_dir:
        settings.override("models_dir", absolute_path(args.models_dir))
    if args.device:
        settings.override("device", args.device)

    from packshot.desktop.main_window import MainWindow

    window = MainWindow(settings)
    install_excepthook(lambda: window)
    window.show()
    log.info("Window shown %.2f s after start; log file %s", time.perf_counter() - T0, log_path)
    QTimer.singleShot(0, lambda: start_up(window, args.folder))
    return app.exec()


def start_up(window, folder: Optional[Path]) -> None:
    """What the first moments show, one dialog at a time: the folder opens first (which may ask where
    its project goes), then, on a first run, the models dialog if a model is missing."""
    if folder:
        window.open_folder(folder)
    if not window.settings.first_run_done:
        first_run_check(window)


def first_run_check(window):
    """On first run, show the models dialog if a model is missing (checked on a worker); it waits
    for any dialog already open (e.g. where to keep a project) instead of opening over it."""
    from packshot.desktop.models_dialog import model_status
    from packshot.desktop.settings import save_settings
    from packshot.desktop.workers import start_worker

    def decide(rows: list[dict]) -> None:
        window.settings.first_run_done = True
        save_settings(window.settings)
        if any(not r["path"] for r in rows):
            when_no_dialog(window.open_models)

    return start_worker(model_status, window.workspace.runtime.store, on_result=decide)


def when_no_dialog(show, retry_ms: int = 200) -> None:
    """Call ``show`` once no modal dialog is open: never two dialogs stacked."""
    from PySide6.QtCore import QTimer
    from PySide6.QtWidgets import QApplication

    if QApplication.activeModalWidget() is not None:
        QTimer.singleShot(retry_ms, lambda: when_no_dialog(show, retry_ms))
        return
    show()


if __name__ == "__main__":
    raise SystemExit(main())
