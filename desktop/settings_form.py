"""Widgets made from ``JobSettings``' field metadata, as ``packshot batch``'s options are.

Each command-line field of ``packshot.core.jobs.JobSettings`` becomes one control: its label, tooltip
(the CLI's help text), range, choices and default come from the field (``packshot.core.options``), so an
option added to core appears in the app and the command line at once and no default is copied by
hand. ``SettingsForm`` lays the controls out (the everyday ones first, the rest behind an
"Advanced" disclosure) and reads them back as a ``JobSettings``.
"""

from __future__ import annotations

import dataclasses
import enum
from collections.abc import Callable, Iterable
from typing import Any, Optional

from PySide6.QtCore import Qt
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QDoubleSpinBox,
    QFileDialog,
    QFormLayout,
    QGroupBox,
    QHBoxLayout,
    QLineEdit,
    QPushButton,
    QSpinBox,
    QToolButton,
    QVBoxLayout,
    QWidget,
)

from packshot.core.app_api import options as core_options
from packshot.core.errors import PackshotError
from packshot.core.jobs import CLI_GROUPS, JobSettings

Path_ = tuple[str, ...]

# Shown without opening "Advanced": what most runs change. Everything else is one click away.
EVERYDAY: tuple[Path_, ...] = (
    ("engine",), ("model",), ("shadow",), ("generation", "variants"), ("generation", "quality"),
    ("generation", "seed"), ("generation", "color"), ("generation", "gradient"),
    ("generation", "background_image"), ("output", "preset"), ("output", "output_format"),
)
# Fields the app shows elsewhere, with the controls of their own: the prompt group in the template
# and variables boxes, the machine group in File > Settings (it is the app's, not one run's).
ELSEWHERE_GROUPS = ("prompt", "machine")
# Acronyms and product names a label spells as written (labels come from the field names).
_WORDS = {"qc": "QC", "sam": "SAM", "controlnet": "ControlNet", "csv": "CSV", "dir": "folder"}
_INT_LIMIT = 2**31 - 1


@dataclasses.dataclass(frozen=True)
class FieldInfo:
    """One settings field as the app shows it."""

    path: Path_
    field: dataclasses.Field
    kind: Any

    @property
    def meta(self) -> Any:
        return self.field.metadata

    @property
    def label(self) -> str:
        return field_label(self.field)

    @property
    def help(self) -> str:
        """The CLI's help text (with the declared range and unit, as ``--help`` shows them)."""
        help_text = getattr(core_options, "help_text", None)
        return str(help_text(self.field) if help_text is not None else self.meta.get("help", ""))

    @property
    def default(self) -> Any:
        return core_options.default_of(self.field)

    @property
    def group(self) -> str:
        return CLI_GROUPS.get(self.path[0] if len(self.path) > 1 else "", "background")

    @property
    def optional(self) -> bool:
        return self.default is None


def field_label(f: dataclasses.Field) -> str:
    """The field's own label (``label=`` metadata), else its name in words ("QC retries")."""
    if f.metadata.get("label"):
        return str(f.metadata["label"])
    words = [_WORDS.get(w, w) for w in f.name.split("_")]
    text = " ".join(words)
    return text[:1].upper() + text[1:]


def settings_fields(cls: type = JobSettings) -> list[FieldInfo]:
    """Every command-line field of ``cls``, in declaration order (the order of ``--help``)."""
    return [FieldInfo(path, f, kind) for path, f, kind in core_options.cli_leaves(cls)]


def bounds(info: FieldInfo) -> tuple[Optional[float], Optional[float]]:
    """(lowest, highest) a number may be: the field's declared bounds, else what its parser accepts."""
    meta = info.meta
    lo = _first(meta, ("min", "minimum", "low", "ge"))
    hi = _first(meta, ("max", "maximum", "high", "le"))
    declared = meta.get("range") or meta.get("bounds")
    if isinstance(declared, (tuple, list)) and len(declared) == 2:
        lo = declared[0] if lo is None else lo
        hi = declared[1] if hi is None else hi
    parse = meta.get("parse")
    if lo is None and parse is not None:
        lo = {"parse_positive": 1, "parse_non_negative": 0}.get(getattr(parse, "__name__", ""))
    return lo, hi


def _first(meta: Any, keys: Iterable[str]) -> Any:
    for key in keys:
        if meta.get(key) is not None:
            return meta[key]
    return None


