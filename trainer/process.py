"""Starting and watching a training process from another process (the desktop app); no Qt here.

``TrainingProcess.start`` writes a job file and launches ``python -m packshot.trainer.run_process`` with
``subprocess``; ``poll()`` returns the new events and, once the process has exited, ``outcome``
says how it ended, including a process that died without a word (killed, crashed, out of memory).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Optional

from packshot.trainer.events import EventReader
from packshot.trainer.run_process import store_to_json

FINAL_EVENTS = ("done", "cancelled", "error")


@dataclass
class Outcome:
    kind: str  # "done", "cancelled", "error" or "crashed"
    message: str
    event: Optional[dict] = None


def jobs_dir(store) -> Path:
    return Path(store.models_dir or store.download_dir) / ".training" / ".jobs"


class TrainingProcess:
    def __init__(self, config, store, *, restart: bool = False, estimate_only: bool = False,
                 python: Optional[str] = None) -> None:
        stamp = time.strftime("%Y%m%d-%H%M%S") + f"-{os.getpid()}-{time.monotonic_ns() % 10**6}"
        self.folder = jobs_dir(store) / f"{config.name}-{'estimate' if estimate_only else 'train'}-{stamp}"
        self.folder.mkdir(parents=True, exist_ok=True)
        self.events_path, self.cancel_path = self.folder / "events.jsonl", self.folder / "cancel"
        self.log_path = self.folder / "train.log"
        self.job = {"config": config.to_json(), "store": store_to_json(store), "restart": restart,
                    "estimate_only": estimate_only, "events": str(self.events_path),
                    "cancel_file": str(self.cancel_path), "log": str(self.log_path)}
        self.python = python or sys.executable
        self.reader = EventReader(self.events_path)
        self.popen: Optional[subprocess.Popen] = None
        self.final: Optional[dict] = None

    def start(self) -> TrainingProcess:
        job_file = self.folder / "job.json"
        job_file.write_text(json.dumps(self.job, indent=2), encoding="utf-8")
        env = dict(os.environ)
        # The same Python finds packshot where this process found it (site-packages or the editable install);
        # cwd is the job's folder, so no package folder lands on the child's path as a generic "core"/"trainer".
        with open(self.folder / "output.txt", "wb") as out:  # library chatter and a crash's last words
            self.popen = subprocess.Popen([self.python, "-m", "packshot.trainer.run_process", str(job_file)],
                                          cwd=self.folder, env=env, stdout=out, stderr=subprocess.STDOUT,
                                          stdin=subprocess.DEVNULL)
        return self

    def poll(self) -> list[dict]:
        """Events written since the last poll (the final one is kept in ``final``)."""
        events = self.reader.read()
        for event in events:
            if event.get("event") in FINAL_EVENTS:
                self.final = event
        return events

    @property
    def running(self) -> bool:
        return self.popen is not None and self.popen.poll() is None

    def cancel(self) -> None:
        """Ask the run to stop after the current step; it saves a checkpoint first."""
        self.cancel_path.touch()

    def kill(self) -> None:
        if self.running:
            self.popen.kill()

    def outcome(self) -> Optional[Outcome]:
        """How the process ended, or None while it runs."""
        if self.running:
            return None
        self.poll()  # the last lines written before it exited
        if self.final is not None:
            kind = self.final["event"]
            return Outcome(kind, self.final.get("message") or self.final.get("text") or "", self.final)
        code = self.popen.returncode if self.popen is not None else None
        tail = _tail(self.folder / "output.txt")
        return Outcome("crashed", f"The training process stopped unexpectedly (exit code {code}). The app is fine; "
                                  f"the last checkpoint is kept, so running it again resumes. Details: "
                                  f"{self.log_path} and {self.folder / 'output.txt'}." + (f"\nLast output: {tail}"
                                                                                        if tail else ""))


def _tail(path: Path, chars: int = 300) -> str:
    try:
        return path.read_text(encoding="utf-8", errors="replace")[-chars:].strip()
    except OSError:
        return ""
