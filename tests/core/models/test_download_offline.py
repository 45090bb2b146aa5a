"""Offline `packshot models download`: one line (no connection, model, size, what to do), a non-zero
exit, no traceback, and no empty model folder left behind; bytes that did arrive are kept to resume."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from pathlib import Path

import pytest

from packshot.core.cli.main import main
from packshot.core.errors import NoConnectionError
from packshot.core.models.store import PARTIAL_DIRNAME, ModelStore

REPO = Path(__file__).resolve().parents[3]


@pytest.fixture
def no_network(monkeypatch):
    """Every name lookup fails, as on a machine without network (urllib and httpx both resolve names)."""
    def fail(*args, **kwargs):
        raise socket.gaierror(socket.EAI_NONAME, "Name or service not known")

    monkeypatch.setattr(socket, "getaddrinfo", fail)
    monkeypatch.setenv("HF_HUB_OFFLINE", "0")


@pytest.mark.parametrize("model_id, host", [("sam-vit_b", "dl.fbaipublicfiles.com"),
                                             ("photo-background-generation", "huggingface.co")])
def test_offline_download_is_one_line_and_leaves_no_folder(tmp_path, no_network, capsys, model_id, host):
    models = tmp_path / "dl"
    store = ModelStore(download_dir=models, offline=False, use_hf_cache=False)
    with pytest.raises(NoConnectionError) as caught:
        store.ensure(model_id)
    text = str(caught.value)
    assert f"no connection to {host}" in text and model_id in text and store.spec(model_id).size_text in text
    assert f"packshot models download {model_id}" in text and "put it in" in text
    assert not (models / model_id).exists() and not (models / PARTIAL_DIRNAME).exists()

    # The command: same message, exit 1, nothing else on stderr.
    os.environ["XDG_DATA_HOME"] = str(tmp_path / "data")
    assert main(["models", "download", model_id]) == 1
    err = capsys.readouterr().err
    assert err.startswith("packshot: error: Cannot download") and f"no connection to {host}" in err
    assert "Traceback" not in err and len(err.strip().splitlines()) == 1, err
    assert not (tmp_path / "data" / "packshot" / "models" / model_id).exists()


def test_a_lost_connection_keeps_the_partial_file_for_resume(tmp_path, monkeypatch):
    import urllib.request

    from packshot.core.models import download

    store = ModelStore(download_dir=tmp_path / "dl", offline=False, use_hf_cache=False)
    spec = store.spec("sam-vit_b")

    class Dropping:
        status = 200
        headers = {"Content-Length": str(spec.files[0].bytes)}
        calls = 0

        def read(self, n):
            type(self).calls += 1
            if self.calls > 2:
                raise ConnectionResetError(104, "Connection reset by peer")
            return b"x" * 1000

        def __enter__(self):
            return self

        def __exit__(self, *exc):
            return False

    monkeypatch.setattr(urllib.request, "urlopen", lambda *a, **k: Dropping())
    with pytest.raises(NoConnectionError, match="no connection.*Connection reset.*2.0 KB already downloaded are kept"):
        store.ensure("sam-vit_b")
    part = tmp_path / "dl" / PARTIAL_DIRNAME / "sam-vit_b" / (spec.files[0].path + ".part")
    assert part.stat().st_size == 2000  # resume continues from here
    assert not (tmp_path / "dl" / "sam-vit_b").exists()  # no half-made model folder to warn about
    assert download.connection_problem(ValueError("not a network error")) is None


def test_an_empty_folder_from_an_older_failed_download_is_silent_and_removed(tmp_path, no_network, caplog):
    (tmp_path / "dl" / "sam-vit_b").mkdir(parents=True)
    store = ModelStore(download_dir=tmp_path / "dl", offline=False, use_hf_cache=False)
    with caplog.at_level("WARNING"):
        assert store.locate("sam-vit_b") is None
    assert "incomplete" not in caplog.text  # no warning on every command
    with pytest.raises(NoConnectionError):
        store.ensure("sam-vit_b")
    assert not (tmp_path / "dl" / "sam-vit_b").exists()


def test_offline_download_in_a_fresh_process_has_no_traceback(tmp_path):
    """The reported case end to end (`python -m packshot.core.cli.main models download ...`), network blocked
    by pointing every proxy at a closed local port."""
    env = dict(os.environ, PYTHONPATH=str(REPO), HF_HUB_OFFLINE="0", XDG_DATA_HOME=str(tmp_path / "data"),
               XDG_STATE_HOME=str(tmp_path / "state"), HTTPS_PROXY="http://127.0.0.1:9", HTTP_PROXY="http://127.0.0.1:9",
               https_proxy="http://127.0.0.1:9", http_proxy="http://127.0.0.1:9", NO_PROXY="", no_proxy="")
    done = subprocess.run([sys.executable, "-m", "packshot.core.cli.main", "models", "download", "sam-vit_b"], cwd=REPO,
                          env=env, capture_output=True, text=True, timeout=120)
    assert done.returncode == 1
    assert "Traceback" not in done.stderr and "no connection to" in done.stderr, done.stderr
    assert len(done.stderr.strip().splitlines()) == 1, done.stderr
    assert not (tmp_path / "data" / "packshot" / "models" / "sam-vit_b").exists()
