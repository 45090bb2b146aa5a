"""End to end with tiny models: open a folder, edit a mask with clicks and brush, generate, see
results, pick a keeper, export, cancel mid-run, reopen the project and find the same state."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from PIL import Image
from PySide6.QtCore import QPoint, Qt

from packshot.core.project import ProjectStore

TIMEOUT = 60_000


def wait_queue_idle(qtbot, window) -> None:
    qtbot.waitUntil(lambda: not window.queue.busy, timeout=TIMEOUT)
    qtbot.waitUntil(lambda: all(window.queue_panel.state_of(i) not in ("queued", "running")
                                for i in window.queue_panel.item_ids()), timeout=TIMEOUT)  # finished signals arrived


def open_for_review(qtbot, window, path: Path) -> None:
    window.select_photo(path)
    window.tabs.setCurrentIndex(1)
    qtbot.waitUntil(lambda: window.mask_panel.opened_path == path,
                    timeout=TIMEOUT)


def drag(qtbot, view, points: list[tuple[float, float]], button=Qt.MouseButton.LeftButton) -> None:
    """A real mouse drag across the view's viewport through photo-pixel points."""
    vp = view.viewport()
    pts = [view.from_photo(x, y) for x, y in points]
    qtbot.mousePress(vp, button, pos=pts[0])
    for p in pts[1:]:
        qtbot.mouseMove(vp, p)
    qtbot.mouseRelease(vp, button, pos=pts[-1])


@pytest.mark.slow
def test_open_review_generate_export_reopen(qtbot, make_window, app_settings, photos_dir, tmp_path):
    originals = {p.name: p.read_bytes() for p in photos_dir.iterdir()}
    window = make_window(app_settings)
    assert window.open_folder(photos_dir)
    assert window.model.rowCount() == 3
    assert {e.status for e in window.model.entries()} == {"pending"}
    window.model.wait_for_thumbnails()
    qtbot.waitUntil(lambda: window.model.thumbnails_cached() == 3, timeout=10_000)

    # -- mask review: the auto mask, a negative click, a brush stroke, undo/redo, accept --------
    photo = photos_dir / "a_mug.png"
    open_for_review(qtbot, window, photo)
    panel, view = window.mask_panel, window.mask_panel.view
    auto = panel.current_mask().copy()
    assert auto[40, 48] and not auto[5, 5]  # the classic mask found the red product
    before_edits = panel.current_mask().copy()
    qtbot.mouseClick(view.viewport(), Qt.MouseButton.RightButton, pos=view.from_photo(20, 70))
    qtbot.waitUntil(lambda: not panel.busy, timeout=TIMEOUT)
    panel.set_tool("brush")
    panel.brush_size.setValue(10)
    drag(qtbot, view, [(5, 5), (10, 5), (15, 5)])  # paint background corner into the mask
    qtbot.waitUntil(lambda: not panel.busy and bool(panel.current_mask()[5, 10]), timeout=TIMEOUT)
    assert not np.array_equal(panel.current_mask(), before_edits)
    qtbot.keyClick(view, Qt.Key.Key_Z, Qt.KeyboardModifier.ControlModifier)  # undo the stroke
    qtbot.waitUntil(lambda: not panel.busy and not panel.current_mask()[5, 10], timeout=TIMEOUT)
    qtbot.keyClick(view, Qt.Key.Key_Z, Qt.KeyboardModifier.ControlModifier | Qt.KeyboardModifier.ShiftModifier)
    qtbot.waitUntil(lambda: not panel.busy and bool(panel.current_mask()[5, 10]), timeout=TIMEOUT)
    panel.set_tool("eraser")
    drag(qtbot, view, [(48, 40), (50, 40)])  # erase a bit of the product
    qtbot.waitUntil(lambda: not panel.busy and not panel.current_mask()[40, 49], timeout=TIMEOUT)
    with qtbot.waitSignal(panel.mask_saved, timeout=TIMEOUT):
        qtbot.keyClick(view, Qt.Key.Key_Return)
    store = ProjectStore(window.session.out_dir)
    rec = store.photo(photo)
    assert rec.mask_state == "edited"
    saved = np.asarray(Image.open(rec.mask_path)) >= 128
    assert saved[5, 10] and not saved[40, 49]
    assert window.model.entry(window.model.row_of(photo)).mask_state == "edited"

    # -- generate on this photo with the tiny SI2 + ControlNet ----------------------------------
    window.select_photo(photo)
    window.tabs.setCurrentIndex(2)
    assert "a mug" in window.templates.preview.text()
    item = window.try_on_current()
    wait_queue_idle(qtbot, window)
    assert window.queue_panel.state_of(item) == "done", window.status_label.text()
    results = window.session.results(photo)
    assert len(results) == 2 and all(r.output_path.is_file() for r in results)
    assert all(r.engine == "si2-controlnet" and r.expansion is not None for r in results)
    out = np.asarray(Image.open(results[0].output_path).convert("RGB"))
    src = np.asarray(Image.open(photo).convert("RGB"))
    solid = np.asarray(Image.open(rec.mask_path)) == 255
    assert solid.sum() > 500 and np.array_equal(out[solid], src[solid])  # product kept bit-exactly
    assert window.model.entry(window.model.row_of(photo)).generated

    # -- results: variants shown, keep the second one, export --------------------------------
    window.tabs.setCurrentIndex(3)
    qtbot.waitUntil(window.results.previews_loaded, timeout=10_000)
    assert window.results.strip.count() == 3  # original + 2 variants
    assert "beyond the product" in window.results.strip.item(1).text()
    window.results.select_variant(1)
    window.results.keep_btn.click()
    keeper = window.session.results(photo)[1]
    assert keeper.chosen and not window.session.results(photo)[0].chosen
    export_dir = tmp_path / "export"
    job = window.export_chosen("square-1000", export_dir)
    wait_queue_idle(qtbot, window)
    assert window.queue_panel.state_of(job) == "done"
    exported = sorted(export_dir.iterdir())
    assert [p.name for p in exported] == ["a_mug_square-1000.png"]
    with Image.open(exported[0]) as im:
        assert im.size == (1000, 1000) and "packshot:recipe" in im.info

    # -- cancel mid-run: nothing half-written, the rest never started ---------------------------
    window.templates.steps.setValue(40)
    started = []
    window.queue.item_progress.connect(lambda i, p: started.append(p.stage))
    ids = window.run_on_all()
    assert len(ids) == 1  # one core BatchJob for the folder
    qtbot.waitUntil(lambda: "denoise" in " ".join(started) or len(started) > 3, timeout=TIMEOUT)
    window.queue_panel.cancel_all_btn.click()
    wait_queue_idle(qtbot, window)
    assert [window.queue_panel.state_of(i) for i in ids] == ["cancelled"]
    out_dir = window.session.out_dir
    assert not [p for p in out_dir.rglob("*") if p.name.startswith((".tmp-", ".packshot-tmp-"))]
    chosen_before = {r.id for r in window.session.results(photo) if r.chosen}
    states_before = [(e.path, e.status, e.mask_state) for e in window.model.entries()]
    window.close()

    # -- reopen: same masks, results and keeper ---------------------------------------------
    again = make_window(app_settings)
    assert again.open_folder(photos_dir)
    assert [(e.path, e.status, e.mask_state) for e in again.model.entries()] == states_before
    assert {r.id for r in again.session.results(photo) if r.chosen} == chosen_before
    again.select_photo(photo)
    again.tabs.setCurrentIndex(3)
    qtbot.waitUntil(again.results.previews_loaded, timeout=10_000)
    assert "keeper" in again.results.strip.currentItem().text()
    assert {p.name: p.read_bytes() for p in photos_dir.iterdir() if p.is_file()} == originals


