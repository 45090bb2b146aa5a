"""The Background step: engine, template and variables, shadow, size, format, QC; the filled prompt.

Every batch option of core is here (``options()`` reads them as ``BatchOptions``; the one builder
``desktop.job_settings.settings_from_ui`` turns them into ``JobSettings``). The filled prompt is
previewed for the selected photo, so a missing variable shows up (in red) before anything is
queued, and it is greyed out with a note when the engine paints no prompt. "Try on this photo"
queues one photo; "Run on all" the batch.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Optional

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import (
    QComboBox,
    QDoubleSpinBox,
    QFileDialog,
    QFormLayout,
    QGroupBox,
    QHBoxLayout,
    QHeaderView,
    QInputDialog,
    QLabel,
    QPlainTextEdit,
    QPushButton,
    QScrollArea,
    QSpinBox,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from core.errors import PackshotError, TemplateError
from core.jobs import CONTROLNET_MODEL, DEFAULT_GENERATIVE_TEMPLATE, ENGINES, GENERATIVE_ENGINES
from core.templates import (
    PromptTemplate,
    load_templates,
    load_variables_csv,
    photo_variables,
    save_templates,
)
from desktop.batch_options import FORMATS, RENDER_QUALITIES, SCHEDULERS, SHADOWS, BatchOptions
from desktop.settings import AppSettings, config_dir
from desktop.workspace import Workspace

log = logging.getLogger(__name__)

GENERATIVE = set(GENERATIVE_ENGINES)


def user_templates_path() -> Path:
    return config_dir() / "templates.json"


class TemplatesPanel(QWidget):
    try_requested = Signal()
    run_all_requested = Signal()
    settings_changed = Signal()

    def __init__(self, settings: AppSettings, workspace: Workspace, options: Optional[BatchOptions] = None,
                 parent: Optional[QWidget] = None) -> None:
        super().__init__(parent)
        self._settings = settings
        self._workspace = workspace  # core's answers about engines and models (cached there)
        self._options = options or BatchOptions(engine=settings.engine, template=settings.template,
                                                variants=settings.variants, steps=settings.steps,
                                                guidance=settings.guidance, resolution=settings.resolution,
                                                preset=settings.export_preset, masker=settings.masker,
                                                qc_threshold=settings.qc_threshold)
        self._builtin = load_templates()
        self._user = self._load_user_templates()
        self._photo: Optional[Path] = None
        self._csv_table: dict[str, dict[str, str]] = {}
        self._build()
        self._reload_combo(self._options.template)
        if self._options.prompt is not None:
            self.prompt_edit.setPlainText(self._options.prompt)
        if self._options.negative is not None:
            self.negative_edit.setPlainText(self._options.negative)
        self.refresh_preview()

    # -- layout ---------------------------------------------------------------------------------
    def _build(self) -> None:
        self.template_combo = QComboBox()
        self.template_combo.currentTextChanged.connect(self._template_picked)
        self.description = QLabel()
        self.description.setWordWrap(True)
        self.prompt_edit = QPlainTextEdit()
        self.prompt_edit.setPlaceholderText("Prompt, with {name}, {caption} or your own {variables}")
        self.negative_edit = QPlainTextEdit()
        self.negative_edit.setPlaceholderText("Negative prompt")
        for edit in (self.prompt_edit, self.negative_edit):
            edit.setMaximumHeight(80)
            edit.textChanged.connect(self.refresh_preview)
        save_btn = QPushButton("Save template…")
        save_btn.clicked.connect(self._save_template)

        self.vars_table = QTableWidget(0, 2)
        self.vars_table.setHorizontalHeaderLabels(["Variable", "Value (all photos)"])
        self.vars_table.horizontalHeader().setSectionResizeMode(QHeaderView.ResizeMode.Stretch)
        self.vars_table.setMaximumHeight(120)
        self.vars_table.itemChanged.connect(lambda _item: self.refresh_preview())
        add_var = QPushButton("Add variable")
        add_var.clicked.connect(self._add_variable_row)
        csv_btn = QPushButton("Load per-photo CSV…")
        csv_btn.clicked.connect(self._pick_csv)
        self.csv_label = QLabel("no CSV")

        o = self._options
        self.engine_combo = QComboBox()
        self.engine_combo.addItems(ENGINES)  # core's list: auto resolves by core's rule
        self.engine_combo.setToolTip("auto: generated backgrounds (si2-controlnet) when their weights are on "
                                     "this machine, else a white background")
        self.engine_combo.setCurrentText(o.engine if o.engine in ENGINES else ENGINES[0])
        self.engine_combo.currentTextChanged.connect(self._engine_changed)
        self.engine_note = QLabel()
        self.engine_note.setWordWrap(True)
        self.model_combo = QComboBox()
        self.model_combo.setToolTip("The ControlNet for si2-controlnet: the paper's, or one you trained")
        self.model_combo.currentTextChanged.connect(lambda _t: self._engine_changed(self.engine()))
        self.refresh_models(select=o.model)
        self.steps = _spin(1, 200, o.steps)
        self.guidance = _dspin(0.0, 30.0, o.guidance, 0.5)
        self.cn_scale = _dspin(0.0, 2.0, o.controlnet_scale, 0.1)
        self.variants = _spin(1, 16, o.variants)
        self.variants.setToolTip("Images per photo: generated backgrounds only (a plain one is the same every time)")
        self.seed = _spin(0, 2**31 - 1, o.seed)
        self.resolution = _spin(64, 2048, o.resolution, step=64)
        self.render_quality = QComboBox()
        self.render_quality.addItems(list(RENDER_QUALITIES))
        self.render_quality.setCurrentText(o.render_quality if o.render_quality in RENDER_QUALITIES else "final")
        self.render_quality.setToolTip("preview: the same models and seed with less work (a background in under a "
                                       "minute on a laptop CPU); render the one you like as final from Results")
        self.scheduler = QComboBox()
        self.scheduler.addItems(SCHEDULERS)
        self.scheduler.setCurrentText(o.scheduler)
        self.qc_retries = _spin(0, 10, o.qc_retries)
        self.qc_retries.setToolTip("Generate again with new seeds while QC flags a result, keeping the best")
        self.qc_threshold = _dspin(0.0, 1.0, o.qc_threshold or 0.0, 0.01)
        self.qc_threshold.setDecimals(3)
        self.qc_threshold.setSpecialValueText("default (generated backgrounds only)")  # 0 means None
        self.qc_threshold.setToolTip("Flag results whose product outline grew by more than this fraction")
        self.colour = (255, 255, 255)
        self.colour_btn = QPushButton()
        self.colour_btn.clicked.connect(self._pick_colour)
        self.set_colour(o.color)
        self.background_image: Optional[Path] = None
        self.image_btn = QPushButton("Choose background image…")
        self.image_btn.clicked.connect(self._pick_background)
        self.set_background_image(Path(o.background_image) if o.background_image else None)
        self.shadow = QComboBox()
        for kind in SHADOWS:
            self.shadow.addItem(SHADOW_LABELS[kind], kind)
        self.shadow.setCurrentIndex(max(0, self.shadow.findData(o.shadow)))
        self.shadow.currentIndexChanged.connect(lambda _i: self.settings_changed.emit())
        self.shadow_note = QLabel()
        self.shadow_note.setWordWrap(True)
        from desktop.export_actions import export_presets

        self.preset = QComboBox()
        self.preset.addItems(export_presets())
        self.preset.setToolTip("Size and framing: a size preset frames the photo before the background is made, "
                               "so the padding is real background")
        self.preset.setCurrentText(o.preset)
        self.output_format = QComboBox()
        self.output_format.addItems(FORMATS)
        self.output_format.setCurrentText(o.output_format)
        self.quality = _spin(1, 100, o.quality)
        self.quality.setToolTip("JPEG / WebP quality of exported files")

        eng_box = QGroupBox("Engine and settings")
        eng_form = QFormLayout(eng_box)
        eng_form.addRow("Engine", self.engine_combo)
        eng_form.addRow("", self.engine_note)
        eng_form.addRow("Model", self.model_combo)
        eng_form.addRow("Variants", self.variants)
        eng_form.addRow("Quality", self.render_quality)
        eng_form.addRow("Steps", self.steps)
        eng_form.addRow("Guidance", self.guidance)
        eng_form.addRow("ControlNet scale", self.cn_scale)
        eng_form.addRow("Seed", self.seed)
        eng_form.addRow("Scheduler", self.scheduler)
        eng_form.addRow("Resolution", self.resolution)
        eng_form.addRow("Colour", self.colour_btn)
        eng_form.addRow("Background", self.image_btn)
        eng_form.addRow("Shadow", self.shadow)
        eng_form.addRow("", self.shadow_note)
        eng_form.addRow("Size and framing", self.preset)
        eng_form.addRow("Output format", self.output_format)
        eng_form.addRow("Export quality", self.quality)
        eng_form.addRow("QC threshold", self.qc_threshold)
        eng_form.addRow("QC retries", self.qc_retries)
        self.preview = QLabel()
        self.preview.setWordWrap(True)
        self.preview.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.try_btn = QPushButton("Try on this photo")
        self.try_btn.setToolTip("Generate for the selected photo only (Ctrl+T)")
        self.try_btn.clicked.connect(self.try_requested)
        self.run_btn = QPushButton("Run on all")
        self.run_btn.setToolTip("Queue every photo of the project (Ctrl+Shift+R)")
        self.run_btn.clicked.connect(self.run_all_requested)

        tpl_box = QGroupBox("Template")
        tpl_form = QFormLayout(tpl_box)
        row = QHBoxLayout()
        row.addWidget(self.template_combo, 1)
        row.addWidget(save_btn)
        tpl_form.addRow("Name", row)
        tpl_form.addRow("", self.description)
        tpl_form.addRow("Prompt", self.prompt_edit)
        tpl_form.addRow("Negative", self.negative_edit)

        var_box = QGroupBox("Variables")
        var_layout = QVBoxLayout(var_box)
        var_layout.addWidget(self.vars_table)
        buttons = QHBoxLayout()
        buttons.addWidget(add_var)
        buttons.addWidget(csv_btn)
        buttons.addWidget(self.csv_label, 1)
        var_layout.addLayout(buttons)


        prev_box = QGroupBox("Filled prompt for the selected photo")
        prev_layout = QVBoxLayout(prev_box)
        prev_layout.addWidget(self.preview)
        run_row = QHBoxLayout()
        run_row.addWidget(self.try_btn)
        run_row.addWidget(self.run_btn)
        prev_layout.addLayout(run_row)

        from desktop.shadow_preview import ShadowPreview

        self.shadow_preview = ShadowPreview()
        left = QVBoxLayout()
        left.addWidget(tpl_box)
        left.addWidget(var_box)
        left.addWidget(prev_box)
        left.addWidget(self.shadow_preview, 1)
        scroll = QScrollArea()  # every option of the batch: taller than a laptop screen
        scroll.setWidgetResizable(True)
        scroll.setWidget(eng_box)
        outer = QHBoxLayout(self)
        outer.addLayout(left, 3)
        outer.addWidget(scroll, 2)
        self.shadow.currentIndexChanged.connect(lambda _i: self._shadow_changed())
        self._engine_changed(self.engine_combo.currentText())
        self._shadow_changed()

    # -- templates ------------------------------------------------------------------------------
    def _load_user_templates(self) -> dict[str, PromptTemplate]:
        path = user_templates_path()
        if not path.exists():
            return {}
        try:
            return load_templates(path)
        except TemplateError as exc:
            log.warning("Ignoring user templates: %s", exc)
            return {}

    def templates(self) -> dict[str, PromptTemplate]:
        return {**self._builtin, **self._user}

    def _reload_combo(self, select: str = "") -> None:
        self.template_combo.blockSignals(True)
        self.template_combo.clear()
        names = sorted(self.templates())
        self.template_combo.addItems(names)
        self.template_combo.blockSignals(False)
        if names:
            fallback = DEFAULT_GENERATIVE_TEMPLATE if DEFAULT_GENERATIVE_TEMPLATE in names else names[0]
            self.template_combo.setCurrentText(select if select in names else fallback)
            self._template_picked(self.template_combo.currentText())

    def _template_picked(self, name: str) -> None:
        template = self.templates().get(name)
        if template is None:
            return
        self.prompt_edit.setPlainText(template.prompt)
        self.negative_edit.setPlainText(template.negative)
        self.description.setText(template.description + ("  (yours)" if name in self._user else ""))
        self._settings.template = name
        self.settings_changed.emit()

    def current_template(self) -> PromptTemplate:
        return PromptTemplate(
            name=self.template_combo.currentText() or "custom",
            prompt=self.prompt_edit.toPlainText().strip(),
            negative=self.negative_edit.toPlainText().strip(),
        )

    def save_template_as(self, name: str) -> Path:
        edited = self.current_template()
        template = PromptTemplate(name=name, prompt=edited.prompt, negative=edited.negative,
                                  description="Saved from Packshot Studio")
        template.fields()  # refuse a malformed template before writing it
        self._user[name] = template
        path = save_templates(self._user.values(), user_templates_path())
        self._reload_combo(name)
        return path

    def _save_template(self) -> None:
        name, ok = QInputDialog.getText(self, "Save template", "Template name:",
                                        text=self.template_combo.currentText())
        if ok and name.strip():
            try:
                self.save_template_as(name.strip())
            except TemplateError as exc:
                from desktop.errors import show_error

                show_error(self, exc, "Template not saved")

    # -- variables ------------------------------------------------------------------------------
    def _add_variable_row(self, name: str = "", value: str = "") -> None:
        row = self.vars_table.rowCount()
        self.vars_table.insertRow(row)
        self.vars_table.setItem(row, 0, QTableWidgetItem(name or f"var{row + 1}"))
        self.vars_table.setItem(row, 1, QTableWidgetItem(value))

    def set_variable(self, name: str, value: str) -> None:
        for row in range(self.vars_table.rowCount()):
            if self.vars_table.item(row, 0).text() == name:
                self.vars_table.item(row, 1).setText(value)
                return
        self._add_variable_row(name, value)

    def global_variables(self) -> dict[str, str]:
        values = {}
        for row in range(self.vars_table.rowCount()):
            key, value = self.vars_table.item(row, 0), self.vars_table.item(row, 1)
            if key and key.text().strip():
                values[key.text().strip()] = value.text() if value else ""
        return values

    def load_csv(self, path: Path) -> None:
        self._csv_table = load_variables_csv(path)
        self.csv_label.setText(f"{path.name}: {len({id(v) for v in self._csv_table.values()})} photos")
        self.refresh_preview()

    def _pick_csv(self) -> None:
        name, _ = QFileDialog.getOpenFileName(self, "Per-photo variables", "", "CSV files (*.csv)")
        if name:
            try:
                self.load_csv(Path(name))
            except TemplateError as exc:
                from desktop.errors import show_error

                show_error(self, exc, "Variables not loaded")

    def variables_for(self, photo: Path) -> dict[str, str]:
        values = photo_variables(photo, self._csv_table)
        for key, value in self.global_variables().items():
            values.setdefault(key, value)  # a per-photo CSV value beats the value for all photos
        return values

    # -- preview and settings -------------------------------------------------------------------
    def set_photo(self, photo: Optional[Path]) -> None:
        self._photo = photo
        self.refresh_preview()

    def filled_prompt(self, photo: Path) -> tuple[str, str]:
        """(prompt, negative) for ``photo``; ``TemplateError`` names a missing variable."""
        return self.current_template().fill(self.variables_for(photo))

    def refresh_preview(self) -> None:
        if not hasattr(self, "preview"):
            return
        if self._photo is None:
            self.preview.setText("<i>Select a photo to see its prompt.</i>")
            return
        try:
            prompt, negative = self.filled_prompt(self._photo)
        except TemplateError as exc:
            self.preview.setText(f"<span style='color:#c33'>{_escape(str(exc))}</span>")
            return
        text = f"<b>{_escape(self._photo.name)}</b><br>{_escape(prompt) or '<i>(empty prompt)</i>'}"
        if negative:
            text += f"<br><span style='color:#888'>negative: {_escape(negative)}</span>"
        if hasattr(self, "engine_combo") and not self.uses_prompt():
            # core says the same in the CLI: recorded, but no effect on the images
            text = (f"<span style='color:#999'>{text}</span><br><i>The '{_escape(self.resolved_engine())}' "
                    "engine paints no prompt: the prompt is recorded but has no effect.</i>")
        self.preview.setText(text)

    def uses_prompt(self) -> bool:
        return self.resolved_engine() in GENERATIVE

    def _engine_changed(self, engine: str) -> None:
        if not hasattr(self, "qc_retries"):
            return  # still building the panel
        effective = self.resolved_engine()
        generative = effective in GENERATIVE
        for widget in (self.steps, self.guidance, self.scheduler, self.resolution, self.variants,
                       self.render_quality, self.prompt_edit, self.negative_edit):
            widget.setEnabled(generative)
        self.cn_scale.setEnabled(effective in ("si2-controlnet", "sd2-controlnet"))
        self.model_combo.setEnabled(engine in ("auto", "si2-controlnet", "sd2-controlnet"))
        self.qc_retries.setEnabled(generative)
        self.colour_btn.setEnabled(engine == "color")
        self.image_btn.setEnabled(engine == "image")
        self.engine_note.setText(self._engine_note(engine, effective))
        self._settings.engine = engine
        self.refresh_preview()
        self.settings_changed.emit()

    def _engine_note(self, engine: str, effective: str) -> str:
        if engine == "auto":
            if effective in ("si2-controlnet", "sd2-controlnet"):  # sd2-controlnet: --model names an SD2 ControlNet
                return f"auto: generated backgrounds ({effective})."
            return (f"auto: white background, since the weights of '{_escape(self.model() or CONTROLNET_MODEL)}' "
                    "are not on this machine (File ▸ Models… gets them).")
        lacking = self.missing_models()
        if lacking is not None:
            return (f"<span style='color:#c33'>{_escape(str(lacking))}</span> (File ▸ Models… gets it).")
        return ""

    def missing_models(self) -> Optional[BaseException]:
        """Core's ModelMissingError for the chosen engine, or None (cached by the workspace: the store
        is slow to ask)."""
        return self._workspace.missing_model_error(self.engine(), self.model())

    def resolved_engine(self) -> str:
        """The engine a job will run: "auto" as core.jobs resolves it (si2-controlnet or white)."""
        return self._workspace.resolved_engine(self.engine(), self.model())

    def engine(self) -> str:
        return self.engine_combo.currentText()

    def refresh_models(self, select: Optional[str] = None) -> None:
        """The paper's weights plus every model of the user's laid out like them (e.g. from the trainer).
        After a change of models folder, the caller tells the workspace first (``models_changed``)."""
        current = select or self.model_combo.currentText()
        store = self._workspace.runtime.store
        ids = [CONTROLNET_MODEL] + [
            s.id for s in store.list_models() if s.user and s.kind == "diffusers" and "controlnet" in s.components]
        self.model_combo.blockSignals(True)
        self.model_combo.clear()
        self.model_combo.addItems(ids)
        self.model_combo.setCurrentText(current if current in ids else ids[0])
        self.model_combo.blockSignals(False)
        self._engine_changed(self.engine())

    def model(self) -> Optional[str]:
        """None for the paper's weights (the default), else the chosen model id."""
        chosen = self.model_combo.currentText()
        return None if chosen in ("", CONTROLNET_MODEL) else chosen

    def set_colour(self, rgb: tuple[int, int, int]) -> None:
        self.colour = tuple(int(c) for c in rgb)
        hex_colour = "#{:02x}{:02x}{:02x}".format(*self.colour)
        self.colour_btn.setText(hex_colour)
        self.colour_btn.setStyleSheet(f"background-color: {hex_colour}")

    def _pick_colour(self) -> None:
        from PySide6.QtGui import QColor
        from PySide6.QtWidgets import QColorDialog

        colour = QColorDialog.getColor(QColor(*self.colour), self, "Background colour")
        if colour.isValid():
            self.set_colour((colour.red(), colour.green(), colour.blue()))

    def set_background_image(self, path: Optional[Path]) -> None:
        self.background_image = Path(path) if path else None
        self.image_btn.setText(self.background_image.name if self.background_image else "Choose background image…")

    def _pick_background(self) -> None:
        name, _ = QFileDialog.getOpenFileName(self, "Background image", "",
                                              "Images (*.png *.jpg *.jpeg *.webp *.tif *.tiff)")
        if name:
            self.set_background_image(Path(name))

    # -- shadow -------------------------------------------------------------------------------
    def shadow_kind(self) -> str:
        return self.shadow.currentData() or "none"

    def _shadow_changed(self) -> None:
        kind = self.shadow_kind()
        supported = shadow_supported(kind)
        self.shadow_note.setText("" if supported else
                                 "<span style='color:#c33'>This Packshot's engine cannot keep the photo's own "
                                 "shadow yet; choose none, contact or drop.</span>")
        self.shadow_preview.set_shadow(kind if supported else "none")
        self.settings_changed.emit()

    def set_preview_photo(self, photo: Optional[Path], mask_path: Optional[Path]) -> None:
        """The photo (and its stored mask) the shadow preview shows."""
        self.shadow_preview.set_photo(photo, mask_path)

    # -- the options --------------------------------------------------------------------------
    def options(self) -> BatchOptions:
        """Every widget's value; ``desktop.job_settings.settings_from_ui`` makes the job settings."""
        if self.engine() == "image" and self.background_image is None:
            raise PackshotError("The 'image' engine needs a background image: choose one under Engine and settings.")
        if not shadow_supported(self.shadow_kind()):
            raise PackshotError("This Packshot cannot keep the photo's own shadow yet: choose none, contact or drop "
                                "under Shadow.")
        template = self.current_template()
        return BatchOptions(
            engine=self.engine(), template=self.template_combo.currentText(),
            prompt=template.prompt, negative=template.negative, variants=self.variants.value(),
            seed=self.seed.value(), steps=self.steps.value(), guidance=self.guidance.value(),
            controlnet_scale=self.cn_scale.value(), scheduler=self.scheduler.currentText(),
            resolution=self.resolution.value(), render_quality=self.render_quality.currentText(),
            color=self.colour,
            background_image=str(self.background_image) if self.background_image else None,
            model=self.model(), preset=self.preset.currentText(), shadow=self.shadow_kind(),
            output_format=self.output_format.currentText(), quality=self.quality.value(),
            masker=self._settings.masker, prior=self._options.prior, sam_variant=self._options.sam_variant,
            qc_threshold=self.qc_threshold.value() or None, qc_retries=self.qc_retries.value())

    def templates_file(self) -> Optional[Path]:
        """The file core resolves the chosen template from: the user's for their own templates,
        None (core's built-in file) otherwise."""
        return user_templates_path() if self.template_combo.currentText() in self._user else None

    def template_text(self) -> Optional[tuple[str, str]]:
        """(prompt, negative) of the named template as saved, to tell an edited text from it."""
        template = self.templates().get(self.template_combo.currentText())
        return (template.prompt, template.negative) if template else None


SHADOW_LABELS = {"none": "None", "keep": "Keep the photo's own", "contact": "Contact shadow", "drop": "Drop shadow"}


def shadow_supported(kind: str) -> bool:
    """Whether core renders ``kind`` (its ``Shadow`` choices: none, drop, contact, keep)."""
    from core.jobs.settings import Shadow

    return kind in Shadow.values()
    from core.generation.shadow import Shadow

    try:
        Shadow(kind=kind)
    except (ValueError, TypeError):
        return False
    return True


def _escape(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def _spin(lo: int, hi: int, value: int, step: int = 1) -> QSpinBox:
    box = QSpinBox()
    box.setRange(lo, hi)
    box.setSingleStep(step)
    box.setValue(value)
    return box


def _dspin(lo: float, hi: float, value: float, step: float) -> QDoubleSpinBox:
    box = QDoubleSpinBox()
    box.setRange(lo, hi)
    box.setSingleStep(step)
    box.setValue(value)
    return box
