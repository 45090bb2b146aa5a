"""``python -m tests.benchmarks.bench_upscale --device cuda`` (run by the GPU check script) on a machine without
CUDA: one line saying so and what to do, exit 2, no traceback, nothing measured."""

from __future__ import annotations

import pytest


def test_without_cuda_the_gpu_rows_are_refused_in_one_line(monkeypatch, capsys):
    import torch

    from tests.benchmarks import bench_upscale

    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)  # as here; also on a CI machine with a GPU
    assert bench_upscale.main(["--device", "cuda"]) == bench_upscale.EXIT_NO_CUDA
    said = capsys.readouterr()
    assert said.out == ""  # no table header: nothing was measured
    [line] = said.err.splitlines()
    assert line.startswith("bench_upscale: --device cuda needs an NVIDIA GPU, and CUDA is not available here")
    assert "leave --device out for the CPU rows" in line and "Traceback" not in said.err


@pytest.mark.parametrize("device", ["cpu", "cuda:1"])
def test_the_line_names_the_device_asked_for(monkeypatch, device):
    import torch

    from tests.benchmarks import bench_upscale

    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    problem = bench_upscale.cuda_missing(device)
    assert problem is None if device == "cpu" else f"--device {device} needs" in problem


def test_every_row_runs_end_to_end_with_tiny_models(capsys, monkeypatch):
    """The script's own code path, detail pass included, with tiny random models on the CPU at small sizes
    (times mean nothing)."""
    from tests.benchmarks import bench_upscale

    monkeypatch.setattr(bench_upscale, "CPU_SIZES", [(300, 200)])
    monkeypatch.setattr(bench_upscale, "DETAIL_SIZE", (600, 560))
    assert bench_upscale.main(["--tiny", "--large", "--steps", "4", "--detail-pass", "on"]) == 0
    rows = [line for line in capsys.readouterr().out.splitlines() if line.startswith("| ") and "---" not in line]
    assert [r.split(" | ")[0] for r in rows[1:]] == ["| upscale realesr-general-x4v3", "| upscale realesrgan-x4plus",
                                                    "| detail pass (SI2 + ControlNet, 4 tiles x ~1 steps)"]
    assert [r.split(" | ")[3] for r in rows[1:]] == ["300 x 200", "300 x 200", "600 x 560"]
