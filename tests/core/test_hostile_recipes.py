"""Recipes are untrusted input: every field of a hostile recipe is refused in one line that names it,
before any file it names is read; paths stay inside the folders the user named; a replay never
writes over a photo, whatever path or flag it is given."""

from __future__ import annotations

import copy
import hashlib
import json
import os
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from PIL import Image, PngImagePlugin

from packshot.core.cli.main import main as packshot
from packshot.core.jobs import render as render_module
from packshot.core.recipe import RECIPE_KEY, read_recipe
from tests.core.batch_helpers import write_photos


def _sha(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


@pytest.fixture
def made(tmp_path, capsys):
    """A real output (white engine) of a real batch, its recipe as JSON, and the photo it came from."""
    photos = write_photos(tmp_path / "in", 1)
    out = tmp_path / "out"
    assert packshot(["batch", str(tmp_path / "in"), "--out", str(out), "--no-progress"]) == 0
    capsys.readouterr()
    output = out / "item_000.png"
    return output, json.loads(read_recipe(output).to_json()), photos[0]


def _with_recipe(source: Path, target: Path, recipe: Any) -> Path:
    """``source``'s pixels with ``recipe`` (any JSON, however hostile) as its embedded recipe."""
    info = PngImagePlugin.PngInfo()
    info.add_itxt(RECIPE_KEY, json.dumps(recipe))
    with Image.open(source) as im:
        Image.fromarray(np.asarray(im.convert("RGB"))).save(target, pnginfo=info)
    return target


def _set(recipe: dict, dotted: str, value: Any) -> dict:
    changed = copy.deepcopy(recipe)
    *parents, last = dotted.split(".")
    node = changed
    for name in parents:
        node = node[name]
    if value is _DROP:
        del node[last]
    else:
        node[last] = value
    return changed


_DROP = object()
OUTSIDE = "/etc/hostname"  # a file every Linux machine has, outside every folder the user named

HOSTILE = [
    ("engine", "evil", "engine", "unknown value 'evil'"),
    ("engine", 5, "engine", "5 is not text"),
    ("seed", "x", "seed", "'x' is not a whole number"),
    ("seed", -1, "seed", "out of range: 0 to 4294967295"),
    ("seed", 2**40, "seed", "out of range"),
    ("seed", _DROP, "seed", "missing"),
    ("variant", 0, "variant", "out of range: 1 to 64"),
    ("input_path", 42, "input_path", "42 is not text"),
    ("input_path", OUTSIDE, "input_path", "outside the folders this replay may read"),
    ("input_path", "../../../../../../../../etc/hostname", "input_path", "outside the folders"),
    ("input_sha256", "nope", "input_sha256", "'nope' is not a sha256"),
    ("prompt", ["a"], "prompt", "is not text"),
    ("settings", [], "settings", "[] is not a mapping"),
    ("settings.steps", 100_000, "settings.steps", "100000 is out of range: 1 to 200"),
    ("settings.steps", 2.5, "settings.steps", "2.5 is not a whole number"),
    ("settings.resolution", 100_000, "settings.resolution", "out of range: 64 to 2048"),
    ("settings.resolution", 100, "settings.resolution", "not a multiple of 8"),
    ("settings.blur_sigma", 10, "settings.blur_sigma", "10 is out of range: 0 to 0.1 (a fraction of the image"),
    ("settings.guidance", "high", "settings.guidance", "'high' is not a number"),
    ("settings.guidance", float("inf"), "settings.guidance", "inf is out of range"),
    ("settings.controlnet_scale", 1e9, "settings.controlnet_scale", "out of range: 0 to 2"),
    ("settings.scheduler", "evil", "settings.scheduler", "'evil' is unknown"),
    ("settings.quality", "ultra", "settings.quality", "'ultra' is unknown"),
    ("settings.color", [999, 0, 0], "settings.color", "999 is out of range: 0 to 255"),
    ("settings.color", [1, 2], "settings.color", "is not a list of 3"),
    ("settings.gradient", "x", "settings.gradient", "'x' is not a list"),
    ("settings.prompt", 5, "settings.prompt", "5 is not text"),
    ("settings.background_image", OUTSIDE, "settings.background_image", "outside the folders"),
    ("settings.background_image", "../../../../../../../etc/hostname", "settings.background_image", "outside"),
    ("models", {"../../evil": {}}, "models", "'../../evil' is not a model id"),
    ("models", {"/opt/models/x": {}}, "models", "is not a model id"),
    ("models", {"a/b": {}}, "models", "is not a model id"),
    ("models", {"ok": "text"}, "models", "is not a mapping"),
    ("mask", "m.png", "mask", "is not a mapping"),
    ("mask.path", 7, "mask", "`path` 7 is not text"),
    ("mask.path", "../../../../../../../../etc/hostname", "mask.path", "outside the folders"),
    ("mask.path", OUTSIDE, "mask.path", "outside the folders"),
    ("mask.sha256", "abc", "mask", "is not a sha256"),
    ("preset", "100000x100000", "preset", "unknown value '100000x100000'"),
    ("shadow", {"kind": "evil"}, "shadow", "unknown kind 'evil'"),
    ("output_format", "exe", "output_format", "'exe' is unknown"),
    ("bit_depth", 12, "bit_depth", "not a multiple of 8"),
    ("quality", 0, "quality", "0 is out of range: 1 to 100"),
    ("version", "1", "version", "'1' is not a whole number"),
]


@pytest.fixture
def no_reads_before_checks(monkeypatch):
    """Fails the test if the renderer reads a photo or hashes a file before refusing the recipe."""
    def refuse(*_args, **_kwargs):
        raise AssertionError("a file was read before the recipe was checked")

    monkeypatch.setattr(render_module, "load_photo", refuse)
    monkeypatch.setattr(render_module, "file_sha256", refuse)


@pytest.mark.timeout(120)
@pytest.mark.parametrize("dotted,value,named,said", HOSTILE, ids=[f"{h[0]}={str(h[1])[:20]}" for h in HOSTILE])
def test_each_hostile_field_is_refused_in_one_line_naming_it(made, capsys, no_reads_before_checks,
                                                             dotted, value, named, said):
    output, recipe, photo = made
    if dotted.startswith("settings.background_image"):
        recipe = _set(recipe, "engine", "image")
    hostile = _with_recipe(output, output.with_name("hostile.png"), _set(recipe, dotted, value))
    before = {p: _sha(p) for p in (output, hostile, photo)}
    assert packshot(["replay", str(hostile)]) == 1
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1, err
    assert f"recipe field `{named}`: " in err[0] and said in err[0], err[0]
    assert "unexpected" not in err[0].lower()
    assert {p: _sha(p) for p in before} == before
    assert sorted(p.name for p in output.parent.glob("*.png")) == ["hostile.png", "item_000.png"]  # nothing made


def test_a_recipe_that_is_not_an_object_and_a_newer_version_are_named(made, capsys):
    output, recipe, _ = made
    for data, said in [([1, 2], "A recipe is a JSON object; this one is list"),
                       (_set(recipe, "version", 99), "Recipe version 99 is newer than this Packshot reads")]:
        assert packshot(["replay", str(_with_recipe(output, output.with_name("odd.png"), data))]) == 1
        assert said in capsys.readouterr().err


def test_unknown_fields_are_ignored_and_the_replay_is_exact(made, capsys):
    output, recipe, _ = made
    extra = _set(_set(recipe, "comment", "hand-annotated"), "settings.future_knob", 3)
    copied = _with_recipe(output, output.with_name("annotated.png"), extra)
    assert packshot(["replay", str(copied)]) == 0
    assert "max pixel difference 0" in capsys.readouterr().out


def test_a_link_inside_the_project_that_leads_out_is_refused(made, capsys, tmp_path):
    output, recipe, _ = made
    secret = tmp_path / "private" / "mask.png"
    secret.parent.mkdir()
    Image.fromarray(np.full((120, 160), 255, np.uint8)).save(secret)
    os.symlink(secret, output.parent / "mask-link.png")
    hostile = _with_recipe(output, output.with_name("linked.png"),
                           _set(_set(recipe, "mask.path", "mask-link.png"), "mask.sha256", None))
    assert packshot(["replay", str(hostile)]) == 1
    assert "recipe field `mask.path`: mask-link.png is outside the folders" in capsys.readouterr().err


def test_a_background_picture_outside_is_read_only_from_a_folder_the_user_names(tmp_path, capsys):
    write_photos(tmp_path / "in", 1)
    backgrounds = tmp_path / "backgrounds"
    backgrounds.mkdir()
    Image.fromarray(np.full((60, 80, 3), (10, 120, 200), np.uint8)).save(backgrounds / "sea.png")
    other = tmp_path / "someone-else"
    other.mkdir()
    Image.fromarray(np.full((60, 80, 3), (200, 20, 20), np.uint8)).save(other / "red.png")
    out = tmp_path / "out"
    assert packshot(["batch", str(tmp_path / "in"), "--out", str(out), "--engine", "image",
                     "--background-image", str(backgrounds / "sea.png"), "--no-progress"]) == 0
    output = out / "item_000.png"
    assert packshot(["replay", str(output)]) == 0  # the store records the picture the user named
    assert "max pixel difference 0" in capsys.readouterr().out

    recipe = json.loads(read_recipe(output).to_json())
    swapped = _with_recipe(output, out / "swapped.png", _set(recipe, "settings.background_image", str(other / "red.png")))
    assert packshot(["replay", str(swapped)]) == 1
    assert "recipe field `settings.background_image`" in capsys.readouterr().err
    assert packshot(["replay", str(swapped), "--allow-dir", str(other)]) == 0  # named: read
    assert "differs from the stored output" in capsys.readouterr().out


def test_a_recipe_sent_alone_reads_nothing_outside_its_folder_until_named(made, capsys, tmp_path):
    output, recipe, photo = made
    inbox = tmp_path / "inbox"
    inbox.mkdir()
    received = _with_recipe(output, inbox / "received.png", recipe)
    assert packshot(["replay", str(received)]) == 1
    err = capsys.readouterr().err
    assert "recipe field `input_path`" in err and "--allow-dir" in err
    assert packshot(["replay", str(received), "--allow-dir", str(photo.parent)]) == 1  # the photo is read now
    assert "The mask used for received.png" in capsys.readouterr().err  # ...and the mask was not sent along


# -- where a replay writes ------------------------------------------------------------------------

def test_replay_never_writes_over_the_input_photo_by_any_path(made, capsys, tmp_path):
    output, _, photo = made
    before = _sha(photo)
    link = tmp_path / "same-photos"
    os.symlink(photo.parent, link)
    for target in (photo, link / photo.name):
        for flags in ([], ["--overwrite"]):
            assert packshot(["replay", str(output), "--out", str(target), *flags]) == 1
            err = capsys.readouterr().err
            assert str(target) in err and "unexpected" not in err.lower()
            assert _sha(photo) == before
    assert sorted(p.name for p in photo.parent.iterdir()) == [photo.name]


def test_replay_writes_under_new_names_and_overwrites_only_its_own_files(made, capsys, tmp_path):
    output, _, _ = made
    before = _sha(output)
    assert packshot(["replay", str(output)]) == 0
    assert packshot(["replay", str(output)]) == 0  # a second replay takes the next free name
    assert (output.parent / "item_000.replay.png").is_file() and (output.parent / "item_000.replay-2.png").is_file()
    assert _sha(output) == before
    capsys.readouterr()

    users = tmp_path / "notes.png"
    Image.fromarray(np.zeros((4, 4, 3), np.uint8)).save(users)  # the user's own picture, no recipe
    users_sha = _sha(users)
    assert packshot(["replay", str(output), "--out", str(users)]) == 1
    assert "add --overwrite" in capsys.readouterr().err
    assert packshot(["replay", str(output), "--out", str(users), "--overwrite"]) == 1
    assert "not made by Packshot" in capsys.readouterr().err
    assert _sha(users) == users_sha

    earlier = output.parent / "item_000.replay.png"
    assert packshot(["replay", str(output), "--out", str(earlier), "--overwrite"]) == 0  # its own file
    fresh = tmp_path / "fresh" / "copy.png"
    fresh.parent.mkdir()
    assert packshot(["replay", str(output), "--out", str(fresh)]) == 0
    assert "max pixel difference 0" in capsys.readouterr().out


def test_a_sidecar_that_is_huge_deep_or_not_text_is_refused_in_one_line(made, capsys):
    output, _, _ = made
    bare = output.with_name("bare.png")
    with Image.open(output) as im:
        Image.fromarray(np.asarray(im.convert("RGB"))).save(bare)  # no recipe inside: the sidecar is read
    side = output.with_name("bare.png.recipe.json")
    for write, said in [(lambda: side.write_text("[" * 200_000 + "]" * 200_000), "nested too deep"),
                        (lambda: side.write_bytes(b"\xff\xfe{}"), "not UTF-8 text"),
                        (lambda: os.truncate(side, 17 * 2**20), "too large to be a recipe")]:
        side.write_bytes(b"")
        write()
        assert packshot(["replay", str(bare)]) == 1
        err = capsys.readouterr().err.strip().splitlines()
        assert len(err) == 1 and said in err[0] and "unexpected" not in err[0].lower()


def test_export_reads_a_sent_recipe_only_where_a_replay_may(made, capsys, tmp_path):
    """An export at another preset renders from the recipe: a file someone sent reads nothing outside
    its own folder (here: the photo it names), exactly like a replay; the project's own output exports."""
    output, recipe, photo = made
    inbox = tmp_path / "inbox"
    inbox.mkdir()
    received = _with_recipe(output, inbox / "received.png", recipe)
    before = _sha(photo)
    assert packshot(["export", str(received), "--out", str(tmp_path / "exp-sent"), "--preset", "square-2000",
                     "--no-progress"]) != 0
    said = capsys.readouterr()
    assert "recipe field `input_path`" in said.out + said.err
    assert not list((tmp_path / "exp-sent").glob("*.png"))
    assert packshot(["export", str(output), "--out", str(tmp_path / "exp-own"), "--preset", "square-2000",
                     "--no-progress"]) == 0
    assert len(list((tmp_path / "exp-own").glob("*.png"))) == 1
    assert _sha(photo) == before
