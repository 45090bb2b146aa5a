"""The Background step: template and variables, the filled prompt, and every job setting.

The settings controls are made from ``packshot.core.jobs.JobSettings`` (``packshot.desktop.settings_form``): label,
help, range, choices and default from the fields, as ``packshot batch`` makes its options; the
everyday ones are shown, the rest sit behind "Advanced settings". ``job_settings()`` reads the
panel back as one ``JobSettings``. The filled prompt is previewed for the selected photo, so a
missing variable shows up (in red) before anything is queued, and it is greyed out with a note
when the engine paints no prompt. "Try on this photo" queues one photo; "Run on all" the batch.
"""

from __future__ import annotations

import logging
from dataclasses import replace
from pathlib import Path
from typing import Optional

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import (
    QComboBox,
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
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from packshot.core.app_api import (
    PromptTemplate,
    auto_detail_text,
    load_templates,
    load_variables_csv,
    photo_variables,
    save_templates,
)
from packshot.core.errors import PackshotError, TemplateError
from packshot.core.jobs import (
    CONTROLNET_MODEL,
    DEFAULT_GENERATIVE_TEMPLATE,
    GENERATIVE_ENGINES,
    MODEL_ENGINES,
    JobSettings,
)
from packshot.desktop.job_settings import machine_settings, prompt_settings
from packshot.desktop.settings import AppSettings, config_dir
from packshot.desktop.settings_form import ChoiceControl, SettingsForm, settings_fields
from packshot.desktop.workers import start_worker
from packshot.desktop.workspace import Workspace

log = logging.getLogger(__name__)

GENERATIVE = set(GENERATIVE_ENGINES)
CONTROLNET_ENGINES = MODEL_ENGINES  # core's one list: the engines that take --model


def user_templates_path() -> Path:
    return config_dir() / "templates.json"


class TemplatesPanel(QWidget):
    try_requested = Signal()
    run_all_requested = Signal()
    settings_changed = Signal()
    detail_explained = Signal(str)  # what the background's --detail does here (Results' "Render final" shows it)

    def __init__(self, settings: AppSettings, workspace: Workspace, job: Optional[JobSettings] = None,
                 parent: Optional[QWidget] = None) -> None:
        super().__init__(parent)
        self._settings = settings
        self._workspace = workspace  # core's answers about engines and models (cached there)
        self._builtin = load_templates()
        self._user = self._load_user_templates()
        self._photo: Optional[Path] = None
        self._csv_table: dict[str, dict[str, str]] = {}
        self._build(job or JobSettings())
        self.set_job_settings(job or JobSettings())

    # -- layout ---------------------------------------------------------------------------------
    def _build(self, job: JobSettings) -> None:
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
        self.csv_btn = QPushButton("Load per-photo CSV…")
        self.csv_btn.clicked.connect(self._pick_csv)
        self.csv_label = QLabel("no CSV")

        # Every other setting: controls made from JobSettings' fields.
        self.form = SettingsForm(job)
        self._model_control = ChoiceControl(self.form.control("model").info, [])
        self.form.replace_control(self._model_control)
        c = self.form.control
        self.engine_combo = c("engine").editor
        self.model_combo = self._model_control.combo
        self.shadow = c("shadow").editor
        self.variants = c("generation", "variants").editor
        self.render_quality = c("generation", "quality").editor
        self.steps = c("generation", "steps").editor
        self.guidance = c("generation", "guidance").editor
        self.cn_scale = c("generation", "controlnet_scale").editor
        self.seed = c("generation", "seed").editor
        self.scheduler = c("generation", "scheduler").editor
        self.resolution = c("generation", "resolution").editor
        self.preset = c("output", "preset").editor
        self.output_format = c("output", "output_format").editor
        self.qc_retries = c("qc", "qc_retries").editor
        self.qc_threshold = c("qc", "qc_threshold").editor
        self.engine_combo.currentIndexChanged.connect(lambda _i: self._engine_changed(self.engine()))
        self.model_combo.currentIndexChanged.connect(lambda _i: self._engine_changed(self.engine()))
        self.shadow.currentIndexChanged.connect(lambda _i: self._shadow_changed())
        self.form.on_change(self.settings_changed.emit)
        self.engine_note = QLabel()
        self.engine_note.setWordWrap(True)
        self.shadow_note = QLabel()
        self.shadow_note.setWordWrap(True)
        self.detail_note = QLabel()  # what --detail auto means on this machine (core's resolve_detail)
        self.detail_note.setWordWrap(True)
        self._probing_device = False
        self.settings_changed.connect(self._refresh_detail_note)
        self._built = True
        self.refresh_models(select=job.model)

        eng_box = QGroupBox("Engine and settings")
        eng_layout = QVBoxLayout(eng_box)
        eng_layout.addWidget(self.engine_note)
        eng_layout.addWidget(self.shadow_note)
        eng_layout.addWidget(self.detail_note)
        eng_layout.addWidget(self.form)
        self.preview = QLabel()
        self.preview.setWordWrap(True)
        self.preview.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.try_btn = QPushButton("Try on this photo")
        self.try_btn.setToolTip("Generate for the selected photo only (Ctrl+T)")
        self.try_btn.clicked.connect(self.try_requested)
        self.run_btn = QPushButton("Run on all")
        self.run_btn.setToolTip("Queue every photo of the project (Ctrl+Shift+R)")
        self.run_btn.clicked.connect(self.run_all_requested)
        prompt_help = {info.path[-1]: info for info in settings_fields() if info.path[0] == "prompt"}
        self.template_combo.setToolTip(prompt_help["template"].help)
        self.prompt_edit.setToolTip(prompt_help["prompt"].help)
        self.negative_edit.setToolTip(prompt_help["negative"].help)
        self.csv_btn.setToolTip(prompt_help["variables_csv"].help)
        self._prompt_fields = prompt_help

        tpl_box = QGroupBox("Template")
        tpl_form = QFormLayout(tpl_box)
        row = QHBoxLayout()
        row.addWidget(self.template_combo, 1)
        row.addWidget(save_btn)
        p = self._prompt_fields
        tpl_form.addRow(p["template"].label, row)
        tpl_form.addRow("", self.description)
        tpl_form.addRow(p["prompt"].label, self.prompt_edit)
        tpl_form.addRow(p["negative"].label, self.negative_edit)

        var_box = QGroupBox("Variables")
        var_layout = QVBoxLayout(var_box)
        var_layout.addWidget(self.vars_table)
        buttons = QHBoxLayout()
        buttons.addWidget(add_var)
        buttons.addWidget(self.csv_btn)
        buttons.addWidget(self.csv_label, 1)
        var_layout.addLayout(buttons)

        prev_box = QGroupBox("Filled prompt for the selected photo")
        prev_layout = QVBoxLayout(prev_box)
        prev_layout.addWidget(self.preview)
        run_row = QHBoxLayout()
        run_row.addWidget(self.try_btn)
        run_row.addWidget(self.run_btn)
        prev_layout.addLayout(run_row)

        from packshot.desktop.shadow_preview import ShadowPreview

        self.shadow_preview = ShadowPreview(self._preview_settings)
        self.settings_changed.connect(self.shadow_preview.refresh)
        left_page = QWidget()
        left = QVBoxLayout(left_page)
        left.setContentsMargins(0, 0, 0, 0)
        left.addWidget(tpl_box)
        left.addWidget(var_box)
        left.addWidget(prev_box)
        left.addWidget(self.shadow_preview, 1)
        outer = QHBoxLayout(self)
        # Both columns scroll: on a laptop screen neither may push the window past it.
        for page, stretch in ((left_page, 3), (eng_box, 2)):
            scroll = QScrollArea()
            scroll.setWidgetResizable(True)
            scroll.setFrameShape(QScrollArea.Shape.NoFrame)
            scroll.setWidget(page)
            outer.addWidget(scroll, stretch)

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
                from packshot.desktop.errors import show_error

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
                from packshot.desktop.errors import show_error

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
        if not getattr(self, "_built", False):
            return  # still building the panel
        effective = self.resolved_engine()
        generative = effective in GENERATIVE
        c = self.form.control
        for path in (("generation", "steps"), ("generation", "guidance"), ("generation", "scheduler"),
                     ("generation", "resolution"), ("generation", "variants"), ("generation", "quality"),
                     ("qc", "qc_retries")):
            c(*path).setEnabled(generative)
        for widget in (self.prompt_edit, self.negative_edit):
            widget.setEnabled(generative)
        c("generation", "controlnet_scale").setEnabled(effective in CONTROLNET_ENGINES)
        self._model_control.setEnabled(engine in ("auto", *CONTROLNET_ENGINES))
        c("generation", "color").setEnabled(engine == "color")
        c("generation", "gradient").setEnabled(engine == "gradient")
        c("generation", "blur_sigma").setEnabled(engine == "blur")
        c("generation", "background_image").setEnabled(engine == "image")
        c("generation", "reference").setEnabled(effective == "flux2-klein")  # only klein takes a style reference
        for path in (("generation", "detail"), ("generation", "upscaler")):  # the learned upscale: generated only
            c(*path).setEnabled(generative)
        note = self._engine_note(engine, effective)
        self.engine_note.setText(note)
        self.engine_note.setVisible(bool(note))  # an empty note takes no room
        self.refresh_preview()
        self.settings_changed.emit()

    def detail_text(self) -> str:
        """What the background's detail setting does for the chosen engine on this machine ("" for an engine
        that paints at the photo's size); "auto" in core's words (``auto_detail_text``)."""
        effective = self.resolved_engine()
        if effective not in GENERATIVE:
            return ""
        chosen = str(self.form.control("generation", "detail").get())
        if chosen != "auto":
            return f"detail: {chosen}"
        kind = self._workspace.known_device_kind(self._settings.device)
        if kind is None:  # asking needs torch: on a worker, then this note again
            if not self._probing_device:
                self._probing_device = True
                start_worker(self._workspace.probe_device_kind, self._settings.device,
                             on_error=lambda exc: log.info("Device probe failed: %s", exc),
                             on_finished=self._device_known)
            return "detail auto: finding this machine's device…"
        return auto_detail_text(effective, kind)

    def _device_known(self) -> None:
        self._probing_device = False
        self._refresh_detail_note()

    def _refresh_detail_note(self) -> None:
        text = self.detail_text()
        self.detail_note.setText(f"<i>{_escape(text)}</i>" if text else "")
        self.detail_note.setVisible(bool(text))
        self.detail_explained.emit(text)

    def _engine_note(self, engine: str, effective: str) -> str:
        if engine == "auto":
            if effective in CONTROLNET_ENGINES:  # sd2-controlnet: --model names an SD2 ControlNet
                return f"auto: generated backgrounds ({effective})."
            return (f"auto: white background, since the weights of '{_escape(self.model() or CONTROLNET_MODEL)}' "
                    "are not on this machine (File ▸ Models… gets them).")
        about = ""
        if engine == "flux2-klein":  # why it is offered but never chosen for you
            about = ("FLUX.2 [klein]: a 2026 model, at the photo's shape, with an optional style reference (a "
                     "photo or a result you liked); it needs a GPU with about 13 GB. Auto stays the paper's "
                     "engine, the one Packshot reproduces exactly. ")
        lacking = self.missing_models()
        if lacking is not None:
            return about + (f"<span style='color:#c33'>{_escape(str(lacking))}</span> (File ▸ Models… gets it).")
        return about.strip()

    def set_reference(self, path: Optional[Path]) -> None:
        """Use ``path`` (a photo or a result the user liked) as flux2-klein's style reference."""
        self.form.control("generation", "reference").set(str(path) if path else None)
        self.settings_changed.emit()

    def missing_models(self) -> Optional[BaseException]:
        """Core's ModelMissingError for the chosen engine, or None (cached by the workspace: the store
        is slow to ask)."""
        return self._workspace.missing_model_error(self.engine(), self.model())

    def resolved_engine(self) -> str:
        """The engine a job will run: "auto" as packshot.core.jobs resolves it (si2-controlnet or white)."""
        return self._workspace.resolved_engine(self.engine(), self.model())

    def engine(self) -> str:
        return str(self.form.control("engine").get())

    def refresh_models(self, select: Optional[str] = None) -> None:
        """The paper's weights plus every model of the user's laid out like them (e.g. from the trainer).
        After a change of models folder, the caller tells the workspace first (``models_changed``)."""
        current = select if select is not None else self.model()
        store = self._workspace.runtime.store
        ids = [s.id for s in store.list_models() if s.user and s.kind == "diffusers" and "controlnet" in s.components]
        # "" stands for the field's default (None): the paper's ControlNet.
        self.model_combo.blockSignals(True)
        self._model_control.set_items(["", *ids], {"": CONTROLNET_MODEL})
        self._model_control.set(current if current in ids else None)
        self.model_combo.blockSignals(False)
        self._engine_changed(self.engine())

    def model(self) -> Optional[str]:
        """None for the paper's weights (the default), else the chosen model id."""
        return self._model_control.get()

    def set_colour(self, rgb: tuple[int, int, int]) -> None:
        self.form.control("generation", "color").set(tuple(int(v) for v in rgb))
        self.settings_changed.emit()  # a text control reports typing only when editing ends

    def set_background_image(self, path: Optional[Path]) -> None:
        self.form.control("generation", "background_image").set(str(path) if path else None)

    # -- shadow -------------------------------------------------------------------------------
    def shadow_kind(self) -> str:
        return str(self.form.control("shadow").get() or "none")

    def _shadow_changed(self) -> None:
        if not hasattr(self, "shadow_preview"):
            return
        kind = self.shadow_kind()
        supported = shadow_supported(kind)
        self.shadow_note.setText("" if supported else
                                 "<span style='color:#c33'>This Packshot's engine cannot keep the photo's own "
                                 "shadow yet; choose none, contact or drop.</span>")
        self.shadow_note.setVisible(not supported)
        self.settings_changed.emit()  # the shadow preview follows

    def _preview_settings(self) -> Optional[JobSettings]:
        """The form's settings for the shadow preview; None while a value is half-typed."""
        try:
            return self.form.settings()
        except (PackshotError, ValueError) as exc:
            log.debug("shadow preview kept: %s", exc)
            return None

    def shutdown(self) -> None:
        """The window closes: the shadow preview's last render finishes first."""
        self.shadow_preview.shutdown()

    def set_preview_photo(self, photo: Optional[Path], mask_path: Optional[Path]) -> None:
        """The photo (and its stored mask) the shadow preview shows."""
        self.shadow_preview.set_photo(photo, mask_path)

    # -- the settings -------------------------------------------------------------------------
    def job_settings(self) -> JobSettings:
        """The panel as one ``JobSettings`` (the machine group: the app's device and models folder).
        ``PackshotError`` says what is missing or typed wrong, naming the setting."""
        settings = self.form.settings()
        if str(settings.engine) == "image" and not settings.generation.background_image:
            raise PackshotError("The 'image' engine needs a background image: choose one under Engine and settings "
                                "(Background image).")
        if not shadow_supported(self.shadow_kind()):
            raise PackshotError("This Packshot cannot keep the photo's own shadow yet: choose none, contact or drop "
                                "under Shadow.")
        template = self.current_template()
        prompt = prompt_settings(self.template_combo.currentText(), template.prompt, template.negative,
                                 template_names=tuple(self.templates()), template_text=self.template_text())
        return replace(settings, prompt=prompt, machine=machine_settings(self._settings))

    def set_job_settings(self, settings: JobSettings) -> None:
        """Show ``settings``: every control, the template (by name) and an edited prompt."""
        self.form.set_settings(settings)
        self.refresh_models(select=settings.model)
        p = settings.prompt
        self._reload_combo(p.template or "")
        if p.prompt is not None:
            self.prompt_edit.setPlainText(p.prompt)
        if p.negative is not None:
            self.negative_edit.setPlainText(p.negative)
        self._engine_changed(self.engine())
        self._shadow_changed()
        self.refresh_preview()

    def controls(self) -> dict[tuple[str, ...], QWidget]:
        """The input widget of every settings field this step shows, by its path in ``JobSettings``
        (the prompt group's are the template and variables boxes)."""
        widgets: dict[tuple[str, ...], QWidget] = {path: c.editor for path, c in self.form.controls.items()}
        widgets.update({("prompt", "template"): self.template_combo, ("prompt", "prompt"): self.prompt_edit,
                        ("prompt", "negative"): self.negative_edit, ("prompt", "variables_csv"): self.csv_btn})
        return widgets

    def templates_file(self) -> Optional[Path]:
        """The file core resolves the chosen template from: the user's for their own templates,
        None (core's built-in file) otherwise."""
        return user_templates_path() if self.template_combo.currentText() in self._user else None

    def template_text(self) -> Optional[tuple[str, str]]:
        """(prompt, negative) of the named template as saved, to tell an edited text from it."""
        template = self.templates().get(self.template_combo.currentText())
        return (template.prompt, template.negative) if template else None


def shadow_supported(kind: str) -> bool:
    """Whether core renders ``kind`` (its ``Shadow`` choices: none, drop, contact, keep)."""
    from packshot.core.jobs import Shadow

    return kind in Shadow.values()


def _escape(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
