"""One settings object: every field is a CLI option and back, JSON round trips, old stores keep their keys."""

from __future__ import annotations

import argparse
import json
from dataclasses import fields

import pytest

from packshot.core import options
from packshot.core.cli import batch_cmd, eval_cmd
from packshot.core.generation.settings import GenerationSettings, Scheduler
from packshot.core.jobs import BatchJob, Engine, JobContext, JobSettings, MaskSettings, Shadow
from packshot.core.project import ProjectStore
from packshot.core.runtime import Runtime
from tests.core.batch_helpers import no_models_runtime, no_models_store, write_photos

# Options of `packshot batch` that are about this run of the command, not job settings.
RUN_ONLY = {"input_dir", "out_dir", "list_templates", "dry_run", "no_progress", "ray", "storage_option", "help"}  # how to run, not what


def _batch_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="packshot")
    batch_cmd.register(parser.add_subparsers(dest="command"))
    return parser._subparsers._group_actions[0].choices["batch"]  # type: ignore[union-attr]


def test_every_field_is_documented_and_is_a_batch_option_and_every_option_is_a_field():
    parser = _batch_parser()
    by_dest: dict[str, list[argparse.Action]] = {}
    for action in parser._actions:
        by_dest.setdefault(action.dest, []).append(action)
    cli_fields = set()
    for path, f, _ in options.leaves(JobSettings):
        assert f.metadata.get("help"), f"{'.'.join(path)} has no help text"
        if f.metadata["cli"]:
            name = options.flat_name(f)
            cli_fields.add(name)
            assert name in by_dest, f"{'.'.join(path)} has no option in `packshot batch`"
            flags = {s for a in by_dest[name] for s in a.option_strings}
            assert set(options.cli_flags(f)) <= flags
            assert by_dest[name][-1].default == options.plain(options.default_of(f)), name
    assert set(by_dest) - RUN_ONLY == cli_fields, "an option that is no settings field"
    # Choices come from the enums: one place.
    assert by_dest["engine"][0].choices == list(Engine.values())
    assert by_dest["scheduler"][0].choices == list(Scheduler.values())
    # Fields that are not options are few and say why.
    not_cli = {".".join(p) for p, f, _ in options.leaves(JobSettings) if not f.metadata["cli"]}
    assert not_cli == {"generation.prompt", "generation.negative_prompt", "generation.seeds", "generation.extra"}


def test_flat_names_are_unique_and_cover_the_v1_keys():
    names = [options.flat_name(f) for _, f, _ in options.leaves(JobSettings) if options.flat_name(f)]
    assert len(names) == len(set(names))
    assert set(V1_STORED) - {"engine_resolved"} <= set(names)


def test_parsed_options_build_the_nested_settings():
    args = _batch_parser().parse_args(["in", "--out", "out", "--engine", "si2", "--guidance", "5", "--seed", "3",
                                       "--masker", "classic", "--sam", "vit_l", "--shadow", "drop", "--redo",
                                       "--size", "square-1000", "--vars", "v.csv", "--gradient", "#000000:#ffffff"])
    s = batch_cmd.settings_from_args(args)
    assert s.engine is Engine.SI2 and s.shadow is Shadow.DROP
    assert s.generation.guidance == 5.0 and s.generation.seed == 3
    assert s.generation.gradient == ((0, 0, 0), (255, 255, 255))
    assert s.masks.masker == "classic" and s.masks.sam_variant == "vit_l" and s.prompt.variables_csv == "v.csv"
    assert s.output.redo and s.output.preset == "square-1000"
    defaults = batch_cmd.settings_from_args(_batch_parser().parse_args(["in", "--out", "out"]))
    assert defaults == JobSettings()


def test_json_round_trip_and_types():
    s = JobSettings(engine="color", shadow="contact", masks=MaskSettings(masker="sam", doubtful_masks="skip"),
                    generation=GenerationSettings(color=(1, 2, 3), scheduler=Scheduler.DDIM))
    data = json.loads(json.dumps(s.to_dict()))
    assert data["engine"] == "color" and data["generation"]["scheduler"] == "ddim"
    back = JobSettings.from_dict(data)
    assert back == s and back.generation.color == (1, 2, 3) and back.masks.doubtful_masks == "skip"
    assert JobSettings.from_flat(s.to_flat()) == s
    with pytest.raises(ValueError, match="unknown setting"):
        JobSettings.from_flat({"stpes": 3})
    with pytest.raises(ValueError, match="Unknown engine 'nope'"):
        JobSettings(engine="nope")
    assert f"{Engine.WHITE}" == "white" and {"white": 1}[Engine.WHITE] == 1


# A run's settings exactly as a v1 project store holds them (runs.settings_json), and job keys the
# pre-nesting code computed for these settings (same ``extra``): nesting must not redo finished folders.
V1_STORED = {"engine": "auto", "template": None, "prompt": None, "negative": None, "variables_csv": None,
             "variants": 1, "seed": 0, "steps": 20, "guidance": 7.5, "controlnet_scale": 1.0, "scheduler": "unipc",
             "resolution": 512, "color": [255, 255, 255], "background_image": None, "preset": "original",
             "shadow": None, "masker": "auto", "prior": "auto", "sam_variant": "vit_b", "masks_dir": None,
             "qc_threshold": None, "qc_retries": 0, "name_template": "{stem}", "output_format": "png",
             "redo": False, "device": "auto", "models_dir": None, "model": None, "engine_resolved": "white"}
