"""Benchmark: mask time per photo with BiRefNet-lite and BiRefNet (full size, random weights, ONNX on CPU).

Run: ``python -m tests.benchmarks.bench_masks_learned [--width 2000 --height 1500] [--repeats 3]
[--variants lite full] [--flops] [--keep DIR]``

The real BiRefNet graph is in no installed package, so the networks timed here are STAND-INS built
by tests/factories/birefnet.py: the true Swin-T / Swin-L backbones (torchvision's Swin v1 with
BiRefNet's settings, run at full and half size as BiRefNet does) and BiRefNet's decoder layout, with
each deformable conv replaced by convs of the same size (same weights and multiply-adds, without the
bilinear sampling). Exported to ONNX in the released layout and loaded through the real path
(ModelStore -> manifest -> prior_learned), each photo is timed end to end: preprocessing (Lanczos to
1024 x 1024, ImageNet normalisation), the network, the sigmoid, resizing to the photo and
thresholding. ``--flops`` counts the stand-in's FLOPs with torch's FlopCounterMode (one extra
forward pass per variant). Random weights: the masks are noise, the timings are the model's.
"""

from __future__ import annotations

import argparse
import os
import statistics
import tempfile
import time
from pathlib import Path


def _count_gflops(lite: bool) -> float:
    import torch
    from torch.utils.flop_counter import FlopCounterMode

    from tests.factories.birefnet import build_full_size_birefnet

    model = build_full_size_birefnet(lite)
    with torch.no_grad(), FlopCounterMode(display=False) as counter:
        model(torch.zeros(1, 3, 1024, 1024))
    return counter.get_total_flops() / 1e9


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--width", type=int, default=2000)
    parser.add_argument("--height", type=int, default=1500)
    parser.add_argument("--repeats", type=int, default=3, help="timed photos per variant (after one warm-up)")
    parser.add_argument("--variants", nargs="+", default=["lite", "full"], choices=["lite", "full"])
    parser.add_argument("--flops", action="store_true", help="also count the stand-in's FLOPs (slow)")
    parser.add_argument("--keep", type=Path, help="models folder to keep the exported ONNX files in (reused)")
    args = parser.parse_args(argv)

    from packshot.core.masking.prior import PRIORS
    from packshot.core.runtime import Runtime
    from tests.core.masking.scenes import product_on_plain
    from tests.factories.birefnet import FILES, write_full_size_birefnet

    image, _ = product_on_plain(args.height, args.width)
    rows: list[tuple[str, str, str, str, str, str]] = []
    with tempfile.TemporaryDirectory(prefix="bench-birefnet-") as tmp:
        models = args.keep or Path(tmp)
        for variant in args.variants:
            lite = variant == "lite"
            model_id = "birefnet-general-lite" if lite else "birefnet-general"
            path = models / model_id / FILES[model_id]
            t = time.perf_counter()
            if not path.is_file():
                write_full_size_birefnet(models, lite)
            built = time.perf_counter() - t
            gflops = f"{_count_gflops(lite):.0f}" if args.flops else "-"
            t = time.perf_counter()  # a fresh runtime: the session load is timed
            # the concrete variant: "birefnet" would pick lite on the CPU when both files are present
            prior = PRIORS["birefnet-lite" if lite else "birefnet"](
                runtime=Runtime(models, offline=True, use_hf_cache=False), device="cpu")
            assert prior.model_id == model_id
            loaded = time.perf_counter() - t
            prior(image)  # warm-up: first-run allocations
            totals, nets = [], []
            for _ in range(args.repeats):
                t = time.perf_counter()
                x = prior.preprocess(image)
                t_net = time.perf_counter()
                prior.session.run(None, {prior.input_name: x})
                nets.append(time.perf_counter() - t_net)
                t = time.perf_counter()
                result = prior(image)
                totals.append(time.perf_counter() - t)
            assert result.mask.shape == image.shape[:2]
            rows.append((f"BiRefNet{'-lite' if lite else ''} ({model_id})",
                         f"{path.stat().st_size / 1e6:.0f} MB", gflops,
                         f"{built:.0f} s / {loaded:.1f} s", f"{statistics.median(nets):.2f} s",
                         f"{statistics.median(totals):.2f} s"))
            del prior  # and with it the runtime that held its session

    threads = os.cpu_count()
    print(f"Learned prior, one {args.width} x {args.height} photo, onnxruntime CPU ({threads} cores), "
          f"median of {args.repeats}; STAND-IN networks with random weights (see the docstring)")
    head = ("model", "ONNX file", "GFLOPs @1024", "export / load", "network", "mask per photo")
    widths = [max(len(h), *(len(r[i]) for r in rows)) for i, h in enumerate(head)]
    print(" | ".join(h.ljust(w) for h, w in zip(head, widths)))
    print("-|-".join("-" * w for w in widths))
    for r in rows:
        print(" | ".join(c.ljust(w) for c, w in zip(r, widths)))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
