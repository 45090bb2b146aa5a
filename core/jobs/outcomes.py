"""What jobs report: one photo's outcome, a dry-run plan, a batch's summary."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Optional

from packshot.core.naming import display_name
from packshot.core.project import NewResult


@dataclass
class PhotoOutcome:
    """What happened to one photo."""

    path: Path
    status: str  # done | skipped | doubtful (held for review) | failed | cancelled
    outputs: list[Path] = field(default_factory=list)
    message: str = ""
    error_kind: Optional[str] = None
    notes: list[str] = field(default_factory=list)
    results: list[NewResult] = field(default_factory=list)
    seconds: float = 0.0
    error: Optional[BaseException] = field(default=None, repr=False, compare=False)  # the exception itself
    mask_doubt: Optional[str] = None  # why the mask needs a look (None: it passed the gate)


@dataclass
class PhotoPlan:
    """What a photo's job would do (``--dry-run``, the GUI's prompt preview)."""

    path: Path
    outputs: list[Path]
    prompt: str
    negative: str
    done: bool


@dataclass
class BatchSummary:
    done: list[str] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)
    failed: list[tuple[str, str]] = field(default_factory=list)  # (file name, reason)
    doubtful: list[tuple[str, str]] = field(default_factory=list)  # (file name, why the mask is doubtful)
    held: list[str] = field(default_factory=list)  # not rendered because of a doubtful mask (skip / stop)
    rejected: list[str] = field(default_factory=list)  # not rendered: rejected in review (project state)
    stopped: Optional[str] = None  # --doubtful-masks stop: the photo it stopped at
    cancelled: bool = False
    seconds: float = 0.0
    engine: str = ""

    @property
    def ok(self) -> bool:
        return not self.failed and not self.cancelled and self.stopped is None

    def to_dict(self) -> dict:
        return asdict(self)

    def record(self, outcome: PhotoOutcome) -> None:
        """Count one photo's outcome (the local batch and the Ray batch count alike)."""
        name = display_name(outcome.path.name)
        {"done": self.done, "skipped": self.skipped, "doubtful": self.held}.get(outcome.status, []).append(name)
        if outcome.status == "failed":
            self.failed.append((name, outcome.message))
        if outcome.mask_doubt:
            self.doubtful.append((name, outcome.mask_doubt))

    @classmethod
    def merge(cls, parts: Sequence[dict]) -> BatchSummary:
        total = cls()
        for part in parts:
            total.done += part["done"]
            total.skipped += part["skipped"]
            total.failed += [tuple(f) for f in part["failed"]]
            total.doubtful += [tuple(d) for d in part.get("doubtful", [])]
            total.held += part.get("held", [])
            total.rejected += part.get("rejected", [])
            total.stopped = total.stopped or part.get("stopped")
            total.cancelled = total.cancelled or part["cancelled"]
            total.seconds = max(total.seconds, part["seconds"])
            total.engine = total.engine or part["engine"]
        return total
