"""Installer smoke test: build, install from a clean state, use the installed app, uninstall.

    python packaging/smoke_test.py [--keep] [--index-arg=...]...

Steps, each timed: build the Linux installer (``build_installer.py``); run it with a fresh HOME and
install prefix; check the menu entry and the ``packshot`` command; start the installed app
offscreen (``smoke_app.py``: open ``resources/samples``, a white batch through the app's queue,
export, quit with status 0); uninstall and check that the app, its menu entry and its commands are
gone while the user's data folder stays. Prints a table for the README.

On this project's machines PyPI is reached through pip's configuration, which uv does not read:
pass the same indexes with ``--index-arg`` (the defaults below are this machine's).
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
LOCAL_INDEXES = ["--index-arg=--extra-index-url=file:///opt/pypi-more/simple",
                 "--index-arg=--extra-index-url=file:///opt/pypi/simple", "--index-arg=--find-links=/opt/wheels"]


def step(name: str, rows: list, fn):
    start = time.perf_counter()
    result = fn()
    rows.append((name, time.perf_counter() - start))
    return result


def run(cmd: list, **kwargs) -> subprocess.CompletedProcess:
    done = subprocess.run(cmd, capture_output=True, text=True, **kwargs)
    if done.returncode != 0:
        raise SystemExit(f"FAILED: {' '.join(map(str, cmd[:3]))}...\n{done.stdout[-3000:]}\n{done.stderr[-3000:]}")
    return done


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--keep", action="store_true", help="keep the temporary folder")
    parser.add_argument("--torch-index", default="https://pypi.org/simple",
                        help="torch index for the install (default PyPI: this machine reaches no other)")
    args, index_args = parser.parse_known_args()
    index_args = index_args or [a for a in LOCAL_INDEXES if Path(a.split("=", 2)[-1].removeprefix("file://")).exists()]
    work = Path(tempfile.mkdtemp(prefix="packshot-smoke-"))
    home, prefix = work / "home", work / "app"
    home.mkdir()
    env = {k: v for k, v in os.environ.items() if not k.startswith(("XDG_", "VIRTUAL_ENV", "PYTHON"))}
    env.update(HOME=str(home), PACKSHOT_NO_TERMINAL="1", QT_QPA_PLATFORM="offscreen")
    rows: list = []
    dist = work / "dist"
    step("build the installer", rows, lambda: run([sys.executable, str(ROOT / "packaging" / "build_installer.py"),
                                                   "--out", str(dist), "--work", str(work / "build")]))
    artefact = next(dist.glob("Packshot-Setup-*.run"))
    step("install (fresh HOME)", rows, lambda: run(["sh", str(artefact), "--prefix", str(prefix),
                                                    "--torch-index", args.torch_index, *index_args], env=env))
    entry = home / ".local" / "share" / "applications" / "packshot-studio.desktop"
    command = home / ".local" / "bin" / "packshot"
    assert entry.is_file() and command.exists(), "no menu entry or command after the install"
    step("packshot --help", rows, lambda: run([str(command), "--help"], env=env))
    python = prefix / "env" / "bin" / "python"
    export_dir = work / "export"
    samples = work / "samples"
    shutil.copytree(ROOT / "resources" / "samples", samples, ignore=shutil.ignore_patterns("*.py", "*.md"))
    used = step("app: open, white batch, export, quit", rows, lambda: run(
        [str(python), str(ROOT / "packaging" / "smoke_app.py"), str(samples), str(export_dir)], env=env,
        cwd=work))
    installed_mb = sum(p.stat().st_size for p in prefix.rglob("*") if p.is_file() and not p.is_symlink()) / 1e6
    data = home / ".local" / "share" / "packshot"
    data.mkdir(parents=True, exist_ok=True)
    (data / "keep-me.txt").write_text("user data")
    step("uninstall", rows, lambda: run([str(prefix / "uninstall")], env=env))
    assert not prefix.exists() and not entry.exists() and not command.exists(), "uninstall left the app behind"
    assert (data / "keep-me.txt").is_file(), "uninstall removed the user's data"
    size_mb = artefact.stat().st_size / 1e6
    print(f"\nInstaller smoke test ({sys.platform}): {used.stdout.strip()}")
    print(f"{'step':<40}{'seconds':>9}")
    for name, seconds in rows:
        print(f"{name:<40}{seconds:>9.1f}")
    print(f"{'installer size':<40}{size_mb:>8.1f} MB")
    print(f"{'installed size (torch build included)':<40}{installed_mb / 1000:>8.1f} GB")
    if not args.keep:
        shutil.rmtree(work, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
