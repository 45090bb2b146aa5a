"""What a new user hit in the app: the window fits a 1366 x 768 laptop, the next action's label is
whole, one dialog at a time on first start, counters that agree, a reopened project's next action,
no size preset carried into the next project, N/PgDown in Results, and an unreadable tile."""

from __future__ import annotations

import threading

from PySide6.QtCore import QPoint, QRect, QSize, Qt
from PySide6.QtWidgets import QDialog

from packshot.core.progress import Progress
from packshot.desktop.flow import TAB_MASKS, TAB_PHOTOS, TAB_PROMPT, TAB_RESULTS, StepCounts, next_action
from packshot.desktop.queue import GenerationQueue
from packshot.desktop.queue_panel import QueuePanel
from tests.desktop.conftest import product_photo
from tests.desktop.test_guided_flow import wait_idle

TIMEOUT = 60_000
LAPTOP = QSize(1366, 768 - 28)  # a 1366 x 768 screen less its panel


def test_the_window_fits_a_laptop_with_a_deep_project_and_cancel_all_shows(qtbot, make_window, app_settings,
                                                                             tmp_path):
    from packshot.desktop.window_helpers import default_window_size

    deep = tmp_path.joinpath(*[f"a-long-folder-name-{i}" for i in range(8)], "photos")
    deep.mkdir(parents=True)
    product_photo(deep / "mug.png")
    window = make_window(app_settings)
    assert default_window_size(LAPTOP).boundedTo(LAPTOP) == default_window_size(LAPTOP)  # from the screen's room
    window.open_folder(deep)
    window.tabs.setCurrentIndex(TAB_RESULTS)
    export_dir = deep.parent / ("exports-" + "x" * 150)
    window.export_chosen("original", export_dir)  # queues the export: the dock with "Cancel all" shows
    window.resize(LAPTOP)
    qtbot.waitUntil(lambda: window.width() <= LAPTOP.width() and window.height() <= LAPTOP.height())
    hint = window.minimumSizeHint()
    assert hint.width() <= LAPTOP.width() and hint.height() <= LAPTOP.height(), hint
    label = window.results.export_dir_label
    assert str(export_dir) in label.text() and str(export_dir) in label.toolTip()  # whole path, elided on screen
    assert window.results.open_export_btn.isVisible() and window.results.open_export_btn.isEnabled()
    cancel_all = window.queue_panel.cancel_all_btn
    qtbot.waitUntil(cancel_all.isVisible)
    where = QRect(cancel_all.mapTo(window, QPoint(0, 0)), cancel_all.size())
    assert window.rect().contains(where), (where, window.rect())
    wait_idle(qtbot, window)


def test_the_next_action_label_is_never_clipped(qtbot):
    from packshot.desktop.stepper import BUTTON_PADDING, Stepper

    stepper = Stepper()
    qtbot.addWidget(stepper)
    stepper.show()
    qtbot.waitExposed(stepper)
    stepper.resize(stepper.width(), 700)  # the side bar's height in the window
    button = stepper.next_btn
    counts = StepCounts(photos=123, masked=123, generated=3)
    labels = {next_action(tab, counts).label for tab in range(4)} | {
        next_action(TAB_PHOTOS, StepCounts(photos=3)).label, next_action(TAB_MASKS, StepCounts(photos=3)).label,
        next_action(TAB_MASKS, StepCounts(photos=3, accepted=3)).label, "Open the export folder", "Open a folder…"}
    for label in labels:
        stepper.set_action(label, lambda: None)
        qtbot.waitUntil(lambda: button.height() >= button.sizeHint().height())
        lines = button.text().split("\n")
        room = button.contentsRect().width() - 2 * BUTTON_PADDING
        assert all(button.fontMetrics().horizontalAdvance(line) <= room for line in lines), (label, lines, room)
        assert " ".join(lines) == label == stepper.action_text()
        assert button.height() >= len(lines) * button.fontMetrics().lineSpacing()


