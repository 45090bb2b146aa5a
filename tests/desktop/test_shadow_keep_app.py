"""The app's "keep" shadow reaches core: the photo's own shadow, recorded in the recipe."""

from __future__ import annotations

from tests.desktop.test_guided_flow import wait_idle


def test_keep_shadow_from_the_background_step(qtbot, make_window, app_settings, photos_dir):
    from packshot.core.recipe import read_recipe

    window = make_window(app_settings)
    window.open_folder(photos_dir)
    photo = photos_dir / "a_mug.png"
    window.select_photo(photo)
    panel = window.templates
    panel.engine_combo.setCurrentText("white")
    panel.shadow.setCurrentIndex(panel.shadow.findData("keep"))
    assert panel.job_settings().shadow == "keep"
    item = window.try_on_current()
    wait_idle(qtbot, window)
    assert window.queue_panel.state_of(item) == "done", window.status_label.text()
    (result,) = window.session.results(photo)
    assert read_recipe(result.output_path).shadow == {"kind": "keep"}
