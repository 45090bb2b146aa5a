"""Replaying a recipe: an output made again from what it records (``packshot replay``, export checks).

For the deterministic engines the result is bit-identical; for the generative ones it is the same
seed on the same weights (bit-identical on the same device and library versions).

A recipe is untrusted input (someone may have sent the file). Its values are checked as strictly as
the command line's (``packshot.core.jobs.render.check_recipe``) and the files it names are read only inside
the folders a replay may read (``ReadScope``):

- the output's own folder, and the Packshot project that holds it (that folder or its parent, with a
  ``.packshot`` folder: an export in ``OUT/export`` belongs to ``OUT``), or whose ``.packshot/masks``
  the recipe's mask lies in (a replayed copy written elsewhere still uses its project's mask);
- in each such project, what its store says the user named: the folders of its photos, its runs'
  masks folders and background pictures;
- the folders named with ``--allow-dir``.

Anything else (``/etc/...``, ``../../`` out of those folders, a link that leads out) is refused in one
line naming the recipe field. Model ids are checked as ids and resolved only by the model store.

Where a replay writes (``replay_target``): beside the output under a name that does not exist yet,
or at ``--out`` only if nothing is there, or, with ``--overwrite``, over a file Packshot made (it
carries a recipe); never over an input photo, compared by identity (``packshot.core.write_guard``).
"""

from __future__ import annotations

import json
import logging
import os
import sqlite3
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Optional

import numpy as np

from packshot.core.errors import PackshotError
from packshot.core.images import load_photo
from packshot.core.jobs.render import render_from_recipe
from packshot.core.naming import from_storable
from packshot.core.recipe import Recipe, field_error, read_recipe, save_output, sidecar_path
from packshot.core.write_guard import STORE_DIRNAME, WriteGuard

if TYPE_CHECKING:
    from packshot.core.runtime import Runtime

log = logging.getLogger(__name__)

REPLAY_INFIX = ".replay"
_STORE_FILE = "project.sqlite"


@dataclass
class ReadScope:
    """The folders (and single files) whose contents a replayed recipe may read, resolved."""

    folders: list[Path] = field(default_factory=list)
    files: list[Path] = field(default_factory=list)
    base: Path = Path(".")  # a relative path in the recipe is relative to the output's folder

    def add_folder(self, folder: Path | str) -> None:
        resolved = Path(folder).expanduser().resolve()
        if resolved not in self.folders:
            self.folders.append(resolved)

    def add_file(self, path: Path | str) -> None:
        resolved = Path(path).expanduser().resolve()
        if resolved not in self.files:
            self.files.append(resolved)

    def allows(self, path: Path) -> bool:
        resolved = path.resolve()  # links followed: one that leads out is out
        return resolved in self.files or any(resolved.is_relative_to(f) for f in self.folders)

    def check(self, name: str, path: Path | str) -> Path:
        """``path`` resolved (relative to the output's folder) when inside the scope; else ``RecipeError``."""
        path = Path(path)
        resolved = (path if path.is_absolute() else self.base / path).resolve()
        if not self.allows(resolved):
            shown = ", ".join(str(f) for f in self.folders[:3]) + (" ..." if len(self.folders) > 3 else "")
            raise field_error(name, f"{path} is outside the folders this replay may read ({shown}); if you "
                                    "trust this recipe, name its folder with --allow-dir")
        return resolved


def _project_of(path: Path) -> Optional[Path]:
    """The project folder whose ``.packshot`` holds ``path``, or None."""
    parts = path.parts
    if STORE_DIRNAME not in parts:
        return None
    root = Path(*parts[:parts.index(STORE_DIRNAME)])
    return root if (root / STORE_DIRNAME).is_dir() else None


def _named_in_store(project: Path) -> tuple[set[Path], set[Path]]:
    """(folders, files) the project store says the user named: photo folders, masks folders, background
    pictures. Read-only (no migration, no lock); an unreadable store names nothing."""
    db = project / STORE_DIRNAME / _STORE_FILE
    folders: set[Path] = set()
    files: set[Path] = set()
    if not db.is_file():
        return folders, files
    try:
        conn = sqlite3.connect(f"{db.resolve().as_uri()}?mode=ro", uri=True, timeout=5)
        try:
            photos = [row[0] for row in conn.execute("SELECT path FROM photos")]
            runs = [row[0] for row in conn.execute("SELECT settings_json FROM runs")]
        finally:
            conn.close()
    except sqlite3.Error as exc:
        log.info("replay: the project store %s names no folders (%s)", db, exc)
        return folders, files
    folders.update(Path(from_storable(p)).parent for p in photos if isinstance(p, str))
    for text in runs:
        try:
            settings = json.loads(text)
        except (TypeError, ValueError):
            continue
        masks_dir = _setting(settings, "masks", "masks_dir")
        background = _setting(settings, "generation", "background_image")
        reference = _setting(settings, "generation", "reference")
        if masks_dir:
            folders.add(Path(from_storable(masks_dir)))
        for file in (background, reference):
            if file:
                files.add(Path(from_storable(file)))
    return folders, files


def _setting(settings: Any, group: str, name: str) -> Optional[str]:
    """A run's setting from the nested form, or the flat v1 form."""
    if not isinstance(settings, dict):
        return None
    nested = settings.get(group)
    value = nested.get(name) if isinstance(nested, dict) else settings.get(name)
    return value if isinstance(value, str) else None


