"""``accelerate launch`` with two CPU processes (gloo) runs the trainer unchanged: the data is sharded between
them, only the main process writes checkpoints and the model, and the result loads in the generator.

``accelerate launch --cpu`` starts one process unless MPI is set up, so, as for the batch command
(tests/core/test_accelerate.py), the two local processes come from the torchrun path (``--multi_gpu``), which
without CUDA runs them on the CPU; the trainer's Accelerator(cpu=True) then talks over gloo.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from packshot.core.generation.components import load_components
from packshot.core.generation.engines import engine_for
from packshot.core.generation.settings import GenerationSettings
from packshot.core.models.store import ModelStore
from packshot.core.runtime import Runtime
from packshot.trainer.train import read_losses
from tests.core.generation.helpers import product_photo
from tests.trainer.conftest import make_photos

REPO = Path(__file__).resolve().parents[2]
STEPS, BATCH = 3, 1


def _accelerate() -> list[str]:
    exe = Path(sys.executable).with_name("accelerate")
    return [str(exe)] if exe.exists() else ["accelerate"]


@pytest.mark.slow
def test_two_processes_shard_the_data_and_only_the_main_one_writes(tmp_path, tiny_diffusion_models_dir):
    models = tmp_path / "models"
    models.mkdir()
    (models / "photo-background-generation").symlink_to(tiny_diffusion_models_dir / "photo-background-generation")
    data, masks = make_photos(tmp_path / "brand", tmp_path / "masks", count=4)
    cmd = _accelerate() + ["launch", "--multi_gpu", "--num_processes", "2", "--num_machines", "1",
                           "--mixed_precision", "no", "--dynamo_backend", "no", "--main_process_port", "0",
                           "-m", "packshot.core.cli.main", "train", str(data), "--name", "two-procs", "--models-dir", str(models),
                           "--masks", str(masks), "--steps", str(STEPS), "--batch-size", str(BATCH), "--resolution",
                           "64", "--checkpoint-every", "2", "--device", "cpu", "--lr", "1e-3"]
    env = {k: v for k, v in os.environ.items() if k not in ("WORLD_SIZE", "RANK", "LOCAL_RANK")}
    env["CUDA_VISIBLE_DEVICES"] = ""
    proc = subprocess.run(cmd, cwd=REPO, capture_output=True, text=True, timeout=500, env=env)
    text = proc.stdout + proc.stderr
    assert proc.returncode == 0, text
    assert "Traceback" not in text

    work = models / ".training" / "two-procs"
    record = json.loads((work / "processes.json").read_text())
    assert record["num_processes"] == 2
    procs = {p["index"]: p for p in record["processes"]}
    assert sorted(procs) == [0, 1] and procs[0]["pid"] != procs[1]["pid"]  # two processes really ran
    shares = [set(procs[i]["draws"]) for i in (0, 1)]
    assert len(shares[0]) == len(shares[1]) == STEPS * BATCH and not shares[0] & shares[1]  # each its own share
    assert shares[0] | shares[1] == set(range(2 * STEPS * BATCH))  # together, every draw exactly once

    # One checkpoint line per checkpoint (each is reported by the process that wrote it), written by process 0.
    assert proc.stdout.count("checkpoint at step 2:") == 1 and proc.stdout.count("checkpoint at step 3:") == 1
    for step in (2, 3):
        state = torch.load(work / f"checkpoint-{step:07d}" / "state.pt", weights_only=True)
        assert int(state["process_index"]) == 0 and int(state["num_processes"]) == 2
    assert proc.stdout.count("Model 'two-procs' is ready") == 1
    assert [s for s, _ in read_losses(work)] == [1, 2, 3]

    # The model loads, differs from the base where it trained, and renders.
    base = load_components(tiny_diffusion_models_dir / "photo-background-generation", with_controlnet=True)
    trained = load_components(models / "two-procs", with_controlnet=True)
    assert any(not torch.equal(a, b) for a, b in zip(base.controlnet.state_dict().values(),
                                                     trained.controlnet.state_dict().values()))
    store = ModelStore(models, offline=True, download_dir=tmp_path / "dl", use_hf_cache=False)
    photo, mask = product_photo()
    (image,) = engine_for(Runtime(store=store), "si2-controlnet", "cpu", model="two-procs").render(
        photo, mask, GenerationSettings(prompt="a bottle", steps=2, resolution=64))
    assert image.shape == photo.rgb8.shape
