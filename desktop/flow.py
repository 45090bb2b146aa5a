"""The guided flow's next action, from what the project holds (no Qt): one function of the counts,
so the button says the same thing after a restart as it did before it."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Optional

TAB_PHOTOS, TAB_MASKS, TAB_PROMPT, TAB_RESULTS = range(4)


@dataclass(frozen=True)
class StepCounts:
    photos: int = 0
    accepted: int = 0
    doubtful: int = 0
    masked: int = 0
    rejected: int = 0
    generated: int = 0
    flagged: int = 0
    failed: int = 0

    @property
    def to_make(self) -> int:
        """Photos a batch makes: every one whose mask was not rejected."""
        return self.photos - self.rejected

    @property
    def all_made(self) -> bool:
        return self.to_make > 0 and self.generated >= self.to_make


@dataclass(frozen=True)
class NextAction:
    label: str
    target: Optional[str]  # what the button does (the window maps it to a slot); None: disabled
    hint: str = ""


def next_action(tab: int, c: StepCounts, *, busy: bool = False, exported: int = 0, export_dir: str = "",
                review_photo: str = "", review_problem: Optional[str] = None) -> NextAction:
    """The one obvious next thing on step ``tab``. ``review_problem``: why the photo under review
    cannot be read (then nothing can be accepted, and the reason is shown)."""
    if busy:
        return NextAction("Working…", None, "Pause or cancel in the queue below (Ctrl+P, Ctrl+.).")
    if tab == TAB_PHOTOS:
        if c.all_made:
            return NextAction("See the results ▶", "results",
                              f"All {c.to_make} photos are made; keep the best ones and export them.")
        if c.masked < c.photos:
            return NextAction("Compute the masks", "compute_masks",
                              "Automatic masks for every photo, doubtful ones first for review.")
        return NextAction("Review the masks ▶", "masks")
    if tab == TAB_MASKS:
        if review_problem:
            return NextAction("Accept and next (A)", None,
                              f"{review_photo} cannot be reviewed: {review_problem} N moves to the next photo.")
        left = c.photos - c.accepted - c.rejected
        if left > 0:
            return NextAction("Accept and next (A)", "accept", f"{left} to review. R rejects, N/P move.")
        return NextAction("Choose the background ▶", "background")
    if tab == TAB_PROMPT:
        return NextAction(f"Run on all {c.to_make} photos", "run_all", "Or try the selected photo first (Ctrl+T).")
    if not c.all_made:
        return NextAction("Run on all", "run_all")
    if exported:
        return NextAction("Open the export folder", "open_export", f"{exported} files in {export_dir}")
    return NextAction("Export the chosen ones", "export", f"Into {export_dir}")


def count_steps(entries: Sequence, accepted: int, doubtful: int, photos: int) -> StepCounts:
    """The counts the steps report, from the grid's entries and the review's mask counts."""
    return StepCounts(photos=photos, accepted=accepted, doubtful=doubtful,
                      masked=sum(1 for e in entries if e.mask_state != "pending"),
                      rejected=sum(1 for e in entries if e.mask_state == "rejected"),
                      generated=sum(1 for e in entries if e.generated),
                      flagged=sum(1 for e in entries if e.flagged),
                      failed=sum(1 for e in entries if e.error))


def step_statuses(c: StepCounts, background: str, exported: int) -> tuple[str, str, str, str]:
    """What the stepper says under each step (``background``: engine, shadow and size in words)."""
    photos = f"{c.photos} photos" + (f", {c.failed} failed" if c.failed else "")
    masks = f"{c.accepted} of {c.photos} masks accepted"
    masks += (f", {c.doubtful} doubtful" if c.doubtful else "") + (f", {c.rejected} rejected" if c.rejected else "")
    made = f"{c.generated} of {c.photos} made" + (f", {c.flagged} flagged" if c.flagged else "")
    made += f" · {exported} exported" if exported else ""
    return photos, masks, background, made
