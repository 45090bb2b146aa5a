"""The app prepares edge matting on a worker after it starts; on a first use (a compile) core's
first-use line is in the status bar while that runs, and gone when it is done."""

from __future__ import annotations

import threading

from packshot.core.generation import matting

TIMEOUT = 20_000


def test_first_use_of_edge_matting_is_said_while_it_is_prepared(qtbot, make_window, app_settings, monkeypatch):
    release, started = threading.Event(), threading.Event()

    def slow_warm_up() -> None:  # stands for the compile: it ends when the test says so
        started.set()
        assert release.wait(TIMEOUT / 1000)

    monkeypatch.setattr(matting, "needs_preparing", lambda: True)
    monkeypatch.setattr(matting, "warm_up", slow_warm_up)
    window = make_window(app_settings)
    label = window.preparing_label
    try:
        qtbot.waitUntil(lambda: label.isVisible(), timeout=TIMEOUT)
        assert label.text() == matting.FIRST_USE_MESSAGE
        qtbot.waitUntil(started.is_set, timeout=TIMEOUT)
        assert label.isVisible() and window.matting_warm_up.running  # said all the while it runs
    finally:
        release.set()
    qtbot.waitUntil(lambda: not label.isVisible(), timeout=TIMEOUT)
    assert label.text() == "" and not window.matting_warm_up.running


def test_a_prepared_install_warms_up_without_a_word(qtbot, make_window, app_settings, monkeypatch):
    ran = threading.Event()
    monkeypatch.setattr(matting, "needs_preparing", lambda: False)
    monkeypatch.setattr(matting, "warm_up", ran.set)
    window = make_window(app_settings)
    said: list[str] = []
    window.matting_warm_up.preparing.connect(said.append)
    with qtbot.waitSignal(window.matting_warm_up.finished, timeout=TIMEOUT):
        pass
    assert ran.is_set() and said == [] and not window.preparing_label.isVisible()


def test_a_failed_warm_up_clears_the_line(qtbot, make_window, app_settings, monkeypatch):
    def broken() -> None:
        raise OSError("numba cache folder is read-only")

    monkeypatch.setattr(matting, "needs_preparing", lambda: True)
    monkeypatch.setattr(matting, "warm_up", broken)
    window = make_window(app_settings)
    said: list[str] = []
    window.matting_warm_up.preparing.connect(said.append)
    with qtbot.waitSignal(window.matting_warm_up.finished, timeout=TIMEOUT):
        pass
    assert said == [matting.FIRST_USE_MESSAGE] and not window.preparing_label.isVisible()
