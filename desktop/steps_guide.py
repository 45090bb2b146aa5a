"""The stepper's words and its one next action, kept up to date from the window's public parts
(the counts and the action itself are ``packshot.desktop.flow``'s Qt-free functions)."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Optional

from packshot.desktop.flow import (
    TAB_MASKS,
    TAB_PROMPT,
    TAB_RESULTS,
    StepCounts,
    count_steps,
    next_action,
    step_statuses,
)
from packshot.desktop.window_helpers import reveal_in_file_manager

if TYPE_CHECKING:
    from packshot.desktop.main_window import MainWindow


class StepsGuide:
    def __init__(self, window: MainWindow) -> None:
        self.window = window

    def counts(self) -> StepCounts:
        """What the steps report: photos, masks accepted/doubtful, generated, flagged, kept."""
        w = self.window
        return count_steps(w.model.entries(), *w.mask_panel.counts()) if w.session else StepCounts()

    def update(self) -> None:
        """Each step's status line and the next action's button, from what the project holds now."""
        w = self.window
        c = self.counts() if w.session is not None else None
        t = w.templates
        statuses = step_statuses(c, f"{t.resolved_engine()} · shadow {t.shadow_kind()} · {t.preset.currentText()}",
                                 len(w.exports.last)) if c is not None else ("",) * 4
        for tab, status in enumerate(statuses):
            w.stepper.set_status(tab, status)
        if c is None:
            w.stepper.set_action("Open a folder…", w.open_dialog)
            return
        review = w.current_photo()  # the review moves the grid's selection along with it
        problem = self.photo_problem(review) if review is not None else None
        action = next_action(w.tabs.currentIndex(), c, busy=w.queue.busy, exported=len(w.exports.last),
                             export_dir=w.exports.dir.name if w.exports.dir else "",
                             review_photo=review.name if review else "", review_problem=problem)
        slots = {"results": lambda: w.tabs.setCurrentIndex(TAB_RESULTS), "compute_masks": self._compute_then_review,
                 "masks": lambda: w.tabs.setCurrentIndex(TAB_MASKS), "accept": w.mask_panel.accept,
                 "background": lambda: w.tabs.setCurrentIndex(TAB_PROMPT), "run_all": self._run_then_results,
                 "open_export": lambda: reveal_in_file_manager(w.exports.dir),
                 "export": lambda: w.export_chosen(w.results.preset_combo.currentText())}
        w.stepper.set_action(action.label, slots.get(action.target) if action.target else None, action.hint)

    def photo_problem(self, path: Path) -> Optional[str]:
        """Why ``path`` cannot be read (its tile found out, or a job did), or None."""
        model = self.window.model
        problem = model.problem(path)
        if problem is None and self.window.session is not None:
            row = model.row_of(path)
            problem = model.entry(row).error if row >= 0 else None
        return problem

    def _compute_then_review(self) -> None:
        self.window.compute_all_masks()
        self.window.tabs.setCurrentIndex(TAB_MASKS)

    def _run_then_results(self) -> None:
        if self.window.run_on_all():
            self.window.tabs.setCurrentIndex(TAB_RESULTS)
