"""Results view: the original beside its variants, QC flags and expansion scores, keeper choice,
regenerate with a new seed, a before/after comparison, and export of the chosen results."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Optional

from PySide6.QtCore import QEvent, QPointF, QRect, QSize, Qt, Signal
from PySide6.QtGui import QColor, QIcon, QImage, QKeySequence, QMouseEvent, QPainter, QPixmap, QShortcut
from PySide6.QtWidgets import (
    QComboBox,
    QHBoxLayout,
    QLabel,
    QListView,
    QListWidget,
    QListWidgetItem,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from packshot.core.app_api import ResultRecord
from packshot.desktop.elided_label import ElidedLabel
from packshot.desktop.workers import start_worker

log = logging.getLogger(__name__)

TILE = 220
MIN_TILE = 96
STRIP_EXTRA = 112  # the caption under each tile, the scroll bar and the frame
PREVIEW_MAX = 1024
ORIGINAL_ROLE = -1


def load_preview(path: Path, limit: int = PREVIEW_MAX) -> tuple[QImage, QImage]:
    """Upright preview (at most ``limit`` px) and its strip tile, both made on a worker thread so
    the GUI thread only wraps them (smooth scaling a 1024 px image costs milliseconds)."""
    from packshot.desktop.thumbnails import load_thumbnail

    preview = load_thumbnail(path, limit)
    tile = preview.scaled(TILE, TILE, Qt.AspectRatioMode.KeepAspectRatio, Qt.TransformationMode.SmoothTransformation)
    return preview, tile


def load_framed_original(photo: Path, output: Path, recipe: dict, limit: int = PREVIEW_MAX) -> QImage:
    """The original through the same size preset as the result (same canvas, same product box), so
    before/after compare like with like; made with the mask the result was made with."""
    from packshot.core.app_api import Recipe, apply_preset
    from packshot.core.errors import PackshotError
    from packshot.core.images import load_photo
    from packshot.core.jobs import load_mask_file
    from packshot.desktop.mask_view import rgb_to_qimage

    rec = Recipe.from_dict(recipe)
    original = load_photo(photo)
    mask_path = rec.mask_file(output)
    if mask_path is None or not mask_path.is_file():
        raise PackshotError(f"{Path(output).name}: the mask it was made with is gone; cannot frame the original.")
    mask = load_mask_file(mask_path, original.size)
    image = rgb_to_qimage(apply_preset(original.rgb8, mask.mask, rec.preset))
    if max(image.width(), image.height()) > limit:
        image = image.scaled(limit, limit, Qt.AspectRatioMode.KeepAspectRatio,
                             Qt.TransformationMode.SmoothTransformation)
    return image


def result_preset(result: ResultRecord) -> str:
    return str(result.recipe.get("preset") or "original")


def _framing_key(result: ResultRecord) -> tuple[str, str]:
    """Results with the same preset and mask share one framed original."""
    return result_preset(result), str((result.recipe.get("mask") or {}).get("path", ""))


def qc_text(result: ResultRecord) -> list[str]:
    """QC in words. ``expansion_object``: area the product grew outside its mask, as a fraction of
    the product; ``score`` is what QC compared with its threshold (that fraction, by default)."""
    qc = result.qc or {}
    grown = qc.get("expansion_object")
    if grown is None:
        return [] if result.expansion is None else [f"grew over {100 * result.expansion:.1f}% of the image"]
    if result.qc_flag:
        lines = [f"grew {100 * grown:.0f} % beyond the product: regenerate?"]
    else:
        lines = [f"kept its outline (grew {100 * grown:.1f} % beyond the product)"]
    threshold, score = qc.get("threshold"), qc.get("score")
    if threshold is not None:
        measured = f"{100 * score:.1f}% of the image, " if qc.get("measure") == "image" and score is not None else ""
        verdict = "QC FLAGGED: over" if result.qc_flag else "QC ok: within"
        lines.append(f"{verdict} {measured}the {100 * threshold:.0f}% limit")
    return lines


def qc_tooltip(result: ResultRecord) -> str:
    qc = result.qc or {}
    if qc.get("expansion_object") is None:
        return ""
    measure = "the whole image" if qc.get("measure") == "image" else "the product"
    text = (f"Object expansion: the result shows the product reaching {100 * qc['expansion_object']:.1f}% of its "
            f"own area beyond its mask ({100 * qc.get('expansion', 0.0):.2f}% of the whole image).")
    if qc.get("threshold") is not None:
        text += f" QC flags results over {100 * qc['threshold']:.0f}% of {measure}."
    return text


def result_caption(result: ResultRecord, is_keeper: bool) -> str:
    parts = [f"variant {result.variant} · seed {result.seed}"]  # variants are numbered from 1
    parts += qc_text(result)
    if result.qc_flag and not any("FLAGGED" in p for p in parts):
        parts.append("FLAGGED by QC")
    if result.attempts > 1:
        parts.append(f"{result.attempts} attempts")
    if is_keeper:
        parts.append("★ keeper")
    return "\n".join(parts)


def _escape(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


class CompareView(QWidget):
    """Before/after: the original left of a draggable split line, the result right of it."""

    def __init__(self, parent: Optional[QWidget] = None) -> None:
        super().__init__(parent)
        self.before: Optional[QImage] = None
        self.after: Optional[QImage] = None
        self.split = 0.5
        self.actual = False  # 100 %: one image pixel per screen pixel, centred
        self.setMinimumSize(200, 160)
        self.setCursor(Qt.CursorShape.SplitHCursor)

    def set_images(self, before: Optional[QImage], after: Optional[QImage]) -> None:
        self.before, self.after = before, after
        self.update()

    def set_actual_size(self, on: bool) -> None:
        self.actual = bool(on)
        self.update()

    def _target(self, image: QImage) -> QRect:
        if self.actual:
            size = image.size()
            return QRect((self.width() - size.width()) // 2, (self.height() - size.height()) // 2,
                         size.width(), size.height())
        return _fit(image.size(), self.rect())

    def after_rect(self) -> QRect:
        """Where the result is drawn."""
        return self._target(self.after or self.before)

    def before_rect(self) -> QRect:
        """Where the original is drawn: fitted (never stretched) into the result's frame."""
        base = self.after or self.before
        frame = self._target(base)
        return _fit(self.before.size(), frame) if self.before is not None else frame

    def paintEvent(self, _event) -> None:  # noqa: N802 - Qt API
        p = QPainter(self)
        p.fillRect(self.rect(), QColor(45, 45, 45))
        base = self.after or self.before
        if base is None:
            p.setPen(QColor(180, 180, 180))
            p.drawText(self.rect(), Qt.AlignmentFlag.AlignCenter, "No result yet for this photo")
            return
        target = self._target(base)
        p.setRenderHint(QPainter.RenderHint.SmoothPixmapTransform)
        split_x = target.x() + int(self.split * target.width())
        if self.before is not None:
            p.save()
            p.setClipRect(QRect(target.x(), target.y(), split_x - target.x(), target.height()))
            p.drawImage(self.before_rect(), self.before)
            p.restore()
        if self.after is not None:
            p.save()
            p.setClipRect(QRect(split_x, target.y(), target.right() - split_x + 1, target.height()))
            p.drawImage(target, self.after)
            p.restore()
        p.setPen(QColor(255, 255, 255))
        p.drawLine(split_x, target.top(), split_x, target.bottom())
        for text, left in (("before", True), ("after", False)):
            box = p.fontMetrics().boundingRect(text).adjusted(-5, -2, 5, 2)
            x = target.x() + 6 if left else target.right() - 6 - box.width()
            box.moveTo(x, target.y() + 6)
            p.fillRect(box, QColor(0, 0, 0, 150))  # readable on white backgrounds too
            p.drawText(box, Qt.AlignmentFlag.AlignCenter, text)

    def _move(self, pos: QPointF) -> None:
        base = self.after or self.before
        if base is None:
            return
        target = self._target(base)
        self.split = min(1.0, max(0.0, (pos.x() - target.x()) / max(1, target.width())))
        self.update()

    def mousePressEvent(self, event: QMouseEvent) -> None:  # noqa: N802
        self._move(event.position())

    def mouseMoveEvent(self, event: QMouseEvent) -> None:  # noqa: N802
        self._move(event.position())


