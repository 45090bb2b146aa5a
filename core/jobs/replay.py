"""Replaying a recipe: an output made again from what it records (``packshot replay``, export checks).

For the deterministic engines the result is bit-identical; for the generative ones it is the same
seed on the same weights (bit-identical on the same device and library versions).
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING, Optional

import numpy as np

from core.images import load_photo
from core.jobs.render import render_from_recipe
from core.recipe import read_recipe, save_output

if TYPE_CHECKING:
    from core.runtime import Runtime


def replay(output_path: Path | str, *, runtime: Optional[Runtime] = None, device: str = "auto", check_input: bool = True,
           quality: Optional[str] = None) -> np.ndarray:
    """Make the image of ``output_path`` again from its recipe; returns its pixels (H x W x 3).

    ``check_input``: refuse when the original or the mask changed since (their sha256 differ).
    """
    output_path = Path(output_path)
    return render_from_recipe(read_recipe(output_path), output_path, runtime=runtime, device=device,
                              check_input=check_input, quality=quality)


def replay_to(output: Path | str, target: Path | str, *, runtime: Optional[Runtime] = None, device: str = "auto",
              check_input: bool = True, quality: Optional[str] = None) -> Optional[int]:
    """Render ``output`` again into ``target`` (atomically, recipe and metadata included); the largest
    pixel difference between the two files as decoded (None when their sizes differ)."""
    output, target = Path(output), Path(target)
    recipe = read_recipe(output)
    stored = load_photo(output)  # read before a possible overwrite replaces it
    pixels = render_from_recipe(recipe, output, runtime=runtime, device=device, check_input=check_input,
                                quality=quality)
    if quality is not None:  # the new file's recipe says what it is
        recipe.settings = {**recipe.settings, "quality": str(quality)}
    mask_file = recipe.mask_file(output)
    if mask_file is not None:  # the copy's recipe must still find the mask from its own folder
        recipe.mask = {**recipe.mask, "path": os.path.relpath(mask_file, target.resolve().parent)}
    save_output(target, pixels, recipe, icc_profile=stored.icc_profile, exif=stored.exif)
    # Compare the files as written, so a lossy format's encoding counts the same on both sides.
    again = load_photo(target).pixels
    if again.shape != stored.pixels.shape:
        return None
    return int(np.abs(again.astype(np.int64) - stored.pixels.astype(np.int64)).max(initial=0))
