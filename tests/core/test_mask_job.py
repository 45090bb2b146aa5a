"""packshot.core.jobs.MaskJob: the one masking loop (packshot masks, the batch, the app) and the project state
every face honours (reviewed masks kept, rejected photos skipped)."""

from __future__ import annotations

import numpy as np
from PIL import Image

from packshot.core.jobs import BatchJob, JobContext, JobSettings, load_mask_file
from packshot.core.jobs.mask_job import MaskJob
from packshot.core.progress import CancelToken
from packshot.core.project import ProjectStore
from tests.core.batch_helpers import ScoredDiscMasker, no_models_runtime, run_batch, write_photos

BLUE = (40, 90, 200)  # item_001


def _context(tmp_path, masker=None, **flat) -> JobContext:
    context = JobContext(JobSettings.from_flat({"engine": "white", **flat}), runtime=no_models_runtime(tmp_path))
    context._masker = masker or ScoredDiscMasker({BLUE: 0.12})
    return context


def _job(tmp_path, context, **kw) -> tuple[MaskJob, ProjectStore]:
    photos = sorted((tmp_path / "in").glob("*.jpg"))
    store = ProjectStore(tmp_path / "out")
    store.add_photos(photos)
    return MaskJob(photos, context, project=store, **kw), store


def test_masks_are_recorded_then_reused_and_reviewed_ones_never_recomputed(tmp_path):
    write_photos(tmp_path / "in", 3)
    context = _context(tmp_path)
    job, store = _job(tmp_path, context)
    summary = job.run()
    assert summary.computed == ["item_000.jpg", "item_001.jpg", "item_002.jpg"] and not summary.failed
    assert [name for name, _ in summary.doubtful] == ["item_001.jpg"]
    records = {r.name: r for r in store.photos()}
    assert {r.mask_state for r in records.values()} == {"auto"}
    assert "0.12 is below" in records["item_001.jpg"].mask_doubt and records["item_000.jpg"].mask_doubt is None
    assert all(r.mask_origin["models"] == context.auto_mask_models() for r in records.values())
    assert context.masker.calls == 3
    # again: same photos, same mask models -> nothing computed
    assert job.run().kept == ["item_000.jpg", "item_001.jpg", "item_002.jpg"] and context.masker.calls == 3
    # a reviewed mask stays even with redo; the others are computed again
    reviewed = records["item_000.jpg"]
    store.set_mask(reviewed.id, "reviewed", reviewed.mask_path, source="file")
    before = reviewed.mask_path.read_bytes()
    again, _ = _job(tmp_path, context, redo=True)
    summary = again.run()
    assert summary.kept == ["item_000.jpg"] and summary.computed == ["item_001.jpg", "item_002.jpg"]
    assert reviewed.mask_path.read_bytes() == before and store.photo(reviewed.id).mask_state == "reviewed"


def test_rejected_photos_are_skipped_and_a_bad_photo_fails_alone(tmp_path):
    write_photos(tmp_path / "in", 3)
    (tmp_path / "in" / "item_001.jpg").write_bytes(b"not a jpeg")
    job, store = _job(tmp_path, _context(tmp_path))
    store.set_rejected(store.photo(tmp_path / "in" / "item_002.jpg").id, True)
    seen = []
    summary = job.run(on_photo=seen.append)
    assert summary.computed == ["item_000.jpg"] and summary.rejected == ["item_002.jpg"]
    [(name, reason)] = summary.failed
    assert name == "item_001.jpg" and reason.startswith("item_001.jpg: ")  # named, one line
    assert [o.status for o in seen] == ["computed", "failed", "rejected"]
    assert store.photo(tmp_path / "in" / "item_001.jpg").status == "failed"
    assert store.photo(tmp_path / "in" / "item_002.jpg").mask_path is None


def test_cancel_keeps_the_finished_masks(tmp_path):
    write_photos(tmp_path / "in", 3)
    job, store = _job(tmp_path, _context(tmp_path))
    cancel = CancelToken()
    summary = job.run(on_photo=lambda outcome: cancel.cancel(), cancel=cancel)
    assert summary.cancelled and summary.computed == ["item_000.jpg"]
    assert [r.mask_state for r in store.photos()] == ["auto", None, None]


