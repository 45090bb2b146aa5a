import pickle

import pytest
import torch
from safetensors.torch import save_file

from core.errors import UnsafeWeightsError
from core.models.safe_load import load_state_dict


class _RunsCode:
    """Unpickling this calls ``open(marker, 'w')``: a stand-in for a malicious checkpoint."""

    def __init__(self, marker):
        self.marker = marker

    def __reduce__(self):
        return (open, (str(self.marker), "w"))


def test_plain_state_dict_loads(tmp_path):
    path = tmp_path / "ok.pth"
    torch.save({"w": torch.arange(6.0).reshape(2, 3)}, path)
    state = load_state_dict(path)
    assert torch.equal(state["w"], torch.arange(6.0).reshape(2, 3))


def test_safetensors_loads(tmp_path):
    path = tmp_path / "ok.safetensors"
    save_file({"w": torch.ones(3)}, str(path))
    assert torch.equal(load_state_dict(path)["w"], torch.ones(3))


def test_pickle_that_runs_code_is_refused_and_never_runs(tmp_path):
    marker = tmp_path / "pwned.txt"
    path = tmp_path / "evil.pth"
    torch.save({"w": torch.ones(1), "payload": _RunsCode(marker)}, path)
    with pytest.raises(UnsafeWeightsError, match="asks to run code"):
        load_state_dict(path)
    assert not marker.exists()


def test_raw_pickle_is_refused(tmp_path):
    marker = tmp_path / "pwned.txt"
    path = tmp_path / "evil.bin"
    path.write_bytes(pickle.dumps(_RunsCode(marker)))
    with pytest.raises(UnsafeWeightsError):
        load_state_dict(path)
    assert not marker.exists()


def test_truncated_checkpoint_is_reported(tmp_path):
    path = tmp_path / "cut.pth"
    torch.save({"w": torch.ones(1000)}, path)
    path.write_bytes(path.read_bytes()[:500])
    with pytest.raises(UnsafeWeightsError, match="damaged or truncated"):
        load_state_dict(path)
