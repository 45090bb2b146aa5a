"""``packshot replay OUTPUT [--out FILE]``: make an output again from the recipe it carries.

The new image is written atomically beside the output (``<name>.replay.<ext>``) or to ``--out``;
the original output is only replaced when ``--overwrite`` asks for it. The command then says
whether the new image is identical to the stored one (the largest pixel difference), which is
how a user checks that a result is reproducible: bit-identical for the plain engines, the same
seed on the same weights for the generative ones.
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from core.errors import PackshotError

REPLAY_INFIX = ".replay"


def register(subparsers: Any) -> None:
    p = subparsers.add_parser(
        "replay", help="make an output again from its recipe and compare it with the stored one",
        description="Reads the recipe inside OUTPUT (or its .recipe.json sidecar), renders the image again "
                    "and reports whether it is identical to OUTPUT. OUTPUT itself is never replaced "
                    "unless --overwrite is given.")
    p.add_argument("output", metavar="OUTPUT", type=Path, help="an image written by packshot batch or the app")
    p.add_argument("--out", dest="target", metavar="FILE", type=Path,
                   help="where to write the replayed image (default: <name>.replay.<ext> beside OUTPUT)")
    p.add_argument("--overwrite", action="store_true", help="allow --out to be OUTPUT itself")
    p.add_argument("--no-input-check", dest="check_input", action="store_false",
                   help="replay even if the original photo changed since (its sha256 differs)")
    p.add_argument("--quality", choices=("preview", "final"),
                   help="render at this quality instead of the recorded one: a preview's recipe with "
                        "--quality final gives the final image of the same seed (default name <name>.final.<ext>)")
    p.add_argument("--models-dir", help="folder holding model folders (<dir>/<model id>/...)")
    p.add_argument("--device", default="auto", help="auto, cpu, cuda or cuda:N")
    p.set_defaults(func=run_replay)


def default_target(output: Path, quality: str | None = None) -> Path:
    """``shoe.png`` -> ``shoe.replay.png`` (``shoe.final.png`` at another quality) in the same folder."""
    infix = f".{quality}" if quality else REPLAY_INFIX
    return output.with_name(f"{output.stem}{infix}{output.suffix}")


def run_replay(args: argparse.Namespace) -> int:
    from core.jobs.replay import replay_to
    from core.runtime import Runtime

    output = Path(args.output)
    if not output.is_file():
        raise PackshotError(f"No such output: {output}")
    from core.recipe import read_recipe

    recorded = str(read_recipe(output).settings.get("quality", "final"))
    quality = args.quality if args.quality and args.quality != recorded else None
    target = Path(args.target) if args.target else default_target(output, quality)
    if target.resolve() == output.resolve() and not args.overwrite:
        raise PackshotError(f"--out {target} is the output itself; add --overwrite to replace it.")
    diff = replay_to(output, target, runtime=Runtime(args.models_dir), device=args.device,
                     check_input=args.check_input, quality=quality)
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
