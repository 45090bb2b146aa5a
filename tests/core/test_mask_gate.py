"""The batch's mask quality gate: doubtful masks are named in the summary, the store and review.csv."""

from __future__ import annotations

import csv

import numpy as np
import pytest
from PIL import Image

from packshot.core.jobs import BatchJob, DoubtfulMasks, JobSettings, MaskSettings
from packshot.core.masking.result import MaskResult
from packshot.core.project import ProjectStore
from packshot.core.quality.mask_gate import mask_doubt
from tests.core.batch_helpers import ScoredDiscMasker, no_models_runtime, write_photos

RED, BLUE, GREEN = (200, 40, 40), (40, 90, 200), (30, 140, 60)  # item_000, item_001, item_002


def _batch(tmp_path, policy: str = "continue", masker=None, **flat) -> BatchJob:
    settings = JobSettings.from_flat({"engine": "white", "doubtful_masks": policy, **flat})
    job = BatchJob(tmp_path / "in", tmp_path / "out", settings, runtime=no_models_runtime(tmp_path))
    job.prepare()
    job.context._masker = masker or ScoredDiscMasker({BLUE: 0.12})
    return job


def test_gate_reasons():
    mask = np.zeros((8, 8), bool)
    mask[2:6, 2:6] = True
    alpha = mask.astype(np.float32)
    assert mask_doubt(MaskResult(mask, alpha, 0.9, "classic"), 0.5) is None
    assert "0.30 is below 0.50" in mask_doubt(MaskResult(mask, alpha, 0.3, "classic"), 0.5)
    sam = MaskResult(mask, alpha, 0.8, "sam-vit_b", {"prior": "isnet", "prior_agreement": 0.41})
    assert "SAM and the isnet prior disagree (IoU 0.41)" == mask_doubt(sam, 0.5)
    own = MaskResult(mask, alpha, 0.9, "classic", doubt="no studio backdrop found (a lifestyle shot?)")
    assert mask_doubt(own, 0.5) == "no studio backdrop found (a lifestyle shot?)"


def test_continue_renders_and_names_the_doubtful_mask_everywhere(tmp_path, capsys):
    write_photos(tmp_path / "in", 3)
    job = _batch(tmp_path)
    lines = []
    summary = job.run(on_photo=lambda o: lines.append((o.path.name, o.status, o.message)))
    assert summary.done == ["item_000.jpg", "item_001.jpg", "item_002.jpg"] and not summary.held
    assert summary.doubtful == [("item_001.jpg", "score 0.12 is below 0.50")]
    assert ("item_001.jpg", "done", "mask doubtful: score 0.12 is below 0.50") in lines  # the per-photo line
    store = ProjectStore(tmp_path / "out")
    doubts = {p.name: p.mask_doubt for p in store.photos()}
    assert doubts == {"item_000.jpg": None, "item_001.jpg": "score 0.12 is below 0.50", "item_002.jpg": None}
    assert store.runs()[-1]["summary_json"] and "item_001.jpg" in store.runs()[-1]["summary_json"]

    from packshot.core.cli.batch_cmd import _print_summary

    _print_summary(summary, tmp_path / "out", tmp_path / "in", "continue")
    printed = capsys.readouterr().out
    assert "1 mask doubtful (--doubtful-masks continue)" in printed and "packshot masks" in printed
    assert "item_001.jpg: score 0.12 is below 0.50" in printed


def test_skip_holds_the_photo_and_a_later_run_takes_it_up(tmp_path):
    write_photos(tmp_path / "in", 3)
    summary = _batch(tmp_path, "skip").run()
    assert summary.done == ["item_000.jpg", "item_002.jpg"] and summary.held == ["item_001.jpg"]
    assert summary.doubtful == [("item_001.jpg", "score 0.12 is below 0.50")] and summary.stopped is None
    assert sorted(p.name for p in (tmp_path / "out").glob("*.png")) == ["item_000.png", "item_002.png"]
    # Running again without a review holds it again: the stored mask keeps its doubt (no recomputing).
    masker = ScoredDiscMasker({})
    summary = _batch(tmp_path, "skip", masker=masker).run()
    assert summary.held == ["item_001.jpg"] and masker.calls == 0
    # Reviewed (as the app does) -> the next run does the held photo only.
    again = _batch(tmp_path, "skip", masker=masker)
    again.project.set_mask(again.project.photo(tmp_path / "in" / "item_001.jpg").id, "reviewed",
                           tmp_path / "out" / ".packshot" / "masks" / "item_001.png")
    summary = again.run()
    assert summary.done == ["item_001.jpg"] and summary.skipped == ["item_000.jpg", "item_002.jpg"]
    assert not summary.doubtful