# -- controls -----------------------------------------------------------------------------------
class Control:
    """One field's widget: ``editor`` is the input itself, ``widget`` what the form lays out."""

    def __init__(self, info: FieldInfo, editor: QWidget, widget: Optional[QWidget] = None) -> None:
        self.info, self.editor, self.widget = info, editor, widget or editor
        self.editor.setToolTip(info.help)
        self.editor.setObjectName("setting-" + "-".join(info.path))
        self.editor.setAccessibleName(info.label)

    def get(self) -> Any:
        raise NotImplementedError

    def set(self, value: Any) -> None:
        raise NotImplementedError

    def on_change(self, slot: Callable[[], None]) -> None:
        raise NotImplementedError

    def setEnabled(self, on: bool) -> None:  # noqa: N802 - reads like the Qt call it stands for
        self.widget.setEnabled(on)


class ChoiceControl(Control):
    """A fixed list (an enum's values or the field's ``choices``); items carry the value as data."""

    def __init__(self, info: FieldInfo, values: Iterable[str]) -> None:
        super().__init__(info, QComboBox())
        self.combo: QComboBox = self.editor  # type: ignore[assignment]
        self.set_items(values)

    def set_items(self, values: Iterable[str], labels: Optional[dict[str, str]] = None) -> None:
        current = self.combo.currentData()
        self.combo.blockSignals(True)
        self.combo.clear()
        for value in values:
            self.combo.addItem((labels or {}).get(value, value), value)
        self.combo.blockSignals(False)
        self.set(current if current is not None else self.info.default)

    def get(self) -> Any:
        value = self.combo.currentData()
        if value in (None, "") and self.info.optional:
            return None
        kind = self.info.kind
        return kind(value) if isinstance(kind, type) and issubclass(kind, enum.Enum) else value

    def set(self, value: Any) -> None:
        index = self.combo.findData(core_options.plain(value) if value is not None else "")
        self.combo.setCurrentIndex(max(0, index))

    def on_change(self, slot: Callable[[], None]) -> None:
        self.combo.currentIndexChanged.connect(lambda _i: slot())


class CheckControl(Control):
    def __init__(self, info: FieldInfo) -> None:
        super().__init__(info, QCheckBox())

    def get(self) -> bool:
        return self.editor.isChecked()  # type: ignore[attr-defined]

    def set(self, value: Any) -> None:
        self.editor.setChecked(bool(value))  # type: ignore[attr-defined]

    def on_change(self, slot: Callable[[], None]) -> None:
        self.editor.toggled.connect(lambda _on: slot())  # type: ignore[attr-defined]


class NumberControl(Control):
    """A spin box over the field's range; an optional number shows "default" at its lowest value."""

    def __init__(self, info: FieldInfo) -> None:
        integer = info.kind is int
        lo, hi = bounds(info)
        # QSpinBox holds 32-bit signed numbers; a wider range (a 32-bit seed) takes a whole-number double box.
        wide = integer and hi is not None and hi > _INT_LIMIT
        box: QSpinBox | QDoubleSpinBox = QSpinBox() if integer and not wide else QDoubleSpinBox()
        super().__init__(info, box)
        self.box = box
        if integer:
            lo = -_INT_LIMIT if lo is None else int(lo)
            hi = _INT_LIMIT if hi is None else int(hi)
            if wide:
                box.setDecimals(0)
        else:
            lo = 0.0 if lo is None else float(lo)  # guidance, scales, sigmas, scores: never negative
            hi = 1e6 if hi is None else float(hi)
            step = info.meta.get("step") or _float_step(info.default, hi)
            box.setDecimals(max(2, _decimals(step)))
            box.setSingleStep(step)
        if integer and (info.meta.get("multiple_of") or info.meta.get("step")):
            box.setSingleStep(int(info.meta.get("multiple_of") or info.meta["step"]))
        self.lowest = lo
        if info.optional:  # the lowest value stands for "not set" (None): core's own default applies
            lo = lo - box.singleStep()
            box.setSpecialValueText("default")
        box.setRange(lo, hi)
        box.setMinimumWidth(90)

    def get(self) -> Any:
        value = self.box.value()
        if self.info.optional and value < self.lowest:
            return None
        return int(value) if self.info.kind is int else float(value)

    def set(self, value: Any) -> None:
        self.box.setValue(self.box.minimum() if value is None else value)

    def on_change(self, slot: Callable[[], None]) -> None:
        self.box.valueChanged.connect(lambda _v: slot())