def test_click_tool_sends_photo_coordinates(qtbot, make_window, app_settings, photos_dir):
    window = make_window(app_settings)
    window.open_folder(photos_dir)
    open_for_review(qtbot, window, photos_dir / "c box.png")
    view = window.mask_panel.view
    with qtbot.waitSignal(view.point_clicked) as sig:
        qtbot.mouseClick(view.viewport(), Qt.MouseButton.LeftButton, pos=view.from_photo(30, 60))
    x, y, positive = sig.args
    assert abs(x - 30) <= 1.5 and abs(y - 60) <= 1.5 and positive
    with qtbot.waitSignal(view.point_clicked) as sig:
        qtbot.mouseClick(view.viewport(), Qt.MouseButton.RightButton, pos=view.from_photo(10, 10))
    assert sig.args[2] is False
    panel = window.mask_panel
    qtbot.waitUntil(lambda: not panel.busy, timeout=TIMEOUT)
    assert panel.undo_btn.isEnabled()
    panel.set_tool("box")
    with qtbot.waitSignal(view.box_drawn) as sig:
        drag(qtbot, view, [(20, 20), (40, 50), (70, 70)])
    x0, y0, x1, y1 = sig.args
    assert abs(x0 - 20) <= 1.5 and abs(y1 - 70) <= 1.5
    _ = QPoint  # imported for readers: positions are QPoints in viewport pixels


def test_the_trainer_opened_from_the_window_proposes_the_open_folder(qtbot, make_window, app_settings, photos_dir,
                                                                     monkeypatch):
    """Training → the wizard's photos field holds the folder the window has open (no typing it again)."""
    from packshot.desktop.trainer_wizard import TrainerWizard

    seen: list[str] = []
    def exec_(wizard) -> int:  # instead of the modal loop: note the field, then let Qt delete the wizard
        seen.append(wizard.data_page.data.text())
        wizard.deleteLater()
        return 0

    monkeypatch.setattr(TrainerWizard, "exec", exec_)
    window = make_window(app_settings)
    assert window.open_folder(photos_dir)
    window.open_trainer()
    assert seen == [str(photos_dir.resolve())]
