"""Mask review of a photo that cannot be read (a truncated JPEG among readable photos): the canvas is
emptied, core's reason is said, and the photo cannot be accepted; moving on works as usual."""

from __future__ import annotations

import html
import io
import threading
from pathlib import Path

import numpy as np
import pytest
from PIL import Image
from PySide6.QtCore import Qt

from packshot.core.errors import ImageReadError
from packshot.core.images import load_photo
from packshot.core.project import ProjectStore
from packshot.desktop.flow import TAB_MASKS

TIMEOUT = 60_000


def truncated_jpeg(path: Path) -> Path:
    """A real JPEG cut in half (what an interrupted copy leaves)."""
    rng = np.random.default_rng(3)
    buf = io.BytesIO()
    Image.fromarray(rng.integers(0, 255, (80, 96, 3), dtype=np.uint8)).save(buf, "JPEG")
    path.write_bytes(buf.getvalue()[: len(buf.getvalue()) // 2])
    return path


def core_reason(path: Path) -> str:
    with pytest.raises(ImageReadError) as caught:
        load_photo(path)
    return str(caught.value)


def review(qtbot, window, path: Path) -> None:
    window.select_photo(path)
    window.tabs.setCurrentIndex(TAB_MASKS)
    qtbot.waitUntil(lambda: window.mask_panel.opened_path == path, timeout=TIMEOUT)


def test_an_unreadable_photo_empties_the_canvas_says_why_and_cannot_be_accepted(qtbot, make_window, app_settings,
                                                                                 photos_dir):
    broken = truncated_jpeg(photos_dir / "b_broken.jpg")
    reason = core_reason(broken)
    window = make_window(app_settings)
    assert window.open_folder(photos_dir)
    panel, view = window.mask_panel, window.mask_panel.view
    readable = photos_dir / "a_mug.png"
    review(qtbot, window, readable)
    assert panel.can_accept and panel.accept_btn.isEnabled() and view.has_photo

    window.select_photo(broken)
    qtbot.waitUntil(lambda: panel.unreadable_reason is not None, timeout=TIMEOUT)
    assert panel.unreadable_reason == reason and broken.name in reason
    assert html.escape(reason) in panel.info.text()
    assert not panel.can_accept and not panel.accept_btn.isEnabled()
    assert not view.has_photo and panel.current_mask() is None  # nothing of the mug is left on the canvas
    row = [panel.queue_list.item(i) for i in range(panel.queue_list.count())
           if panel.queue_list.item(i).data(Qt.ItemDataRole.UserRole) == str(broken)]
    assert "cannot be read" in row[0].text() and row[0].toolTip() == reason

    # Accept (its key and its button) does nothing for it: no save, no move
    qtbot.keyClick(view, Qt.Key.Key_A)
    panel.accept_btn.click()
    assert panel.path == broken and not panel.busy
    assert ProjectStore(window.session.out_dir).photo(broken).mask_path is None

    # the next photo opens and can be accepted again
    qtbot.keyClick(view, Qt.Key.Key_N)
    qtbot.waitUntil(lambda: panel.opened_path is not None and panel.opened_path != broken, timeout=TIMEOUT)
    assert panel.can_accept and panel.accept_btn.isEnabled() and view.has_photo
    assert panel.unreadable_reason is None and reason not in panel.info.text()


def test_accepting_an_unreadable_photo_while_it_loads_says_its_reason_not_a_save_error(qtbot, make_window,
                                                                                      app_settings, photos_dir):
    broken = truncated_jpeg(photos_dir / "b_broken.jpg")
    reason = core_reason(broken)
    window = make_window(app_settings)
    assert window.open_folder(photos_dir)
    panel, view = window.mask_panel, window.mask_panel.view
    first = photos_dir / "a_mug.png"
    review(qtbot, window, first)
    # scored masks first, then the unscored by name: the broken photo comes right after the mug
    assert panel.order[:3] == [first, broken, photos_dir / "b_jar.jpg"]
    gate = threading.Event()
    real_open = panel.editor.open

    def gated_open(path, display_max, cancel=None):
        assert gate.wait(TIMEOUT / 1000)
        return real_open(path, display_max, cancel)

    panel.editor.open = gated_open
    with qtbot.waitSignal(panel.mask_saved, timeout=TIMEOUT):
        qtbot.keyClick(view, Qt.Key.Key_A)  # the mug is saved; the broken photo starts loading
    assert panel.path == broken and panel.can_accept  # not known to be unreadable yet
    qtbot.keyClick(view, Qt.Key.Key_A)  # queued behind its open; the jar starts loading
    assert panel.path == photos_dir / "b_jar.jpg"
    gate.set()
    qtbot.waitUntil(lambda: panel.opened_path == photos_dir / "b_jar.jpg" and not panel.busy, timeout=TIMEOUT)
    assert panel.failed_line.isVisibleTo(panel)
    assert panel.failed_line.text() == f"{broken.name}: {reason}"  # the open's reason, not the accept's
    assert panel.can_accept and view.has_photo
    store = ProjectStore(window.session.out_dir)
    assert store.photo(first).mask_state == "reviewed"
    assert store.photo(broken).mask_path is None
