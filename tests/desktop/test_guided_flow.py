"""The guided flow and the one engine behind it: drop a folder, review by keyboard, run core's batch,
reuse the app's masks (no SAM encoder run), export files that replay, options kept across a restart,
and the same outputs as the command line."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from PySide6.QtCore import QMimeData, QPoint, QPointF, Qt, QUrl
from PySide6.QtGui import QDragEnterEvent, QDropEvent
from PySide6.QtWidgets import QApplication

TIMEOUT = 60_000


def drop_on(window, paths: list[Path]) -> None:
    """A drag entering the window, then the QDropEvent with file URLs, as a file manager sends them."""
    mime = QMimeData()
    mime.setUrls([QUrl.fromLocalFile(str(p)) for p in paths])
    enter = QDragEnterEvent(QPoint(50, 50), Qt.DropAction.CopyAction, mime, Qt.MouseButton.LeftButton,
                            Qt.KeyboardModifier.NoModifier)
    QApplication.sendEvent(window, enter)
    assert enter.isAccepted()
    event = QDropEvent(QPointF(50, 50), Qt.DropAction.CopyAction, mime, Qt.MouseButton.LeftButton,
                       Qt.KeyboardModifier.NoModifier)
    QApplication.sendEvent(window, event)


def wait_idle(qtbot, window) -> None:
    qtbot.waitUntil(lambda: not window.queue.busy, timeout=TIMEOUT)
    qtbot.waitUntil(lambda: (c := window.queue_panel.counts()).finished >= c.total, timeout=TIMEOUT)


@pytest.fixture
def encoder_runs(models_dir):
    """Counts forward passes of any SAM image encoder during the test."""
    import torch

    calls = []

    def hook(module, _inputs, _output):
        if type(module).__name__ == "ImageEncoderViT":
            calls.append(1)

    handle = torch.nn.modules.module.register_module_forward_hook(hook)
    yield calls
    handle.remove()


def test_empty_state_then_drop_a_folder_opens_it_beside_not_inside(qtbot, make_window, app_settings, photos_dir):
    window = make_window(app_settings)
    assert window.stack.currentIndex() == 0 and window.empty.open_btn.isVisible()
    before = sorted(p.name for p in photos_dir.iterdir())
    drop_on(window, [photos_dir])
    assert window.session is not None and window.model.rowCount() == 3
    assert window.stack.currentIndex() == 1 and window.stepper.current() == 0
    assert sorted(p.name for p in photos_dir.iterdir()) == before  # no project inside the photo folder
    assert not window.session.out_dir.is_relative_to(photos_dir.resolve())
    assert "3 photos" in window.stepper.status[0].text()
    assert window.stepper.action_text() == "Compute the masks"


def test_dropping_photos_opens_their_folder_and_selects_the_first(qtbot, make_window, app_settings, photos_dir):
    window = make_window(app_settings)
    drop_on(window, [photos_dir / "b_jar.jpg"])
    assert window.current_photo() == photos_dir / "b_jar.jpg"


def test_single_click_and_keys_select_what_the_editor_shows(qtbot, make_window, app_settings, photos_dir):
    window = make_window(app_settings)
    window.open_folder(photos_dir)
    window.tabs.setCurrentIndex(1)
    panel = window.mask_panel
    qtbot.waitUntil(lambda: panel.opened is not None, timeout=TIMEOUT)
    lst = panel.queue_list
    for row in (2, 1):
        item = lst.item(row)
        qtbot.mouseClick(lst.viewport(), Qt.MouseButton.LeftButton, pos=lst.visualItemRect(item).center())
        path = Path(item.data(Qt.ItemDataRole.UserRole))
        qtbot.waitUntil(lambda p=path: panel.opened_path == p, timeout=TIMEOUT)
        current = Path(lst.currentItem().data(Qt.ItemDataRole.UserRole))
        assert current == path and window.current_photo() == path  # one photo everywhere
    lst.setFocus()
    qtbot.keyClick(lst, Qt.Key.Key_Down)  # arrow keys move the review too
    want = Path(lst.item(2).data(Qt.ItemDataRole.UserRole))
    qtbot.waitUntil(lambda: panel.opened_path == want, timeout=TIMEOUT)
    qtbot.waitUntil(lambda: not panel.busy, timeout=TIMEOUT)
    panel.view.setFocus()
    here = panel.order.index(panel.path)  # opening a photo scores its mask: the order may have moved
    want = panel.order[here - 1] if here > 0 else panel.order[here + 1]
    qtbot.keyClick(panel.view, Qt.Key.Key_P if here > 0 else Qt.Key.Key_N)  # previous / next
    qtbot.waitUntil(lambda: panel.opened_path == want, timeout=TIMEOUT)


def test_keyboard_review_then_batch_reuses_the_apps_masks(qtbot, make_window, app_settings, photos_dir,
                                                         encoder_runs):
    """Masks the app made (automatic, and one accepted in review) are the batch's masks: no SAM run."""
    window = make_window(app_settings, masker="auto")
    window.open_folder(photos_dir)
    assert not window.mask_panel.sam_bar.isVisible()  # tiny SAM is here: no "coarse clicks" note
    item = window.compute_all_masks()
    qtbot.waitUntil(lambda: window.queue_panel.state_of(item) == "done", timeout=TIMEOUT)
    window.tabs.setCurrentIndex(1)
    panel = window.mask_panel
    qtbot.waitUntil(lambda: panel.opened is not None, timeout=TIMEOUT)
    first = panel.opened_path
    panel.view.setFocus()
    with qtbot.waitSignal(panel.mask_saved, timeout=TIMEOUT):
        qtbot.keyClick(panel.view, Qt.Key.Key_A)  # accept, then on to the next
    qtbot.waitUntil(lambda: panel.opened_path is not None and panel.opened_path != first, timeout=TIMEOUT)
    qtbot.waitUntil(lambda: not panel.busy, timeout=TIMEOUT)
    panel.stop_lookahead()
    assert window.session.record(first).mask_state == "reviewed"
    assert "1 of 3 masks accepted" in window.stepper.status[1].text()
    assert all(r.mask_origin for r in window.session.photos())  # stored with what they came from

    encoder_runs.clear()
    window.templates.engine_combo.setCurrentText("white")
    assert len(window.run_on_all()) == 1
    wait_idle(qtbot, window)
    assert all(window.session.results(p) for p in photos_dir.iterdir())
    assert len(encoder_runs) == 0, "the batch ran SAM again instead of using the app's masks"


