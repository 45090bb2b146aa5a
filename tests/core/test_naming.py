"""Output names: templates, sanitising, nothing escapes the output folder."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from packshot.core.errors import TemplateError
from packshot.core.naming import (
    MAX_COMPONENT,
    check_name_template,
    display_name,
    from_storable,
    from_storable_tree,
    output_path,
    sanitize_component,
    storable,
    storable_tree,
    unique_stems,
)

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


# -- names that are not UTF-8 (issue 20, item 4) ------------------------------------------------------

ODD = os.fsdecode(b"caf\xe9.jpg")  # Latin-1 bytes, as old archives and shared drives hold them


@pytest.mark.parametrize("name", [ODD, "plain.jpg", "crème ✓.jpg", r"lit\xe9.jpg", r"lit\x5c.jpg",
                                  r"a\x5cxe9" + os.fsdecode(b"\xff"), r"C:\x86\b", "back\\slash"])
def test_storable_round_trips_and_encodes(name):
    stored = storable(name)
    stored.encode("utf-8")  # what SQLite and JSON writers do: must not raise
    assert from_storable(stored) == name


def test_storable_keeps_ordinary_names_and_never_merges_two():
    names = [ODD, "plain.jpg", r"caf\xe9.jpg", r"caf\x5cxe9.jpg", "crème.jpg"]
    assert storable("plain.jpg") == "plain.jpg" and storable("crème.jpg") == "crème.jpg"
    assert len({storable(n) for n in names}) == len(names)


def test_display_name_escapes_only_undecodable_bytes():
    assert display_name(ODD) == "caf\\xe9.jpg"
    assert display_name(Path("/x") / ODD) == "/x/caf\\xe9.jpg"
    assert display_name("crème ✓.jpg") == "crème ✓.jpg"
    display_name(ODD).encode("utf-8")


def test_storable_tree_round_trips_a_recipe_like_dict():
    data = {"input_path": "/in/" + ODD, "mask": {"path": ODD}, "prompt": "a " + ODD, "seed": 3, "list": [ODD, 1]}
    text = json.dumps(storable_tree(data), ensure_ascii=False)
    text.encode("utf-8")
    assert from_storable_tree(json.loads(text)) == data


def test_undecodable_stem_keeps_its_bytes_in_the_output_name(tmp_path):
    target = output_path(tmp_path, "{stem}", dict(FIELDS, stem=ODD[:-4]), ".png")
    assert os.fsencode(target.name) == b"caf\xe9.png"
    long = os.fsdecode(b"\xe9" * 300)
    assert len(os.fsencode(sanitize_component(long))) == MAX_COMPONENT
