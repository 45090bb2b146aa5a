"""Installer smoke test: build, install from a clean state, use the installed app, uninstall.

    python packaging/smoke_test.py [--keep] [--index-arg=...]...

Steps, each timed: build the Linux installer (``build_installer.py``); run it with a fresh HOME and
install prefix; check that the installer prepared the first photo (``-m packshot.core.warmup``), the
menu entry (its ``Exec`` is the installed ``packshot-studio``) and both commands; check that the app
imports as ``packshot.*`` only and finds its resources inside the install, not in this checkout, that
``python -m packshot.desktop``, the training child (``-m packshot.trainer.run_process``) and
``accelerate launch -m packshot.core.cli.main batch`` start;
start the installed app offscreen (``smoke_app.py``: open ``resources/samples``, a white batch
through the app's queue, export, quit with status 0); uninstall and check that the app, its menu
entry and its commands are gone while the user's data folder stays. Prints a table for the README.

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
# The app's training child (``-m packshot.trainer.run_process``) started as the wizard starts it, on a folder
# with no photos and no weights: it must start and report its error event (not "No module named ...").
TRAINING_CHILD = """
import sys, tempfile, time
from pathlib import Path
from packshot.core.models.store import ModelStore
from packshot.trainer.process import TrainingProcess
from packshot.trainer.train import TrainConfig
tmp = Path(tempfile.mkdtemp())
proc = TrainingProcess(TrainConfig(data_dir=tmp / "photos", name="smoke"), ModelStore(tmp / "models")).start()
deadline = time.monotonic() + 300
while proc.running and time.monotonic() < deadline:
    time.sleep(0.2)
proc.poll()
out = (proc.folder / "output.txt").read_text()
assert proc.final and proc.final["event"] == "error" and "No module named" not in out, (proc.final, out[-2000:])
"""
# Run by the installed Python, from an empty folder: the names and files it imports come from the install.
LAYOUT_CHECK = """
import importlib.util, sys
from pathlib import Path
import packshot.core, packshot.resources
from packshot.core.models.manifest import MANIFEST_PATH
from packshot.core.templates import TEMPLATES_FILE
prefix = Path(sys.argv[1]).resolve()
samples = Path(packshot.resources.__path__[0]) / "samples"
for path in (Path(packshot.core.__file__), MANIFEST_PATH, TEMPLATES_FILE, samples):
    assert path.exists() and path.resolve().is_relative_to(prefix), f"{path} is not in {prefix}"
generic = [n for n in ("core", "desktop", "trainer", "resources") if importlib.util.find_spec(n)]
assert not generic, f"generic top-level names importable: {generic}"
print(MANIFEST_PATH)
"""
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
    installed = step("install (fresh HOME)", rows, lambda: run(
        ["sh", str(artefact), "--prefix", str(prefix), "--torch-index", args.torch_index, *index_args], env=env))
    prepared = ("Prepared edge matting", "Already prepared: edge matting")
    assert any(p in installed.stdout for p in prepared) and "not prepared ahead" not in installed.stdout, (
        f"the installer's warmup step (-m packshot.core.warmup) did not run:\n{installed.stdout[-2000:]}")
    entry = home / ".local" / "share" / "applications" / "packshot-studio.desktop"
    command, studio = home / ".local" / "bin" / "packshot", home / ".local" / "bin" / "packshot-studio"
    assert entry.is_file() and command.exists() and studio.exists(), "no menu entry or commands after the install"
    python = prefix / "env" / "bin" / "python"
    exec_line = next(line for line in entry.read_text().splitlines() if line.startswith("Exec="))
    assert exec_line == f"Exec={prefix / 'env' / 'bin' / 'packshot-studio'} %f", exec_line
    empty = work / "empty"
    empty.mkdir()
    step("packshot --help", rows, lambda: run([str(command), "--help"], env=env, cwd=empty))
    step("packshot-studio --help", rows, lambda: run([str(studio), "--help"], env=env, cwd=empty))
    step("packshot models list", rows, lambda: run([str(command), "models", "list"], env=env, cwd=empty))
    step("names and resources from the install", rows, lambda: run(
        [str(python), "-c", LAYOUT_CHECK, str(prefix)], env=env, cwd=empty))
    step("python -m packshot.desktop --help", rows, lambda: run(
        [str(python), "-m", "packshot.desktop", "--help"], env=env, cwd=empty))
    step("training child (-m packshot.trainer.run_process)", rows, lambda: run(
        [str(python), "-c", TRAINING_CHILD], env={**env, "HF_HUB_OFFLINE": "1"}, cwd=empty))
    export_dir = work / "export"
    samples = work / "samples"
    shutil.copytree(ROOT / "resources" / "samples", samples, ignore=shutil.ignore_patterns("*.py", "*.md"))
    used = step("app: open, white batch, export, quit", rows, lambda: run(
        [str(python), str(ROOT / "packaging" / "smoke_app.py"), str(samples), str(export_dir)], env=env,
        cwd=work))
    step("accelerate launch -m packshot.core.cli.main", rows, lambda: run(
        [str(prefix / "env" / "bin" / "accelerate"), "launch", "--cpu", "--num_processes", "1", "--num_machines", "1",
         "--mixed_precision", "no", "--dynamo_backend", "no", "-m", "packshot.core.cli.main", "batch", str(samples),
         "--out", str(work / "accelerate-out"), "--engine", "white", "--no-progress"], env=env, cwd=empty))
    installed_mb = sum(p.stat().st_size for p in prefix.rglob("*") if p.is_file() and not p.is_symlink()) / 1e6
    data = home / ".local" / "share" / "packshot"
    data.mkdir(parents=True, exist_ok=True)
    (data / "keep-me.txt").write_text("user data")
    step("uninstall", rows, lambda: run([str(prefix / "uninstall")], env=env))
    assert not prefix.exists() and not entry.exists() and not command.exists() and not studio.exists(), (
        "uninstall left the app behind")
    assert (data / "keep-me.txt").is_file(), "uninstall removed the user's data"
    size_mb = artefact.stat().st_size / 1e6
    warmup = next((line.strip() for line in installed.stdout.splitlines() if line.startswith(prepared)), "")
    print(f"\nInstaller smoke test ({sys.platform}): {used.stdout.strip()}; installer step 5: {warmup}")
    print(f"{'step':<50}{'seconds':>9}")
    for name, seconds in rows:
        print(f"{name:<50}{seconds:>9.1f}")
    print(f"{'installer size':<50}{size_mb:>8.1f} MB")
    print(f"{'installed size (torch build included)':<50}{installed_mb / 1000:>8.1f} GB")
    if not args.keep:
        shutil.rmtree(work, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
