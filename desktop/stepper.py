"""The guided flow: Photos -> Masks -> Background -> Export as a side bar, each step with what is
done ("18 of 20 masks accepted, 2 doubtful"), and one obvious button for the next action."""

from __future__ import annotations

from typing import Callable, Optional

from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QFontMetrics
from PySide6.QtWidgets import QButtonGroup, QLabel, QPushButton, QVBoxLayout, QWidget

STEPS = ("Photos", "Masks", "Background", "Export")
BUTTON_PADDING = 8


def wrap_to_width(text: str, metrics: QFontMetrics, width: int) -> str:
    """``text`` with line breaks between words so that no line is wider than ``width``."""
    lines: list[str] = []
    for word in text.split(" "):
        if lines and metrics.horizontalAdvance(f"{lines[-1]} {word}") <= width:
            lines[-1] = f"{lines[-1]} {word}"
        else:
            lines.append(word)
    return "\n".join(lines)


class Stepper(QWidget):
    step_chosen = Signal(int)

    def __init__(self, parent: Optional[QWidget] = None) -> None:
        super().__init__(parent)
        self.setFixedWidth(230)
        layout = QVBoxLayout(self)
        self.group = QButtonGroup(self)
        self.buttons: list[QPushButton] = []
        self.status: list[QLabel] = []
        for i, name in enumerate(STEPS):
            btn = QPushButton(f"{i + 1}  {name}")
            btn.setCheckable(True)
            btn.setObjectName(f"step-{name.lower()}")
            btn.setToolTip(f"{name} (Ctrl+{i + 1})")
            btn.setStyleSheet("QPushButton { text-align: left; padding: 8px; font-size: 15px; }"
                              "QPushButton:checked { background: #2d6cdf; color: white; font-weight: bold; }")
            btn.clicked.connect(lambda _c=False, i=i: self.step_chosen.emit(i))
            self.group.addButton(btn, i)
            label = QLabel("")
            label.setWordWrap(True)
            label.setStyleSheet("color: #666; padding-left: 12px; padding-bottom: 8px;")
            layout.addWidget(btn)
            layout.addWidget(label)
            self.buttons.append(btn)
            self.status.append(label)
        layout.addStretch(1)
        self.hint = QLabel("")
        self.hint.setWordWrap(True)
        self.next_btn = QPushButton("")
        self.next_btn.setObjectName("next-action")
        self.next_btn.setMinimumHeight(48)
        self.next_btn.setStyleSheet("QPushButton { background: #2d6cdf; color: white; font-size: 15px; "
                                    f"font-weight: bold; border-radius: 6px; padding: {BUTTON_PADDING}px; }}"
                                    "QPushButton:disabled { background: #9ab; }")
        self.next_btn.setToolTip("The next thing to do (Ctrl+Enter)")
        self.next_btn.clicked.connect(self._run_action)
        layout.addWidget(self.hint)
        layout.addWidget(self.next_btn)
        self.next_btn.ensurePolished()  # the style sheet's font, measured by set_action
        self._action: Optional[Callable[[], object]] = None
        self._text = ""

    def set_current(self, step: int) -> None:
        self.buttons[step].setChecked(True)

    def current(self) -> int:
        return self.group.checkedId()

    def set_status(self, step: int, text: str) -> None:
        self.status[step].setText(text)

    def set_action(self, text: str, action: Optional[Callable[[], object]], hint: str = "") -> None:
        # Broken into lines that fit the side bar: a QPushButton never wraps, it clips.
        self._text = text
        self.next_btn.setText(wrap_to_width(text, self.next_btn.fontMetrics(), self.button_text_width()))
        self.next_btn.setEnabled(action is not None)
        self.hint.setText(hint)
        self._action = action

    def action_text(self) -> str:
        """The action's words (the button may show them on two lines)."""
        return self._text

    def button_text_width(self) -> int:
        """The room for the button's text: the side bar less its margins and the button's padding."""
        margins = self.layout().contentsMargins()
        return self.width() - margins.left() - margins.right() - 2 * BUTTON_PADDING - 4

    def _run_action(self) -> None:
        if self._action is not None:
            self._action()


class EmptyState(QWidget):
    """What a new window shows: one big button and the hint that folders can be dropped."""

    open_requested = Signal()

    def __init__(self, parent: Optional[QWidget] = None) -> None:
        super().__init__(parent)
        title = QLabel("<h1>Packshot Studio</h1>")
        title.setAlignment(Qt.AlignmentFlag.AlignCenter)
        text = QLabel("New backgrounds behind your product photos; the product itself stays untouched.")
        text.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.open_btn = QPushButton("Open a folder of photos…")
        self.open_btn.setObjectName("open-folder")
        self.open_btn.setMinimumSize(360, 72)
        self.open_btn.setStyleSheet("QPushButton { background: #2d6cdf; color: white; font-size: 20px; "
                                    "font-weight: bold; border-radius: 10px; }")
        self.open_btn.setToolTip("Ctrl+O")
        self.open_btn.clicked.connect(self.open_requested)
        drop = QLabel("or drop a folder (or photos) anywhere on this window\n\n"
                      "Photos → Masks → Background → Export  ·  F1 lists the keyboard shortcuts")
        drop.setAlignment(Qt.AlignmentFlag.AlignCenter)
        drop.setStyleSheet("color: #777; font-size: 14px;")
        self.recent = QLabel("")
        self.recent.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.recent.setStyleSheet("color: #777;")
        layout = QVBoxLayout(self)
        layout.addStretch(2)
        layout.addWidget(title)
        layout.addWidget(text)
        layout.addSpacing(24)
        layout.addWidget(self.open_btn, 0, Qt.AlignmentFlag.AlignHCenter)
        layout.addSpacing(16)
        layout.addWidget(drop)
        layout.addWidget(self.recent)
        layout.addStretch(3)
        self.setStyleSheet("EmptyState { border: 3px dashed #bbb; border-radius: 16px; }")
