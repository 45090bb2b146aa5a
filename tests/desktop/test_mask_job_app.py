"""The app and `packshot batch` share project state: a photo rejected in the app is not rendered by the
CLI, and the app's masks come from core's MaskJob (the batch's own loop), so the batch reuses them."""

from __future__ import annotations

from PySide6.QtCore import Qt

from packshot.core.jobs.mask_job import MaskJob
from tests.core.batch_helpers import run_batch

TIMEOUT = 60_000


def _batch_argv(photos_dir, out_dir, models_dir) -> list[str]:
    return [str(photos_dir), "--out", str(out_dir), "--engine", "white", "--no-progress", "--masker", "classic",
            "--models-dir", str(models_dir)]


def test_a_photo_rejected_in_the_app_is_not_rendered_by_packshot_batch(qtbot, make_window, app_settings,
                                                                        photos_dir, capsys):
    window = make_window(app_settings, engine="white")
    window.open_folder(photos_dir)
    panel = window.mask_panel
    target = photos_dir / "b_jar.jpg"
    window.select_photo(target)
    window.tabs.setCurrentIndex(1)
    qtbot.waitUntil(lambda: panel.opened_path == target, timeout=TIMEOUT)
    qtbot.keyClick(panel.view, Qt.Key.Key_R)  # reject
    qtbot.waitUntil(lambda: window.model.entry(window.model.row_of(target)).mask_state == "rejected",
                    timeout=TIMEOUT)
    out_dir = window.session.out_dir
    assert run_batch(_batch_argv(photos_dir, out_dir, app_settings.models_dir)) == 0
    printed = capsys.readouterr().out
    assert "1 photo skipped: rejected in review (b_jar.jpg)" in printed
    made = {p.stem for p in out_dir.iterdir() if p.is_file()}
    assert made == {"a_mug", "c box"}  # the rejected photo got nothing


def test_the_apps_masks_go_through_mask_job_and_the_batch_reuses_them(qtbot, make_window, app_settings,
                                                                      photos_dir, monkeypatch):
    calls: list[tuple[str, str]] = []
    original = MaskJob.mask_photo

    def counted(self, path, **kw):
        outcome = original(self, path, **kw)
        calls.append((path.name, outcome.status))
        return outcome

    monkeypatch.setattr(MaskJob, "mask_photo", counted)
    window = make_window(app_settings, engine="white", masker="classic")
    window.open_folder(photos_dir)
    item = window.compute_all_masks()
    qtbot.waitUntil(lambda: window.queue_panel.state_of(item) == "done", timeout=TIMEOUT)
    assert sorted(calls) == [("a_mug.png", "computed"), ("b_jar.jpg", "computed"), ("c box.png", "computed")]
    store = window.session.store
    masks = {r.name: r.mask_path.read_bytes() for r in store.photos()}
    calls.clear()
    out_dir = window.session.out_dir
    assert run_batch(_batch_argv(photos_dir, out_dir, app_settings.models_dir)) == 0
    # the batch's photos asked MaskJob too, and got the app's masks back instead of masking again
    assert sorted(calls) == [("a_mug.png", "reused"), ("b_jar.jpg", "reused"), ("c box.png", "reused")]
    assert {r.name: r.mask_path.read_bytes() for r in store.photos()} == masks
