"""Bounds for every setting, declared once in the settings object: the CLI, the app's builder, project
stores and recipes refuse the same values with the same one line, and --help says range and unit."""

from __future__ import annotations

import argparse
import math

import pytest

from packshot.core import options
from packshot.core.cli import batch_cmd
from packshot.core.cli.main import main as packshot
from packshot.core.errors import SettingError
from packshot.core.generation.settings import GenerationSettings
from packshot.core.jobs import JobSettings
from packshot.core.recipe import Recipe
from packshot.core.settings_bounds import Range
from tests.core.batch_helpers import write_photos


def _batch_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="packshot")
    batch_cmd.register(parser.add_subparsers(dest="command"))
    return parser._subparsers._group_actions[0].choices["batch"]  # type: ignore[union-attr]


def _numeric_leaves(cls: type):
    for path, f, kind in options.leaves(cls):
        if kind in (int, float) or f.metadata.get("shape"):
            yield path, f, kind


def test_every_number_in_every_settings_object_has_a_finite_range_with_its_unit():
    for cls in (JobSettings, Recipe):
        for path, f, _ in _numeric_leaves(cls):
            if f.name == "version":
                continue  # the recipe format's version: refused above RECIPE_VERSION with its own message
            bounds = options.range_of(f)
            assert bounds is not None, f"{'.'.join(path)} has no declared range"
            assert math.isfinite(bounds.lo) and math.isfinite(bounds.hi) and bounds.lo <= bounds.hi
            assert bounds.unit, f"{'.'.join(path)} says no unit"


def test_help_states_range_and_unit_of_each_bounded_option():
    by_dest = {a.dest: a for a in _batch_parser()._actions}
    for path, f, _ in options.cli_leaves(JobSettings):
        bounds = options.range_of(f)
        if bounds is not None:
            assert f"range {bounds.describe()}" in by_dest[options.flat_name(f)].help.replace("%%", "%"), path
    blur = by_dest["blur_sigma"].help
    assert "fraction of the image diagonal" in blur and "not pixels" in blur and "range 0 to 0.1" in blur


def _edges(f, kind):
    """(inside, outside) values at both ends of a field's range."""
    r: Range = options.range_of(f)
    step = 1 if kind is int else (r.hi - r.lo) * 1e-3
    inside = [r.lo, r.hi]
    outside = [r.lo - (r.multiple_of or step), r.hi + (r.multiple_of or step)]
    return inside, outside


BOUNDED = [(path, f, kind) for path, f, kind in options.leaves(JobSettings)
           if options.range_of(f) is not None and kind in (int, float)]


@pytest.mark.parametrize("path,f,kind", BOUNDED, ids=[".".join(p) for p, _, _ in BOUNDED])
def test_each_bound_holds_at_both_ends_and_refuses_past_them_naming_setting_and_range(path, f, kind):
    inside, outside = _edges(f, kind)
    for value in inside:
        kwargs = {options.flat_name(f): kind(value)}
        if f.name == "seed":
            kwargs["variants"] = 1
        JobSettings.from_flat(kwargs)  # the app's builder and old stores take this route
    for value in outside:
        with pytest.raises(SettingError) as refused:
            JobSettings.from_flat({options.flat_name(f): kind(value)})
        message = str(refused.value)
        span = options.range_of(f).describe(step=False).split(" (")[0]  # "64 to 2048"
        assert message.startswith(options.setting_name(f)) and f"out of range: {span}" in message
        assert "\n" not in message


def test_wrong_types_nan_and_enums_are_refused_by_name():
    for kwargs, said in [({"steps": "20"}, "--steps '20' is not a whole number"),
                         ({"steps": True}, "--steps True is not a whole number"),
                         ({"guidance": math.nan}, "--guidance nan is out of range"),
                         ({"blur_sigma": math.inf}, "--blur-sigma inf is out of range"),
                         ({"color": (1, 2)}, "--color (1, 2) is not a list of 3"),
                         ({"color": (1.5, 2, 3)}, "--color 1.5 is not a whole number"),
                         ({"resolution": 500}, "--resolution 500 is not a multiple of 8"),
                         ({"scheduler": "evil"}, "Unknown scheduler 'evil'")]:
        with pytest.raises(SettingError, match=f"^{_escaped(said)}"):
            GenerationSettings(**kwargs)
    with pytest.raises(SettingError, match="last|past 4294967295"):
        GenerationSettings(seed=2**32 - 1, variants=2)  # the second variant's seed would leave 32 bits


