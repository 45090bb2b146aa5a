"""Start Packshot Studio: ``packshot-studio [FOLDER]``, ``packshot gui [FOLDER]``, ``python -m desktop``.

Start-up imports Qt, numpy and PIL only; torch and the model code are imported by the worker
thread the first time it needs them, so the window shows within about a second.
"""

from __future__ import annotations

import argparse
import logging
import sys
import time
from pathlib import Path
from typing import Optional, Sequence

T0 = time.perf_counter()  # process start, near enough: this module is imported first

log = logging.getLogger("desktop")


def parse_args(argv: Optional[Sequence[str]]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="packshot-studio", description="Packshot desktop app")
    parser.add_argument("folder", nargs="?", type=Path, help="folder of photos or a Packshot output folder")
    parser.add_argument("--models-dir", type=Path, help="folder holding one sub-folder per model id")
    parser.add_argument("--device", choices=("auto", "cuda", "cpu"), help="compute device for this session")
    return parser.parse_args(argv)


def main(argv: Optional[Sequence[str]] = None) -> int:
    args = parse_args(sys.argv[1:] if argv is None else argv)
    from PySide6.QtCore import QTimer
    from PySide6.QtWidgets import QApplication

    from desktop.errors import install_excepthook, setup_logging
    from desktop.settings import absolute_path, load_settings

    log_path = setup_logging()
    app = QApplication.instance() or QApplication(sys.argv[:1])
    app.setApplicationName("Packshot Studio")
    app.setOrganizationName("packshot")
    settings = load_settings()
    # Command-line options hold for this run only; the saved settings change in the settings dialog.
    if args.models_dir:
        settings.override("models_dir", absolute_path(args.models_dir))
    if args.device:
        settings.override("device", args.device)

    from desktop.main_window import MainWindow

    window = MainWindow(settings)
    install_excepthook(lambda: window)
    window.show()
    log.info("Window shown %.2f s after start; log file %s", time.perf_counter() - T0, log_path)
    if args.folder:
        QTimer.singleShot(0, lambda: window.open_folder(args.folder))
    if not settings.first_run_done:
        QTimer.singleShot(300, lambda: first_run_check(window))
    return app.exec()


def first_run_check(window) -> None:
    """On first run, show the models dialog if a model is missing (checked on a worker)."""
    from desktop.models_dialog import ModelsDialog, model_status
    from desktop.settings import save_settings
    from desktop.workers import start_worker

    def decide(rows: list[dict]) -> None:
        window.settings.first_run_done = True
        save_settings(window.settings)
        if any(not r["path"] for r in rows):
            ModelsDialog(window.settings, window).exec()

    start_worker(model_status, window.settings.models_path, on_result=decide)


if __name__ == "__main__":
    raise SystemExit(main())
