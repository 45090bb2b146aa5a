"""The app's preview quality, and its one button that renders a preview's seed at final quality."""

from __future__ import annotations

import numpy as np

from packshot.core.runtime import Runtime
from tests.desktop.test_guided_flow import TIMEOUT, wait_idle


def test_preview_then_render_final_equals_replay_as_final(qtbot, make_window, app_settings, photos_dir):
    from packshot.core.images import load_photo
    from packshot.core.jobs.replay import replay
    from packshot.core.recipe import read_recipe

    window = make_window(app_settings)
    window.open_folder(photos_dir)
    photo = photos_dir / "a_mug.png"
    window.select_photo(photo)
    panel = window.templates
    panel.variants.setValue(1)
    panel.render_quality.setCurrentText("preview")
    item = window.try_on_current()
    wait_idle(qtbot, window)
    assert window.queue_panel.state_of(item) == "done", window.status_label.text()
    (preview,) = window.session.results(photo)
    assert read_recipe(preview.output_path).settings["quality"] == "preview"

    window.tabs.setCurrentIndex(3)
    qtbot.waitUntil(window.results.previews_loaded, timeout=10_000)
    window.results.select_variant(0)
    assert window.results.final_btn.isVisibleTo(window.results)  # offered for a preview only
    # beside it, what its --detail auto means on this machine (core's words)
    assert window.results.final_detail.isVisibleTo(window.results)
    assert "auto on this CPU: learned upscale" in window.results.final_detail.text()
    with qtbot.waitSignal(window.results.final_requested, timeout=TIMEOUT):
        window.results.final_btn.click()
    wait_idle(qtbot, window)
    final = max(window.session.results(photo), key=lambda r: r.id)
    assert final.id != preview.id and final.seed == preview.seed
    recipe = read_recipe(final.output_path)
    assert recipe.settings["quality"] == "final" and preview.output_path.is_file()  # both kept
    as_final = replay(preview.output_path, device="cpu", quality="final",
                      runtime=Runtime(store=_store(app_settings)))  # a fresh load gives the same image
    assert np.array_equal(load_photo(final.output_path).pixels, as_final)


def _store(app_settings):
    from packshot.core.models.store import ModelStore

    return ModelStore(app_settings.models_dir, offline=True, use_hf_cache=False)


def test_live_previews_show_in_the_queue_while_a_generation_runs(qtbot, make_window, app_settings, photos_dir):
    window = make_window(app_settings)
    window.open_folder(photos_dir)
    window.select_photo(photos_dir / "a_mug.png")
    window.templates.variants.setValue(1)
    window.templates.steps.setValue(8)  # live previews every 4 steps: two of them
    shown = []
    window.queue.item_progress.connect(lambda _i, p: p.image is not None and shown.append(p.image.shape))
    item = window.try_on_current()
    wait_idle(qtbot, window)
    assert window.queue_panel.state_of(item) == "done"
    assert len(shown) == 2 and shown[0][-1] == 3  # made on the worker, carried by the progress signal
    assert not window.queue_panel.live.pixmap().isNull()  # and painted in the queue panel
