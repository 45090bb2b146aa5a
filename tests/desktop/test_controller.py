"""The app's Qt-free job controller: it builds core's jobs, tracks them, and each job's own completion
handling runs when it finishes."""

from __future__ import annotations

import ast
from pathlib import Path

import packshot.desktop.controller as controller_module
from packshot.core.jobs import JobSettings
from packshot.desktop.controller import JobController, RunPlan, batch_message, next_seed
from packshot.desktop.export_actions import ExportJob
from packshot.desktop.gui_jobs import BatchRunJob, PhotoRunJob


class FakeWorkspace:
    runtime = object()

    def project_store(self, _out_dir):
        return None


def make(tmp_path: Path) -> tuple[JobController, list]:
    queued: list = []

    def submit(job) -> int:
        queued.append(job)
        return len(queued)

    return JobController(submit, FakeWorkspace()), queued


def test_the_controller_imports_no_qt():
    tree = ast.parse(Path(controller_module.__file__).read_text(encoding="utf-8"))
    names = {a.name for n in ast.walk(tree) if isinstance(n, ast.Import) for a in n.names}
    names |= {n.module or "" for n in ast.walk(tree) if isinstance(n, ast.ImportFrom)}
    assert not any(name.startswith("PySide6") for name in names), names


def test_each_job_carries_its_completion_handling(tmp_path):
    jobs, queued = make(tmp_path)
    plan = RunPlan(tmp_path / "in", tmp_path / "out", JobSettings())
    photo = tmp_path / "in" / "a.png"
    seen = []
    batch = jobs.run_batch(plan, on_done=seen.append)
    tried = jobs.try_photo(plan, photo)
    export = jobs.export(tmp_path / "out", tmp_path / "exp", "original", "png", 95, "cpu", on_done=seen.append)
    assert isinstance(queued[0], BatchRunJob) and isinstance(queued[1], PhotoRunJob)
    assert isinstance(queued[2], ExportJob)
    assert jobs.tracking() == 3
    assert jobs.finished(batch, "summary") is None and seen == ["summary"]
    assert jobs.finished(tried, "outcome") == photo and seen == ["summary"]  # the window refreshes the photo
    assert jobs.ended(export) is None and seen == ["summary"]  # a failed export reports nothing done
    assert jobs.tracking() == 0
    assert jobs.finished(batch, "again") is None and seen == ["summary"]  # once only


def test_new_seeds_change_only_the_generation_asked(tmp_path):
    jobs, queued = make(tmp_path)
    plan = RunPlan(tmp_path / "in", tmp_path / "out", JobSettings.from_flat({"variants": 2, "seed": 7}))
    jobs.new_seeds(plan, tmp_path / "in" / "a.png", 12, seed=12)
    (job,) = queued
    assert job.seeds == [12, 13] and job.settings.generation.seed == 12
    assert next_seed([3, 9, 4], 1) == 10 and next_seed([], 5) == 5


def test_batch_message_names_what_happened():
    class Summary:
        done, skipped, failed, engine = [1, 2], [3], [("x", "why")], "white"

    assert batch_message(Summary()) == "Batch finished: 2 made, 1 already done, 1 failed (white)."