def _fit(size: QSize, frame: QRect) -> QRect:
    """``size`` scaled to fit ``frame`` keeping its aspect ratio, centred in it."""
    fitted = size.scaled(frame.size(), Qt.AspectRatioMode.KeepAspectRatio)
    return QRect(frame.x() + (frame.width() - fitted.width()) // 2, frame.y() + (frame.height() - fitted.height()) // 2,
                 fitted.width(), fitted.height())


class ResultsPanel(QWidget):
    keep_requested = Signal(int)  # result id
    regenerate_requested = Signal(object)  # photo path
    final_requested = Signal(object, int)  # photo path, seed: render a preview again at final quality
    export_requested = Signal(str)  # preset name
    regenerate_flagged_requested = Signal()
    change_export_dir_requested = Signal()
    reveal_requested = Signal(object)  # a file or folder to show in the file manager
    photo_step_requested = Signal(int)  # +1: the next photo (N, PgDown), -1: the previous one (P, PgUp)
    reference_requested = Signal(object)  # an output file: use its look as flux2-klein's style reference

    def __init__(self, presets: tuple[str, ...], parent: Optional[QWidget] = None) -> None:
        super().__init__(parent)
        self._photo: Optional[Path] = None
        self._results: list[ResultRecord] = []
        self._original: Optional[QImage] = None
        self._framed: dict[tuple[str, str], Optional[QImage]] = {}  # framing key -> original framed (None: failed)
        self._images: dict[int, QImage] = {}  # result id -> preview
        self._tiles: dict[int, QIcon] = {}  # result id (or ORIGINAL_ROLE) -> strip icon
        self._token = 0
        self._unloaded: Optional[int] = None  # the token whose previews wait for the panel to be shown

        self.title = QLabel("Select a photo")
        self.strip = QListWidget()
        self.strip.setViewMode(QListView.ViewMode.IconMode)
        self.strip.setFlow(QListView.Flow.LeftToRight)
        self.strip.setWrapping(False)
        self.strip.setIconSize(QSize(TILE, TILE))
        self.strip.setGridSize(QSize(TILE + 24, TILE + 96))  # room for the caption under each tile
        self.strip.setWordWrap(True)
        # Tiles shrink (to MIN_TILE) rather than push the window past a laptop screen.
        self.strip.setMinimumHeight(MIN_TILE + STRIP_EXTRA)
        self.strip.setMaximumHeight(TILE + STRIP_EXTRA)
        self.strip.installEventFilter(self)
        self.strip.setMovement(QListView.Movement.Static)
        self.strip.currentRowChanged.connect(self._selected)
        self.compare = CompareView()

        self.keep_btn = QPushButton("Keep this one")
        self.keep_btn.setToolTip("Make the selected variant the keeper (K)")
        self.keep_btn.clicked.connect(self._keep)
        self.regen_btn = QPushButton("Regenerate (new seed)")
        self.regen_btn.setToolTip("Queue this photo again with new seeds (G)")
        self.regen_btn.clicked.connect(lambda: self._photo and self.regenerate_requested.emit(self._photo))
        self.preset_combo = QComboBox()
        self.preset_combo.addItems(presets)
        self.export_btn = QPushButton("Export chosen")
        self.export_btn.setToolTip("Write every photo's keeper to the export folder (Ctrl+E)")
        self.export_btn.clicked.connect(lambda: self.export_requested.emit(self.preset_combo.currentText()))
        self.regen_flagged_btn = QPushButton("Regenerate all flagged")
        self.regen_flagged_btn.setToolTip("A new seed for every photo whose chosen result QC flagged")
        self.regen_flagged_btn.clicked.connect(self.regenerate_flagged_requested)
        self.zoom_btn = QPushButton("100 %")
        self.zoom_btn.setCheckable(True)
        self.zoom_btn.setToolTip("Inspect the edges at full size (Z); drag the split line to compare")
        self.zoom_btn.toggled.connect(self._zoom)
        self.reveal_btn = QPushButton("Reveal in file manager")
        self.reveal_btn.clicked.connect(self._reveal_selected)
        self.reference_btn = QPushButton("Use as style reference")
        self.reference_btn.setToolTip("Give this result's look to the next backgrounds (flux2-klein's style reference)")
        self.reference_btn.clicked.connect(self._use_as_reference)
        # The export folder may be deep (the samples' project lives in the user data folder): elided,
        # the whole path in its tooltip, and a button that opens it rather than a path to copy.
        self.export_dir_label = ElidedLabel("")
        self.change_dir_btn = QPushButton("Change…")
        self.change_dir_btn.clicked.connect(self.change_export_dir_requested)
        self.open_export_btn = QPushButton("Open folder")
        self.open_export_btn.setToolTip("Show the export folder in the file manager")
        self.open_export_btn.clicked.connect(self._open_export_dir)
        self._export_dir: Optional[Path] = None

        buttons = QHBoxLayout()
        buttons.addWidget(self.keep_btn)
        buttons.addWidget(self.regen_btn)
        self.final_btn = QPushButton("Render final (same seed)")
        self.final_btn.setToolTip("The selected preview again at the paper's settings: same models, same seed")
        self.final_btn.clicked.connect(self._final)
        buttons.addWidget(self.final_btn)
        self.final_detail = QLabel()  # what the final render's detail setting does here (set_final_detail)
        buttons.addWidget(self.final_detail)
        buttons.addWidget(self.zoom_btn)
        buttons.addWidget(self.reveal_btn)
        buttons.addWidget(self.reference_btn)
        buttons.addStretch(1)
        # Two rows (this photo; the export of all), so neither is wider than a laptop screen.
        where = QHBoxLayout()
        where.addWidget(self.regen_flagged_btn)
        where.addWidget(QLabel("Size preset"))
        where.addWidget(self.preset_combo)
        where.addWidget(self.export_btn)
        where.addWidget(self.export_dir_label, 1)
        where.addWidget(self.change_dir_btn)
        where.addWidget(self.open_export_btn)
        layout = QVBoxLayout(self)
        layout.addWidget(self.title)
        layout.addWidget(self.strip, 2)
        layout.addWidget(self.compare, 3)
        layout.addLayout(buttons)
        layout.addLayout(where)
        steps = (("N", lambda: self.photo_step_requested.emit(1)), ("PgDown", lambda: self.photo_step_requested.emit(1)),
                 ("P", lambda: self.photo_step_requested.emit(-1)), ("PgUp", lambda: self.photo_step_requested.emit(-1)))
        for key, slot in (("K", self._keep), ("G", self.regen_btn.click), ("Z", self.zoom_btn.toggle), *steps):
            shortcut = QShortcut(QKeySequence(key), self)
            shortcut.setContext(Qt.ShortcutContext.WidgetWithChildrenShortcut)
            shortcut.activated.connect(slot)
        self._update_buttons()

    def eventFilter(self, watched, event) -> bool:  # noqa: N802 - Qt API
        if watched is self.strip and event.type() == QEvent.Type.Resize:
            self._fit_tiles()
        return super().eventFilter(watched, event)

    def _fit_tiles(self) -> None:
        """Tiles as large as the strip's height allows, between MIN_TILE and TILE."""
        tile = max(MIN_TILE, min(TILE, self.strip.height() - STRIP_EXTRA))
        if self.strip.iconSize().width() != tile:
            self.strip.setIconSize(QSize(tile, tile))
            self.strip.setGridSize(QSize(tile + 24, tile + 96))

    def set_final_detail(self, text: str) -> None:
        """Show beside "Render final" what its background's detail setting means here (the Background step's
        words, e.g. "auto on this CPU: learned upscale, no detail pass")."""
        self.final_detail.setText(f"<i>{_escape(text)}</i>" if text else "")
        self.final_detail.setVisible(bool(text) and not self.final_btn.isHidden())  # beside the button, or not at all
        tip = "The selected preview again at the paper's settings: same models, same seed"
        self.final_btn.setToolTip(f"{tip}; {text}" if text else tip)

    # -- where files go -----------------------------------------------------------------------
    def set_export_dir(self, folder: Optional[Path], project: Optional[Path]) -> None:
        self._export_dir = folder
        self.export_dir_label.setText(f"Exports go to {folder} · project in {project}" if folder else "")
        self.open_export_btn.setEnabled(folder is not None)

    def export_done(self, folder: Optional[Path], count: int) -> None:
        self._export_dir = folder
        self.export_dir_label.setText(f"Exported {count} file(s) to {folder}")
        self.open_export_btn.setEnabled(folder is not None)

    def _open_export_dir(self) -> None:
        """The export folder, or (nothing exported yet) the nearest folder of it that exists."""
        folder = self._export_dir
        while folder is not None and not folder.exists() and folder.parent != folder:
            folder = folder.parent
        if folder is not None:
            self.reveal_requested.emit(folder)

    def _zoom(self, on: bool) -> None:
        """100 %: decode the selected result and the original at full size (off the GUI thread)."""
        self.compare.set_actual_size(on)
        if not on:
            self._selected(self.strip.currentRow())
            return
        result, photo, token = self.selected_result(), self._photo, self._token
        if result is None or photo is None or not result.output_path.is_file():
            return
        full = 1 << 16

        def show(images: tuple) -> None:
            if token == self._token and self.zoom_btn.isChecked():
                before = images[0] if result_preset(result) == "original" else self.before_image(result)
                self.compare.set_images(before, images[1])

        start_worker(lambda: (load_preview(photo, full)[0], load_preview(result.output_path, full)[0]),
                     on_result=show)

    def _reveal_selected(self) -> None:
        result = self.selected_result()
        if result is not None:
            self.reveal_requested.emit(result.output_path)
        elif self._photo is not None:
            self.reveal_requested.emit(self._photo)

    # -- content --------------------------------------------------------------------------------
    def show_photo(self, photo: Optional[Path], results: list[ResultRecord], keeper_id: Optional[int] = None,
                   error: Optional[str] = None) -> None:
        """Show ``photo`` and its results; previews decode on the thread pool."""
        same_photo = photo == self._photo
        self._photo, self._results = photo, list(results)
        self._token += 1
        token = self._token
        if not same_photo:
            self._original = None
            self._framed.clear()
            self._images.clear()
            self._tiles.clear()
        self.strip.blockSignals(True)
        self.strip.clear()
        if photo is None:
            self.title.setText("Select a photo")
            self.strip.blockSignals(False)
            self.compare.set_images(None, None)
            self._update_buttons()
            return
        flagged = sum(r.qc_flag for r in results)
        self.title.setText(f"<b>{photo.name}</b> — {len(results)} result(s)"
                           + (f", {flagged} flagged by QC" if flagged else "")
                           + (f" — <span style='color:#c33'>last run failed: {_escape(error)}</span>" if error else ""))
        original = QListWidgetItem("original")
        original.setData(Qt.ItemDataRole.UserRole, ORIGINAL_ROLE)
        self.strip.addItem(original)
        for r in results:
            item = QListWidgetItem(result_caption(r, r.id == keeper_id))
            item.setData(Qt.ItemDataRole.UserRole, r.id)
            item.setToolTip(qc_tooltip(r))
            if r.qc_flag:
                item.setForeground(QColor(230, 140, 0))
            self.strip.addItem(item)
        self.strip.blockSignals(False)
        keeper = next((i + 1 for i, r in enumerate(results) if r.id == keeper_id), 1 if results else 0)
        self.strip.setCurrentRow(keeper)
        self._refresh_icons()
        # Decoding (and framing) full-size photos is work a hidden panel need not compete for with a
        # running batch: it starts when the panel is shown.
        self._unloaded = token
        if self.isVisible():
            self._load_previews()
        self._selected(self.strip.currentRow())

    def showEvent(self, event) -> None:  # noqa: N802 - Qt API
        super().showEvent(event)
        if self._unloaded == self._token:
            self._load_previews()

    def _load_previews(self) -> None:
        """Previews of the photo shown and of its results not loaded yet, on the thread pool."""
        photo, results, token = self._photo, self._results, self._token
        self._unloaded = None
        if photo is None:
            return
        if self._original is None:
            start_worker(load_preview, photo, on_result=lambda img: self._got(token, ORIGINAL_ROLE, img),
                         on_error=lambda exc: log.info("No preview of %s: %s", photo.name, exc))
        for r in results:
            if r.id not in self._images and r.output_path.is_file():
                start_worker(load_preview, r.output_path, on_result=lambda img, rid=r.id: self._got(token, rid, img))
        framings = {_framing_key(r): r for r in results if result_preset(r) != "original" and r.output_path.is_file()}
        for key, r in framings.items():
            if key not in self._framed:
                start_worker(load_framed_original, photo, r.output_path, r.recipe,
                             on_result=lambda img, k=key: self._got_framed(token, k, img),
                             on_error=lambda exc, k=key: self._framing_failed(token, k, exc))

    def _got_framed(self, token: int, key: tuple[str, str], image: Optional[QImage]) -> None:
        if token == self._token:
            self._framed[key] = image
            self._selected(self.strip.currentRow())

    def _framing_failed(self, token: int, key: tuple[str, str], exc: BaseException) -> None:
        log.warning("Before/after shows the unframed original: %s", exc)
        self._got_framed(token, key, None)  # the plain original, fitted into the result's frame

    def before_image(self, result: Optional[ResultRecord]) -> Optional[QImage]:
        """The original as the result frames it (its size preset), else the original itself."""
        if result is not None and result_preset(result) != "original":
            framed = self._framed.get(_framing_key(result))
            if framed is not None:
                return framed
        return self._original

    def _got(self, token: int, key: int, images: tuple[QImage, QImage]) -> None:
        if token != self._token:
            return  # the user moved to another photo meanwhile
        preview, tile = images
        if key == ORIGINAL_ROLE:
            self._original = preview
        else:
            self._images[key] = preview
        self._tiles[key] = QIcon(QPixmap.fromImage(tile))
        self._refresh_icons()
        if key == ORIGINAL_ROLE or (self.selected_result() and self.selected_result().id == key):
            self._selected(self.strip.currentRow())

    def _refresh_icons(self) -> None:
        for row in range(self.strip.count()):
            item = self.strip.item(row)
            icon = self._tiles.get(item.data(Qt.ItemDataRole.UserRole))
            if icon is not None and item.icon().isNull():
                item.setIcon(icon)

    def _selected(self, row: int) -> None:
        result = self.selected_result()
        after = self._images.get(result.id) if result else None
        self.compare.set_images(self.before_image(result), after)
        if self.zoom_btn.isChecked():
            self._zoom(True)  # the newly selected variant at full size too
        self._update_buttons()

    def selected_result(self) -> Optional[ResultRecord]:
        item = self.strip.currentItem()
        if item is None:
            return None
        key = item.data(Qt.ItemDataRole.UserRole)
        return next((r for r in self._results if r.id == key), None)

    def select_variant(self, index: int) -> None:
        self.strip.setCurrentRow(index + 1)

    def _keep(self) -> None:
        result = self.selected_result()
        if result is not None:
            self.keep_requested.emit(result.id)

    def _use_as_reference(self) -> None:
        result = self.selected_result()
        if result is not None:
            self.reference_requested.emit(Path(result.output_path))

    def _final(self) -> None:
        result = self.selected_result()
        if result is not None and self._photo is not None:
            self.final_requested.emit(self._photo, int(result.seed))

    def _update_buttons(self) -> None:
        selected = self.selected_result()
        self.final_btn.setVisible(bool(selected and (selected.recipe or {}).get("settings", {}).get("quality")
                                       == "preview"))
        self.final_detail.setVisible(not self.final_btn.isHidden() and bool(self.final_detail.text()))
        self.keep_btn.setEnabled(self.selected_result() is not None)
        self.reference_btn.setEnabled(selected is not None)
        self.regen_btn.setEnabled(self._photo is not None)

    def previews_loaded(self) -> bool:
        made = [r for r in self._results if r.output_path.is_file()]
        return (self._original is not None and all(r.id in self._images for r in made)
                and all(_framing_key(r) in self._framed for r in made if result_preset(r) != "original"))
