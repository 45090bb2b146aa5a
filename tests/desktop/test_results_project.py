"""Results with the weight-free engine: regenerate with new seeds, compare view, and opening the
project (output) folder itself, as made by `packshot batch`, shows the same photos and results."""

from __future__ import annotations

from dataclasses import replace

from PySide6.QtCore import Qt

from packshot.core.jobs import BatchJob, JobSettings
from packshot.core.runtime import Runtime
from tests.core.batch_helpers import no_models_store

TIMEOUT = 60_000


def test_regenerate_uses_new_seeds_and_compare_shows_both(qtbot, make_window, app_settings, photos_dir):
    window = make_window(app_settings, engine="gradient")
    window.open_folder(photos_dir)
    window.templates.engine_combo.setCurrentText("gradient")
    photo = photos_dir / "a_mug.png"
    window.select_photo(photo)
    item = window.try_on_current()
    qtbot.waitUntil(lambda: window.queue_panel.state_of(item) == "done", timeout=TIMEOUT)
    assert sorted(r.seed for r in window.session.results(photo)) == [0]  # a plain engine: one variant
    window.tabs.setCurrentIndex(3)
    qtbot.waitUntil(window.results.previews_loaded, timeout=10_000)
    assert window.results.compare.before is not None and window.results.compare.after is not None
    with qtbot.waitSignal(window.queue.item_finished, timeout=TIMEOUT):
        qtbot.keyClick(window.results.strip, Qt.Key.Key_G)  # regenerate
    # a new seed; the earlier result stays beside it (its own file) so either can be the keeper
    qtbot.waitUntil(lambda: sorted(r.seed for r in window.session.results(photo)) == [0, 1], timeout=TIMEOUT)
    assert len({r.output_path for r in window.session.results(photo)}) == 2  # nothing overwritten
    assert all(r.output_path.is_file() for r in window.session.results(photo))
    qtbot.waitUntil(lambda: window.results.strip.count() == 3, timeout=10_000)
    captions = [window.results.strip.item(i).text() for i in range(1, 3)]
    assert sum("keeper" in c for c in captions) <= 1  # one keeper per photo
    window.results.select_variant(1)  # the other result can still be chosen
    qtbot.keyClick(window.results.strip, Qt.Key.Key_K)
    assert window.session.keeper_id(photo) == window.results.selected_result().id


def test_open_the_output_folder_of_a_cli_batch(qtbot, make_window, app_settings, photos_dir, tmp_path):
    out = tmp_path / "out"
    job = BatchJob(photos_dir, out, JobSettings.from_flat(dict(engine="white", masker="classic", variants=1)),
                   runtime=Runtime(store=no_models_store(tmp_path)))
    job.prepare()
    summary = job.run()
    assert len(summary.done) == 3
    window = make_window(app_settings)
    assert window.open_folder(out)  # the project folder, not the photos
    entries = window.model.entries()
    assert len(entries) == 3 and all(e.generated and e.mask_state == "auto" for e in entries)
    window.select_photo(entries[0].path)
    window.tabs.setCurrentIndex(3)
    qtbot.waitUntil(window.results.previews_loaded, timeout=10_000)
    assert window.results.strip.count() == 2 and "keeper" in window.results.strip.item(1).text()


def test_weights_gone_after_queueing_stop_the_queue_with_one_message(qtbot, make_window, app_settings,
                                                                      photos_dir, tmp_path, models_dir, monkeypatch):
    """Missing weights are caught before queueing (test_engine_defaults); weights that vanish while
    photos wait in the queue still give one message, not one per photo."""
    from PySide6.QtWidgets import QMessageBox

    shown = []
    monkeypatch.setattr(QMessageBox, "exec", lambda self: shown.append(self.text()) or 0)
    monkeypatch.setattr(QMessageBox, "open", lambda self: shown.append(self.text()))  # show_error
    mine = tmp_path / "models"
    mine.mkdir()
    (mine / "photo-background-generation").symlink_to(models_dir / "photo-background-generation")
    window = make_window(replace(app_settings, models_dir=str(mine)))
    window.open_folder(photos_dir)
    window.templates.engine_combo.setCurrentText("si2-controlnet")
    window.queue.set_paused(True)
    ids = window.run_on_all()
    assert len(ids) == 1 and not shown  # one core BatchJob
    (mine / "photo-background-generation").unlink()  # e.g. a removable drive unplugged
    window.queue.set_paused(False)
    qtbot.waitUntil(lambda: bool(shown) and not window.queue.busy, timeout=TIMEOUT)
    # the queue's signals reach the panel through the event loop: wait until every row has its final state
    qtbot.waitUntil(lambda: all(window.queue_panel.state_of(i) not in ("queued", "running") for i in ids),
                    timeout=TIMEOUT)
    assert "photo-background-generation" in shown[0] and "Traceback" not in shown[0]
    assert len(shown) == 1  # one message, not one per photo
    assert [window.queue_panel.state_of(i) for i in ids] == ["failed"]
    assert window.queue_panel.overall.text() == "0 of 1 job done · 1 failed"
    # the batch checks the weights before any photo: no photo is marked failed for it
    assert {e.status for e in window.model.entries()} == {"pending"}


