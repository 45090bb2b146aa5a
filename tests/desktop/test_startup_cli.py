"""Start-up: `packshot gui` is registered, the window appears without importing torch."""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
from pathlib import Path

from packshot.desktop.cli import register

ROOT = Path(__file__).resolve().parents[2]

CHILD = r"""
import sys, time
from PySide6.QtWidgets import QApplication
from PySide6.QtCore import QTimer

def fake_exec(*_):
    def report():
        heavy = [m for m in ("torch", "diffusers", "segment_anything", "cv2", "transformers") if m in sys.modules]
        print("HEAVY", ",".join(heavy), flush=True)
        win = [w for w in QApplication.topLevelWidgets() if w.isVisible()]
        print("VISIBLE", ",".join(type(w).__name__ for w in win), flush=True)
        QApplication.quit()
    QTimer.singleShot(0, report)
    return QApplication.__base_exec()

QApplication.__base_exec = QApplication.exec
QApplication.exec = fake_exec
from packshot.desktop.app import main
raise SystemExit(main(sys.argv[1:]))
"""


def test_gui_subcommand_is_registered():
    parser = argparse.ArgumentParser(prog="packshot")
    register(parser.add_subparsers(dest="command"))
    args = parser.parse_args(["gui", "some/folder", "--device", "cpu"])
    assert args.folder == Path("some/folder") and args.device == "cpu" and callable(args.func)


def test_window_appears_without_heavy_imports(tmp_path):
    env = dict(os.environ, QT_QPA_PLATFORM="offscreen", PYTHONPATH=str(ROOT))
    folder = tmp_path / "photos"
    folder.mkdir()
    from tests.desktop.conftest import product_photo

    product_photo(folder / "one.png")
    out = subprocess.run([sys.executable, "-c", CHILD, str(folder)], env=env, cwd=ROOT, capture_output=True,
                         text=True, timeout=120)
    assert out.returncode == 0, out.stderr[-2000:]
    lines = dict(line.split(" ", 1) if " " in line else (line, "") for line in out.stdout.splitlines())
    assert "MainWindow" in lines["VISIBLE"]
    assert lines["HEAVY"] == ""  # torch & co load later, on a worker, when first needed
    log = Path(env.get("XDG_STATE_HOME", "")) / "packshot" / "log" / "packshot.log"
    assert log.is_file() and "Window shown" in log.read_text()
