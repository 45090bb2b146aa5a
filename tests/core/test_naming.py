"""Output names: templates, sanitising, nothing escapes the output folder."""

from __future__ import annotations

from pathlib import Path

import pytest

from core.errors import TemplateError
from core.naming import check_name_template, output_path, sanitize_component, unique_stems

FIELDS = {"stem": "mug", "name": "mug", "engine": "white", "template": "studio", "variant": 1, "seed": 7,
          "ext": "jpg"}


def test_default_and_variant_names(tmp_path):
    assert output_path(tmp_path, "{stem}", FIELDS, ".png") == (tmp_path / "mug.png").resolve()
    assert output_path(tmp_path, "{stem}", FIELDS, ".png", variants=3).name == "mug-v1.png"
    assert output_path(tmp_path, "{stem}_{seed}", FIELDS, ".png", variants=3).name == "mug_7.png"
    sub = output_path(tmp_path, "{engine}/{template}/{stem}", FIELDS, ".jpg")
    assert sub == (tmp_path / "white" / "studio" / "mug.jpg").resolve()


@pytest.mark.parametrize("stem", ["../../etc/passwd", "/abs/path", "..", "a/../../b", "C:\\win\\x",
                                  "con", ".hidden", "na\x00me", "a:b*c?d|e"])
def test_hostile_stems_stay_inside(tmp_path, stem):
    target = output_path(tmp_path, "{stem}", dict(FIELDS, stem=stem), ".png")
    root = tmp_path.resolve()
    assert root in target.parents
    rel = target.relative_to(root)
    assert all(part not in ("..", ".") and not part.startswith(".") for part in rel.parts)
    assert "\x00" not in str(target)


def test_symlinked_subfolder_pointing_out_is_refused(tmp_path):
    outside = tmp_path / "outside"
    outside.mkdir()
    out = tmp_path / "out"
    out.mkdir()
    (out / "link").symlink_to(outside)
    with pytest.raises(TemplateError, match="outside"):
        output_path(out, "link/{stem}", FIELDS, ".png")


def test_unicode_and_spaces_are_kept_and_long_names_bounded(tmp_path):
    assert output_path(tmp_path, "{stem}", dict(FIELDS, stem="crème brûlée ✓"), ".png").name == "crème brûlée ✓.png"
    long_name = output_path(tmp_path, "{stem}", dict(FIELDS, stem="é" * 300), ".png").name
    assert len(long_name.encode()) <= 130
    assert sanitize_component("  ") == "_"


def test_unknown_name_fields_fail_early():
    with pytest.raises(TemplateError, match=r"\{size\}"):
        check_name_template("{stem}_{size}")
    with pytest.raises(TemplateError):
        check_name_template("{stem.__class__}")


def test_colliding_stems_are_made_unique():
    stems = unique_stems([Path("a.jpg"), Path("a.PNG"), Path("b.jpg")])
    assert stems == {Path("a.jpg"): "a_jpg", Path("a.PNG"): "a_png", Path("b.jpg"): "b"}