def test_first_start_waits_for_an_open_dialog_before_the_models_dialog(qtbot, make_window, app_settings, tmp_path,
                                                                       monkeypatch):
    from packshot.desktop import app as app_module
    from packshot.desktop.settings import AppSettings

    window = make_window(AppSettings(models_dir=str(tmp_path / "no-models"), device="cpu"))
    shown = []
    monkeypatch.setattr(window, "open_models", lambda: shown.append("models"))
    place = QDialog(window)  # e.g. "Where to keep the project", open when the model check answers
    place.setModal(True)
    place.open()
    qtbot.waitUntil(place.isVisible)
    app_module.first_run_check(window)
    qtbot.waitUntil(lambda: window.settings.first_run_done, timeout=TIMEOUT)  # the check has answered
    assert shown == []  # not stacked over the open dialog
    place.accept()
    qtbot.waitUntil(lambda: shown == ["models"], timeout=5000)


def test_start_up_opens_the_folder_before_the_first_run_check(qtbot, make_window, app_settings, photos_dir,
                                                              monkeypatch):
    from packshot.desktop import app as app_module

    window = make_window(app_settings)
    window.settings.first_run_done = False
    order = []
    monkeypatch.setattr(window, "open_folder", lambda folder: order.append("folder"))
    monkeypatch.setattr(app_module, "first_run_check", lambda w: order.append("models check"))
    app_module.start_up(window, photos_dir)
    assert order == ["folder", "models check"]


class CountingJob:
    """Reports like core's BatchJob: photos counted by "batch", each photo's own steps inside."""

    def __init__(self, photos: int, gate: threading.Event) -> None:
        self.label, self.photos, self.gate = "Batch · all photos · white", photos, gate

    def run(self, progress, cancel):
        self.gate.wait(5)
        for i in range(self.photos):
            progress(Progress("batch", i, self.photos, f"p{i}"))
            for step in range(5):
                progress(Progress("photo", min(step, 4), 4, f"p{i}: {('reading', 'mask', 'background', 'saving', 'done')[step]}"))
            progress(Progress("generate", 1, 1, "white"))
        progress(Progress("batch", self.photos, self.photos, ""))
        return self.photos


class OnePhotoJob:
    label = "mug.png · white"

    def run(self, progress, cancel):
        for step, word in enumerate(("reading", "mask", "background", "checking", "done")):
            progress(Progress("photo", step, 4, f"mug.png: {word}"))
        return 1


def test_counters_agree_with_what_the_queue_lists(qtbot):
    queue = GenerationQueue()
    panel = QueuePanel(queue)
    qtbot.addWidget(panel)
    texts: dict[int, list[str]] = {}
    queue.item_progress.connect(lambda i, _p: texts.setdefault(i, []).append(panel.progress_text(i)))
    try:
        gate = threading.Event()
        batch = queue.submit(CountingJob(5, gate))
        gate.set()
        qtbot.waitUntil(lambda: panel.state_of(batch) == "done", timeout=5000)
        one = queue.submit(OnePhotoJob())  # submitted after the queue went idle
        qtbot.waitUntil(lambda: panel.state_of(one) == "done", timeout=5000)
        third = queue.submit(OnePhotoJob())
        qtbot.waitUntil(lambda: panel.state_of(third) == "done", timeout=5000)
        assert panel.overall.text() == "3 of 3 jobs done"  # not "1 of 1 done" over three rows
        assert all(t.startswith(f"{k} of 5 photos") for t in texts[batch] for k in [t.split(" ")[0]])
        assert not any("generate" in t or "1/1" in t for t in texts[batch])
        assert panel.progress_text(batch) == "5 of 5 photos"
        assert not any("4/4" in t or "photo" in t for t in texts[one])  # one photo's steps, in words
        assert "background" in texts[one]
    finally:
        queue.shutdown()


