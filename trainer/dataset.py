"""Training samples from a folder of the brand's photos: image, background mask, caption.

Masks come from reviewed PNGs named like the photos when given, otherwise from the same masker the
batch job uses; they are computed once and cached beside the run. Captions: see ``packshot.trainer.captions``.
Photos that cannot be read or whose mask leaves no product or no background are skipped and named;
training refuses to start with fewer than ``MIN_USABLE_PHOTOS`` usable photos.

Data order is a pure function of (seed, draw number): draw ``i`` is photo ``perm(epoch)[pos]`` with a
crop from ``Random((seed, i))``, so a resumed run sees exactly the batches the uninterrupted run would.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from pathlib import Path
from typing import Optional

import numpy as np

from packshot.core.errors import ImageReadError, PackshotError
from packshot.core.images import list_photos, load_photo
from packshot.core.progress import CancelToken, Progress, ProgressCallback, check, no_progress
from packshot.trainer.captions import CaptionSource

MIN_USABLE_PHOTOS = 4  # below this a fine-tune only memorises; the wizard and CLI say so
MIN_PART = 0.002  # a mask whose product or background covers less than 0.2% of the photo is unusable


@dataclass
class Sample:
    photo: Path
    mask_png: Path  # white = product
    caption: str


@dataclass
class DataReport:
    """What was usable and why the rest was not (each problem names its file)."""

    samples: list[Sample] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)

    def require(self, minimum: int = MIN_USABLE_PHOTOS, where: Path | None = None) -> None:
        if len(self.samples) >= minimum:
            return
        detail = "".join(f"\n  - {p}" for p in self.problems[:20])
        more = f"\n  … and {len(self.problems) - 20} more" if len(self.problems) > 20 else ""
        raise PackshotError(
            f"Only {len(self.samples)} usable photo(s) in {where}; training needs at least {minimum}.{detail}{more}")


def prepare_samples(data_dir: Path, work_dir: Path, *, masks_dir: Optional[Path] = None, masker=None, runtime=None,
                    captions: Optional[CaptionSource] = None, progress: ProgressCallback = no_progress,
                    cancel: Optional[CancelToken] = None) -> DataReport:
    """One sample per usable photo; the rest are reported by name, never fatal on their own."""
    from packshot.core.masking import load_mask_png, mask_path_for, save_mask_png

    data_dir = Path(data_dir)
    photos = list_photos(data_dir)
    if not photos:
        raise PackshotError(f"No photos found in {data_dir} (JPEG, PNG, WebP or TIFF).")
    captions = captions or CaptionSource(data_dir)
    report = DataReport(problems=list(captions.problems(photos)))
    cache = Path(work_dir) / "masks"
    for i, path in enumerate(photos):
        check(cancel)
        progress(Progress("masks", i, len(photos), path.name))
        try:
            cached = cache / f"{path.stem}-{_content_id(path)}.png"  # an edited photo gets a fresh mask
        except OSError as exc:
            report.problems.append(f"{path.name}: cannot be read ({exc.strerror or exc}).")
            continue
        if not cached.is_file():
            try:
                photo = load_photo(path)
            except ImageReadError as exc:
                report.problems.append(f"{path.name}: cannot be read ({exc}).")
                continue
            given = mask_path_for(path, masks_dir) if masks_dir else None
            try:
                if given is not None and given.is_file():
                    mask = load_mask_png(given, photo.size).mask
                else:
                    if masker is None:
                        from packshot.core.masking import build_masker

                        masker = build_masker("auto", runtime)
                    mask = masker.compute(photo, cancel=cancel).mask
            except PackshotError as exc:
                report.problems.append(f"{path.name}: no mask ({exc}).")
                continue
            if (why := _unusable(mask)) is not None:
                report.problems.append(f"{path.name}: {why}")
                continue
            save_mask_png(cached, mask)
        report.samples.append(Sample(path, cached, captions.caption(path)))
    progress(Progress("masks", len(photos), len(photos), "masks ready"))
    return report


def _unusable(mask: np.ndarray) -> Optional[str]:
    share = float(np.mean(mask))
    if share < MIN_PART:
        return "its mask holds no product (nothing to keep); fix the mask or remove the photo."
    if share > 1 - MIN_PART:
        return "its mask covers the whole photo (no background to learn from); fix the mask or remove the photo."
    return None


def _content_id(path: Path) -> str:
    import hashlib

    return hashlib.sha256(path.read_bytes()).hexdigest()[:12]


class BrandDataset:
    """Random crops as in the paper: short side resized to ``resolution * 1.5``, then a square crop."""

    def __init__(self, samples: list[Sample], resolution: int, empty_caption_rate: float = 0.1, seed: int = 0):
        self.samples, self.resolution = samples, resolution
        self.empty_caption_rate = empty_caption_rate
        self.seed = seed

    def __len__(self) -> int:
        return len(self.samples)

    def __getitem__(self, index: int) -> dict:
        return self.item(index, random.Random(f"{self.seed}:{index}"))

    def item(self, index: int, rng: random.Random) -> dict:
        import cv2
        import torch

        sample = self.samples[index]
        rgb = load_photo(sample.photo).rgb8
        # The soft object map, area-resized like the authors' 9-channel training script: the ControlNet is
        # trained (and run, packshot.core.generation.pipeline) on the soft map; only the UNet's copy is binarised.
        product = cv2.imread(str(sample.mask_png), cv2.IMREAD_GRAYSCALE).astype(np.float32) / 255.0
        h, w = product.shape
        scale = self.resolution * 1.5 / min(h, w)
        size = (max(self.resolution, round(w * scale)), max(self.resolution, round(h * scale)))
        rgb = cv2.resize(rgb, size, interpolation=cv2.INTER_AREA)
        product = cv2.resize(product, size, interpolation=cv2.INTER_AREA)
        top = rng.randint(0, size[1] - self.resolution)
        left = rng.randint(0, size[0] - self.resolution)
        crop = (slice(top, top + self.resolution), slice(left, left + self.resolution))
        image = torch.from_numpy(rgb[crop].copy()).permute(2, 0, 1).float() / 127.5 - 1.0
        background = torch.from_numpy(np.clip(1.0 - product[crop], 0.0, 1.0))[None]  # soft; white = generate
        caption = "" if rng.random() < self.empty_caption_rate else sample.caption
        return {"image": image, "background": background, "caption": caption}


class Draws:
    """Draws ``start .. start + count`` of the endless, seeded sequence of (photo, crop) samples."""

    def __init__(self, dataset: BrandDataset, seed: int, start: int, count: int) -> None:
        self.dataset, self.seed, self.start, self.count = dataset, seed, start, count
        self._perms: dict[int, list[int]] = {}

    def __len__(self) -> int:
        return self.count

    def __getitem__(self, i: int) -> dict:
        draw = self.start + i
        epoch, pos = divmod(draw, len(self.dataset))
        if epoch not in self._perms:
            order = list(range(len(self.dataset)))
            random.Random(f"{self.seed}:epoch:{epoch}").shuffle(order)
            self._perms = {epoch: order}
        item = self.dataset.item(self._perms[epoch][pos], random.Random(f"{self.seed}:draw:{draw}"))
        item["draw"] = draw  # which draw of the sequence: with several processes, each trains on its own share
        return item