def _float_step(default: Any, hi: float) -> float:
    scale = abs(float(default)) if isinstance(default, (int, float)) and default else min(hi, 1.0)
    step = 10 ** int(f"{scale:e}".split("e")[1])
    return step / 10 if scale / step < 2 else step


def _decimals(step: float) -> int:
    text = f"{step:.6f}".rstrip("0")
    return len(text.split(".")[1]) if "." in text else 0


class TextControl(Control):
    """Text as the command line takes it: parsed by the field's own parser (colours, gradients),
    optional text empty for "none", and a Browse button for files and folders."""

    def __init__(self, info: FieldInfo) -> None:
        edit = QLineEdit()
        row = QWidget()
        layout = QHBoxLayout(row)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(edit, 1)
        super().__init__(info, edit, row)
        self.edit = edit
        metavar = str(info.meta.get("metavar") or "")
        edit.setPlaceholderText("none" if info.optional else core_options_text(info.default))
        if metavar in ("FILE", "CSV", "DIR"):
            browse = QPushButton("Browse…")
            browse.setToolTip(f"Choose the {info.label.lower()}")
            browse.clicked.connect(lambda: self._browse(metavar))
            layout.addWidget(browse)
        if metavar == "COLOUR":
            pick = QPushButton("Pick…")
            pick.clicked.connect(self._pick_colour)
            layout.addWidget(pick)

    def get(self) -> Any:
        text = self.edit.text().strip()
        if not text:
            return None if self.info.optional else self.info.default
        parse = self.info.meta.get("parse")
        if parse is None:
            return text
        try:
            return parse(text)
        except Exception as exc:  # argparse's ArgumentTypeError, ValueError: the parser's own words
            raise PackshotError(f"{self.info.label}: {exc}") from None

    def set(self, value: Any) -> None:
        self.edit.setText("" if value is None else core_options_text(value))

    def on_change(self, slot: Callable[[], None]) -> None:
        self.edit.editingFinished.connect(slot)

    def _browse(self, metavar: str) -> None:
        if metavar == "DIR":
            chosen = QFileDialog.getExistingDirectory(self.widget, self.info.label)
        else:
            filters = "CSV files (*.csv)" if metavar == "CSV" else "Images (*.png *.jpg *.jpeg *.webp *.tif *.tiff)"
            chosen, _ = QFileDialog.getOpenFileName(self.widget, self.info.label, "", filters)
        if chosen:
            self.edit.setText(chosen)
            self.edit.editingFinished.emit()

    def _pick_colour(self) -> None:
        from PySide6.QtGui import QColor
        from PySide6.QtWidgets import QColorDialog

        try:
            current = QColor(*self.get())
        except PackshotError:
            current = QColor(255, 255, 255)
        colour = QColorDialog.getColor(current, self.widget, self.info.label)
        if colour.isValid():
            self.set((colour.red(), colour.green(), colour.blue()))
            self.edit.editingFinished.emit()


def core_options_text(value: Any) -> str:
    """A value as it is typed on the command line: colours as #rrggbb, gradients as TOP:BOTTOM."""
    if isinstance(value, enum.Enum):
        return str(value.value)
    if isinstance(value, (tuple, list)):
        if len(value) == 3 and all(isinstance(c, int) for c in value):
            return "#{:02x}{:02x}{:02x}".format(*value)
        return ":".join(core_options_text(v) for v in value)
    return "" if value is None else str(value)


def make_control(info: FieldInfo) -> Control:
    """The control a field's type and metadata call for."""
    kind = info.kind
    if isinstance(kind, type) and issubclass(kind, enum.Enum):
        return ChoiceControl(info, [m.value for m in kind])
    if info.meta.get("choices"):
        return ChoiceControl(info, info.meta["choices"])
    if kind is bool:
        return CheckControl(info)
    if (kind in (int, float) and info.meta.get("parse") is None) or _numeric_parse(info):
        return NumberControl(info)
    return TextControl(info)


def _numeric_parse(info: FieldInfo) -> bool:
    return info.kind is int and getattr(info.meta.get("parse"), "__name__", "") in ("parse_positive",
                                                                                  "parse_non_negative")


