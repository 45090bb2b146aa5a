"""The installer prepares the first photo's work (``packshot.core.warmup``) in the final environment, and a
failed preparation never fails the install. uv and the environment's Python are stand-ins that
record how they were called (no network, no real environment)."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from tests.packaging.test_installer import install

FAKE_PYTHON = """#!/bin/sh
echo "$0 $*" >> "{log}"
if [ "$1" = "-m" ] && [ "$2" = "packshot.core.warmup" ]; then exit {warmup_rc}; fi
exit 0
"""

FAKE_UV = """#!/bin/sh
echo "uv $*" >> "{log}"
if [ "$1" = "venv" ]; then
  for last; do :; done
  mkdir -p "$last/bin"
  cp "{python}" "$last/bin/python"
  chmod +x "$last/bin/python"
fi
exit 0
"""


def _fake_tools(tmp_path: Path, warmup_rc: int) -> tuple[Path, Path]:
    log = tmp_path / "calls.log"
    python = tmp_path / "fake-python"
    python.write_text(FAKE_PYTHON.format(log=log, warmup_rc=warmup_rc))
    uv = tmp_path / "uv"
    uv.write_text(FAKE_UV.format(log=log, python=python))
    uv.chmod(0o755)
    return uv, log


def _install(tmp_path: Path, uv: Path) -> int:
    return install.main(["--prefix", str(tmp_path / "app"), "--uv", str(uv), "--wheel",
                         str(tmp_path / "packshot-0.1.0-py3-none-any.whl"), "--torch-index", "http://torch.invalid",
                         "--no-shortcuts"])


@pytest.mark.skipif(sys.platform == "win32", reason="shell-script stand-ins")
def test_install_prepares_the_first_photo_in_the_final_environment(tmp_path, capsys):
    uv, log = _fake_tools(tmp_path, warmup_rc=0)
    assert _install(tmp_path, uv) == 0
    calls = log.read_text().splitlines()
    env = tmp_path / "app" / "env"
    warmups = [c for c in calls if c.endswith("-m packshot.core.warmup")]
    assert warmups == [f"{env / 'bin' / 'python'} -m packshot.core.warmup"]  # after the swap: caches are keyed by path
    check = next(i for i, c in enumerate(calls) if " -c import packshot.core" in c)
    assert calls.index(warmups[0]) > check
    out = capsys.readouterr().out
    assert "[5/6] Preparing the first photo's work ahead" in out and "not prepared ahead" not in out


@pytest.mark.skipif(sys.platform == "win32", reason="shell-script stand-ins")
def test_a_failed_preparation_says_so_and_the_install_completes(tmp_path, capsys):
    uv, _log = _fake_tools(tmp_path, warmup_rc=3)
    assert _install(tmp_path, uv) == 0
    out = capsys.readouterr().out
    assert "not prepared ahead, exit 3: the first photo will do it, once" in out
    assert "[6/6] Menu entry and commands" in out and "Done in" in out
    assert (tmp_path / "app" / "env" / "bin" / "python").is_file()
