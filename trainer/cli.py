"""``packshot train``: fine-tune on a folder of brand photos (the paper's ControlNet, or a style LoRA).

The CLI trains in its own process (this one), so ``accelerate launch`` spreads it over several GPUs
with no code change:

    accelerate launch --multi_gpu --num_processes 8 -m packshot.core.cli.main train PHOTOS --name my-brand

The desktop app instead starts ``python -m packshot.trainer.run_process`` so that training can never take it down.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from packshot.core.devices import DEVICE_CHOICES


def register(subparsers: argparse._SubParsersAction) -> None:
    from packshot.trainer.dataset import MIN_USABLE_PHOTOS
    from packshot.trainer.modes import MODES

    parser = subparsers.add_parser(
        "train", help="fine-tune the background model on your own product photos",
        description="Mode 'controlnet' trains only the ControlNet (SI2 frozen), as in the paper; mode 'lora' "
                    "trains a small style adapter on the SI2 UNet on top of the paper's model; mode "
                    "'sd2-controlnet' trains the paper's ablation, a text-to-image ControlNet on SD2 base "
                    "(stable-diffusion-2-base) with the object cut-out as control image, used with "
                    "`packshot batch --engine sd2-controlnet --model NAME`. The result "
                    "appears in `packshot models list` under NAME and is used with `packshot batch --model NAME`. "
                    f"Needs at least {MIN_USABLE_PHOTOS} usable photos.")
    parser.add_argument("data_dir", type=Path, help="folder of your product photos (captions.csv optional)")
    parser.add_argument("--name", required=True, help="name of the new model")
    parser.add_argument("--mode", default="controlnet", choices=MODES)
    parser.add_argument("--base", default=None, help="model to start from (default: photo-background-generation; "
                                                     "stable-diffusion-2-base for --mode sd2-controlnet)")
    parser.add_argument("--steps", type=int, default=1000)
    parser.add_argument("--batch-size", type=int, default=4, help="per GPU")
    parser.add_argument("--grad-accum", type=int, default=1, help="micro-batches per optimizer step")
    parser.add_argument("--lr", type=float, default=None, help="learning rate (default: paper 5e-6; LoRA 1e-4; sd2-controlnet 5e-6)")
    parser.add_argument("--lora-rank", type=int, default=8)
    parser.add_argument("--resolution", type=int, default=512)
    parser.add_argument("--checkpoint-every", type=int, default=500)
    parser.add_argument("--masks", type=Path, help="reviewed masks named like the photos (PNG, white = product)")
    parser.add_argument("--captions", type=Path, help="a file,caption CSV that takes precedence over the folder's")
    parser.add_argument("--caption-template", help="caption for photos without one, e.g. 'a photo of {stem}'")
    parser.add_argument("--blip-captions", action="store_true",
                        help="caption photos that have no caption with BLIP (blip-image-captioning-base)")
    parser.add_argument("--models-dir", type=Path, help="where models live (default: data dir)")
    parser.add_argument("--device", default="auto", choices=DEVICE_CHOICES)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--estimate", action="store_true",
                        help="time two steps and print the run's estimated duration and memory, then stop")
    parser.add_argument("--restart", action="store_true",
                        help="discard an earlier run of this name instead of continuing it")
    parser.set_defaults(func=_run)


def _run(args: argparse.Namespace) -> int:
    import os

    from tqdm import tqdm

    from packshot.core.runtime import Runtime
    from packshot.trainer.train import TrainConfig, estimate_run, train_controlnet

    config = TrainConfig(data_dir=args.data_dir, name=args.name, mode=args.mode, base_model=args.base,
                         steps=args.steps, batch_size=args.batch_size, grad_accum=args.grad_accum,
                         learning_rate=args.lr, lora_rank=args.lora_rank, resolution=args.resolution,
                         checkpoint_every=args.checkpoint_every, masks_dir=args.masks, captions_file=args.captions,
                         caption_template=args.caption_template, device=args.device, seed=args.seed)
    bars: dict[str, tqdm] = {}
    main = os.environ.get("RANK", "0") == "0"  # under `accelerate launch` only the first process talks

    def show(p) -> None:
        if not main:
            return
        if p.stage in ("estimate", "resume"):
            tqdm.write(p.message)
            return
        bar = bars.get(p.stage) or bars.setdefault(p.stage, tqdm(total=p.total, desc=p.stage, unit="step"))
        bar.update(p.done - bar.n)
        bar.set_postfix_str(p.message)

    def report(event: dict) -> None:
        if event.get("event") == "checkpoint":  # reported by the one process that writes it
            tqdm.write(f"checkpoint at step {event['step']}: {event['path']}")
        for problem in event.get("problems", []) if event.get("event") == "data" and main else []:
            tqdm.write(f"skipped: {problem}")

    runtime = Runtime(args.models_dir)
    if args.blip_captions:
        config.captions_file = _blip_captions(config, runtime.store)
    try:
        if args.estimate:
            print(estimate_run(config, runtime, progress=show, restart=args.restart, report=report).text())
            return 0
        folder = train_controlnet(config, runtime, progress=show, restart=args.restart, report=report)
    finally:
        for bar in bars.values():
            bar.close()
        _leave_process_group()
    if not main:
        return 0
    print(f"Model '{args.name}' is ready in {folder}. Use it with: packshot batch PHOTOS --model {args.name}")
    return 0


def _leave_process_group() -> None:
    """Under ``accelerate launch``: leave the process group before exiting (a process exiting with gloo's
    threads still running aborts)."""
    import sys

    if "torch.distributed" not in sys.modules:
        return
    import torch.distributed as dist

    if dist.is_available() and dist.is_initialized():
        dist.destroy_process_group()


def _blip_captions(config, store) -> Path:
    """Caption with BLIP the photos that have none; the table goes beside the run, never into the photo folder."""
    from packshot.core.images import list_photos
    from packshot.trainer.captions import CaptionSource, propose_captions, write_caption_csv

    source = CaptionSource(config.data_dir, config.captions_file, config.caption_template)
    proposed = propose_captions(list_photos(Path(config.data_dir)), source, store=store, use_model=True)
    root = Path(store.models_dir or store.download_dir)
    path = write_caption_csv(root / ".training" / ".captions" / config.name / "captions-blip.csv",
                             {name: caption for name, (caption, _) in proposed.items()})
    print(f"Captions written to {path}; review them and pass --captions {path} to train with your edits.")
    return path
