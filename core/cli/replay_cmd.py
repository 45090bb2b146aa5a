"""``packshot replay OUTPUT [--out FILE]``: make an output again from the recipe it carries.

The new image is written atomically beside the output under a name not taken yet
(``<name>.replay.<ext>``, ``<name>.replay-2.<ext>``, ...) or to ``--out`` when nothing is there; with
``--overwrite``, ``--out`` may replace a file Packshot made (it carries a recipe), never a photo. The
recipe is checked as strictly as the command line, and the files it names are read only inside the
output's folder, its project and the folders named with ``--allow-dir`` (``packshot.core.jobs.replay``). The
command then says whether the new image is identical to the stored one (the largest pixel
difference), which is how a user checks that a result is reproducible: bit-identical for the plain
engines, the same seed on the same weights for the generative ones.
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from packshot.core.errors import PackshotError
from packshot.core.settings_bounds import device_problem


def register(subparsers: Any) -> None:
    p = subparsers.add_parser(
        "replay", help="make an output again from its recipe and compare it with the stored one",
        description="Reads the recipe inside OUTPUT (or its .recipe.json sidecar), renders the image again "
                    "and reports whether it is identical to OUTPUT. The recipe is checked like the command "
                    "line, and reads files only in OUTPUT's folder, its Packshot project (and the photo and "
                    "mask folders that project records) and the folders named with --allow-dir. Nothing is "
                    "replaced unless --overwrite is given, and never a photo.")
    p.add_argument("output", metavar="OUTPUT", type=Path, help="an image written by packshot batch or the app")
    p.add_argument("--out", dest="target", metavar="FILE", type=Path,
                   help="where to write the replayed image, a name that does not exist yet (default: "
                        "<name>.replay.<ext> beside OUTPUT, or the next free <name>.replay-N.<ext>)")
    p.add_argument("--overwrite", action="store_true",
                   help="allow --out to replace a file Packshot made (OUTPUT itself, an earlier replay); "
                        "never a photo or a file without a recipe")
    p.add_argument("--allow-dir", dest="allow", metavar="DIR", type=Path, action="append", default=[],
                   help="a folder the recipe may also read from (its original photo, mask or background "
                        "picture), for a recipe whose files lie outside OUTPUT's project; repeatable")
    p.add_argument("--no-input-check", dest="check_input", action="store_false",
                   help="replay even if the original photo changed since (its sha256 differs)")
    p.add_argument("--quality", choices=("preview", "final"),
                   help="render at this quality instead of the recorded one: a preview's recipe with "
                        "--quality final gives the final image of the same seed (default name <name>.final.<ext>)")
    p.add_argument("--models-dir", help="folder holding model folders (<dir>/<model id>/...)")
    p.add_argument("--device", default="auto", help="auto, cpu, mps, cuda or cuda:N")
    p.set_defaults(func=run_replay)


def run_replay(args: argparse.Namespace) -> int:
    from packshot.core.jobs.render import check_recipe
    from packshot.core.jobs.replay import replay_target, replay_to
    from packshot.core.recipe import read_recipe
    from packshot.core.runtime import Runtime

    output = Path(args.output)
    if not output.is_file():
        raise PackshotError(f"No such output: {output}")
    if device_problem(args.device):
        raise PackshotError(f"--device {device_problem(args.device)}")
    for folder in args.allow:
        if not Path(folder).is_dir():
            raise PackshotError(f"--allow-dir {folder}: no such folder.")
    recipe = read_recipe(output)
    check_recipe(recipe)  # every value, before anything is read or written
    recorded = str(recipe.settings.get("quality", "final"))
    quality = args.quality if args.quality and args.quality != recorded else None
    target = replay_target(output, recipe, args.target, overwrite=args.overwrite, quality=quality)
    diff = replay_to(output, target, runtime=Runtime(args.models_dir), device=args.device,
                     check_input=args.check_input, quality=quality, overwrite=args.overwrite, allow=args.allow)
    if quality is not None:
        print(f"Rendered {output} again at {quality} quality (same seed and models) -> {target}.")
    elif diff is None:
        print(f"Replayed {output} -> {target}: its size differs from the stored output.")
    elif diff == 0:
        print(f"Replayed {output} -> {target}: identical to the stored output (max pixel difference 0).")
    else:
        print(f"Replayed {output} -> {target}: differs from the stored output "
              f"(max pixel difference {diff}).")
    return 0