def test_stop_ends_the_batch_at_the_first_doubtful_mask(tmp_path):
    write_photos(tmp_path / "in", 3)
    job = _batch(tmp_path, "stop")
    summary = job.run()
    assert summary.stopped == "item_001.jpg" and not summary.ok
    assert summary.done == ["item_000.jpg"] and summary.held == ["item_001.jpg"]
    assert not (tmp_path / "out" / "item_002.png").exists()
    assert ProjectStore(tmp_path / "out").runs()[-1]["status"] == "stopped"


def test_plain_engines_and_the_masker_own_reason_lifestyle_shot(tmp_path):
    write_photos(tmp_path / "in", 3)
    masker = ScoredDiscMasker({}, doubts={GREEN: "no studio backdrop found: a lifestyle shot (busy background)"})
    summary = _batch(tmp_path, masker=masker, engine="auto", color=(10, 20, 30)).run()  # --color alone: color
    assert summary.engine == "color"
    assert summary.doubtful == [("item_002.jpg", "no studio backdrop found: a lifestyle shot (busy background)")]


def test_cli_reports_doubtful_masks_by_name(tmp_path, capsys, monkeypatch):
    """End to end through `packshot batch`: the real classic masker on a real lifestyle photo (scikit-image's
    astronaut: no studio backdrop) scores low and is named in the summary; studio shots pass."""
    from skimage import data

    from tests.core.batch_helpers import run_batch

    write_photos(tmp_path / "in", 2)
    Image.fromarray(data.astronaut()[::3, ::3]).save(tmp_path / "in" / "astronaut.png")
    code = run_batch([str(tmp_path / "in"), "--out", str(tmp_path / "out"), "--engine", "white", "--no-progress",
                      "--models-dir", str(tmp_path / "no-models"), "--masker", "classic", "--prior", "classic"])
    printed = capsys.readouterr().out
    assert code == 0, printed
    assert "1 mask doubtful" in printed and "  - astronaut.png: " in printed  # the reason follows
    assert "astronaut.png: done (mask doubtful: " in printed  # the per-photo line
    assert "  - astronaut.png: no studio backdrop" in printed  # and it says why: not a studio shot
    code = run_batch([str(tmp_path / "in"), "--out", str(tmp_path / "out2"), "--engine", "white",
                      "--no-progress", "--models-dir", str(tmp_path / "no-models"), "--masker", "classic",
                      "--prior", "classic", "--doubtful-masks", "stop"])
    printed = capsys.readouterr().out
    assert code == 1 and "Stopped at astronaut.png" in printed


def test_review_csv_carries_the_doubt(tmp_path, capsys):
    from skimage import data

    from packshot.core.cli.main import main

    write_photos(tmp_path / "in", 1)
    Image.fromarray(data.astronaut()[::3, ::3]).save(tmp_path / "in" / "astronaut.png")
    assert main(["masks", str(tmp_path / "in"), "--out", str(tmp_path / "masks"), "--masker", "classic",
                 "--prior", "classic", "--models-dir", str(tmp_path / "none")]) == 0
    with open(tmp_path / "masks" / "review.csv", newline="") as handle:
        rows = list(csv.DictReader(handle))
    assert [r["photo"] for r in rows] == ["astronaut.png", "item_000.jpg"]
    assert rows[0]["doubt"] and rows[1]["doubt"] == ""
    assert "1 doubtful" in capsys.readouterr().out


@pytest.mark.parametrize("policy", [p.value for p in DoubtfulMasks])
def test_policy_is_a_cli_choice_and_not_in_the_job_key(policy):
    assert JobSettings(masks=MaskSettings(doubtful_masks=policy)).job_key("white") == JobSettings().job_key("white")
