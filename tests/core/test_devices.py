"""Device choice and precision rules (CUDA, MPS and CoreML are simulated: none exist on this machine)."""

from __future__ import annotations

import pytest
import torch

from packshot.core import devices


@pytest.fixture
def hardware(monkeypatch):
    def set_hardware(cuda: bool = False, mps: bool = False) -> None:
        monkeypatch.setattr(devices, "cuda_usable", lambda: cuda)
        monkeypatch.setattr(devices, "mps_usable", lambda: mps)
        monkeypatch.delenv("PACKSHOT_DEVICE", raising=False)

    return set_hardware


@pytest.mark.parametrize("cuda, mps, expected", [
    (True, True, "cuda"), (True, False, "cuda"), (False, True, "mps"), (False, False, "cpu")])
def test_auto_prefers_cuda_then_mps_then_cpu(hardware, cuda, mps, expected):
    hardware(cuda=cuda, mps=mps)
    assert devices.pick_device("auto").type == expected


def test_explicit_cpu_wins_even_with_a_gpu(hardware):
    hardware(cuda=True, mps=True)
    assert devices.pick_device("cpu").type == "cpu"


@pytest.mark.parametrize("asked", ["cuda", "mps", "cuda:1"])
def test_unusable_explicit_device_falls_back_to_cpu_with_a_warning(hardware, caplog, asked):
    hardware(cuda=False, mps=False)
    with caplog.at_level("WARNING"):
        assert devices.pick_device(asked).type == "cpu"
    assert asked in caplog.text


def test_explicit_mps_is_not_taken_over_by_cuda(hardware):
    hardware(cuda=True, mps=True)
    assert devices.pick_device("mps").type == "mps"


def test_environment_variable_is_the_default_preference(hardware, monkeypatch):
    hardware(cuda=True, mps=False)
    monkeypatch.setenv("PACKSHOT_DEVICE", "cpu")
    assert devices.pick_device("").type == "cpu"


def test_unknown_device_is_refused_with_the_choices(hardware):
    hardware()
    with pytest.raises(ValueError, match="auto, cuda, mps, cpu"):
        devices.pick_device("tpu")


@pytest.mark.parametrize("kind, dtype", [("cuda", torch.float16), ("mps", torch.float16), ("cpu", torch.float32)])
def test_half_precision_only_on_gpus_never_bf16(kind, dtype):
    device = torch.device(kind)
    assert devices.default_dtype(device) == dtype
    assert devices.plan_for(device, memory_gb=16).dtype != torch.bfloat16


def test_mps_slices_attention_only_when_memory_is_short():
    mps = torch.device("mps")
    assert devices.plan_for(mps, memory_gb=16).attention_slicing
    assert not devices.plan_for(mps, memory_gb=128).attention_slicing
    assert not devices.plan_for(torch.device("cuda"), memory_gb=8).attention_slicing


@pytest.mark.parametrize("device, available, expected", [
    ("auto", ["CUDAExecutionProvider", "CPUExecutionProvider"], ["CUDAExecutionProvider", "CPUExecutionProvider"]),
    ("auto", ["CoreMLExecutionProvider", "CPUExecutionProvider"], ["CoreMLExecutionProvider", "CPUExecutionProvider"]),
    ("mps", ["CoreMLExecutionProvider", "CPUExecutionProvider"], ["CoreMLExecutionProvider", "CPUExecutionProvider"]),
    ("cpu", ["CUDAExecutionProvider", "CoreMLExecutionProvider", "CPUExecutionProvider"], ["CPUExecutionProvider"]),
    ("cuda", ["CPUExecutionProvider"], ["CPUExecutionProvider"]),
    ("mps", ["CUDAExecutionProvider", "CPUExecutionProvider"], ["CPUExecutionProvider"]),
])
def test_onnx_providers_follow_the_same_choice(device, available, expected):
    names = [p[0] if isinstance(p, tuple) else p for p in devices.onnx_providers(device, available)]
    assert names == expected


def test_cuda_provider_keeps_the_device_index():
    providers = devices.onnx_providers("cuda:1", ["CUDAExecutionProvider", "CPUExecutionProvider"])
    assert providers[0] == ("CUDAExecutionProvider", {"device_id": 1})


def test_this_machine_runs_on_the_cpu_in_fp32():
    device = devices.pick_device("auto")
    assert device.type == "cpu"
    assert devices.plan_for(device).dtype == torch.float32
