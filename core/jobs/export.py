"""Exporting finished outputs: a size preset, a format, a bit depth, into an export folder.

``ExportJob`` frames before rendering exactly like the batch. When the requested preset is the one
the output was made with (and the output is stored losslessly), its pixels are re-encoded; else
the output's recipe is rendered again with the new preset (``packshot.core.jobs.render.render_from_recipe``,
the batch's own path), which gives a new recipe. Finished pixels are never scaled
(``apply_preset``): a file made that way would not replay to itself. Every exported file carries
its recipe (bit depth and quality included) and the original's EXIF and ICC, so
``packshot replay`` makes it again bit-identically.

One bad item never stops the export: it is reported by name and the rest goes on. Every write
goes through ``packshot.core.write_guard`` (never onto a source, an original or a file Packshot did not make);
a file an earlier (perhaps killed) export of the same item already wrote is kept, not redone, so
re-running an interrupted export resumes it.
"""

from __future__ import annotations

import json
import logging
import os
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Optional

from PIL import Image

from packshot.core.errors import Cancelled, PackshotError
from packshot.core.images import clean_exif, image_format, load_photo, output_format_for, to_bit_depth
from packshot.core.jobs.keepers import keeper_files
from packshot.core.jobs.render import render_from_recipe
from packshot.core.jobs.replay import read_scope
from packshot.core.naming import output_suffix
from packshot.core.progress import CancelToken, Progress, ProgressCallback, check, no_progress
from packshot.core.recipe import Recipe, read_recipe, save_output
from packshot.core.write_guard import WriteGuard, sweep_temp_files

if TYPE_CHECKING:
    from packshot.core.runtime import Runtime

log = logging.getLogger(__name__)

EXPORT_FORMATS = ("auto", "png", "jpg", "webp", "tiff")
_LOSSLESS = ("PNG", "TIFF")
_EIGHT_BIT_ONLY = ("jpg", "webp")


@dataclass(frozen=True)
class ExportSettings:
    """What an export writes. ``format`` "auto" keeps each output's own format (PNG for a JPEG or
    WebP output when 16 bits are asked for, since those hold 8). ``quality`` applies to JPEG and WebP."""

    preset: str = "original"
    format: str = "auto"
    quality: int = 95
    bit_depth: int = 8

    def check(self) -> None:
        """``PackshotError`` now, before any file is written, for a setting that cannot work."""
        from packshot.core.generation.presets import get_preset

        try:
            get_preset(self.preset)
        except ValueError as exc:
            raise PackshotError(str(exc)) from None
        fmt = output_format_for(None, self.format)
        if self.bit_depth not in (8, 16):
            raise PackshotError(f"Bit depth must be 8 or 16 (got {self.bit_depth}).")
        if self.bit_depth == 16 and self.format != "auto" and fmt in _EIGHT_BIT_ONLY:
            raise PackshotError(f"{fmt.upper()} holds 8 bits per channel; choose png or tiff for 16-bit.")
        if not 1 <= int(self.quality) <= 100:
            raise PackshotError(f"Quality must be between 1 and 100 (got {self.quality}).")

    def format_for(self, source: Path) -> str:
        fmt = output_format_for(source, self.format)
        return "png" if self.bit_depth == 16 and fmt in _EIGHT_BIT_ONLY else fmt


@dataclass
class ExportedFile:
    source: Path
    target: Path
    rendered: bool  # True: rendered again from the recipe (other preset); False: pixels re-encoded
    kept: bool = False  # True: an earlier export of the same item was already there (a resumed export)


@dataclass
class ExportSummary:
    exported: list[ExportedFile] = field(default_factory=list)
    failed: list[tuple[str, str]] = field(default_factory=list)  # (item name, reason naming it)
    cancelled: bool = False
    seconds: float = 0.0

    @property
    def written(self) -> list[Path]:
        return [e.target for e in self.exported]

    @property
    def kept(self) -> list[Path]:
        return [e.target for e in self.exported if e.kept]

    @property
    def ok(self) -> bool:
        return not self.failed and not self.cancelled