EXTRA = {"template": {"name": "studio"}, "variables": None, "masks": {"sam": None, "prior": "classic"}}
V1_KEYS = [
    ({}, "white", "47d170ebeb9368a3"),
    ({"engine": "white", "seed": 5}, "white", "8e40889dd5a4d2fa"),
    ({"engine": "color", "color": [10, 20, 30], "variants": 2, "output_format": "jpg"}, "color", "8f0c9349d2a2f6a4"),
    ({"template": "marble", "variants": 2, "seed": 3, "qc_threshold": 0.0, "qc_retries": 1, "steps": 2,
      "resolution": 64, "guidance": 5.0, "shadow": "contact", "masker": "classic", "prior": "classic",
      "preset": "square-1000", "sam_variant": "vit_l", "prompt": "a {name}", "negative": "blurry",
      "name_template": "{stem}-{engine}", "scheduler": "ddim", "controlnet_scale": 0.5, "background_image": None,
      "model": "my-brand", "device": "cuda", "redo": True}, "white", "69a8c330f7203337"),
]


@pytest.mark.parametrize("changes,engine,key", V1_KEYS)
def test_flat_v1_settings_load_and_keep_their_job_key(changes, engine, key):
    stored = {**V1_STORED, **changes}
    assert JobSettings.from_dict(stored).job_key(engine, EXTRA) == key
    assert JobSettings.from_flat(changes).job_key(engine, EXTRA) == key  # an old caller's flat keywords


def test_a_v1_project_store_resumes_with_the_same_settings(tmp_path):
    """Settings read back from an existing store's run rebuild the same job: nothing is redone."""
    write_photos(tmp_path / "in", 2)
    store_kw = {"runtime": no_models_runtime(tmp_path)}
    first = BatchJob(tmp_path / "in", tmp_path / "out", JobSettings.from_flat({"engine": "gradient", "seed": 4}),
                     **store_kw)
    assert first.run().done
    store = ProjectStore(tmp_path / "out")
    saved = store.runs()[-1]["settings"]
    assert saved["generation"]["seed"] == 4 and saved["engine_resolved"] == "gradient"
    again = BatchJob(tmp_path / "in", tmp_path / "out", JobSettings.from_dict(saved), **store_kw).run()
    assert again.skipped == ["item_000.jpg", "item_001.jpg"]
    flat = JobSettings.from_dict({**V1_STORED, "engine": "gradient", "seed": 4})  # as a v1 store held it
    assert JobContext(flat, **store_kw).job_key == first.context.job_key


def test_context_passes_the_nested_generation_settings_through(tmp_path):
    """No field copied by hand: what the engine gets is the job's GenerationSettings with the photo's parts."""
    gen = GenerationSettings(steps=7, guidance=3.0, controlnet_scale=0.4, scheduler="euler", resolution=256,
                             gradient=((1, 1, 1), (2, 2, 2)), blur_sigma=0.05, extra={"x": 1})
    ctx = JobContext(JobSettings(engine="si2", generation=gen), runtime=no_models_runtime(tmp_path))
    got = ctx.generation_settings("a red mug", "blurry", [9, 11])
    assert got.prompt == "a red mug" and got.seeds == (9, 11) and got.variants == 2
    for f in fields(GenerationSettings):
        if f.name not in ("prompt", "negative_prompt", "seed", "variants", "seeds", "detail", "upscaler"):
            assert getattr(got, f.name) == getattr(gen, f.name), f.name
    # --detail auto becomes the pass that runs here (no upscaler in this store: bicubic), as the recipe records it
    assert (got.detail, got.upscaler) == (ctx.detail, ctx.upscaler_id) == ("off", None)


def test_eval_shares_the_batch_options():
    parser = argparse.ArgumentParser(prog="packshot")
    eval_cmd.register(parser.add_subparsers(dest="command"))
    ev = parser._subparsers._group_actions[0].choices["eval"]  # type: ignore[union-attr]
    batch = {a.dest: a for a in _batch_parser()._actions}
    for action in ev._actions:
        if action.dest in eval_cmd.SHARED_WITH_BATCH:
            twin = batch[action.dest]
            assert (action.option_strings, action.help, action.default, action.choices) == \
                (twin.option_strings, twin.help, twin.default, twin.choices)
    assert eval_cmd.SHARED_WITH_BATCH <= {a.dest for a in ev._actions}


def test_no_silent_no_ops(tmp_path):
    store = no_models_store(tmp_path)
    (tmp_path / "bg.png").write_bytes(b"")  # not read by the context
    picked = JobContext(JobSettings(generation=GenerationSettings(background_image=str(tmp_path / "bg.png"))),
                        runtime=Runtime(store=store))
    assert picked.engine_name == "image" and any("using the 'image' engine" in n for n in picked.notes)
    colour = JobContext(JobSettings(generation=GenerationSettings(color=(1, 2, 3))), runtime=Runtime(store=store))
    assert colour.engine_name == "color" and any("using the 'color' engine" in n for n in colour.notes)
    plain = JobContext(JobSettings.from_flat({"engine": "white", "variants": 3, "prompt": "marble",
                                              "color": [1, 2, 3]}), runtime=Runtime(store=store))
    notes = " | ".join(plain.notes)
    assert plain.variants == 1 and "--variants 3" in notes and "one file" in notes
    assert "no effect on the images" in notes and "--color has no effect" in notes
