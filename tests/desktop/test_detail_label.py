"""The Background step and Results' "Render final" say what --detail auto means on this machine, in core's words
(``packshot.core.generation.detail.auto_detail_text``); no GPU here, so core's device choice is stood in for."""

from __future__ import annotations

from packshot.core.generation.detail import auto_detail_text

CPU_TEXT = auto_detail_text("si2-controlnet", "cpu")
GPU_TEXT = auto_detail_text("si2-controlnet", "cuda")


def test_on_the_cpu_both_controls_say_the_upscale_alone(qtbot, make_window, app_settings):
    window = make_window(app_settings)  # device "cpu", engine si2-controlnet
    assert CPU_TEXT == "auto on this CPU: learned upscale, no detail pass"
    assert window.templates.detail_note.text() == f"<i>{CPU_TEXT}</i>"
    assert window.results.final_detail.text() == f"<i>{CPU_TEXT}</i>"
    assert CPU_TEXT in window.results.final_btn.toolTip()
    assert not window.results.final_detail.isVisibleTo(window.results)  # shown beside a visible Render final only


def test_on_a_gpu_auto_is_the_detail_pass_and_an_explicit_choice_is_shown_as_is(qtbot, make_window, app_settings,
                                                                                monkeypatch):
    import torch

    from packshot.core import devices

    monkeypatch.setattr(devices, "pick_device", lambda preference="auto": torch.device("cuda"))
    app_settings.device = "auto"  # asked of core on a worker (it imports torch), then shown
    window = make_window(app_settings)
    qtbot.waitUntil(lambda: GPU_TEXT in window.templates.detail_note.text(), timeout=30_000)
    assert "detail pass (repaint)" in GPU_TEXT
    qtbot.waitUntil(lambda: GPU_TEXT in window.results.final_detail.text())
    window.templates.form.control("generation", "detail").set("off")
    window.templates.settings_changed.emit()  # what the control's own change does
    assert window.templates.detail_note.text() == "<i>detail: off</i>"
    assert window.results.final_detail.text() == "<i>detail: off</i>"


def test_an_engine_that_paints_at_the_photo_size_says_nothing(qtbot, make_window, app_settings):
    window = make_window(app_settings, engine="white")
    assert window.templates.detail_text() == ""
    assert not window.templates.detail_note.isVisibleTo(window.templates)
    assert window.results.final_detail.text() == ""