def test_options_persist_across_a_restart(qtbot, make_window, app_settings, photos_dir):
    window = make_window(app_settings)
    t = window.templates
    t.engine_combo.setCurrentText("gradient")
    t.shadow.setCurrentIndex(t.shadow.findData("contact"))
    t.preset.setCurrentText("square-1000")
    t.output_format.setCurrentText("jpg")
    t.seed.setValue(7)
    t.form.control("masks", "doubtful_masks").set("skip")  # an advanced one, behind the disclosure
    window.close()
    again = make_window(app_settings)
    o = again.templates.job_settings()
    assert (o.engine, o.shadow, o.output.preset, o.output.output_format, o.generation.seed) == \
        ("gradient", "contact", "square-1000", "jpg", 7)
    assert o.masks.doubtful_masks == "skip"


def test_cli_and_app_give_identical_outputs_and_recipes(qtbot, make_window, app_settings, photos_dir, tmp_path,
                                                         models_dir):
    from packshot.core.cli.main import main
    from packshot.core.images import load_photo
    from packshot.core.recipe import read_recipe

    cli_out = tmp_path / "cli-out"
    assert main(["batch", str(photos_dir), "--out", str(cli_out), "--engine", "white", "--masker", "classic",
                 "--template", "studio", "--shadow", "contact", "--models-dir", str(models_dir),
                 "--steps", "2", "--resolution", "64",  # what app_settings holds (recorded, no effect on white)
                 "--device", "cpu", "--no-progress"]) == 0
    window = make_window(app_settings)
    window.open_folder(photos_dir)
    window.templates.engine_combo.setCurrentText("white")
    window.templates.shadow.setCurrentIndex(window.templates.shadow.findData("contact"))
    window.run_on_all()
    wait_idle(qtbot, window)
    app_out = window.session.out_dir
    names = sorted(p.name for p in cli_out.glob("*.png"))
    assert names and names == sorted(p.name for p in app_out.glob("*.png"))
    for name in names:
        a, b = read_recipe(cli_out / name), read_recipe(app_out / name)
        assert a == b
        assert np.array_equal(load_photo(cli_out / name).pixels, load_photo(app_out / name).pixels)


def test_export_writes_files_that_replay(qtbot, make_window, app_settings, photos_dir, tmp_path):
    from packshot.core.images import load_photo
    from packshot.core.jobs.replay import replay

    window = make_window(app_settings)
    window.open_folder(photos_dir)
    window.templates.engine_combo.setCurrentText("color")
    window.templates.preset.setCurrentText("square-1000")
    window.run_on_all()
    wait_idle(qtbot, window)
    window.tabs.setCurrentIndex(3)
    item = window.export_chosen("square-1000", tmp_path / "export")
    wait_idle(qtbot, window)
    assert window.queue_panel.state_of(item) == "done"
    files = sorted((tmp_path / "export").glob("*.png"))
    assert len(files) == 3 and window.results.open_export_btn.isVisibleTo(window.results)
    assert "3 exported" in window.stepper.status[3].text()
    for f in files:
        assert np.array_equal(replay(f, runtime=window.workspace.runtime, device="cpu"), load_photo(f).pixels)
