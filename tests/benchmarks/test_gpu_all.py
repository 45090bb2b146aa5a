"""The one GPU script (tests/benchmarks/gpu_all.py) and bench_generation's rows, checked on this CPU machine:
without CUDA both stop with one line; the rows, their time box, the JSON lines and the table work on the tiny
models; a part that runs past its time is stopped and said."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from tests.benchmarks import gpu_all
from tests.benchmarks.bench_generation import engine_rows

ROOT = Path(__file__).resolve().parents[2]
no_cuda = pytest.mark.skipif(torch.cuda.is_available(), reason="checks the refusal on a machine without CUDA")


def run(*argv: str) -> subprocess.CompletedProcess:
    env = {**os.environ, "CUDA_VISIBLE_DEVICES": "", "HF_HUB_OFFLINE": "1"}
    return subprocess.run([sys.executable, "-m", *argv], cwd=ROOT, env=env, capture_output=True, text=True,
                          timeout=300)


@no_cuda
def test_gpu_all_without_cuda_says_so_in_one_line_and_writes_nothing(tmp_path):
    done = run("tests.benchmarks.gpu_all", "--out", str(tmp_path / "results"))
    assert done.returncode == 2 and done.stdout == ""
    assert done.stderr.count("\n") == 1 and done.stderr.startswith("gpu_all: no CUDA GPU here")
    assert not (tmp_path / "results").exists()


@no_cuda
def test_bench_generation_on_cuda_without_cuda_says_so_in_one_line():
    done = run("tests.benchmarks.bench_generation", "--device", "cuda", "--engine", "flux2-klein")
    said = [line for line in (done.stdout + done.stderr).splitlines() if line.strip()]
    assert done.returncode != 0 and "Traceback" not in done.stderr
    assert [line for line in said if "bench_generation:" in line] == [said[-1]]
    assert "needs an NVIDIA GPU" in said[-1]


def test_rows_are_timed_boxed_and_appended_as_they_end(tmp_path):
    results = tmp_path / "generation.jsonl"
    rows = engine_rows("si2-controlnet", torch.device("cpu"), "tiny", [("fp32", 1, "eager"),
                       ("fp32", 2, "channels_last")], size=64, steps=1, guidance=7.5, row_timeout=120,
                       results=results)
    assert [r["status"] for r in rows] == ["ok", "ok"] and all(r["s_per_image"] > 0 for r in rows)
    klein = engine_rows("flux2-klein", torch.device("cpu"), "tiny", [("fp32", 1, "eager")], size=64, steps=1,
                        guidance=1.0, row_timeout=120, results=results)
    assert klein[0]["status"] == "ok" and klein[0]["s_per_image"] > 0
    boxed = engine_rows("si2-controlnet", torch.device("cpu"), "tiny", [("fp32", 1, "eager")], size=64, steps=1,
                        guidance=7.5, row_timeout=0.001, results=results)
    assert boxed[0]["status"] == "timed out after 0.001 s" and boxed[0]["s_per_image"] is None
    written = [json.loads(line) for line in results.read_text().splitlines()]
    assert [(r["engine"], r["variants"], r["mode"], r["status"]) for r in written] == [
        ("si2-controlnet", 1, "eager", "ok"), ("si2-controlnet", 2, "channels_last", "ok"),
        ("flux2-klein", 1, "eager", "ok"), ("si2-controlnet", 1, "eager", "timed out after 0.001 s")]
    summary = gpu_all.table(tmp_path, {"si2-controlnet": "ok"}).splitlines()
    assert len([line for line in summary if line.startswith("| si2-controlnet | 64 | 1 | fp32 |")]) == 3
    assert summary[-1] == "si2-controlnet: ok"


def test_a_part_past_its_time_is_stopped_and_what_it_printed_is_kept(tmp_path):
    # the child must outlive its 2 s time box: a deliberate sleep in the child, the test waits on its exit
    status = gpu_all.run_part("sleeper", ["timeit", "-n", "1", "-r", "1", "print('| early row |'); "
                                          "import time; time.sleep(60)"], 2, tmp_path, [])  # sleep-ok
    assert status.startswith("stopped after 2 s")
    assert "| early row |" in (tmp_path / "sleeper.log").read_text()
