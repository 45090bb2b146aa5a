"""What keeps the event loop free while workers run: the GUI thread takes the GIL back quickly, and
a hidden Results step decodes no previews (they start when it is shown)."""

from __future__ import annotations

import sys

import pytest

from packshot.desktop.workers import GUI_SWITCH_INTERVAL


@pytest.fixture
def default_switch_interval():
    saved = sys.getswitchinterval()
    sys.setswitchinterval(0.005)  # Python's default
    yield
    sys.setswitchinterval(saved)


def test_a_window_lets_its_gui_thread_take_the_gil_back_quickly(make_window, app_settings,
                                                                 default_switch_interval):
    assert sys.getswitchinterval() > GUI_SWITCH_INTERVAL
    make_window(app_settings)
    assert sys.getswitchinterval() <= GUI_SWITCH_INTERVAL


def test_hidden_results_decode_their_previews_only_once_shown(qtbot, photos_dir, monkeypatch):
    import packshot.desktop.results as results_module
    from packshot.desktop.results import ResultsPanel

    started = []
    real_start = results_module.start_worker
    monkeypatch.setattr(results_module, "start_worker",
                        lambda fn, *args, **kw: (started.append(fn.__name__), real_start(fn, *args, **kw))[1])
    panel = ResultsPanel(("original",))
    qtbot.addWidget(panel)
    photo = photos_dir / "a_mug.png"
    panel.show_photo(photo, [])
    panel.show_photo(photo, [])  # refreshed while hidden: still nothing decoded
    assert started == [] and not panel.previews_loaded()
    panel.show()
    qtbot.waitUntil(panel.previews_loaded, timeout=10_000)
    assert started == ["load_preview"]  # once, for the photo shown
    assert panel.compare.before is not None