def test_closing_mid_generation_stops_cleanly(qtbot, make_window, app_settings, photos_dir):
    window = make_window(app_settings)
    window.open_folder(photos_dir)
    window.templates.steps.setValue(200)
    progressed = []
    window.queue.item_progress.connect(lambda i, p: progressed.append(p.stage))
    window.run_on_all()
    qtbot.waitUntil(lambda: len(progressed) > 4, timeout=TIMEOUT)
    window.close()  # cancels, waits for the step in flight, stops the worker thread
    assert not window.queue.worker_running() and not window.queue.busy
    out = window.session.out_dir
    assert not [p for p in out.rglob("*") if p.name.startswith((".tmp-", ".packshot-tmp-"))]


def test_a_vanished_original_shows_as_failed(qtbot, make_window, app_settings, photos_dir):
    window = make_window(app_settings)
    window.open_folder(photos_dir)
    project = window.session.out_dir
    window.close()
    (photos_dir / "b_jar.jpg").unlink()
    again = make_window(app_settings)
    again.open_folder(project)  # the project folder itself opens as it is
    entry = again.model.entry(again.model.row_of(photos_dir / "b_jar.jpg"))
    assert entry.status == "failed" and "gone" in entry.error


def test_colour_and_image_engines_take_their_inputs_from_the_panel(qtbot, make_window, app_settings,
                                                                   photos_dir, tmp_path, monkeypatch):
    import numpy as np
    from PIL import Image
    from PySide6.QtWidgets import QMessageBox

    shown = []
    monkeypatch.setattr(QMessageBox, "exec", lambda self: shown.append(self.text()) or 0)
    monkeypatch.setattr(QMessageBox, "open", lambda self: shown.append(self.text()))  # show_error
    window = make_window(app_settings)
    window.open_folder(photos_dir)
    photo = photos_dir / "c box.png"
    window.select_photo(photo)
    panel = window.templates
    panel.variants.setValue(1)
    panel.engine_combo.setCurrentText("color")
    panel.set_colour((10, 200, 30))
    item = window.try_on_current()
    qtbot.waitUntil(lambda: window.queue_panel.state_of(item) == "done", timeout=TIMEOUT)
    out = np.asarray(Image.open(window.session.results(photo)[0].output_path).convert("RGB"))
    assert tuple(out[0, 0]) == (10, 200, 30)  # the corner is background

    panel.engine_combo.setCurrentText("image")
    assert window.try_on_current() is None and "background image" in shown[-1]
    backdrop = tmp_path / "backdrop.png"
    Image.new("RGB", (50, 50), (250, 240, 5)).save(backdrop)
    panel.set_background_image(backdrop)
    item = window.try_on_current()
    qtbot.waitUntil(lambda: window.queue_panel.state_of(item) == "done", timeout=TIMEOUT)
    newest = max(window.session.results(photo), key=lambda r: r.id)
    assert newest.engine == "image"
    out = np.asarray(Image.open(newest.output_path).convert("RGB"))
    assert np.abs(out[0, 0].astype(int) - (250, 240, 5)).max() <= 3


def test_mask_review_list_follows_a_generation(qtbot, make_window, app_settings, photos_dir):
    """Generating computes the photo's automatic mask: its status and score show in the review list."""
    window = make_window(app_settings, engine="white", variants=1)
    window.open_folder(photos_dir)
    panel = window.mask_panel

    def listed(name: str) -> str:
        texts = [panel.queue_list.item(i).text() for i in range(panel.queue_list.count())]
        return next(t for t in texts if t.startswith(name))

    assert "pending · score –" in listed("a_mug.png")
    window.select_photo(photos_dir / "a_mug.png")
    item = window.try_on_current()
    qtbot.waitUntil(lambda: window.queue_panel.state_of(item) == "done", timeout=TIMEOUT)
    rec = window.session.record(photos_dir / "a_mug.png")
    assert rec.mask_state == "auto" and rec.mask_score is not None
    qtbot.waitUntil(lambda: f"auto · score {rec.mask_score:.2f}" in listed("a_mug.png"), timeout=5000)
    assert panel.order[0] == photos_dir / "a_mug.png"  # scored masks come before unscored ones


def _pixels(image):
    """H x W x 3 pixels of a QImage, copied while the converted image is alive: a bare view into its
    buffer dangles once the function returns (read freed memory, so the next image's pixels or a crash)."""
    import numpy as np
    from PySide6.QtGui import QImage

    rgb = image.convertToFormat(QImage.Format.Format_RGB888)
    w, h = rgb.width(), rgb.height()
    rows = np.frombuffer(rgb.constBits(), np.uint8, count=rgb.sizeInBytes()).reshape(h, rgb.bytesPerLine())
    return rows[:, : w * 3].reshape(h, w, 3).copy()


