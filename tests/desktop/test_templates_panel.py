"""Templates panel: pick, edit, save; variables; the filled prompt previewed per photo."""

from __future__ import annotations

from pathlib import Path

from packshot.core.templates import load_templates
from packshot.desktop.settings import AppSettings
from packshot.desktop.templates_panel import TemplatesPanel, user_templates_path
from packshot.desktop.workspace import Workspace


def run_settings(panel: TemplatesPanel, app: AppSettings | None = None):
    """What a run of the app would ask for with this panel (``packshot.desktop.job_settings.for_run``)."""
    from packshot.desktop.job_settings import for_run

    app = app or AppSettings()
    return for_run(panel.job_settings(), app, Workspace(app.models_path))


def make_panel(qtbot) -> TemplatesPanel:
    panel = TemplatesPanel(AppSettings(), Workspace())
    qtbot.addWidget(panel)
    return panel


def test_pick_fill_and_preview(qtbot, tmp_path):
    panel = make_panel(qtbot)
    builtin = load_templates()
    name = sorted(builtin)[0]
    panel.template_combo.setCurrentText(name)
    assert panel.prompt_edit.toPlainText() == builtin[name].prompt
    panel.prompt_edit.setPlainText("{name} on {surface}, studio light")
    panel.set_photo(Path("red_mug-01.jpg"))
    assert "{surface}" in panel.preview.text() or "surface" in panel.preview.text()  # missing: shown as error
    assert "color:#c33" in panel.preview.text()
    panel.set_variable("surface", "white marble")
    assert panel.filled_prompt(Path("red_mug-01.jpg"))[0] == "red mug 01 on white marble, studio light"
    assert "red mug 01 on white marble" in panel.preview.text()


def test_per_photo_csv_beats_value_for_all(qtbot, tmp_path):
    panel = make_panel(qtbot)
    csv = tmp_path / "vars.csv"
    csv.write_text("file,surface\nmug.jpg,slate\n")
    panel.prompt_edit.setPlainText("{name} on {surface}")
    panel.set_variable("surface", "oak")
    panel.load_csv(csv)
    assert panel.filled_prompt(Path("mug.jpg"))[0] == "mug on slate"
    assert panel.filled_prompt(Path("jar.jpg"))[0] == "jar on oak"


def test_save_template_and_find_it_again(qtbot):
    panel = make_panel(qtbot)
    panel.prompt_edit.setPlainText("{name} floating in clouds")
    panel.negative_edit.setPlainText("text")
    panel.save_template_as("clouds")
    assert user_templates_path().is_file()
    again = make_panel(qtbot)
    again.template_combo.setCurrentText("clouds")
    assert again.prompt_edit.toPlainText() == "{name} floating in clouds"
    assert again.negative_edit.toPlainText() == "text"


def test_job_settings_follow_the_widgets(qtbot):
    panel = make_panel(qtbot)
    panel.prompt_edit.setPlainText("{name} on a beach")
    panel.engine_combo.setCurrentText("si2")
    panel.variants.setValue(3)
    panel.steps.setValue(7)
    panel.seed.setValue(11)
    panel.shadow.setCurrentIndex(panel.shadow.findData("contact"))
    panel.preset.setCurrentText("square-1000")
    panel.output_format.setCurrentText("webp")
    js = run_settings(panel)
    assert (js.engine, js.generation.variants, js.generation.steps, js.generation.seed) == ("si2", 3, 7, 11)
    assert (js.shadow, js.output.preset, js.output.output_format) == ("contact", "square-1000", "webp")
    assert js.prompt.template == "studio" and js.prompt.prompt == "{name} on a beach"  # edited text goes as a prompt
    assert not panel.cn_scale.isEnabled()  # ControlNet scale only for si2-controlnet
    panel.engine_combo.setCurrentText("white")
    assert not panel.steps.isEnabled() and not panel.variants.isEnabled()
    white = run_settings(panel)
    assert white.generation.variants == 1  # no duplicate "variants" of a plain background


def test_unchanged_template_is_sent_by_name(qtbot):
    panel = make_panel(qtbot)
    panel.template_combo.setCurrentText("marble")
    js = run_settings(panel)
    assert js.prompt.template == "marble" and js.prompt.prompt is None and js.prompt.negative is None


def test_prompt_preview_is_greyed_for_engines_that_paint_no_prompt(qtbot):
    panel = make_panel(qtbot)
    panel.set_photo(Path("mug.jpg"))
    panel.engine_combo.setCurrentText("si2")
    assert "no effect" not in panel.preview.text()
    panel.engine_combo.setCurrentText("gradient")
    assert "paints no prompt" in panel.preview.text() and not panel.prompt_edit.isEnabled()


def test_model_picker_lists_trained_models_and_reaches_the_job(qtbot, tmp_path, tiny_diffusion_models_dir):
    models = tmp_path / "models"
    models.mkdir()
    (models / "my-brand").symlink_to(tiny_diffusion_models_dir / "photo-background-generation")
    (models / "not-a-model").mkdir()
    settings = AppSettings(models_dir=str(models))
    panel = TemplatesPanel(settings, Workspace(settings.models_path))
    qtbot.addWidget(panel)
    items = [panel.model_combo.itemText(i) for i in range(panel.model_combo.count())]
    assert items == ["photo-background-generation", "my-brand"]
    assert panel.model() is None  # the paper's weights by default
    panel.engine_combo.setCurrentText("white")
    assert not panel.model_combo.isEnabled()
    panel.engine_combo.setCurrentText("si2-controlnet")
    panel.model_combo.setCurrentText("my-brand")
    assert run_settings(panel, settings).model == "my-brand"