# -- the form -----------------------------------------------------------------------------------
class SettingsForm(QWidget):
    """Every ``JobSettings`` field outside ``ELSEWHERE_GROUPS``, read back by ``settings()``."""

    def __init__(self, settings: Optional[JobSettings] = None, parent: Optional[QWidget] = None) -> None:
        super().__init__(parent)
        self._base = settings or JobSettings()
        self.controls: dict[Path_, Control] = {}
        self._rows: dict[Path_, QFormLayout] = {}
        for info in settings_fields():
            if len(info.path) > 1 and info.path[0] in ELSEWHERE_GROUPS:
                continue
            self.controls[info.path] = make_control(info)
        everyday = QFormLayout()
        for path in EVERYDAY:
            if path in self.controls:
                self._add_row(everyday, self.controls[path])
        self.advanced_btn = QToolButton()
        self.advanced_btn.setText("Advanced settings")
        self.advanced_btn.setCheckable(True)
        self.advanced_btn.setToolButtonStyle(Qt.ToolButtonStyle.ToolButtonTextBesideIcon)
        self.advanced_btn.setArrowType(Qt.ArrowType.RightArrow)
        self.advanced_btn.setToolTip("Every other option of `packshot batch`: diffusion, masks, output names, QC")
        self.advanced = QWidget()
        advanced_layout = QVBoxLayout(self.advanced)
        advanced_layout.setContentsMargins(0, 0, 0, 0)
        boxes: dict[str, QFormLayout] = {}
        for path, control in self.controls.items():
            if path in EVERYDAY:
                continue
            group = control.info.group
            if group not in boxes:
                box = QGroupBox(group[:1].upper() + group[1:])
                boxes[group] = QFormLayout(box)
                advanced_layout.addWidget(box)
            self._add_row(boxes[group], control)
        self.advanced.setVisible(False)
        self.advanced_btn.toggled.connect(self._disclose)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addLayout(everyday)
        layout.addWidget(self.advanced_btn)
        layout.addWidget(self.advanced)
        layout.addStretch(1)
        self.set_settings(self._base)

    def _add_row(self, form: QFormLayout, control: Control) -> None:
        self._rows[control.info.path] = form
        form.addRow(control.info.label, control.widget)
        label = form.labelForField(control.widget)
        if label is not None:
            label.setToolTip(control.info.help)

    def _disclose(self, on: bool) -> None:
        self.advanced.setVisible(on)
        self.advanced_btn.setArrowType(Qt.ArrowType.DownArrow if on else Qt.ArrowType.RightArrow)

    def replace_control(self, control: Control) -> None:
        """Show ``control`` for its field instead of the generic one (e.g. a list of installed models)."""
        path = control.info.path
        old = self.controls[path]
        self._rows[path].replaceWidget(old.widget, control.widget)
        old.widget.hide()  # until deleted it would still paint where it was
        old.widget.deleteLater()
        self.controls[path] = control
        control.set(core_options.get_path(self._base, path))

    def control(self, *path: str) -> Control:
        return self.controls[tuple(path)]

    def on_change(self, slot: Callable[[], None]) -> None:
        for control in self.controls.values():
            control.on_change(slot)

    def set_settings(self, settings: JobSettings) -> None:
        """Show ``settings`` (the fields shown elsewhere are kept and given back by ``settings()``)."""
        self._base = settings
        for path, control in self.controls.items():
            control.set(core_options.get_path(settings, path))

    def group_settings(self) -> JobSettings:
        """The last settings given with the shown values of the fields that cannot be typed wrong
        (choices, numbers, check boxes, plain text): for a caller that needs one group now (the
        masks), whatever half-typed colour another field holds."""
        result = self._base
        for path, control in self.controls.items():
            if not (isinstance(control, TextControl) and control.info.meta.get("parse")):
                result = with_path(result, path, control.get())
        return result

    def settings(self) -> JobSettings:
        """The shown values over the last settings given; ``PackshotError`` names a field typed wrong."""
        result = self._base
        for path, control in self.controls.items():
            try:
                result = with_path(result, path, control.get())
            except ValueError as exc:  # core's bounds and checks, in core's words
                raise PackshotError(f"{control.info.label}: {exc}") from None
        return result


def with_path(obj: Any, path: Path_, value: Any) -> Any:
    """``obj`` with the field at ``path`` (nested groups) replaced; types coerced by the dataclasses."""
    if len(path) == 1:
        return dataclasses.replace(obj, **{path[0]: value})
    return dataclasses.replace(obj, **{path[0]: with_path(getattr(obj, path[0]), path[1:], value)})