def read_scope(output: Path | str, recipe: Recipe, allow: Iterable[Path | str] = ()) -> ReadScope:
    """Where ``recipe`` (the recipe of ``output``) may read: see the module's docstring."""
    folder = Path(output).resolve().parent
    scope = ReadScope(base=folder)
    scope.add_folder(folder)
    for extra in allow:
        scope.add_folder(extra)
    projects = [p for p in (folder, folder.parent) if (p / STORE_DIRNAME).is_dir()][:1]
    mask = recipe.mask_file(output)
    mask_project = _project_of(mask) if mask is not None else None
    if mask_project is not None and mask is not None and \
            mask.is_relative_to(mask_project / STORE_DIRNAME / "masks"):
        projects.append(mask_project)
    for project in dict.fromkeys(projects):
        scope.add_folder(project)
        named_folders, named_files = _named_in_store(project)
        for named in named_folders:
            scope.add_folder(named)
        for named in named_files:
            scope.add_file(named)
    return scope


# -- where a replay writes ------------------------------------------------------------------------

def default_target(output: Path, quality: Optional[str] = None) -> Path:
    """``shoe.png`` -> ``shoe.replay.png`` (``shoe.final.png`` at another quality) in the same folder, or
    ``shoe.replay-2.png``, ... : the first name that is not taken."""
    infix = f".{quality}" if quality else REPLAY_INFIX
    target, n = output.with_name(f"{output.stem}{infix}{output.suffix}"), 2
    while target.exists() or target.is_symlink() or sidecar_path(target).exists():
        target, n = output.with_name(f"{output.stem}{infix}-{n}{output.suffix}"), n + 1
    return target


def replay_target(output: Path | str, recipe: Recipe, out: Optional[Path | str] = None, *, overwrite: bool = False,
                  quality: Optional[str] = None) -> Path:
    """Where a replay of ``output`` may write: a new name beside it, or ``out`` when nothing is there (with
    ``overwrite``: a file Packshot made). Never an input photo (compared by identity). Raises
    ``PackshotError`` (``UnsafeWriteError``) saying why not."""
    output = Path(output)
    target = Path(out) if out is not None else default_target(output, quality)
    if out is not None and (target.exists() or target.is_symlink()) and not overwrite:
        what = "the output itself" if target.exists() and os.path.samefile(target, output) else "a file that exists"
        raise PackshotError(f"--out {target} is {what}; add --overwrite to replace it (only a file Packshot "
                            "made, never a photo), or choose a name that does not exist.")
    guard_for(target, recipe, output).check(target, overwrite=overwrite)
    return target


def guard_for(target: Path, recipe: Recipe, output: Path) -> WriteGuard:
    """The write guard of one replay: it writes only ``target``'s folder; the recipe's original photo and
    its mask are inputs, never replaced."""
    guard = WriteGuard(Path(target).parent)
    guard.add_input(Path(recipe.input_path) if Path(recipe.input_path).is_absolute()
                    else Path(output).parent / recipe.input_path)
    mask = recipe.mask_file(output)
    if mask is not None:
        guard.add_input(mask)
    return guard


# -- replaying ------------------------------------------------------------------------------------

def replay(output_path: Path | str, *, runtime: Runtime, device: str = "auto", check_input: bool = True,
           quality: Optional[str] = None, allow: Sequence[Path | str] = ()) -> np.ndarray:
    """Make the image of ``output_path`` again from its recipe; returns its pixels (H x W x 3).

    ``check_input``: refuse when the original or the mask changed since (their sha256 differ).
    ``allow``: more folders the recipe may read from (``read_scope``).
    """
    output_path = Path(output_path)
    recipe = read_recipe(output_path)
    return render_from_recipe(recipe, output_path, runtime=runtime, device=device, check_input=check_input,
                              quality=quality, scope=read_scope(output_path, recipe, allow))


def replay_to(output: Path | str, target: Path | str, *, runtime: Runtime, device: str = "auto",
              check_input: bool = True, quality: Optional[str] = None, overwrite: bool = False,
              allow: Sequence[Path | str] = ()) -> Optional[int]:
    """Render ``output`` again into ``target`` (atomically, recipe and metadata included); the largest
    pixel difference between the two files as decoded (None when their sizes differ).

    ``target`` must be a place ``replay_target`` accepts: checked again just before writing, so a file
    that appeared meanwhile is not replaced. ``overwrite``: ``target`` may be a file Packshot made."""
    output, target = Path(output), Path(target)
    recipe = read_recipe(output)
    scope = read_scope(output, recipe, allow)
    guard = guard_for(target, recipe, output)
    guard.check(target, overwrite=overwrite)  # before the work: a refusal costs nothing
    stored = load_photo(output)  # read before a possible overwrite replaces it
    pixels = render_from_recipe(recipe, output, runtime=runtime, device=device, check_input=check_input,
                                quality=quality, scope=scope)
    if quality is not None:  # the new file's recipe says what it is, and the upscale pass that ran
        was_final = recipe.settings.get("quality", "final") == "final"
        recipe.settings = {**recipe.settings, "quality": str(quality)}
        if not was_final:  # a final recipe already records the pass that ran (re-resolving could differ)
            from packshot.core.generation.upscale import record_ran

            record_ran(recipe, runtime, device)
    mask_file = recipe.mask_file(output)
    if mask_file is not None:  # the copy's recipe must still find the mask from its own folder
        recipe.mask = {**recipe.mask, "path": os.path.relpath(mask_file, target.resolve().parent)}
    guard.check(target, overwrite=overwrite)
    save_output(target, pixels, recipe, icc_profile=stored.icc_profile, exif=stored.exif)
    # Compare the files as written, so a lossy format's encoding counts the same on both sides.
    again = load_photo(target).pixels
    if again.shape != stored.pixels.shape:
        return None
    return int(np.abs(again.astype(np.int64) - stored.pixels.astype(np.int64)).max(initial=0))
