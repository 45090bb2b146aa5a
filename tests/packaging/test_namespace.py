"""One import namespace (issue 22, item 7): the design card's folders stay at the top of the repository and
install as packshot.core, packshot.desktop, packshot.trainer and packshot.resources."""

from __future__ import annotations

import subprocess
import sys
import zipfile
from pathlib import Path

import pytest
import tomllib

ROOT = Path(__file__).resolve().parents[2]
FOLDERS = ("core", "desktop", "trainer", "resources")


def _setuptools_config() -> dict:
    return tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["tool"]["setuptools"]


def test_every_package_folder_is_listed_under_the_packshot_name():
    config = _setuptools_config()
    assert config["package-dir"] == {f"packshot.{top}": top for top in FOLDERS}
    on_disk = {"packshot." + ".".join(init.parent.relative_to(ROOT).parts)
               for top in FOLDERS for init in (ROOT / top).rglob("__init__.py")}
    data_folders = {"packshot.resources.samples"}  # photos the app opens on first start, shipped as data
    assert set(config["packages"]) == on_disk | data_folders


def test_the_code_imports_only_the_packshot_names():
    import ast

    generic = []
    for top in (*FOLDERS, "tests", "packaging"):
        for path in (ROOT / top).rglob("*.py"):
            for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
                names = ([a.name for a in node.names] if isinstance(node, ast.Import) else
                         [node.module] if isinstance(node, ast.ImportFrom) and node.level == 0 and node.module else [])
                generic += [f"{path.relative_to(ROOT)}: {n}" for n in names if n.split(".")[0] in FOLDERS]
    assert not generic, generic


def test_nothing_generic_is_importable_outside_the_checkout(tmp_path):
    code = ("import importlib.util, packshot.core, packshot.desktop, packshot.trainer, packshot.resources;"
            "print([n for n in ('core', 'desktop', 'trainer', 'resources') if importlib.util.find_spec(n)])")
    done = subprocess.run([sys.executable, "-c", code], cwd=tmp_path, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "[]"


@pytest.mark.slow
def test_the_wheel_holds_only_the_packshot_tree(tmp_path):
    done = subprocess.run([sys.executable, "-m", "pip", "wheel", "-q", "--no-deps", "--no-build-isolation",
                           "-w", str(tmp_path), str(ROOT)], capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-2000:]
    (wheel,) = tmp_path.glob("packshot-*.whl")
    tops = {name.split("/")[0] for name in zipfile.ZipFile(wheel).namelist()}
    assert tops == {"packshot", wheel.name.split("-py")[0] + ".dist-info"}
    names = set(zipfile.ZipFile(wheel).namelist())
    assert {"packshot/core/cli/main.py", "packshot/desktop/app.py", "packshot/trainer/cli.py",
            "packshot/resources/models.json", "packshot/resources/samples/red_mug.jpg"} <= names
    assert not [n for n in names if "/screenshots/" in n]  # documentation, not the app
