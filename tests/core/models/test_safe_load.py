import pickle

import pytest
import torch
from safetensors.torch import save_file

from packshot.core.errors import UnsafeWeightsError, user_message
from packshot.core.models.safe_load import load_state_dict


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
    with pytest.raises(UnsafeWeightsError) as refused:
        load_state_dict(path)
    assert str(refused.value) == ("evil.pth is a pickle, which Packshot does not load (it can run code); "
                                  "use the .safetensors file.")
    assert not marker.exists()


def test_no_message_relays_torchs_weights_only_advice(tmp_path):
    """torch's refusal says re-running with weights_only=False "will likely succeed": the unsafe fix. However
    the refusal reaches a person (our loader, or diffusers/transformers wrapping it), that advice never does."""
    marker = tmp_path / "pwned.txt"
    path = tmp_path / "diffusion_pytorch_model.bin"
    torch.save({"payload": _RunsCode(marker)}, path)
    try:
        torch.load(str(path), weights_only=True)
    except pickle.UnpicklingError as exc:
        torch_says = exc
    assert "weights_only" in str(torch_says)  # the advice we must not pass on
    try:  # what a library loading a model folder raises around it
        raise OSError(f"Unable to load weights from checkpoint file for '{path}' at '{path}'.") from torch_says
    except OSError as exc:
        wrapped = exc
    for exc in (torch_says, wrapped):
        said = user_message(exc)
        assert "weights_only" not in said and "Something unexpected" not in said
    assert user_message(wrapped) == ("diffusion_pytorch_model.bin is a pickle, which Packshot does not load (it can "
                                     "run code); use the .safetensors file.")
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
