"""Prompt templates: the shipped set, safe substitution, CSV variables, errors before any work."""

from __future__ import annotations

from pathlib import Path

import pytest

from packshot.core.errors import TemplateError
from packshot.core.jobs import BatchJob, JobSettings
from packshot.core.templates import (
    PromptTemplate,
    check_variables,
    fill_template,
    get_template,
    load_templates,
    load_variables_csv,
    name_from_path,
    photo_variables,
    resolve_prompt,
    save_templates,
    template_fields,
)
from tests.core.batch_helpers import no_models_runtime, write_photos


def test_shipped_templates_are_a_usable_dozen():
    templates = load_templates()
    assert len(templates) >= 12
    for name in ("studio", "marble", "kitchen-counter", "outdoor", "christmas", "autumn"):
        assert name in templates
    for template in templates.values():
        assert template.prompt.strip() and template.negative.strip(), template.name
        assert template.fields() <= {"name", "caption"}, template.name
        prompt, negative = template.fill(photo_variables(Path("blue_vase.jpg")))
        assert "{" not in prompt and "{" not in negative
        assert "blue vase" in prompt or template.fields() == {"caption"}


def test_fill_replaces_fields_and_inserts_values_literally():
    assert fill_template("a {name} on {surface}", {"name": "mug", "surface": "oak"}) == "a mug on oak"
    # a value that looks like a field is text, not another substitution
    assert fill_template("{name}", {"name": "{secret}", "secret": "x"}) == "{secret}"
    assert fill_template("literal {{braces}} {name}", {"name": "cup"}) == "literal {braces} cup"


@pytest.mark.parametrize("text", [
    "{name.__class__}", "{name[0]}", "{name.__init__.__globals__}", "{0}", "{}", "{name!r}", "{name:>30}",
    "{ name }", "{na-me}", "unbalanced {name", "stray } brace",
])
def test_unsafe_or_malformed_fields_are_refused(text):
    with pytest.raises(TemplateError):
        template_fields(text)
    with pytest.raises(TemplateError):
        fill_template(text, {"name": "x", "0": "y"})


def test_unknown_variable_is_named_in_the_error():
    with pytest.raises(TemplateError, match=r"\{colour\}"):
        fill_template("a {colour} {name}", {"name": "mug"})


def test_name_from_path():
    assert name_from_path("red_mug-01.jpg") == "red mug 01"
    assert name_from_path(Path("/x/serum  bottle.PNG")) == "serum bottle"
    assert name_from_path("..hidden..jpg") == "hidden"


def test_variables_csv_keyed_by_file_name(tmp_path):
    csv_path = tmp_path / "vars.csv"
    csv_path.write_text("file,caption,material\nmug.jpg,a red enamel mug,enamel\nvase,a tall vase,glass\n",
                        encoding="utf-8")
    table = load_variables_csv(csv_path)
    mug = photo_variables(tmp_path / "mug.jpg", table)
    assert mug["caption"] == "a red enamel mug" and mug["material"] == "enamel" and mug["name"] == "mug"
    vase = photo_variables(tmp_path / "Vase.PNG", table)  # by stem, case-insensitive
    assert vase["material"] == "glass"
    other = photo_variables(tmp_path / "cup.jpg", table)
    assert other["caption"] == "cup" and "material" not in other  # caption falls back to the name


def test_csv_with_bad_column_name_is_refused(tmp_path):
    csv_path = tmp_path / "vars.csv"
    csv_path.write_text("file,bad column\nmug.jpg,x\n", encoding="utf-8")
    with pytest.raises(TemplateError, match="bad column"):
        load_variables_csv(csv_path)


def test_check_variables_fails_before_work(tmp_path):
    photos = write_photos(tmp_path / "in", 2)
    template = PromptTemplate("t", "{name} made of {material}")
    with pytest.raises(TemplateError, match=r"Unknown template variable.*\{material\}"):
        check_variables(template, photos, {})
    csv_path = tmp_path / "vars.csv"
    csv_path.write_text(f"file,material\n{photos[0].name},oak\n", encoding="utf-8")
    table = load_variables_csv(csv_path)
    with pytest.raises(TemplateError, match=photos[1].name):  # second photo has no row
        check_variables(template, photos, table)


def test_batch_with_unknown_variable_writes_nothing(tmp_path):
    write_photos(tmp_path / "in", 2)
    out = tmp_path / "out"
    job = BatchJob(tmp_path / "in", out, JobSettings.from_flat(dict(prompt="a {nmae} on marble")),
                   runtime=no_models_runtime(tmp_path))
    with pytest.raises(TemplateError, match=r"\{nmae\}"):
        job.prepare()
    assert not out.exists()


def test_unknown_template_lists_the_available_ones():
    with pytest.raises(TemplateError, match="marble"):
        get_template("no-such-template")


def test_prompt_overrides_template_text():
    t = resolve_prompt("marble", "{name} on ice", None)
    assert t.prompt == "{name} on ice" and t.negative == get_template("marble").negative


def test_save_and_reload_user_templates(tmp_path):
    path = save_templates([PromptTemplate("mine", "{name} in snow", "rain")], tmp_path / "user.json")
    assert load_templates(path)["mine"].fill({"name": "boot"}) == ("boot in snow", "rain")
    with pytest.raises(TemplateError):
        save_templates([PromptTemplate("bad", "{name.__dict__}")], tmp_path / "bad.json")
