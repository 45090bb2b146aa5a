"""Models dialog: what is present and missing, pointing at a folder, download progress/cancel."""

from __future__ import annotations

import time

from packshot.core.errors import Cancelled
from packshot.core.progress import Progress
from packshot.desktop import models_dialog
from packshot.desktop.models_dialog import ModelsDialog
from packshot.desktop.settings import AppSettings, load_settings


def wait_rows(qtbot, dialog):
    qtbot.waitUntil(lambda: dialog.table.rowCount() > 0 and "Checking" not in dialog.message.text(),
                    timeout=30_000)


def test_lists_missing_then_present_after_choosing_the_folder(qtbot, models_dir, tmp_path):
    dialog = _dialog(AppSettings(models_dir=str(tmp_path / "empty")))
    qtbot.addWidget(dialog)
    wait_rows(qtbot, dialog)
    assert "photo-background-generation" in dialog.missing()
    with qtbot.waitSignal(dialog.models_changed, timeout=30_000):
        dialog.use_folder(models_dir)
    assert "photo-background-generation" not in dialog.missing()
    assert "sam-vit_b" not in dialog.missing()
    assert "sam-vit_h" in dialog.missing()
    assert load_settings().models_dir == str(models_dir)  # remembered


def test_download_shows_progress_and_can_be_cancelled(qtbot, tmp_path, monkeypatch):
    # The real ModelStore.ensure is tested against a loopback server in tests/core/models; here a
    # stand-in with the same signature checks the dialog's progress and cancel wiring.
    reports = []

    def fake_download(models_dir, model_id, progress, cancel):
        for i in range(200):
            progress(Progress("download", i, 200, f"{model_id}: {i}/200 MB"))
            reports.append(i)
            time.sleep(0.01)  # sleep-ok: simulated work / polling a subprocess
            if cancel.cancelled:
                raise Cancelled("Cancelled by the user.")
        raise AssertionError("not cancelled")

    monkeypatch.setattr(models_dialog, "download_model", fake_download)
    dialog = _dialog(AppSettings(models_dir=str(tmp_path / "empty")))
    qtbot.addWidget(dialog)
    wait_rows(qtbot, dialog)
    row = dialog.row_of("sam-vit_b")
    assert row >= 0
    dialog.table.selectRow(row)
    assert dialog.download_btn.isEnabled()
    dialog.download_selected()
    qtbot.waitUntil(lambda: dialog.progress.value() > 0, timeout=10_000)
    assert "sam-vit_b" in dialog.message.text()
    dialog.cancel_btn.click()
    qtbot.waitUntil(lambda: "cancelled" in dialog.message.text(), timeout=10_000)
    assert len(reports) < 200 and dialog.download_btn.isEnabled()


def _dialog(settings):
    from packshot.desktop.workspace import Workspace

    return ModelsDialog(settings, Workspace(settings.models_path))
