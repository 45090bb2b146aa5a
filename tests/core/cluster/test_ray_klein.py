"""``packshot batch --ray --engine flux2-klein``: the tiny FLUX.2 [klein] through Ray's real actor stages.

The tiny model (tests/factories/flux2_klein.py) is far below the size the CPU refusal guards
(``CPU_MAX_TRANSFORMER_PARAMS``), so the render actors run it on the CPU; a model past that size is
refused in the driver, before any actor starts.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from packshot.core.cli.main import main
from packshot.core.generation.engines.flux2_klein import DEFAULT_MODEL
from packshot.core.recipe import read_recipe
from tests.core.batch_helpers import write_photos
from tests.factories.flux2_klein import save_flux2_klein_folder

ray = pytest.importorskip("ray")


@pytest.fixture(scope="module")
def klein_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    models = tmp_path_factory.mktemp("klein-models")
    save_flux2_klein_folder(models / DEFAULT_MODEL)
    return models


def batch_args(photos: Path, out: str, models: Path, *extra: str) -> list[str]:
    return ["batch", str(photos), "--out", out, "--engine", "flux2-klein", "--models-dir", str(models),
            "--resolution", "64", "--steps", "2", "--variants", "2", "--seed", "5", "--device", "cpu",
            "--masker", "classic", "--prior", "classic", "--detail", "off", "--no-progress", *extra]


def outputs_of(folder: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in sorted(folder.iterdir()) if p.is_file()}


def test_flux2_klein_batch_on_ray_actors_equals_the_local_batch(local_ray, tmp_path, klein_dir, capsys):
    write_photos(tmp_path / "in", 2, size=(80, 56))
    assert main(batch_args(tmp_path / "in", str(tmp_path / "local"), klein_dir)) == 0
    assert main(batch_args(tmp_path / "in", str(tmp_path / "ray"), klein_dir, "--ray")) == 0
    said = capsys.readouterr().out
    assert "on a local Ray runtime" in said and "Done: 2" in said, said
    local, distributed = outputs_of(tmp_path / "local"), outputs_of(tmp_path / "ray")
    assert len(local) == 4 and local.keys() == distributed.keys()  # 2 photos x 2 variants
    for name in local:
        recipe = read_recipe(tmp_path / "ray" / name)
        assert recipe.engine == "flux2-klein" and DEFAULT_MODEL in recipe.models
        assert recipe == read_recipe(tmp_path / "local" / name)
    assert local == distributed  # the render actors' pixels, recipes and metadata: byte for byte


def test_a_full_size_model_is_refused_in_the_driver_before_any_actor(local_ray, tmp_path, klein_dir, capsys,
                                                                    monkeypatch):
    from packshot.core.generation.engines import flux2_klein

    monkeypatch.setattr(flux2_klein, "CPU_MAX_TRANSFORMER_PARAMS", 10)  # the tiny model stands for the 4B
    write_photos(tmp_path / "in", 1, size=(80, 56))
    code = main(batch_args(tmp_path / "in", str(tmp_path / "out"), klein_dir, "--ray"))
    captured = capsys.readouterr()
    text = captured.out + captured.err
    assert code != 0
    lines = [line for line in text.splitlines() if "needs a GPU" in line]
    assert len(lines) == 1 and "--engine si2-controlnet" in lines[0] and "Traceback" not in text
    assert not list((tmp_path / "out").glob("*.png"))
