"""The generation queue with plain jobs: per-item/overall progress, cancel current/all, pause."""

from __future__ import annotations

import threading
import time

from packshot.core.progress import Progress
from packshot.desktop.queue import GenerationQueue


class StepJob:
    """Reports ``steps`` progress units; each unit waits for ``gate`` (if given) or sleeps."""

    def __init__(self, label: str, steps: int = 3, delay: float = 0.0, gate: threading.Event | None = None):
        self.label, self.steps, self.delay, self.gate = label, steps, delay, gate
        self.done_steps = 0

    def run(self, progress, cancel):
        for i in range(self.steps):
            if self.gate is not None:
                self.gate.wait(5)
            time.sleep(self.delay)  # sleep-ok: simulated work / polling a subprocess
            self.done_steps = i + 1
            progress(Progress("step", i + 1, self.steps))
        return self.label.upper()


def test_runs_jobs_in_order_with_progress(qtbot):
    queue = GenerationQueue()
    finished, progress = [], []
    queue.item_finished.connect(lambda i, r: finished.append((i, r)))
    queue.item_progress.connect(lambda i, p: progress.append((i, p.done)))
    overall = []
    queue.overall_progress.connect(lambda d, t: overall.append((d, t)))
    try:
        queue.set_paused(True)  # both queued before either runs: one batch of two
        a = queue.submit(StepJob("a"))
        b = queue.submit(StepJob("b"))
        with qtbot.waitSignal(queue.idle, timeout=5000):
            queue.set_paused(False)
        qtbot.waitUntil(lambda: len(finished) == 2, timeout=5000)
        assert finished == [(a, "A"), (b, "B")]
        assert [d for i, d in progress if i == a] == [1, 2, 3]
        assert overall[-1] == (2, 2)
    finally:
        queue.shutdown()


def test_cancel_current_and_all(qtbot):
    queue = GenerationQueue()
    cancelled, finished = [], []
    queue.item_cancelled.connect(cancelled.append)
    queue.item_finished.connect(lambda i, _r: finished.append(i))
    try:
        first = StepJob("first", steps=50, delay=0.05)
        ids = [queue.submit(first), queue.submit(StepJob("x")), queue.submit(StepJob("y"))]
        qtbot.waitUntil(lambda: first.done_steps >= 1, timeout=5000)
        queue.cancel_current()
        qtbot.waitUntil(lambda: ids[0] in cancelled, timeout=5000)
        assert first.done_steps < 50  # stopped at a step boundary, not run to the end
        qtbot.waitUntil(lambda: len(finished) == 2, timeout=5000)
        slow = [StepJob(f"s{i}", steps=20, delay=0.05) for i in range(3)]
        more = [queue.submit(j) for j in slow]
        qtbot.waitUntil(lambda: slow[0].done_steps >= 1, timeout=5000)
        queue.cancel_all()
        qtbot.waitUntil(lambda: set(more) <= set(cancelled), timeout=5000)
        assert slow[1].done_steps == slow[2].done_steps == 0
        assert not queue.busy
    finally:
        queue.shutdown()


def test_pause_holds_between_steps_and_resume_finishes(qtbot):
    queue = GenerationQueue()
    finished = []
    queue.item_finished.connect(lambda i, _r: finished.append(i))
    try:
        job = StepJob("p", steps=30, delay=0.01)
        queue.submit(job)
        qtbot.waitUntil(lambda: job.done_steps >= 1, timeout=5000)
        queue.set_paused(True)
        time.sleep(0.1)  # sleep-ok: simulated work / polling a subprocess
        held = job.done_steps
        time.sleep(0.3)  # sleep-ok: simulated work / polling a subprocess
        assert job.done_steps == held < 30
        assert queue.paused
        queue.set_paused(False)
        qtbot.waitUntil(lambda: bool(finished), timeout=5000)
        assert job.done_steps == 30
    finally:
        queue.shutdown()


