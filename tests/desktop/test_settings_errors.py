"""Settings file round trip, readable error messages (never a traceback), the log file."""

from __future__ import annotations

import logging
import os
from pathlib import Path

from PySide6.QtWidgets import QMessageBox

from packshot.core.errors import ModelMissingError
from packshot.desktop import errors
from packshot.desktop.settings import AppSettings, load_settings, save_settings, settings_path


def test_settings_round_trip_in_isolated_config():
    assert str(settings_path()).startswith(os.environ["XDG_CONFIG_HOME"])  # never the real user's file
    s = AppSettings(models_dir="/models", device="cpu", export_quality=80)
    s.remember_folder("/a")
    s.remember_folder("/b")
    s.remember_folder("/a")
    save_settings(s)
    back = load_settings()
    assert back.models_dir == "/models" and back.device == "cpu" and back.export_quality == 80
    assert back.recent_folders == ["/a", "/b"]


def test_damaged_or_odd_settings_give_defaults(tmp_path):
    path = tmp_path / "settings.json"
    path.write_text("{not json")
    assert load_settings(path) == AppSettings()
    path.write_text('{"device": "tpu", "unknown_key": 1, "steps": 9, "export_quality": 70}')
    s = load_settings(path)  # "steps": a job default older versions kept here, now JobSettings'
    assert s.device == "auto" and s.export_quality == 70 and not hasattr(s, "steps")


def test_error_messages_are_readable_and_logged(qtbot, tmp_path, monkeypatch):
    log_path = errors.setup_logging(tmp_path / "logs")
    shown = []
    monkeypatch.setattr(QMessageBox, "exec", lambda self: shown.append(self.text()) or 0)
    monkeypatch.setattr(QMessageBox, "open", lambda self: shown.append(self.text()))  # show_error
    errors.show_error(None, ModelMissingError("Model 'sam-vit_b' is not on this machine. Fix: ..."))
    try:
        {}["missing"]
    except KeyError as exc:
        errors.show_error(None, exc)
    assert shown[0] == "Model 'sam-vit_b' is not on this machine. Fix: ..."
    assert "Traceback" not in shown[1] and "KeyError" in shown[1] and str(log_path) in shown[1]
    for handler in logging.getLogger().handlers:
        handler.flush()
    text = log_path.read_text()
    assert "Traceback" in text and "KeyError: 'missing'" in text  # the details go to the log


def test_uncaught_exception_on_a_worker_thread_becomes_a_message(qtbot, monkeypatch, tmp_path):
    import threading

    errors.setup_logging(tmp_path / "logs")
    shown = []
    monkeypatch.setattr(QMessageBox, "exec", lambda self: shown.append(self.text()) or 0)
    monkeypatch.setattr(QMessageBox, "open", lambda self: shown.append(self.text()))  # show_error
    old_hooks = (__import__("sys").excepthook, threading.excepthook)
    errors.install_excepthook()
    try:
        t = threading.Thread(target=lambda: 1 / 0)
        t.start()
        t.join()
        qtbot.waitUntil(lambda: bool(shown), timeout=5000)
    finally:
        __import__("sys").excepthook, threading.excepthook = old_hooks
    assert "ZeroDivisionError" in shown[0] and "Traceback" not in shown[0]


def test_settings_dialog_saves_models_folder_device_and_defaults(qtbot, tmp_path):
    from packshot.desktop.settings_dialog import SettingsDialog

    settings = AppSettings()
    dialog = SettingsDialog(settings)
    qtbot.addWidget(dialog)
    dialog.models_dir.setText(str(tmp_path / "models"))
    dialog.device.setCurrentText("cpu")
    dialog.export_quality.setValue(85)
    dialog.accept()
    back = load_settings()
    assert (back.models_dir, back.device, back.export_quality) == (str(tmp_path / "models"), "cpu", 85)


def test_command_line_options_hold_for_the_run_and_are_not_saved(qtbot, tmp_path, photos_dir, monkeypatch):
    """`packshot gui photos --models-dir models --device cpu` (relative paths, from tmp_path)."""
    import sys
    import threading

    from PySide6.QtWidgets import QApplication

    from packshot.desktop import app as app_module
    from packshot.desktop.main_window import MainWindow

    monkeypatch.setattr(sys, "excepthook", sys.excepthook)  # main() installs its own hooks
    monkeypatch.setattr(threading, "excepthook", threading.excepthook)
    save_settings(AppSettings(models_dir="/saved/models", device="auto", first_run_done=True))
    monkeypatch.chdir(tmp_path)
    seen = {}

    def run_then_close(*_args):
        window = next(w for w in QApplication.topLevelWidgets() if isinstance(w, MainWindow) and w.isVisible())
        qtbot.waitUntil(lambda: window.session is not None, timeout=10_000)
        seen.update(models=window.settings.models_dir, device=window.settings.device)
        window.close()  # saves the settings, as quitting does
        return 0

    monkeypatch.setattr(QApplication, "exec", run_then_close)
    assert app_module.main(["photos", "--models-dir", "models", "--device", "cpu"]) == 0
    assert seen["models"] == str((tmp_path / "models").resolve()) and seen["device"] == "cpu"  # used, made absolute
    saved = load_settings()
    assert saved.models_dir == "/saved/models" and saved.device == "auto"  # the user's own settings stay
    assert saved.recent_folders == [str(photos_dir.resolve())]  # absolute, though "photos" was given


def test_settings_dialog_saves_an_overridden_value_only_when_the_user_changes_it(qtbot, tmp_path):
    from packshot.desktop.settings_dialog import SettingsDialog

    save_settings(AppSettings(models_dir="/saved/models", device="auto"))
    settings = load_settings()
    settings.override("models_dir", str(tmp_path / "cli-models"))
    settings.override("device", "cpu")
    dialog = SettingsDialog(settings)
    qtbot.addWidget(dialog)
    dialog.export_quality.setValue(60)
    dialog.device.setCurrentText("cuda")  # changed here: saved; the models folder is left as it was
    dialog.accept()
    back = load_settings()
    assert (back.models_dir, back.device, back.export_quality) == ("/saved/models", "cuda", 60)
    assert settings.models_dir == str(tmp_path / "cli-models")  # still this run's folder
    dialog = SettingsDialog(settings)
    qtbot.addWidget(dialog)
    dialog.models_dir.setText("relative-models")
    dialog.accept()
    assert load_settings().models_dir == str(Path.cwd() / "relative-models")  # saved, absolute
