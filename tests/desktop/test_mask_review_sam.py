"""Mask review with the tiny SAM: one encoder run per photo for many clicks, look-ahead embeddings
for the next photos, the review queue ordered by mask score, reject, and shortcuts."""

from __future__ import annotations

import pytest
from PySide6.QtCore import Qt

from packshot.core.project import ProjectStore

TIMEOUT = 60_000


@pytest.mark.slow
def test_sam_clicks_reuse_one_embedding_and_next_photos_are_prepared(qtbot, make_window, app_settings,
                                                                     photos_dir):
    window = make_window(app_settings, masker="sam")
    window.open_folder(photos_dir)
    panel = window.mask_panel
    first = panel.order[0]
    window.select_photo(first)
    window.tabs.setCurrentIndex(1)
    qtbot.waitUntil(lambda: panel.opened_path == first, timeout=TIMEOUT)
    assert panel.opened.masker.startswith("sam")
    cache = panel.editor.masker.cache
    # the look-ahead encodes the next photos on its own thread
    qtbot.waitUntil(lambda: cache.encoder_runs >= 3, timeout=TIMEOUT)
    runs = cache.encoder_runs
    view = panel.view
    for x, y, button in ((40, 40, Qt.MouseButton.LeftButton), (5, 5, Qt.MouseButton.RightButton),
                         (60, 30, Qt.MouseButton.LeftButton)):
        qtbot.mouseClick(view.viewport(), button, pos=view.from_photo(x, y))
        qtbot.waitUntil(lambda: not panel.busy, timeout=TIMEOUT)
    assert panel.editor.session.clicks == [(pytest.approx(40, abs=1.5), pytest.approx(40, abs=1.5), True),
                                           (pytest.approx(5, abs=1.5), pytest.approx(5, abs=1.5), False),
                                           (pytest.approx(60, abs=1.5), pytest.approx(30, abs=1.5), True)]
    assert cache.encoder_runs == runs  # clicks reuse the embedding
    # next photo: its embedding was ready, so opening it encodes nothing new
    qtbot.keyClick(view, Qt.Key.Key_PageDown)
    second = panel.order[1]
    qtbot.waitUntil(lambda: panel.opened_path == second, timeout=TIMEOUT)
    assert cache.encoder_runs == runs
    # every photo opened so far has an auto mask with a score; the queue puts low scores first
    store = ProjectStore(window.session.out_dir)
    scores = [store.photo(p).mask_score for p in panel.order if store.photo(p).mask_score is not None]
    assert scores == sorted(scores) and len(scores) >= 2


def test_reject_marks_the_photo_and_run_on_all_skips_it(qtbot, make_window, app_settings, photos_dir):
    window = make_window(app_settings, engine="white")
    window.open_folder(photos_dir)
    panel = window.mask_panel
    target = photos_dir / "b_jar.jpg"
    window.select_photo(target)
    window.tabs.setCurrentIndex(1)
    qtbot.waitUntil(lambda: panel.opened_path == target, timeout=TIMEOUT)
    qtbot.keyClick(panel.view, Qt.Key.Key_Backspace)
    assert window.model.entry(window.model.row_of(target)).mask_state == "rejected"
    window.templates.engine_combo.setCurrentText("white")
    ids = window.run_on_all()
    assert len(ids) == 1  # one core BatchJob, which leaves the rejected photo out
    qtbot.waitUntil(lambda: not window.queue.busy, timeout=TIMEOUT)
    others = [p for p in photos_dir.iterdir() if p.is_file() and p != target]
    qtbot.waitUntil(lambda: all(window.session.results(p) for p in others), timeout=TIMEOUT)
    assert not window.session.results(target)
    assert all(window.session.results(p) for p in photos_dir.iterdir() if p.is_file() and p != target)


def test_compute_all_masks_orders_the_review_queue(qtbot, make_window, app_settings, photos_dir):
    window = make_window(app_settings)
    window.open_folder(photos_dir)
    item = window.compute_all_masks()
    qtbot.waitUntil(lambda: window.queue_panel.state_of(item) == "done", timeout=TIMEOUT)
    entries = window.model.entries()
    assert {e.mask_state for e in entries} == {"auto"} and all(e.mask_score is not None for e in entries)
    panel = window.mask_panel
    scores = [window.model.entry(window.model.row_of(p)).mask_score for p in panel.order]
    assert scores == sorted(scores)
    assert panel.queue_list.count() == 3 and "score" in panel.queue_list.item(0).text()


def test_paging_quickly_lands_on_the_last_photo(qtbot, make_window, app_settings, photos_dir):
    window = make_window(app_settings)
    window.open_folder(photos_dir)
    window.tabs.setCurrentIndex(1)
    panel = window.mask_panel
    for photo in sorted(p for p in photos_dir.iterdir() if p.is_file()):
        panel.show_photo(photo)  # no waiting in between, like holding PgDown
    last = sorted(p for p in photos_dir.iterdir() if p.is_file())[-1]
    qtbot.waitUntil(lambda: not panel.busy and panel.opened is not None, timeout=TIMEOUT)
    assert panel.opened_path == last and panel.path == last
    assert panel.busy is False
