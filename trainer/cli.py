"""``packshot train``: fine-tune the ControlNet on a folder of brand photos."""

from __future__ import annotations

import argparse
from pathlib import Path


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "train", help="fine-tune the background ControlNet on your own product photos",
        description="Only the ControlNet trains (SI2 stays frozen), as in the paper. The result appears "
                    "in `packshot models list` under NAME and is used with `packshot batch --model NAME`.")
    parser.add_argument("data_dir", type=Path, help="folder of your product photos (captions.csv optional)")
    parser.add_argument("--name", required=True, help="name of the new model")
    parser.add_argument("--base", default="photo-background-generation", help="model to start from")
    parser.add_argument("--steps", type=int, default=1000)
    parser.add_argument("--batch-size", type=int, default=4)
    parser.add_argument("--lr", type=float, default=5e-6, help="learning rate (paper: 5e-6)")
    parser.add_argument("--resolution", type=int, default=512)
    parser.add_argument("--checkpoint-every", type=int, default=500)
    parser.add_argument("--masks", type=Path, help="reviewed masks named like the photos (PNG, white = product)")
    parser.add_argument("--models-dir", type=Path, help="where models live (default: data dir)")
    parser.add_argument("--device", default="auto", choices=("auto", "cuda", "cpu"))
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--restart", action="store_true",
                        help="discard an earlier run of this name instead of continuing it")
    parser.set_defaults(func=_run)


def _run(args: argparse.Namespace) -> int:
    from tqdm import tqdm

    from core.models.store import ModelStore
    from trainer.train import TrainConfig, train_controlnet

    config = TrainConfig(data_dir=args.data_dir, name=args.name, base_model=args.base, steps=args.steps,
                         batch_size=args.batch_size, learning_rate=args.lr, resolution=args.resolution,
                         checkpoint_every=args.checkpoint_every, masks_dir=args.masks, device=args.device,
                         seed=args.seed)
    bars: dict[str, tqdm] = {}

    def show(p) -> None:
        bar = bars.get(p.stage) or bars.setdefault(p.stage, tqdm(total=p.total, desc=p.stage, unit="step"))
        bar.update(p.done - bar.n)
        bar.set_postfix_str(p.message)

    try:
        folder = train_controlnet(config, ModelStore(args.models_dir), progress=show, restart=args.restart)
    finally:
        for bar in bars.values():
            bar.close()
    print(f"Model '{args.name}' is ready in {folder}. Use it with: packshot batch PHOTOS --model {args.name}")
    return 0
