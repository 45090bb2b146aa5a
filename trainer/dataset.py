"""Training samples from a folder of the brand's photos: image, background mask, caption.

Masks come from reviewed PNGs named like the photos when given, otherwise from the same masker the
batch job uses; they are computed once and cached beside the run. Captions come from a ``captions.csv``
(file,caption), a ``<stem>.txt`` beside the photo, or the file name.
"""

from __future__ import annotations

import csv
import random
from dataclasses import dataclass
from pathlib import Path
from typing import Optional

import numpy as np

from core.errors import ImageReadError, PackshotError
from core.images import list_photos, load_photo
from core.progress import CancelToken, Progress, ProgressCallback, check, no_progress


@dataclass
class Sample:
    photo: Path
    mask_png: Path  # white = product
    caption: str


def caption_for(photo: Path, table: dict[str, str]) -> str:
    if photo.name in table:
        return table[photo.name]
    side = photo.with_suffix(".txt")
    if side.is_file():
        return side.read_text(encoding="utf-8").strip()
    return photo.stem.replace("_", " ").replace("-", " ").strip()


def read_captions(folder: Path) -> dict[str, str]:
    path = folder / "captions.csv"
    if not path.is_file():
        return {}
    with open(path, newline="", encoding="utf-8") as handle:
        rows = list(csv.DictReader(handle))
    if rows and not {"file", "caption"} <= set(rows[0]):
        raise PackshotError(f"{path} needs the columns 'file' and 'caption'.")
    return {row["file"]: row["caption"] for row in rows}


def prepare_samples(data_dir: Path, work_dir: Path, *, masks_dir: Optional[Path] = None, masker=None, store=None,
                    progress: ProgressCallback = no_progress, cancel: Optional[CancelToken] = None) -> list[Sample]:
    """One sample per readable photo; unreadable photos are skipped with a warning, never fatal."""
    from core.masking import load_mask_png, mask_path_for, save_mask_png

    photos = list_photos(data_dir)
    if not photos:
        raise PackshotError(f"No photos found in {data_dir} (JPEG, PNG, WebP or TIFF).")
    captions = read_captions(data_dir)
    cache = work_dir / "masks"
    samples = []
    for i, path in enumerate(photos):
        check(cancel)
        progress(Progress("masks", i, len(photos), path.name))
        cached = cache / f"{path.stem}-{_content_id(path)}.png"  # an edited photo gets a fresh mask
        if not cached.is_file():
            try:
                photo = load_photo(path)
            except ImageReadError as exc:
                progress(Progress("masks", i + 1, len(photos), f"skipped: {exc}"))
                continue
            given = mask_path_for(path, masks_dir) if masks_dir else None
            if given is not None and given.is_file():
                mask = load_mask_png(given, photo.size).mask
            else:
                if masker is None:
                    from core.masking import build_masker

                    masker = build_masker("auto", store)
                mask = masker.compute(photo, cancel=cancel).mask
            save_mask_png(cached, mask)
        samples.append(Sample(path, cached, caption_for(path, captions)))
    progress(Progress("masks", len(photos), len(photos), "masks ready"))
    return samples


def _content_id(path: Path) -> str:
    import hashlib

    return hashlib.sha256(path.read_bytes()).hexdigest()[:12]


class BrandDataset:
    """Random crops as in the paper: short side resized to ``resolution * 1.5``, then a square crop."""

    def __init__(self, samples: list[Sample], resolution: int, empty_caption_rate: float = 0.1, seed: int = 0):
        self.samples, self.resolution = samples, resolution
        self.empty_caption_rate = empty_caption_rate
        self.rng = random.Random(seed)

    def __len__(self) -> int:
        return len(self.samples)

    def __getitem__(self, index: int) -> dict:
        import cv2
        import torch

        sample = self.samples[index]
        rgb = load_photo(sample.photo).rgb8
        product = cv2.imread(str(sample.mask_png), cv2.IMREAD_GRAYSCALE) > 127
        h, w = product.shape
        scale = self.resolution * 1.5 / min(h, w)
        size = (max(self.resolution, round(w * scale)), max(self.resolution, round(h * scale)))
        rgb = cv2.resize(rgb, size, interpolation=cv2.INTER_AREA)
        product = cv2.resize(product.astype(np.uint8), size, interpolation=cv2.INTER_NEAREST) > 0
        top = self.rng.randint(0, size[1] - self.resolution)
        left = self.rng.randint(0, size[0] - self.resolution)
        crop = (slice(top, top + self.resolution), slice(left, left + self.resolution))
        image = torch.from_numpy(rgb[crop].copy()).permute(2, 0, 1).float() / 127.5 - 1.0
        background = torch.from_numpy((~product[crop]).astype(np.float32))[None]  # white = generate
        caption = "" if self.rng.random() < self.empty_caption_rate else sample.caption
        return {"image": image, "background": background, "caption": caption}
