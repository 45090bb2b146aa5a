"""The paths Packshot derives from its own files hold in both layouts (issue 22, item 7): the checkout
(an editable install: core/ beside pyproject.toml) and an installed wheel (site-packages/packshot/core).
The installed case itself is run by packaging/smoke_test.py; here the same path logic meets both trees."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from packshot.core import app_api
from packshot.core.models.manifest import MANIFEST_PATH
from packshot.core.templates import TEMPLATES_FILE
from packshot.desktop.project_session import install_dirs, project_place_problem

ROOT = Path(__file__).resolve().parents[2]
TOPS = ("core", "desktop", "trainer", "resources")


def _tree(base: Path, checkout: bool) -> Path:
    """A checkout (pyproject.toml beside the folders) or an installed package folder (site-packages/packshot)."""
    root = base / "clone" if checkout else base / "site-packages" / "packshot"
    for top in TOPS:
        (root / top).mkdir(parents=True)
    (root / "resources" / "samples").mkdir()
    if checkout:
        (root / "pyproject.toml").write_text("[project]\nname = 'packshot'\n")
    return root


def test_the_resources_are_found_beside_the_packages_in_this_layout():
    assert MANIFEST_PATH.is_file() and TEMPLATES_FILE.is_file()
    assert MANIFEST_PATH.parent == TEMPLATES_FILE.parent == app_api.install_root() / "resources"


@pytest.mark.parametrize("checkout", [True, False], ids=["checkout", "installed"])
def test_a_folder_of_the_installation_gets_no_project_in_either_layout(tmp_path, monkeypatch, checkout):
    root = _tree(tmp_path, checkout)
    monkeypatch.setattr(app_api, "install_root", lambda: root)
    assert root.resolve() in install_dirs()
    for folder in (root / "resources" / "samples", root / "trainer", root):
        problem = project_place_problem(folder)
        assert problem and "part of Packshot's installation" in problem, folder
    photos = tmp_path / "photos"
    photos.mkdir()
    assert project_place_problem(photos) is None


def test_a_folder_beside_an_installed_package_is_not_the_installation(tmp_path, monkeypatch):
    root = _tree(tmp_path, checkout=False)
    monkeypatch.setattr(app_api, "install_root", lambda: root)
    # site-packages' other folders are not Packshot's (sys.prefix covers a venv's own site-packages)
    assert (tmp_path / "site-packages").resolve() not in install_dirs()


@pytest.mark.slow
def test_the_app_smoke_script_drives_the_current_window(tmp_path):
    """packaging/smoke_app.py (what the installer's smoke test runs in the installed app) against this
    checkout's app: it broke silently once when the masker left AppSettings."""
    samples = tmp_path / "samples"
    shutil.copytree(ROOT / "resources" / "samples", samples, ignore=shutil.ignore_patterns("*.py", "*.md"))
    env = {k: v for k, v in os.environ.items() if not k.startswith(("XDG_", "PYTHONPATH"))}
    env.update(HOME=str(tmp_path / "home"), QT_QPA_PLATFORM="offscreen")
    done = subprocess.run([sys.executable, str(ROOT / "packaging" / "smoke_app.py"), str(samples),
                           str(tmp_path / "export")], cwd=tmp_path, env=env, capture_output=True, text=True,
                          timeout=600)
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-3000:]
    assert sorted(p.stem for p in (tmp_path / "export").glob("*.png")) == sorted(
        p.stem for p in samples.iterdir())
