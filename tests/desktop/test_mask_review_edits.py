"""Mask review edits: a remove point only removes, undo brings back the mask and its status, and key
presses made while the next photo loads reach that photo, in order."""

from __future__ import annotations

import threading

import numpy as np
import pytest
from PySide6.QtCore import Qt

from packshot.core.project import ProjectStore
from tests.desktop.test_app_flow import drag, open_for_review

TIMEOUT = 60_000


def _idle(qtbot, panel) -> None:
    qtbot.waitUntil(lambda: not panel.busy, timeout=TIMEOUT)


def _right_click(qtbot, panel, x: float, y: float, button=Qt.MouseButton.RightButton) -> None:
    view = panel.view
    qtbot.mouseClick(view.viewport(), button, pos=view.from_photo(x, y))
    _idle(qtbot, panel)


@pytest.mark.slow
def test_a_remove_point_never_adds_to_the_mask(qtbot, make_window, app_settings, photos_dir):
    window = make_window(app_settings, masker="sam")
    window.open_folder(photos_dir)
    panel = window.mask_panel
    open_for_review(qtbot, window, photos_dir / "a_mug.png")
    assert panel.opened.masker.startswith("sam")
    # the tiny SAM as it is: every right click leaves a mask inside the one before
    for x, y in ((48, 40), (5, 5), (70, 20)):
        before = panel.current_mask().copy()
        _right_click(qtbot, panel, x, y)
        assert not (panel.current_mask() & ~before).any(), f"a remove point at {(x, y)} added area"
    # SAM answering a remove point with a larger mask (what it does on real photos): only removal is kept
    backend = panel.editor.session.backend
    answers: list[np.ndarray] = []
    real_predict = backend.predict

    def larger(prompts, feedback, base):
        mask, feedback, score, info = real_predict(prompts, feedback, base)
        grown = mask | ~base  # everything the mask did not hold yet
        answers.append(grown)
        return grown, feedback, score, info

    backend.predict = larger
    before = panel.current_mask().copy()
    assert not before.all()
    _right_click(qtbot, panel, 10, 70)
    assert answers and (answers[-1] & ~before).any()  # SAM's answer would have added area
    after = panel.current_mask()
    assert not (after & ~before).any()
    # an add point may still add what SAM finds
    _right_click(qtbot, panel, 48, 40, Qt.MouseButton.LeftButton)
    assert (panel.current_mask() & ~after).any()


def test_undo_restores_the_mask_and_its_status(qtbot, make_window, app_settings, photos_dir):
    window = make_window(app_settings)
    window.open_folder(photos_dir)
    panel, view = window.mask_panel, window.mask_panel.view
    open_for_review(qtbot, window, photos_dir / "a_mug.png")
    opened = panel.opened
    auto = panel.current_mask().copy()
    status = f"mask {opened.state} · score {opened.score:.2f}"
    assert opened.state == "auto" and status in panel.info.text()
    assert not panel.undo_btn.isEnabled()
    panel.set_tool("brush")
    panel.brush_size.setValue(10)
    drag(qtbot, view, [(5, 5), (10, 5), (15, 5)])
    qtbot.waitUntil(lambda: not panel.busy and bool(panel.current_mask()[5, 10]), timeout=TIMEOUT)
    assert "mask edited" in panel.info.text() and panel.undo_btn.isEnabled()
    qtbot.keyClick(view, Qt.Key.Key_Z, Qt.KeyboardModifier.ControlModifier)
    qtbot.waitUntil(lambda: not panel.busy and not panel.current_mask()[5, 10], timeout=TIMEOUT)
    assert np.array_equal(panel.current_mask(), auto)
    assert status in panel.info.text() and "edited" not in panel.info.text()
    assert not panel.undo_btn.isEnabled() and panel.redo_btn.isEnabled()
    qtbot.keyClick(view, Qt.Key.Key_Z, Qt.KeyboardModifier.ControlModifier | Qt.KeyboardModifier.ShiftModifier)
    qtbot.waitUntil(lambda: not panel.busy and bool(panel.current_mask()[5, 10]), timeout=TIMEOUT)
    assert "mask edited" in panel.info.text()
    # accepting after undoing every edit saves the mask as reviewed, not edited
    qtbot.keyClick(view, Qt.Key.Key_Z, Qt.KeyboardModifier.ControlModifier)
    with qtbot.waitSignal(panel.mask_saved, timeout=TIMEOUT):
        qtbot.keyClick(view, Qt.Key.Key_A)
    assert ProjectStore(window.session.out_dir).photo(photos_dir / "a_mug.png").mask_state == "reviewed"


def test_keys_pressed_while_the_next_photo_loads_apply_to_it_in_order(qtbot, make_window, app_settings,
                                                                      photos_dir):
    window = make_window(app_settings)
    window.open_folder(photos_dir)
    panel, view = window.mask_panel, window.mask_panel.view
    first, second, third = panel.order
    open_for_review(qtbot, window, first)
    assert panel.order == [first, second, third]
    # Photos open only when the test says so, and the editor's work is recorded as it runs.
    editor, gate, done = panel.editor, threading.Event(), []
    real = {name: getattr(editor, name) for name in ("open", "accept", "undo")}

    def gated_open(path, display_max, cancel=None):
        assert gate.wait(TIMEOUT / 1000)
        done.append(("open", path.name))
        return real["open"](path, display_max, cancel)

    def recorded(name):
        return lambda path, *args: (done.append((name, path.name)), real[name](path, *args))[1]

    editor.open, editor.accept, editor.undo = gated_open, recorded("accept"), recorded("undo")

    panel.set_tool("brush")
    panel.brush_size.setValue(10)
    drag(qtbot, view, [(5, 5), (10, 5)])
    _idle(qtbot, panel)
    qtbot.keyClick(view, Qt.Key.Key_A)  # accept the first: the second starts loading
    assert panel.path == second and panel.opened is None
    qtbot.keyClick(view, Qt.Key.Key_Z, Qt.KeyboardModifier.ControlModifier)  # pressed for the second
    qtbot.keyClick(view, Qt.Key.Key_A)  # accept the second, still loading: the third starts loading
    assert panel.path == third and panel.opened is None
    drag(qtbot, view, [(40, 40), (45, 40)])  # a mouse edit on the photo not shown yet: ignored
    qtbot.keyClick(view, Qt.Key.Key_Return)  # accept the third
    gate.set()
    qtbot.waitUntil(lambda: not panel.busy and panel.opened is not None, timeout=TIMEOUT)
    assert done == [("accept", first.name), ("open", second.name), ("undo", second.name),
                    ("accept", second.name), ("open", third.name), ("accept", third.name)]
    assert panel.opened_path == third
    store = ProjectStore(window.session.out_dir)
    assert [store.photo(p).mask_state for p in (first, second, third)] == ["edited", "reviewed", "reviewed"]
    assert not panel.failed_line.isVisible()