def test_pixels_outlive_the_converted_image(qtbot):
    """The helper the comparison below relies on: two images read one after the other keep their own pixels."""
    from PySide6.QtGui import QColor, QImage

    red, blue = (QImage(1000, 1000, QImage.Format.Format_RGB32) for _ in range(2))
    red.fill(QColor(200, 30, 40))
    blue.fill(QColor(30, 60, 200))
    first, second = _pixels(red), _pixels(blue)
    assert (first == (200, 30, 40)).all() and (second == (30, 60, 200)).all()


def test_before_after_of_a_size_preset_compares_like_with_like(qtbot, make_window, app_settings, photos_dir,
                                                               tmp_path):
    out = tmp_path / "out"
    job = BatchJob(photos_dir, out, JobSettings.from_flat(dict(engine="white", masker="classic", variants=1,
                                                preset="square-1000", qc_threshold=0.10)),
                   runtime=Runtime(store=no_models_store(tmp_path)))
    job.prepare()
    assert len(job.run().done) == 3
    # The window sees the same (empty) models folder the batch did: with the shared tiny SAM beside it,
    # the review's masker differs from the batch's, and the comparison would not be like with like.
    (tmp_path / "models").mkdir()
    window = make_window(replace(app_settings, models_dir=str(tmp_path / "models")))
    window.open_folder(out)
    photo = photos_dir / "a_mug.png"  # 96 x 80; its result is 1000 x 1000
    window.select_photo(photo)
    window.tabs.setCurrentIndex(3)
    qtbot.waitUntil(window.results.previews_loaded, timeout=10_000)
    compare = window.results.compare
    assert compare.before.size() == compare.after.size()
    assert compare.before_rect() == compare.after_rect()  # drawn into the same frame
    before, after = _pixels(compare.before), _pixels(compare.after)
    red_before = (before[..., 0] > 150) & (before[..., 1] < 90)
    red_after = (after[..., 0] > 150) & (after[..., 1] < 90)
    assert red_after.sum() > 10_000
    assert (red_before & red_after).sum() / (red_before | red_after).sum() > 0.95  # the product lines up

    result = window.session.results(photo)[0]
    caption = window.results.strip.item(1).text()
    grown = 100 * result.qc['expansion_object']
    assert (f"grew {grown:.0f} % beyond the product: regenerate?" if result.qc_flag
            else f"kept its outline (grew {grown:.1f} % beyond the product)") in caption
    assert "the 10% limit" in caption and ("QC ok" in caption) != result.qc_flag


def test_caption_names_the_product_relative_expansion_and_the_qc_verdict():
    from pathlib import Path

    from packshot.core.project import ResultRecord
    from packshot.desktop.results import result_caption

    def record(flag: bool, **qc) -> ResultRecord:
        return ResultRecord(id=1, photo_id=1, job_key="k", variant=1, seed=3, engine="si2-controlnet",
                            output_path=Path("x.png"), recipe={}, expansion=qc["expansion"], qc_flag=flag,
                            qc={"flagged": flag, **qc}, attempts=1, chosen=False)

    ok = result_caption(record(False, expansion=0.2716, expansion_object=0.05, score=0.05, threshold=0.1,
                               measure="object"), False)
    assert "kept its outline (grew 5.0 % beyond the product)" in ok and "QC ok: within the 10% limit" in ok and "27.16" not in ok
    bad = result_caption(record(True, expansion=0.03, expansion_object=0.4, score=0.03, threshold=0.02,
                                measure="image"), True)
    assert "grew 40 % beyond the product: regenerate?" in bad and "QC FLAGGED: over 3.0% of the image, the 2% limit" in bad
    assert "keeper" in bad


def test_a_result_you_liked_becomes_the_style_reference(qtbot, make_window, app_settings, photos_dir):
    """Results → "Use as style reference" puts that output in the Background step's reference field, which
    only flux2-klein takes (enabled for it, not for the others), and the settings a job gets carry it."""
    window = make_window(app_settings, engine="gradient")
    window.open_folder(photos_dir)
    window.templates.engine_combo.setCurrentText("gradient")
    photo = photos_dir / "a_mug.png"
    window.select_photo(photo)
    item = window.try_on_current()
    qtbot.waitUntil(lambda: window.queue_panel.state_of(item) == "done", timeout=TIMEOUT)
    window.tabs.setCurrentIndex(3)
    qtbot.waitUntil(lambda: window.results.selected_result() is not None, timeout=10_000)
    liked = window.results.selected_result().output_path
    reference = window.templates.form.control("generation", "reference")
    assert not reference.widget.isEnabled()  # gradient takes no reference
    window.results.reference_btn.click()
    assert reference.get() == str(liked)
    window.templates.engine_combo.setCurrentText("flux2-klein")
    qtbot.waitUntil(reference.widget.isEnabled)
    assert "style reference" in window.templates.engine_note.text()