def _escaped(text: str) -> str:
    import re

    return re.escape(text)


@pytest.mark.parametrize("model", ["../photo-background-generation", "/etc", "a/b", "a\\b", "..", ".hidden", "",
                                   "x" * 300])
def test_a_model_id_is_an_id(model):
    with pytest.raises(SettingError, match="is not a model id"):
        JobSettings(model=model)
    with pytest.raises(SettingError, match="--sam 'vit_b/../x'|is not a model id"):
        JobSettings.from_flat({"sam_variant": "vit_b/../x"})
    assert JobSettings(model="my-brand_v2.1").model == "my-brand_v2.1"


def test_other_checks_choices_device_and_text_lengths():
    with pytest.raises(SettingError, match="--size 'huge' is unknown"):
        JobSettings.from_flat({"preset": "huge"})
    with pytest.raises(SettingError, match="--device 'gpu; rm' is not a device"):
        JobSettings.from_flat({"device": "gpu; rm"})
    assert JobSettings.from_flat({"device": "cuda:1"}).machine.device == "cuda:1"
    with pytest.raises(SettingError, match="--prompt of 100001 characters is too long"):
        JobSettings.from_flat({"prompt": "p" * 100_001})
    stored = JobSettings().to_dict()
    stored["generation"]["steps"] = 100_000  # a project store edited by hand
    with pytest.raises(SettingError, match="--steps 100000 is out of range: 1 to 200"):
        JobSettings.from_dict(stored)


def test_check_namespace_holds_a_subset_of_options_to_the_same_bounds():
    parser = argparse.ArgumentParser()
    options.add_arguments(parser, JobSettings, only={"steps", "resolution"})
    options.check_namespace(JobSettings, parser.parse_args(["--steps", "5"]))
    with pytest.raises(SettingError, match="--resolution 4096 is out of range: 64 to 2048"):
        options.check_namespace(JobSettings, parser.parse_args(["--resolution", "4096"]))


def test_the_cli_refuses_in_one_line_before_any_work(tmp_path, capsys):
    write_photos(tmp_path / "in", 1)
    out = tmp_path / "out"
    for args, said in [(["--blur-sigma", "10"],
                        "--blur-sigma 10 is out of range: 0 to 0.1 (a fraction of the image diagonal)"),
                       (["--steps", "100000"], "--steps 100000 is out of range: 1 to 200 (steps)"),
                       (["--resolution", "100000"], "--resolution 100000 is out of range: 64 to 2048"),
                       (["--model", "../../elsewhere"], "--model '../../elsewhere' is not a model id"),
                       (["--qc-threshold", "5"], "--qc-threshold 5 is out of range: 0 to 1")]:
        assert packshot(["batch", str(tmp_path / "in"), "--out", str(out), *args]) == 1
        err = capsys.readouterr().err.strip().splitlines()
        assert len(err) == 1 and said in err[0] and "unexpected" not in err[0]
        assert not out.exists()  # refused before the output folder (or anything in it) was made


def test_masks_and_eval_hold_the_options_they_share_with_batch_to_the_same_bounds(tmp_path, capsys):
    write_photos(tmp_path / "in", 1)
    for argv, said in [(["masks", str(tmp_path / "in"), "--out", str(tmp_path / "m"), "--doubtful-below", "7"],
                        "--doubtful-below 7 is out of range: 0 to 1 (a mask score)"),
                       (["eval", str(tmp_path / "in"), "--out", str(tmp_path / "e"), "--steps", "100000"],
                        "--steps 100000 is out of range: 1 to 200 (steps)")]:
        assert packshot(argv) == 1
        err = capsys.readouterr().err.strip().splitlines()
        assert len(err) == 1 and said in err[0]
        assert not (tmp_path / "m").exists() and not (tmp_path / "e").exists()
