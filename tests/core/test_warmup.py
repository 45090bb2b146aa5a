"""Preparing the first photo's work ahead (``packshot.core.warmup``) and the edge-matting first-use notice.

The slow test compiles for real, from an empty numba cache, in child processes: the first use says
what it prepares (on stderr, where the CLI shows warnings), the installer's step is skipped once
done, and a prepared install composites without the notice.
"""

from __future__ import annotations

import logging
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from packshot.core import warmup
from packshot.core.generation import matting

ROOT = Path(__file__).resolve().parents[2]


def test_prepare_runs_only_the_steps_still_needed():
    ran: list[str] = []
    steps = [warmup.WarmupStep("done already", lambda: False, lambda: ran.append("a")),
             warmup.WarmupStep("to do", lambda: True, lambda: ran.append("b"))]
    said: list[str] = []
    assert warmup.prepare(said.append, steps=steps) == ["to do"] and ran == ["b"]
    assert said[0] == "Already prepared: done already."
    assert said[1].startswith("Preparing to do, once") and said[2].startswith("Prepared to do in ")
    assert warmup.prepare(said.append, force=True, steps=steps) == ["done already", "to do"]
    assert ran == ["b", "a", "b"]


def test_first_load_of_the_estimator_says_what_it_prepares_and_leaves_a_marker(tmp_path, monkeypatch, caplog):
    marker = tmp_path / "ready"
    monkeypatch.setattr(matting, "_marker_path", lambda: marker)
    monkeypatch.delitem(sys.modules, matting.ESTIMATOR_MODULE, raising=False)  # as in a fresh process
    assert matting.needs_preparing()
    with caplog.at_level(logging.INFO, logger=matting.__name__):
        estimate = matting.foreground_estimator()
        assert matting.foreground_estimator() is estimate  # loaded once per process
    notices = [r for r in caplog.records if r.getMessage() == matting.FIRST_USE_MESSAGE]
    assert len(notices) == 1 and notices[0].levelno == logging.WARNING
    assert marker.is_file() and not matting.needs_preparing()
    alpha = np.zeros((16, 16), np.float32)
    alpha[4:12, 4:12], alpha[3, 4:12] = 1.0, 0.5
    fg = estimate(np.full((16, 16, 3), 0.5, np.float32), alpha)
    assert fg.shape == (16, 16, 3) and np.allclose(fg[alpha > 0], 0.5, atol=1e-3)


def test_the_estimator_loads_without_pymatting_package_init():
    """The package ``__init__`` compiles ~30 numba functions; only the estimator's module is needed."""
    code = ("import sys; from packshot.core.generation.matting import foreground_estimator; foreground_estimator(); "
            "print(sorted(m for m in sys.modules if m.startswith('pymatting')))")
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "['pymatting.foreground.estimate_foreground_ml']"


def _child(code: str, cache: Path, home: Path) -> subprocess.CompletedProcess:
    env = dict(os.environ, NUMBA_CACHE_DIR=str(cache), XDG_CACHE_HOME=str(home / "cache"), HOME=str(home))
    return subprocess.run([sys.executable, *(["-c", code] if code != "warmup" else ["-m", "packshot.core.warmup"])],
                          cwd=ROOT, env=env, capture_output=True, text=True, timeout=600)


COMPOSITE = ("import logging, numpy as np; logging.basicConfig(level=logging.WARNING);"
             "from packshot.core.generation.matting import foreground_tiles;"
             "a = np.zeros((40, 40), np.float32); a[10:30, 10:30] = 1; a[9, 10:30] = .5;"
             "print(len(list(foreground_tiles(np.full((40, 40, 3), 128, np.uint8), a))))")


@pytest.mark.slow
def test_from_an_empty_cache_first_use_says_so_and_the_installer_step_prepares_ahead(tmp_path):
    # a fresh install that was not prepared: the first composite says what it compiles, once
    first = _child(COMPOSITE, tmp_path / "numba-a", tmp_path / "home")
    assert first.returncode == 0, first.stderr
    assert matting.FIRST_USE_MESSAGE in first.stderr and first.stdout.strip() == "1"
    assert "Already prepared: edge matting" in _child("warmup", tmp_path / "numba-a", tmp_path / "home").stdout
    again = _child(COMPOSITE, tmp_path / "numba-a", tmp_path / "home")
    assert again.returncode == 0 and matting.FIRST_USE_MESSAGE not in again.stderr
    # a fresh install the installer prepared: its first photo is quiet (and fast)
    prepared = _child("warmup", tmp_path / "numba-b", tmp_path / "home")
    assert prepared.returncode == 0, prepared.stderr
    assert "Preparing edge matting" in prepared.stdout and "Prepared edge matting" in prepared.stdout
    photo = _child(COMPOSITE, tmp_path / "numba-b", tmp_path / "home")
    assert photo.returncode == 0 and matting.FIRST_USE_MESSAGE not in photo.stderr
    assert any((tmp_path / "numba-b").rglob("*.nbi"))  # numba's own cache, where NUMBA_CACHE_DIR says
