"""Training step time and peak memory per mode at full size (random weights): ``python -m tests.benchmarks.bench_train``.

Each mode runs in its own child process (so peaks do not mix): full SI2 + 9-channel ControlNet shapes
(tests/factories/diffusion.py FULL_*), or for ``sd2-controlnet`` (the paper's ablation) full SD2 base + a
4-channel ControlNet from its UNet (tests/factories/sd2_controlnet.py), batch 1 at 512 px, fp32 on the CPU
(fp16 autocast on CUDA), through the trainer's own ``_Run.step`` (VAE encodes, text encoder, ControlNet +
UNet, AdamW step).
Steps: one warm-up and ``--steps`` timed. Prints a table; nothing is asserted. On a CPU a step takes
tens of seconds: a 1000-step run's time is extrapolated from these steps, not measured.
"""

from __future__ import annotations

import argparse
import json
import platform
import subprocess
import sys
import time


def _child(mode: str, steps: int, resolution: int, device_name: str) -> dict:
    import torch
    from accelerate import Accelerator
    from diffusers import DDPMScheduler

    from packshot.trainer.modes import build_mode
    from packshot.trainer.resources import peak_process_memory
    from packshot.trainer.train import TrainConfig, _Run
    from tests.factories.diffusion import build_components
    from tests.factories.sd2_controlnet import build_sd2_components

    device = torch.device(device_name)
    accelerator = Accelerator(cpu=device.type == "cpu", mixed_precision="fp16" if device.type == "cuda" else "no")
    dtype = torch.float16 if device.type == "cuda" else torch.float32
    parts = build_sd2_components("full") if mode == "sd2-controlnet" else build_components("full", with_controlnet=True)
    run = object.__new__(_Run)  # the real step code, without a data folder or a model folder on disk
    run.config = TrainConfig(data_dir=".", name="bench", mode=mode, batch_size=1, resolution=resolution)
    run.accelerator, run.parts, run.frozen_dtype = accelerator, parts, dtype
    run.mode = build_mode(mode, parts, None, accelerator.device, dtype, rank=8)
    run.noise_scheduler = DDPMScheduler.from_config(parts.scheduler_config)
    params = run.mode.trainable_parameters(run.mode.module)
    optimizer = torch.optim.AdamW(params, lr=run.config.lr)
    run.model, run.optimizer = accelerator.prepare(run.mode.module, optimizer)
    g = torch.Generator().manual_seed(0)
    background = torch.zeros(1, 1, resolution, resolution)
    background[..., : resolution // 3, :] = 1
    batch = {"image": torch.rand(1, 3, resolution, resolution, generator=g) * 2 - 1, "background": background,
             "caption": ["a bottle on marble"]}
    if device.type == "cuda":
        torch.cuda.reset_peak_memory_stats()
    times = []
    for _ in range(steps + 1):
        if device.type == "cuda":
            torch.cuda.synchronize()
        start = time.perf_counter()
        run.step([batch])
        if device.type == "cuda":
            torch.cuda.synchronize()
        times.append(time.perf_counter() - start)
    peak = torch.cuda.max_memory_allocated() if device.type == "cuda" else peak_process_memory()
    return {"mode": mode, "device": device_name, "trainable": sum(p.numel() for p in params),
            "first_s": times[0], "step_s": min(times[1:]), "peak_bytes": peak,
            "memory": "GPU" if device.type == "cuda" else "RSS"}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--modes", default="controlnet,lora,sd2-controlnet")
    parser.add_argument("--steps", type=int, default=1, help="timed steps after one warm-up")
    parser.add_argument("--resolution", type=int, default=512)
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--child", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        print("RESULT " + json.dumps(_child(args.child, args.steps, args.resolution, args.device)), flush=True)
        return
    rows = []
    for mode in args.modes.split(","):
        out = subprocess.run([sys.executable, "-m", "tests.benchmarks.bench_train", "--child", mode, "--steps",
                              str(args.steps), "--resolution", str(args.resolution), "--device", args.device],
                             capture_output=True, text=True)
        line = next((x for x in out.stdout.splitlines() if x.startswith("RESULT ")), None)
        if line is None:
            print(f"{mode}: failed\n{out.stderr[-2000:]}")
            continue
        rows.append(json.loads(line[7:]))
    print(f"\nTraining step, full-size random weights, batch 1 at {args.resolution} px, {args.device} "
          f"({platform.processor() or platform.machine()}, {__import__('os').cpu_count()} cores)")
    print(f"{'mode':<16}{'trainable':>14}{'first step s':>14}{'step s':>10}{'1000 steps (extrap.)':>22}{'peak':>12}")
    for r in rows:
        print(f"{r['mode']:<16}{r['trainable'] / 1e6:>12.1f} M{r['first_s']:>14.1f}{r['step_s']:>10.1f}"
              f"{r['step_s'] * 1000 / 3600:>20.1f} h{r['peak_bytes'] / 1024**3:>8.1f} GB {r['memory']}")


if __name__ == "__main__":
    main()
