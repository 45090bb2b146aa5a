"""Errors keep their story: the user reads one line, the log file keeps the traceback."""

from __future__ import annotations

import errno
import sqlite3

import pytest

import packshot.core.cli.models_cmd
from packshot.core import errors, logfile
from packshot.core.cli.main import main


def _boom(_args):
    return {}["missing key"]  # a bug, not a known failure


def test_an_unexpected_error_is_one_line_pointing_to_the_log_which_has_the_traceback(monkeypatch, capsys):
    monkeypatch.setattr(packshot.core.cli.models_cmd, "_list", _boom)
    assert main(["models", "list"]) == 1
    err = capsys.readouterr().err
    log_path = logfile.log_file()
    assert log_path is not None and str(log_path) in err
    assert err.startswith("packshot: error: Something unexpected went wrong (KeyError: 'missing key')")
    assert "Traceback" not in err and len(err.strip().splitlines()) == 1, err
    logfile.flush()
    text = log_path.read_text()
    assert " ERROR " in text and "Traceback (most recent call last)" in text and "_boom" in text
    assert "KeyError: 'missing key'" in text


def test_a_known_error_prints_its_own_message_and_logs_it_without_traceback(monkeypatch, capsys):
    def missing(_args):
        raise errors.ModelMissingError("Model 'x' is not on this machine. Fix: ...")

    monkeypatch.setattr(packshot.core.cli.models_cmd, "_list", missing)
    assert main(["models", "list"]) == 1
    assert capsys.readouterr().err == "packshot: error: Model 'x' is not on this machine. Fix: ...\n"
    logfile.flush()
    text = logfile.log_file().read_text()
    assert "Model 'x' is not on this machine" in text and "Traceback" not in text


def test_cancel_is_not_an_error(monkeypatch, capsys):
    assert not issubclass(errors.Cancelled, errors.PackshotError)

    def cancelled(_args):
        raise errors.Cancelled("Cancelled by the user.")

    monkeypatch.setattr(packshot.core.cli.models_cmd, "_list", cancelled)
    assert main(["models", "list"]) == 130
    err = capsys.readouterr().err
    assert "error" not in err and "Cancelled by the user." in err and "resume" in err


def test_lock_store_and_disk_errors_have_their_own_types():
    assert issubclass(errors.OutputLockedError, errors.PackshotError)
    assert issubclass(errors.ProjectStoreError, errors.PackshotError)
    assert issubclass(errors.DiskFullError, errors.ImageWriteError)
    assert issubclass(errors.NoConnectionError, errors.ModelMissingError)


def test_known_failures_are_recognised_through_their_causes(tmp_path):
    try:
        try:
            raise OSError(errno.ENOSPC, "No space left on device")
        except OSError as exc:
            raise errors.ImageWriteError("Cannot write a.png: No space left on device.") from exc
    except errors.ImageWriteError as wrapped:
        assert errors.is_disk_full(wrapped)
        assert isinstance(errors.known_error(wrapped), errors.DiskFullError)
    assert errors.is_disk_full(sqlite3.OperationalError("database or disk is full"))
    assert not errors.is_disk_full(sqlite3.OperationalError("database is locked"))
    read_only = errors.known_error(OSError(errno.EROFS, "Read-only file system", str(tmp_path)))
    assert isinstance(read_only, errors.OutputNotWritableError) and "read-only disk" in str(read_only)
    denied = errors.known_error(PermissionError(errno.EACCES, "Permission denied", str(tmp_path)))
    assert "no permission" in str(denied) and str(tmp_path) in str(denied)
    assert errors.known_error(KeyError("x")) is None
    with pytest.raises(errors.DiskFullError, match=errors.DISK_FULL_FIX):
        with errors.stop_when_disk_full(tmp_path):
            raise OSError(errno.ENOSPC, "No space left on device")
    with pytest.raises(ValueError):  # anything else passes through untouched
        with errors.stop_when_disk_full(tmp_path):
            raise ValueError("not about the disk")


def test_the_lock_error_is_an_output_locked_error(tmp_path):
    from packshot.core.jobs import BatchJob, JobSettings
    from tests.core.batch_helpers import no_models_runtime, write_photos

    write_photos(tmp_path / "in", 1, size=(64, 48))
    first = BatchJob(tmp_path / "in", tmp_path / "out", JobSettings(), runtime=no_models_runtime(tmp_path))
    first.prepare()
    try:
        second = BatchJob(tmp_path / "in", tmp_path / "out", JobSettings(), runtime=no_models_runtime(tmp_path))
        with pytest.raises(errors.OutputLockedError, match="already working on"):
            second.prepare()
    finally:
        first.release()
