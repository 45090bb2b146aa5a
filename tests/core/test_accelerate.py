"""The same command under ``accelerate launch`` with two CPU processes sharing one project store.

``accelerate launch --cpu`` runs a single process unless MPI is set up, so the two local processes come
from the torchrun path (``--multi_gpu``), which on a machine without CUDA runs them on the CPU; the
batch command then asks accelerate for the gloo (CPU) backend.
"""

from __future__ import annotations

import os
import shutil
import sqlite3
import subprocess
import sys
from pathlib import Path

from packshot.core.project import ProjectStore
from tests.core.batch_helpers import pixel_hash, tree_hashes, write_photos

REPO = Path(__file__).resolve().parents[2]


def _accelerate() -> list[str]:
    exe = Path(sys.executable).with_name("accelerate")
    return [str(exe)] if exe.exists() else [shutil.which("accelerate") or "accelerate"]


def test_two_processes_split_the_photos_and_share_the_store(tmp_path):
    inp = tmp_path / "in"
    photos = write_photos(inp, 9)
    (inp / "broken.jpg").write_bytes(b"\xff\xd8\xff not really a jpeg")
    originals = tree_hashes(inp)
    out = tmp_path / "out"
    cmd = _accelerate() + ["launch", "--multi_gpu", "--num_processes", "2", "--num_machines", "1",
                           "--mixed_precision", "no", "--dynamo_backend", "no", "--main_process_port", "0",
                           "-m", "packshot.core.cli.main", "batch", str(inp), "--out", str(out), "--no-progress",
                           "--engine", "gradient"]
    env = {k: v for k, v in os.environ.items() if k not in ("WORLD_SIZE", "RANK", "LOCAL_RANK")}
    env["CUDA_VISIBLE_DEVICES"] = ""
    proc = subprocess.run(cmd, cwd=REPO, capture_output=True, text=True, timeout=400, env=env)
    text = proc.stdout + proc.stderr
    assert proc.returncode != 0, text  # the broken photo failed, so the launch fails...
    assert "2 processes" in proc.stdout
    assert proc.stdout.count("Done: 9") == 1 and "Failed: 1" in proc.stdout  # one merged summary
    assert "broken.jpg" in proc.stdout and "Traceback" not in proc.stdout

    store = ProjectStore(out)
    runs = store.runs()
    assert sorted(r["process_index"] for r in runs) == [0, 1] and {r["num_processes"] for r in runs} == {2}
    by_run = {r["id"]: r["process_index"] for r in runs}
    records = {p.name: p for p in store.photos()}
    assert len(records) == 10 and records["broken.jpg"].status == "failed"
    ordered = sorted(inp.iterdir())  # each process took every second photo of the sorted list
    for i, path in enumerate(ordered):
        if path.name == "broken.jpg":
            continue
        results = store.results(records[path.name].id)
        assert len(results) == 1, path.name  # made exactly once
        assert by_run[results[0].run_id] == i % 2, path.name
    assert sqlite3.connect(store.path).execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    assert tree_hashes(inp) == originals

    # ...and the outputs are the ones a single process makes
    single = tmp_path / "single"
    subprocess.run([sys.executable, "-m", "packshot.core.cli.main", "batch", str(inp), "--out", str(single),
                    "--no-progress", "--engine", "gradient"], cwd=REPO, capture_output=True, timeout=300)
    assert {p.stem: pixel_hash(out / f"{p.stem}.png") for p in photos} == \
        {p.stem: pixel_hash(single / f"{p.stem}.png") for p in photos}