def test_failed_job_is_reported_and_queue_goes_on(qtbot):
    class Boom:
        label = "boom"

        def run(self, progress, cancel):
            raise ValueError("bad photo")

    queue = GenerationQueue()
    failed, finished = [], []
    queue.item_failed.connect(lambda i, exc: failed.append(str(exc)))
    queue.item_finished.connect(lambda i, r: finished.append(r))
    try:
        queue.submit(Boom())
        queue.submit(StepJob("ok", steps=1))
        qtbot.waitUntil(lambda: bool(finished), timeout=5000)
        assert failed == ["bad photo"] and finished == ["OK"]
    finally:
        queue.shutdown()


def test_cancel_all_counts_cancelled_items_apart_from_done(qtbot):
    from packshot.desktop.queue_panel import QueuePanel

    queue = GenerationQueue()
    panel = QueuePanel(queue)
    qtbot.addWidget(panel)
    try:
        quick, slow = StepJob("quick", steps=1), [StepJob(f"s{i}", steps=50, delay=0.05) for i in range(4)]
        queue.set_paused(True)  # all five in one batch
        ids = [queue.submit(quick)] + [queue.submit(j) for j in slow]
        queue.set_paused(False)
        qtbot.waitUntil(lambda: slow[0].done_steps >= 1, timeout=5000)
        panel.cancel_all_btn.click()
        qtbot.waitUntil(lambda: not queue.busy and queue.counts().finished == 5, timeout=5000)
        assert [panel.state_of(i) for i in ids] == ["done"] + ["cancelled"] * 4
        assert panel.overall.text() == "1 of 5 jobs done · 4 cancelled"
        assert (queue.counts().done, queue.counts().cancelled) == (1, 4)
    finally:
        queue.shutdown()


def test_a_job_that_returned_is_done_even_if_cancel_came_after_its_last_step(qtbot):
    from packshot.desktop.queue_panel import QueuePanel

    class SavesAfterLastStep:
        label = "saves"

        def __init__(self):
            self.stepped, self.release = threading.Event(), threading.Event()

        def run(self, progress, cancel):
            progress(Progress("step", 1, 1))
            self.stepped.set()
            self.release.wait(5)  # writing its results: no more steps, so no more cancel checks
            return "saved"

    queue = GenerationQueue()
    panel = QueuePanel(queue)
    qtbot.addWidget(panel)
    try:
        job = SavesAfterLastStep()
        item = queue.submit(job)
        assert job.stepped.wait(5)
        queue.cancel_current()
        job.release.set()
        qtbot.waitUntil(lambda: panel.state_of(item) in ("done", "cancelled"), timeout=5000)
        assert panel.state_of(item) == "done" and panel.overall.text() == "1 of 1 job done"
    finally:
        queue.shutdown()


def test_photo_job_saved_when_cancel_arrives_is_done(app_settings, photos_dir, tmp_path):
    """The queue raises a pending cancel at each progress report; PhotoJob's last report comes after
    its results are saved and recorded, so that one must not turn the finished photo into "cancelled"."""
    from packshot.core.progress import CancelToken
    from packshot.desktop.gui_jobs import PhotoRunJob
    from packshot.desktop.job_settings import for_run
    from packshot.desktop.workspace import Workspace
    from tests.desktop.conftest import job_for_test

    out = tmp_path / "out"
    photo = photos_dir / "a_mug.png"
    workspace = Workspace(app_settings.models_path)
    settings = for_run(job_for_test(engine="white"), app_settings, workspace)
    job = PhotoRunJob(photos_dir, out, photo, settings, runtime=workspace.runtime)
    token = CancelToken()

    def report(p: Progress) -> None:  # what the queue does, with the cancel landing on the last report
        if p.stage == "photo" and p.total and p.done >= p.total:
            token.cancel()
        token.raise_if_cancelled()

    outcome = job.run(report, token)
    assert outcome.status == "done" and all(p.is_file() for p in outcome.outputs)
    assert workspace.project_store(out).photo(photo).status == "done"
