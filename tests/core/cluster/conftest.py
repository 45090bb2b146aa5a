"""Shared by the Ray tests: one local Ray runtime for the session, and a local S3 API (moto, offline)."""

from __future__ import annotations

import logging
import uuid
from dataclasses import dataclass
from typing import Any

import pytest


@pytest.fixture(scope="session")
def local_ray():
    """One local Ray runtime for all the cluster tests (started once: a start costs several seconds)."""
    ray = pytest.importorskip("ray")
    if not ray.is_initialized():
        ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False, ignore_reinit_error=True)
    yield ray
    ray.shutdown()


@pytest.fixture(scope="session")
def s3_endpoint():
    """A real S3 API on localhost: moto's threaded server (no network beyond 127.0.0.1)."""
    moto_server = pytest.importorskip("moto.server")
    pytest.importorskip("s3fs")
    logging.getLogger("werkzeug").setLevel(logging.WARNING)  # not a line per request in test reports
    server = moto_server.ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    yield f"http://{host}:{port}"
    server.stop()


@dataclass
class Bucket:
    endpoint: str
    name: str
    fs: Any  # an s3fs file system of its own, to put photos and look at what a batch wrote
    options: dict  # what the batch's --storage-option gives fsspec (Ray workers do not see this test's env)

    def uri(self, key: str) -> str:
        return f"s3://{self.name}/{key}"

    @property
    def cli_options(self) -> list[str]:
        return [arg for k, v in self.options.items() for arg in ("--storage-option", f"{k}={v}")]


@pytest.fixture
def bucket(s3_endpoint, monkeypatch) -> Bucket:
    """A fresh bucket; fake credentials in the environment, so nothing real is ever reached."""
    import s3fs

    for name, value in {"AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing",
                        "AWS_DEFAULT_REGION": "us-east-1", "AWS_EC2_METADATA_DISABLED": "true"}.items():
        monkeypatch.setenv(name, value)
    monkeypatch.delenv("AWS_PROFILE", raising=False)
    name = f"packshot-{uuid.uuid4().hex[:10]}"
    options = {"endpoint_url": s3_endpoint, "key": "testing", "secret": "testing"}
    fs = s3fs.S3FileSystem(skip_instance_cache=True, **options)
    fs.mkdir(name)
    return Bucket(s3_endpoint, name, fs, options)
