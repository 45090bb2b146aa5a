"""Defaults of a fresh install: engine "auto" (the paper's engine when its weights are here, else a
white background), the "studio" template, and missing weights caught before anything is queued."""

from __future__ import annotations

from dataclasses import replace

from packshot.desktop.settings import AppSettings
from packshot.desktop.templates_panel import TemplatesPanel

TIMEOUT = 60_000


def test_fresh_settings_pick_auto_engine_and_the_studio_template(qtbot, tmp_path):
    panel = TemplatesPanel(*_with_workspace(AppSettings(models_dir=str(tmp_path / "no-models"))))
    qtbot.addWidget(panel)
    assert panel.engine() == "auto" and panel.template_combo.currentText() == "studio"
    assert panel.resolved_engine() == "white"  # no weights: white, and the panel says why
    assert "white background" in panel.engine_note.text() and "photo-background-generation" in panel.engine_note.text()
    assert not panel.steps.isEnabled()  # diffusion settings do nothing for white


def test_auto_engine_means_the_paper_engine_when_its_weights_are_here(qtbot, models_dir):
    panel = TemplatesPanel(*_with_workspace(AppSettings(models_dir=str(models_dir))))
    qtbot.addWidget(panel)
    assert panel.engine() == "auto" and panel.resolved_engine() == "si2-controlnet"
    assert panel.steps.isEnabled() and panel.model_combo.isEnabled()


def test_default_engine_without_weights_makes_white_backgrounds(qtbot, make_window, app_settings, photos_dir,
                                                                 tmp_path):
    settings = AppSettings(models_dir=str(tmp_path / "no-models"), device="cpu", first_run_done=True)
    window = make_window(settings, engine="auto", variants=1)
    window.open_folder(photos_dir)
    photo = photos_dir / "a_mug.png"
    window.select_photo(photo)
    item = window.try_on_current()
    qtbot.waitUntil(lambda: window.queue_panel.state_of(item) in ("done", "failed"), timeout=TIMEOUT)
    assert window.queue_panel.state_of(item) == "done", window.status_label.text()
    assert [r.engine for r in window.session.results(photo)] == ["white"]


def test_missing_weights_are_reported_once_and_nothing_is_queued(qtbot, make_window, app_settings, photos_dir,
                                                                 tmp_path, monkeypatch):
    from PySide6.QtWidgets import QMessageBox

    shown = []
    monkeypatch.setattr(QMessageBox, "exec", lambda self: shown.append(
        (self.text(), [b.text() for b in self.buttons()])) or 0)
    window = make_window(replace(app_settings, models_dir=str(tmp_path / "no-models")))
    window.open_folder(photos_dir)
    window.templates.engine_combo.setCurrentText("si2-controlnet")
    assert window.run_on_all() == []
    assert len(shown) == 1
    text, buttons = shown[0]
    assert "photo-background-generation" in text and "Traceback" not in text and "Open models…" in buttons
    assert window.queue_panel.row_count() == 0 and not window.queue.busy
    assert window.try_on_current() is None and len(shown) == 2
    window.templates.engine_combo.setCurrentText("si2")
    assert window.try_on_current() is None and "sd2-inpainting" in shown[-1][0]
    assert window.queue_panel.row_count() == 0
    assert {e.status for e in window.model.entries()} == {"pending"}  # no photo marked failed


def _with_workspace(settings):
    from packshot.desktop.workspace import Workspace

    return settings, Workspace(settings.models_path)
