"""Events from a training process to whoever watches it: one JSON object per line, appended and flushed.

A file, not a pipe, so the app can close and reopen the wizard, and a reader never blocks the trainer.
Readers take complete lines only (a line being written is read on the next poll).
"""

from __future__ import annotations

import json
import time
from pathlib import Path


class EventWriter:
    def __init__(self, path: Path) -> None:
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._handle = open(self.path, "a", encoding="utf-8")

    def __call__(self, event: dict) -> None:
        self._handle.write(json.dumps({"time": time.time(), **event}, default=str) + "\n")
        self._handle.flush()

    def close(self) -> None:
        self._handle.close()


class EventReader:
    """Incremental reader: each ``read()`` returns the events appended since the last one."""

    def __init__(self, path: Path) -> None:
        self.path, self.offset = Path(path), 0

    def read(self) -> list[dict]:
        if not self.path.is_file():
            return []
        with open(self.path, "rb") as handle:
            handle.seek(self.offset)
            chunk = handle.read()
        end = chunk.rfind(b"\n") + 1
        self.offset += end
        events = []
        for line in chunk[:end].splitlines():
            try:
                events.append(json.loads(line))
            except ValueError:
                continue  # a torn line from a killed writer: skip it, keep reading
        return events