def test_next_action_follows_the_project_state():
    done = StepCounts(photos=3, masked=3, generated=3, accepted=0)
    assert next_action(TAB_PHOTOS, done).target == "results"
    assert next_action(TAB_PHOTOS, StepCounts(photos=3)).target == "compute_masks"
    assert next_action(TAB_PHOTOS, StepCounts(photos=3, masked=3)).target == "masks"
    assert next_action(TAB_PROMPT, StepCounts(photos=3, rejected=1)).label == "Run on all 2 photos"
    assert next_action(TAB_RESULTS, done, exported=3, export_dir="/e").target == "open_export"
    stuck = next_action(TAB_MASKS, StepCounts(photos=3), review_photo="x.heic", review_problem="x.heic: not an image.")
    assert stuck.target is None and "x.heic: not an image." in stuck.hint


def test_a_reopened_finished_project_shows_its_own_settings_and_next_action(qtbot, make_window, app_settings,
                                                                           photos_dir):
    window = make_window(app_settings, engine="white", variants=1)
    window.open_folder(photos_dir)
    assert window.run_on_all()
    wait_idle(qtbot, window)
    window.close()
    again = make_window(app_settings, engine="gradient")
    again.open_folder(photos_dir)
    assert again.templates.engine() == "white"  # what made this project's results
    assert again.stepper.action_text() == "See the results ▶"
    again.stepper.next_btn.click()
    assert again.tabs.currentIndex() == TAB_RESULTS


def test_the_size_preset_does_not_carry_into_the_next_project(qtbot, make_window, app_settings, photos_dir,
                                                              tmp_path):
    other = tmp_path / "other"
    other.mkdir()
    product_photo(other / "jar.png")
    window = make_window(app_settings, engine="white")
    window.open_folder(photos_dir)
    window.templates.preset.setCurrentText("square-1000")
    window.results.preset_combo.setCurrentText("square-1000")
    window.open_folder(other)
    assert window.templates.preset.currentText() == "original"
    assert window.results.preset_combo.currentText() == "original"
    assert window.templates.engine() == "white"  # the other choices are the user's, kept


def test_results_move_to_the_next_and_previous_photo_by_keyboard(qtbot, make_window, app_settings, photos_dir):
    window = make_window(app_settings, engine="white")
    window.open_folder(photos_dir)
    window.tabs.setCurrentIndex(TAB_RESULTS)
    window.activateWindow()
    qtbot.waitUntil(window.isActiveWindow)  # shortcuts go to the active window
    strip = window.results.strip
    strip.setFocus()
    names = [window.model.entry(i).path.name for i in range(window.model.rowCount())]
    moves = [(Qt.Key.Key_N, 1), (Qt.Key.Key_PageDown, 2), (Qt.Key.Key_PageDown, 2), (Qt.Key.Key_P, 1),
             (Qt.Key.Key_PageUp, 0)]
    for key, row in moves:
        qtbot.keyClick(strip, key)
        qtbot.waitUntil(lambda row=row: window.current_photo().name == names[row])
        assert names[row] in window.results.title.text()


def test_an_unreadable_photo_says_why_and_cannot_be_accepted(qtbot, make_window, app_settings, photos_dir):
    broken = photos_dir / "d_phone.heic"
    broken.write_bytes(b"\x00\x00\x00\x18ftypheic" + bytes(200))
    window = make_window(app_settings, engine="white")
    window.open_folder(photos_dir)
    qtbot.waitUntil(lambda: window.model.problem(broken) is not None, timeout=TIMEOUT)
    reason = window.model.problem(broken)
    assert reason.startswith("d_phone.heic:") and "Traceback" not in reason
    window.tabs.setCurrentIndex(TAB_MASKS)
    window.select_photo(broken)  # its tile clicked during the review
    qtbot.waitUntil(lambda: not window.stepper.next_btn.isEnabled())
    assert window.current_photo() == broken
    assert window.stepper.action_text().startswith("Accept and next") and reason in window.stepper.hint.text()
    window.tabs.setCurrentIndex(TAB_RESULTS)
    qtbot.waitUntil(lambda: reason in window.results.title.text())
    assert window.results.selected_result() is None  # nothing of the previous photo stays shown
    index = window.model.index(window.model.row_of(broken))
    assert reason in index.data(Qt.ItemDataRole.ToolTipRole)
