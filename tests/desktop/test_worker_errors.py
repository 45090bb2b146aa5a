"""The app's workers relay the exception object itself; the GUI logs its traceback and shows one line."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from PySide6.QtWidgets import QMessageBox

from packshot.core import logfile
from packshot.desktop import errors
from packshot.desktop.app import display_problem
from packshot.desktop.workers import start_worker

REPO = Path(__file__).resolve().parents[2]


class ShelfError(RuntimeError):
    """An exception type only this test knows: a rebuilt copy could not be told from the original."""


def _raise(exc: BaseException) -> None:
    raise exc


def test_worker_relays_the_same_exception_object_and_the_log_has_its_traceback(qtbot, tmp_path, monkeypatch):
    log_path = errors.setup_logging(tmp_path / "logs")
    original = ShelfError("the shelf collapsed")
    got, finished = [], []
    start_worker(_raise, original, on_error=got.append, on_finished=lambda: finished.append(True))
    qtbot.waitUntil(lambda: bool(got) and bool(finished), timeout=5000)
    assert got[0] is original  # the object itself, not one rebuilt from its class name
    assert got[0].__traceback__ is not None

    shown = []
    monkeypatch.setattr(QMessageBox, "exec", lambda self: shown.append(self.text()) or 0)
    monkeypatch.setattr(QMessageBox, "open", lambda self: shown.append(self.text()))  # show_error
    errors.show_error(None, got[0])
    assert len(shown) == 1 and "\n" not in shown[0] and "Traceback" not in shown[0]
    assert "ShelfError: the shelf collapsed" in shown[0] and str(log_path) in shown[0]
    logfile.flush()
    text = log_path.read_text()
    assert text.count("Traceback (most recent call last)") == 1  # logged once, by the worker
    assert " ERROR " in text and "in _raise" in text and "ShelfError: the shelf collapsed" in text


def test_a_cancel_is_no_error_dialog(qtbot, monkeypatch):
    from packshot.core.errors import Cancelled

    shown = []
    monkeypatch.setattr(QMessageBox, "exec", lambda self: shown.append(self.text()) or 0)
    monkeypatch.setattr(QMessageBox, "open", lambda self: shown.append(self.text()))  # show_error
    cancelled, got = [], []
    start_worker(_raise, Cancelled("Cancelled by the user."), on_error=got.append,
                 on_cancelled=lambda: cancelled.append(True))
    qtbot.waitUntil(lambda: bool(cancelled), timeout=5000)
    errors.show_error(None, Cancelled("Cancelled by the user."))
    assert not got and not shown


def test_a_known_failure_shows_its_own_message(qtbot, tmp_path, monkeypatch):
    import errno

    errors.setup_logging(tmp_path / "logs")
    shown = []
    monkeypatch.setattr(QMessageBox, "exec", lambda self: shown.append(self.text()) or 0)
    monkeypatch.setattr(QMessageBox, "open", lambda self: shown.append(self.text()))  # show_error
    errors.show_error(None, OSError(errno.ENOSPC, "No space left on device", str(tmp_path / "a.png")))
    assert shown[0].startswith("the disk is full: free space and run the same command again")


def test_a_photo_jobs_failure_carries_its_exception_object(tmp_path):
    """The queue's GenerateJob re-raises ``outcome.error``: the app sees the engine's own exception."""
    from packshot.core.errors import ImageReadError
    from packshot.core.jobs import JobSettings, PhotoJob
    from packshot.core.jobs.context import JobContext
    from tests.core.batch_helpers import no_models_runtime

    broken = tmp_path / "broken.jpg"
    broken.write_bytes(b"not a jpeg")
    ctx = JobContext(JobSettings(), runtime=no_models_runtime(tmp_path))
    outcome = PhotoJob(broken, tmp_path / "out", ctx).run()
    assert outcome.status == "failed" and isinstance(outcome.error, ImageReadError)
    assert outcome.error.__traceback__ is not None and "broken.jpg" in outcome.message


def test_no_display_is_detected_before_qt_starts():
    assert display_problem({}, "linux") is not None
    assert display_problem({"QT_QPA_PLATFORM": "xcb", "WAYLAND_DISPLAY": "wayland-0"}, "linux") is not None
    assert display_problem({"DISPLAY": ":0"}, "linux") is None
    assert display_problem({"WAYLAND_DISPLAY": "wayland-0"}, "linux") is None
    assert display_problem({"QT_QPA_PLATFORM": "offscreen"}, "linux") is None
    assert display_problem({"QT_QPA_PLATFORM": "wayland;xcb", "DISPLAY": ":1"}, "linux") is None
    assert display_problem({}, "darwin") is None and display_problem({}, "win32") is None


def test_gui_without_a_display_says_so_in_one_line_instead_of_aborting(tmp_path):
    env = {k: v for k, v in os.environ.items() if k not in ("DISPLAY", "WAYLAND_DISPLAY", "QT_QPA_PLATFORM")}
    env.update(PYTHONPATH=str(REPO), XDG_STATE_HOME=str(tmp_path / "state"), XDG_CONFIG_HOME=str(tmp_path / "cfg"))
    done = subprocess.run([sys.executable, "-m", "packshot.desktop"], cwd=REPO, env=env, capture_output=True, text=True,
                          timeout=120)
    assert done.returncode == 1, (done.returncode, done.stderr)  # not -6 (SIGABRT)
    assert done.stderr.startswith("packshot gui: no display") and len(done.stderr.strip().splitlines()) == 1
