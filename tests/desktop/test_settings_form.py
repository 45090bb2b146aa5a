"""The app's settings controls are JobSettings' fields: every command-line field has one control with
the CLI's label, help, range, choices and default, and what the app saves and restores is a JobSettings
(as tests/core/test_settings_object.py walks the same fields against `packshot batch`'s parser)."""

from __future__ import annotations

import enum
import json

import pytest
from PySide6.QtWidgets import QAbstractSpinBox, QCheckBox, QComboBox

from packshot.core import options
from packshot.core.generation.settings import GenerationSettings
from packshot.core.jobs import JobSettings
from packshot.core.jobs.settings import MaskSettings, OutputSettings, QualitySettings
from packshot.desktop.options_store import load_job_settings, save_job_settings
from packshot.desktop.settings import AppSettings
from packshot.desktop.settings_dialog import SettingsDialog
from packshot.desktop.settings_form import bounds, field_label
from packshot.desktop.templates_panel import TemplatesPanel
from packshot.desktop.workspace import Workspace


@pytest.fixture
def panel(qtbot, tmp_path):
    settings = AppSettings(models_dir=str(tmp_path / "no-models"))
    made = TemplatesPanel(settings, Workspace(settings.models_path))
    qtbot.addWidget(made)
    return made


def _help(f) -> str:
    help_text = getattr(options, "help_text", None)
    return help_text(f) if help_text is not None else f.metadata["help"]


def test_every_settings_field_has_one_control_with_the_clis_label_help_choices_and_range(qtbot, panel):
    dialog = SettingsDialog(AppSettings())
    qtbot.addWidget(dialog)
    controls = {**panel.controls(), **dialog.controls}
    cli_fields = {path: (f, kind) for path, f, kind in options.cli_leaves(JobSettings)}
    assert set(controls) == set(cli_fields), "a field without a control, or a control that is no field"
    assert len({id(w) for w in controls.values()}) == len(controls)  # one control per field
    for path, (f, kind) in cli_fields.items():
        widget = controls[path]
        assert widget.toolTip() == _help(f), path
        assert widget.accessibleName() == field_label(f) or path[0] in ("prompt", "machine"), path
        if path[0] in ("prompt", "machine"):
            continue
        default = options.default_of(f)
        if isinstance(kind, type) and issubclass(kind, enum.Enum):
            assert isinstance(widget, QComboBox)
            assert [widget.itemData(i) for i in range(widget.count())] == [m.value for m in kind], path
            assert widget.currentData() == default.value, path
        elif f.metadata.get("choices"):
            assert [widget.itemData(i) for i in range(widget.count())] == list(f.metadata["choices"]), path
            assert widget.currentData() == default, path
        elif kind is bool:
            assert isinstance(widget, QCheckBox) and widget.isChecked() == default
        elif kind in (int, float):
            assert isinstance(widget, QAbstractSpinBox), path
            lo, hi = bounds(panel.form.control(*path).info)
            if hi is not None:
                assert widget.maximum() == hi, path
            if lo is not None:
                # An optional number goes one step below its lowest value to say "default" (None).
                assert widget.minimum() == (lo - widget.singleStep() if default is None else lo), path
            assert widget.value() == (widget.minimum() if default is None else default), path
    # The model list is the installed ControlNets (the field's own "None" is the paper's).
    assert panel.model_combo.itemText(0) == "photo-background-generation" and panel.model() is None


def test_the_panel_reads_back_core_defaults_and_any_settings_it_is_given(panel):
    shown = panel.job_settings()
    assert shown.generation == GenerationSettings() and shown.masks == MaskSettings()
    assert shown.output == OutputSettings() and shown.qc == QualitySettings()
    assert (shown.engine, shown.shadow, shown.model) == (JobSettings().engine, JobSettings().shadow, None)
    chosen = JobSettings.from_flat({
        "engine": "gradient", "shadow": "drop", "steps": 33, "guidance": 4.5, "controlnet_scale": 0.7, "seed": 99,
        "variants": 3, "scheduler": "ddim", "resolution": 256, "quality": "preview", "color": [1, 2, 3],
        "gradient": [[0, 0, 0], [9, 9, 9]], "blur_sigma": 0.05, "masker": "classic", "prior": "isnet",
        "sam_variant": "vit_l", "doubtful_masks": "stop", "doubtful_below": 0.3, "preset": "square-1000",
        "name_template": "{stem}-{engine}", "output_format": "webp", "redo": True, "qc_threshold": 0.2,
        "qc_retries": 2, "template": "marble"})
    panel.set_job_settings(chosen)
    back = panel.job_settings()
    assert back.generation == chosen.generation and back.masks == chosen.masks
    assert back.output == chosen.output and back.qc == chosen.qc
    assert (back.engine, back.shadow, back.prompt.template) == ("gradient", "drop", "marble")


def test_advanced_settings_sit_behind_the_disclosure(qtbot, panel):
    panel.show()
    qtbot.waitExposed(panel)
    steps, engine = panel.controls()[("generation", "steps")], panel.controls()[("engine",)]
    assert engine.isVisible() and not steps.isVisible()
    panel.form.advanced_btn.click()
    qtbot.waitUntil(steps.isVisible)


def test_a_value_out_of_range_or_typed_wrong_names_the_setting(panel):
    from packshot.core.errors import PackshotError

    panel.form.control("generation", "gradient").edit.setText("#ffffff-#000000")
    with pytest.raises(PackshotError, match="Gradient"):
        panel.job_settings()


def test_what_the_app_saves_and_restores_is_a_job_settings(qtbot, tmp_path):
    settings = JobSettings.from_flat({"engine": "blur", "blur_sigma": 0.04, "doubtful_masks": "skip",
                                      "name_template": "{stem}-bg", "device": "cpu"})
    save_job_settings(settings)
    back = load_job_settings()
    assert isinstance(back, JobSettings)
    assert back.generation == settings.generation and back.masks == settings.masks and back.output == settings.output
    assert back.machine == JobSettings().machine  # the device and models folder are the app's, not saved here
    app = AppSettings(models_dir=str(tmp_path / "m"))
    restored = TemplatesPanel(app, Workspace(app.models_path), back)
    qtbot.addWidget(restored)
    assert restored.job_settings().generation.blur_sigma == 0.04 and restored.engine() == "blur"


def test_the_former_flat_options_are_read_once(qtbot):
    """Schema 1 (the app's own option names) becomes a JobSettings, so an update keeps the user's choices."""
    from PySide6.QtCore import QSettings

    store = QSettings("packshot", "packshot-studio")
    store.beginGroup("batch")
    store.setValue("schema", 1)
    store.setValue("options", json.dumps({"engine": "color", "color": [5, 6, 7], "render_quality": "preview",
                                          "quality": 80, "shadow": "none", "variants": 2, "template": "marble",
                                          "unknown": 1}))
    store.endGroup()
    store.sync()
    back = load_job_settings()
    assert back.engine == "color" and back.generation.color == (5, 6, 7) and back.generation.quality == "preview"
    assert back.shadow == "none" and back.generation.variants == 2 and back.prompt.template == "marble"
