"""One list of engines, and "auto" as a pure function of the settings and the model store."""

from __future__ import annotations

import pytest
from PIL import Image

from packshot.core.errors import PackshotError
from packshot.core.jobs import JobContext, JobSettings
from packshot.core.jobs.engines import MODEL_ENGINES, engine_choices, generative_engines, resolve_engine
from packshot.core.runtime import Runtime
from tests.core.batch_helpers import no_models_store


def test_one_list_of_engines_for_the_cli_the_settings_and_the_renderer():
    import argparse

    from packshot.core.generation.engines import ENGINE_NAMES, GENERATIVE
    from packshot.core.options import add_arguments

    assert engine_choices()[0] == "auto"
    assert set(engine_choices()) - {"auto"} == set(ENGINE_NAMES)  # what the runtime can build
    assert set(generative_engines()) == set(GENERATIVE)
    assert set(MODEL_ENGINES) <= set(generative_engines())
    parser = argparse.ArgumentParser()
    add_arguments(parser, JobSettings, only={"engine"})
    [engine] = [a for a in parser._actions if a.dest == "engine"]
    assert tuple(engine.choices) == engine_choices()  # --engine and the app's menu come from the same field


def test_auto_without_weights_is_white_and_says_what_is_missing(tmp_path):
    store = no_models_store(tmp_path)
    resolved = resolve_engine(JobSettings(), store)
    assert resolved.name == "white" and not resolved.generative
    assert any("photo-background-generation" in note for note in resolved.notes)
    # pure: asked again, the same answer, and the store is left as it was
    assert resolve_engine(JobSettings(), store) == resolved
    assert not (tmp_path / "no-models").exists() and not (tmp_path / "no-downloads").exists()


def test_auto_follows_a_background_picture_or_colour_and_explicit_engines_stay(tmp_path):
    store = no_models_store(tmp_path)
    picture = tmp_path / "bg.png"
    Image.new("RGB", (8, 8), "grey").save(picture)
    assert resolve_engine(JobSettings.from_flat({"background_image": str(picture)}), store).name == "image"
    assert resolve_engine(JobSettings.from_flat({"color": (10, 20, 30)}), store).name == "color"
    assert resolve_engine(JobSettings.from_flat({"engine": "blur"}), store).name == "blur"
    assert resolve_engine(JobSettings.from_flat({"engine": "si2"}), store).generative  # weights checked later
    with pytest.raises(PackshotError, match="--background-image"):
        resolve_engine(JobSettings.from_flat({"engine": "image"}), store)


def test_the_jobs_context_resolves_as_the_function_does(tmp_path):
    store = no_models_store(tmp_path)
    settings = JobSettings.from_flat({"masker": "classic", "prior": "classic"})
    context = JobContext(settings, runtime=Runtime(store=store))
    resolved = resolve_engine(settings, store)
    assert context.engine_name == resolved.name
    assert all(note in context.notes for note in resolved.notes)
