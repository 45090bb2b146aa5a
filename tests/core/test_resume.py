"""Kill the batch with SIGKILL at arbitrary moments; the next run resumes and ends like an uninterrupted run."""

from __future__ import annotations

import json
import random
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

from PIL import Image

from packshot.core.project import ProjectStore
from tests.core.batch_helpers import pixel_hash, tree_hashes, write_photos

REPO = Path(__file__).resolve().parents[2]
COUNT = 14


def _command(inp: Path, out: Path) -> list[str]:
    return [sys.executable, "-m", "packshot.core.cli.main", "batch", str(inp), "--out", str(out), "--no-progress",
            "--variants", "2", "--engine", "gradient", "--format", "png"]


def _outputs(out: Path) -> dict[str, str]:
    return {p.name: pixel_hash(p) for p in sorted(out.glob("*.png"))}


def _count(out: Path) -> int:
    return len(list(out.glob("*.png"))) if out.is_dir() else 0


def test_sigkill_then_resume_gives_the_same_outputs(tmp_path):
    inp = tmp_path / "in"
    write_photos(inp, COUNT, size=(480, 360))
    originals = tree_hashes(inp)
    reference = tmp_path / "reference"
    subprocess.run(_command(inp, reference), check=True, cwd=REPO, capture_output=True, timeout=300)

    out = tmp_path / "out"
    rng = random.Random(1234)
    kills = 0
    for _ in range(4):
        before = _count(out)
        proc = subprocess.Popen(_command(inp, out), cwd=REPO, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        deadline = time.time() + 120
        while _count(out) <= before and proc.poll() is None and time.time() < deadline:
            time.sleep(0.01)  # sleep-ok: simulated work / polling a subprocess
        time.sleep(rng.uniform(0.0, 0.25))  # sleep-ok: kill somewhere mid-photo: mask, render, encode, rename or store
        if proc.poll() is None:
            proc.send_signal(signal.SIGKILL)
            kills += 1
        proc.wait(60)
        if proc.returncode == 0:
            break
        assert proc.returncode == -signal.SIGKILL, proc.stderr.read().decode()
    assert kills >= 2, "the batch finished before it could be killed twice; make it bigger"

    final = subprocess.run(_command(inp, out), cwd=REPO, capture_output=True, text=True, timeout=300)
    assert final.returncode == 0, final.stdout + final.stderr
    assert "Failed: 0" in final.stdout

    assert _outputs(out) == _outputs(reference)  # same files, same pixels
    assert not [p for p in out.rglob("*") if p.name.startswith((".tmp-", ".packshot-tmp-"))]  # no partial files left
    for path in out.glob("*.png"):
        with Image.open(path) as im:
            im.load()  # every output decodes completely
    store = ProjectStore(out)
    assert all(p.status == "done" for p in store.photos()) and len(store.photos()) == COUNT
    assert len(store.all_results()) == COUNT  # a plain engine writes one file per photo whatever --variants says
    assert sqlite3.connect(store.path).execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    assert tree_hashes(inp) == originals  # originals never written
    # the resumed run made only what was missing
    resumed = [r for r in store.runs() if r["status"] == "finished"][-1]
    assert len(json.loads(resumed["summary_json"])["done"]) < COUNT


def test_rerun_with_other_generation_settings_reuses_the_stored_automatic_mask(tmp_path):
    """Changing the background (or prompt) redoes the photos but not their masks; a new photo does."""
    from packshot.core.jobs import BatchJob, JobSettings
    from tests.core.batch_helpers import no_models_runtime, write_photos

    class NoMasks:  # any call means the mask was computed again
        name = "no-masks"

        def compute(self, photo, cancel=None):
            raise AssertionError("the automatic mask was computed again")

    paths = write_photos(tmp_path / "in", 2)
    out = tmp_path / "out"
    assert BatchJob(tmp_path / "in", out, JobSettings(), runtime=no_models_runtime(tmp_path)).run().done
    mask_before = (out / ".packshot" / "masks" / "item_000.png").read_bytes()
    again = BatchJob(tmp_path / "in", out, JobSettings.from_flat(dict(engine="color", color=(10, 20, 30), redo=True)),
                     runtime=no_models_runtime(tmp_path))
    again.prepare()
    again.context._masker = NoMasks()
    summary = again.run()
    assert summary.done == ["item_000.jpg", "item_001.jpg"] and not summary.failed
    assert (out / ".packshot" / "masks" / "item_000.png").read_bytes() == mask_before
    write_photos(tmp_path / "in", 1, prefix="item_001_new")
    paths[1].write_bytes((tmp_path / "in" / "item_001_new_000.jpg").read_bytes())  # item_001 replaced
    (tmp_path / "in" / "item_001_new_000.jpg").unlink()
    third = BatchJob(tmp_path / "in", out, JobSettings.from_flat(dict(engine="color", color=(90, 20, 30), redo=True)),
                     runtime=no_models_runtime(tmp_path))
    third.prepare()
    third.context._masker = NoMasks()
    summary = third.run()
    assert summary.done == ["item_000.jpg"]  # its mask reused
    assert [name for name, _ in summary.failed] == ["item_001.jpg"]  # a new photo needs a new mask
