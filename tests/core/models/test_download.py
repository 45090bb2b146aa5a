"""URL downloads against a loopback HTTP server: progress, checksum, cancel and resume."""

import hashlib
import threading
from dataclasses import replace
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from packshot.core.errors import Cancelled, ChecksumMismatchError
from packshot.core.models.integrity import LOCK_NAME, read_lock
from packshot.core.models.manifest import ManifestFile, load_manifest
from packshot.core.models.store import ModelStore
from packshot.core.progress import CancelToken

PAYLOAD = bytes(range(256)) * 12_000  # ~3 MB: several 1 MB chunks


class _RangeHandler(BaseHTTPRequestHandler):
    ranges_seen: list = []

    def do_GET(self):  # noqa: N802 - http.server naming
        start = 0
        if rng := self.headers.get("Range"):
            start = int(rng.split("=")[1].split("-")[0])
            type(self).ranges_seen.append(start)
            self.send_response(206)
        else:
            self.send_response(200)
        body = PAYLOAD[start:]
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):
        pass


@pytest.fixture
def server():
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), _RangeHandler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}/sam.pth"
    httpd.shutdown()


def _store_with_url(tmp_path, monkeypatch, url, sha=None):
    spec = load_manifest()["sam-vit_b"]
    sha = sha or hashlib.sha256(PAYLOAD).hexdigest()
    fake = replace(spec, source={"type": "url", "url": url},
                   files=(ManifestFile("sam_vit_b_01ec64.pth", len(PAYLOAD), sha),), approx_bytes=len(PAYLOAD))
    manifest = dict(load_manifest())
    manifest["sam-vit_b"] = fake
    monkeypatch.setattr("packshot.core.models.store.load_manifest", lambda: manifest)
    return ModelStore(tmp_path / "user", offline=False, download_dir=tmp_path / "dl", use_hf_cache=False)


def test_download_verifies_and_reports_progress(tmp_path, monkeypatch, server):
    store = _store_with_url(tmp_path, monkeypatch, server)
    seen = []
    folder = store.ensure("sam-vit_b", progress=seen.append)
    assert (folder / "sam_vit_b_01ec64.pth").read_bytes() == PAYLOAD
    assert seen[-1].done == seen[-1].total == len(PAYLOAD)
    assert len(seen) >= 3
    assert read_lock(folder)["files"]["sam_vit_b_01ec64.pth"]["sha256"] == hashlib.sha256(PAYLOAD).hexdigest()
    assert store.verify("sam-vit_b").ok


def test_checksum_mismatch_deletes_the_file(tmp_path, monkeypatch, server):
    store = _store_with_url(tmp_path, monkeypatch, server, sha="0" * 64)
    with pytest.raises(ChecksumMismatchError, match="failed its checksum"):
        store.ensure("sam-vit_b")
    assert not list((tmp_path / "dl" / "sam-vit_b").glob("*.pth*"))
    assert not store.available("sam-vit_b")


def test_cancel_then_resume_with_range(tmp_path, monkeypatch, server):
    store = _store_with_url(tmp_path, monkeypatch, server)
    cancel = CancelToken()

    def stop_after_first_chunk(p):
        if p.done >= 1 << 20:
            cancel.cancel()

    with pytest.raises(Cancelled):
        store.ensure("sam-vit_b", progress=stop_after_first_chunk, cancel=cancel)
    part = tmp_path / "dl" / ".partial" / "sam-vit_b" / "sam_vit_b_01ec64.pth.part"  # kept to resume
    assert 0 < part.stat().st_size < len(PAYLOAD)
    assert not store.available("sam-vit_b")

    _RangeHandler.ranges_seen.clear()
    folder = store.ensure("sam-vit_b")
    assert _RangeHandler.ranges_seen and _RangeHandler.ranges_seen[0] > 0
    assert (folder / "sam_vit_b_01ec64.pth").read_bytes() == PAYLOAD
    assert (folder / LOCK_NAME).is_file()