class ExportJob:
    """``ExportJob(items, out_dir, ExportSettings(...)).run(progress, cancel) -> ExportSummary``.

    ``items``: output files, and/or batch output folders (each exports its photos' keepers, named
    by the photo's stem), and/or ``(output file, stem)`` pairs. Files are named ``<stem>.<ext>`` for the "original" preset and
    ``<stem>_<preset>.<ext>`` otherwise. An existing file is only replaced with ``overwrite``.
    ``runtime``/``device``: where models come from when a result is rendered again (models load only
    if one is).
    """

    def __init__(self, items: Sequence[Path | str], out_dir: Path | str, settings: ExportSettings = ExportSettings(),
                 *, runtime: Runtime, device: str = "auto", overwrite: bool = False) -> None:
        self.items = [i if isinstance(i, tuple) else Path(i) for i in items]
        self.out_dir = Path(out_dir)
        self.settings = settings
        self.runtime = runtime
        self.device = device
        self.overwrite = overwrite
        settings.check()
        # The sources (output files, batch folders) are inputs here: never written, nothing written into them.
        self.guard = WriteGuard(self.out_dir, [i for i in self.items if not isinstance(i, tuple)])

    @property
    def label(self) -> str:
        s = self.settings
        return f"Export · {s.preset} · {s.format} · {s.bit_depth}-bit → {self.out_dir}"

    def sources(self, failed: Optional[list[tuple[str, str]]] = None) -> list[tuple[Path, str]]:
        """(output file, stem) for every item; folders give their keepers. Unusable items go to ``failed``."""
        found: list[tuple[Path, str]] = []
        for item in self.items:
            if isinstance(item, tuple):  # (output file, stem): the caller chose and named it (the app)
                found.append((Path(item[0]), str(item[1])))
                continue
            try:
                if item.is_dir():
                    found += keeper_files(item)
                elif item.is_file():
                    found.append((item, item.stem))
                else:
                    raise PackshotError(f"{item}: no such file or folder.")
            except PackshotError as exc:
                if failed is None:
                    raise
                failed.append((item.name, str(exc) if item.name in str(exc) else f"{item.name}: {exc}"))
        return found

    def run(self, progress: ProgressCallback = no_progress, cancel: Optional[CancelToken] = None) -> ExportSummary:
        start = time.perf_counter()
        summary = ExportSummary()
        sources = self.sources(summary.failed)
        taken: set[Path] = set()
        sweep_temp_files(self.out_dir, recursive=False)  # a killed export's own leftovers, nothing else
        self.guard.add_inputs(source for source, _ in sources)  # an output exported is never written over
        try:
            for i, (source, stem) in enumerate(sources):
                check(cancel)
                progress(Progress("export", i, len(sources), source.name))
                target = self._target(source, stem, taken)
                try:
                    kept = self._already_exported(source, target)
                    rendered = False if kept else self._export_one(source, target, progress, cancel)
                except Cancelled:
                    raise
                except PackshotError as exc:
                    summary.failed.append((source.name, _naming(source, str(exc))))
                    continue
                except MemoryError:
                    summary.failed.append((source.name, f"{source.name}: not enough memory to export it."))
                    continue
                except Exception as exc:  # one bad file never stops an export; the trace goes to the log
                    log.exception("Unexpected error exporting %s", source)
                    summary.failed.append((source.name, f"{source.name}: unexpected {type(exc).__name__}: {exc} "
                                                        "(details in the log)"))
                    continue
                summary.exported.append(ExportedFile(source, target, rendered, kept))
            progress(Progress("export", len(sources), len(sources), f"{len(summary.exported)} exported"))
        except Cancelled:
            summary.cancelled = True
        summary.seconds = time.perf_counter() - start
        log.info("Exported %d of %d to %s (%s)", len(summary.exported), len(sources), self.out_dir, self.label)
        return summary

    def _target(self, source: Path, stem: str, taken: set[Path]) -> Path:
        s = self.settings
        base = stem if s.preset == "original" else f"{stem}_{s.preset}"
        suffix = output_suffix(s.format_for(source))
        target, n = self.out_dir / f"{base}{suffix}", 2
        while target.resolve() in taken:  # two items of one export with the same stem
            target, n = self.out_dir / f"{base}-{n}{suffix}", n + 1
        taken.add(target.resolve())
        return target

    def _recipe_for(self, source: Path, recipe: Recipe) -> Recipe:
        """The recipe the exported file of ``source`` carries."""
        s = self.settings
        fmt = s.format_for(source)
        new = Recipe.from_dict(json.loads(recipe.to_json()))
        new.preset, new.output_format, new.bit_depth = s.preset, fmt, s.bit_depth
        new.quality = int(s.quality) if fmt in _EIGHT_BIT_ONLY else None
        return new

    def _already_exported(self, source: Path, target: Path) -> bool:
        """True when ``target`` is this very export of ``source`` (an earlier run wrote it, e.g. one that
        was killed later): kept as it is. Without ``overwrite`` nothing else there is replaced."""
        if self.overwrite or not target.is_file():
            return False
        try:
            there = read_recipe(target)
        except (PackshotError, OSError):
            return False
        return _export_identity(there) == _export_identity(self._recipe_for(source, read_recipe(source)))

    def _export_one(self, source: Path, target: Path, progress: ProgressCallback,
                    cancel: Optional[CancelToken]) -> bool:
        s = self.settings
        recipe = read_recipe(source)
        if target.resolve() in (source.resolve(), Path(recipe.input_path).resolve()):
            raise PackshotError(f"{source.name}: exporting to {target} would replace it; choose another "
                                "export folder.")
        self.guard.add_input(recipe.input_path)  # the original of this output: never written either
        self.guard.check(target, overwrite=True)  # never an input, nor a file Packshot did not make
        if target.exists() and not self.overwrite:
            raise PackshotError(f"{source.name}: {target} already exists (another export); export with overwrite "
                                "(--overwrite) to replace it, or choose another folder.")
        stored = load_photo(source)
        new = self._recipe_for(source, recipe)
        mask_file = recipe.mask_file(source)
        if mask_file is not None:  # the export's recipe finds the mask from the export folder
            new.mask = {**recipe.mask, "path": os.path.relpath(mask_file, target.resolve().parent)}
        # The stored pixels are the recipe's only when nothing about the rendering changes and no
        # lossy encoding came between; 8 -> 16 bits is exact only from the photo's own depth.
        reencode = (recipe.preset == s.preset and image_format(source) in _LOSSLESS
                    and (s.bit_depth <= stored.bit_depth or recipe.bit_depth is None))
        if reencode:
            pixels = to_bit_depth(stored.pixels, s.bit_depth)
        else:
            # The items may be files someone sent: the recipe reads only where a replay of it may.
            scope = read_scope(source, recipe)
            scope.base = target.resolve().parent  # ``new`` names its mask relative to the export folder
            pixels = render_from_recipe(new, target, runtime=self.runtime, device=self.device, progress=progress,
                                        cancel=cancel, scope=scope)
        check(cancel)
        save_output(target, pixels, new, icc_profile=stored.icc_profile,
                    exif=stored.exif or _original_exif(recipe))
        return not reencode


def _export_identity(recipe: Recipe) -> tuple:
    """What makes two exported files the same export: the result (photo, job, seed) and how it was written."""
    return (recipe.input_sha256, recipe.job_key, recipe.engine, recipe.seed, recipe.variant, recipe.prompt,
            recipe.negative_prompt, recipe.preset, recipe.output_format, recipe.bit_depth, recipe.quality,
            recipe.mask.get("sha256"))


def _original_exif(recipe: Recipe) -> Optional[bytes]:
    """EXIF from the original itself, for outputs written before outputs carried it (header only)."""
    try:
        with Image.open(recipe.input_path) as im:
            return clean_exif(im)
    except (OSError, ValueError, SyntaxError):
        return None


def _naming(source: Path, message: str) -> str:
    return message if message.startswith(source.name) else f"{source.name}: {message}"