def test_the_batch_and_packshot_masks_mask_through_mask_job(tmp_path, monkeypatch):
    """Both faces call MaskJob.mask_photo once per photo, and give the same masks for the same photos."""
    from packshot.core.cli.main import main

    write_photos(tmp_path / "in", 2)
    calls = []
    original = MaskJob.mask_photo

    def counted(self, path, **kw):
        calls.append(path.name)
        return original(self, path, **kw)

    monkeypatch.setattr(MaskJob, "mask_photo", counted)
    flags = ["--masker", "classic", "--prior", "classic", "--models-dir", str(tmp_path / "none")]
    assert main(["masks", str(tmp_path / "in"), "--out", str(tmp_path / "masks"), *flags]) == 0
    assert calls == ["item_000.jpg", "item_001.jpg"]
    assert run_batch([str(tmp_path / "in"), "--out", str(tmp_path / "out"), "--engine", "white",
                      "--no-progress", *flags]) == 0
    assert calls == ["item_000.jpg", "item_001.jpg"] * 2
    store = ProjectStore(tmp_path / "out")
    for record in store.photos():
        exported = load_mask_file(tmp_path / "masks" / f"{record.path.stem}.png", (160, 120))
        stored = load_mask_file(record.mask_path, (160, 120))
        assert np.array_equal(exported.alpha, stored.alpha)  # one rule, one result


def test_packshot_batch_renders_no_rejected_photo_and_says_so(tmp_path, capsys):
    write_photos(tmp_path / "in", 4)
    store = ProjectStore(tmp_path / "out")  # the app's project of this folder: two photos rejected there
    ids = store.add_photos(sorted((tmp_path / "in").glob("*.jpg")))
    store.set_rejected(ids[1], True)
    store.set_rejected(ids[3], True)
    argv = [str(tmp_path / "in"), "--out", str(tmp_path / "out"), "--engine", "white", "--no-progress",
            "--masker", "classic", "--prior", "classic", "--models-dir", str(tmp_path / "none")]
    assert run_batch(argv) == 0
    printed = capsys.readouterr().out
    assert "2 photos skipped: rejected in review (item_001.jpg, item_003.jpg)" in printed
    assert "[2/2]" in printed and "[3/" not in printed  # the counter counts only what it makes
    outputs = sorted(p.name for p in (tmp_path / "out").iterdir() if p.is_file())
    assert outputs == ["item_000.png", "item_002.png"]
    assert [r.status for r in store.photos()] == ["done", "pending", "done", "pending"]
    assert run_batch(argv + ["--dry-run"]) == 0
    assert "item_001.jpg [rejected in review, skip]" in capsys.readouterr().out
    # taken back: the next run makes it
    store.set_rejected(ids[1], False)
    assert run_batch(argv) == 0
    assert "1 photo skipped: rejected in review (item_003.jpg)" in capsys.readouterr().out
    assert (tmp_path / "out" / "item_001.png").is_file()


def test_a_batch_job_leaves_rejected_photos_out_of_its_share(tmp_path):
    write_photos(tmp_path / "in", 3)
    job = BatchJob(tmp_path / "in", tmp_path / "out", JobSettings.from_flat({"engine": "white"}),
                   runtime=no_models_runtime(tmp_path))
    job.prepare()
    job.context._masker = ScoredDiscMasker({})
    job.project.set_rejected(job.project.photo(tmp_path / "in" / "item_000.jpg").id, True)
    assert [p.name for p in job.my_photos()] == ["item_001.jpg", "item_002.jpg"]
    summary = job.run()
    assert summary.rejected == ["item_000.jpg"] and summary.done == ["item_001.jpg", "item_002.jpg"]
    assert job.context.masker.calls == 2  # a rejected photo is not even masked
    with Image.open(tmp_path / "out" / "item_001.png") as im:
        assert im.size == (160, 120)
