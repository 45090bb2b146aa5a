"""Captions for training photos, first match wins:

1. an explicit caption file (the wizard writes the table the user reviewed; ``--captions FILE``);
2. ``captions.csv`` (file,caption) in the photo folder;
3. a sidecar ``<stem>.txt`` beside the photo;
4. a template such as ``"a photo of {stem}"`` (``{stem}``: the file name without extension, ``_``/``-`` as spaces);
5. the file name itself.

``propose_captions`` can also ask a captioning model (BLIP through transformers) when it is on this
machine, as the paper captioned its data with BLIP-2; its proposals are meant to be reviewed.
"""

from __future__ import annotations

import csv
import logging
from pathlib import Path
from typing import Callable, Iterable, Optional

from packshot.core.errors import PackshotError

log = logging.getLogger(__name__)

CAPTION_MODEL_ID = "blip-image-captioning-base"
DEFAULT_TEMPLATE = "{stem}"


def read_caption_csv(path: Path) -> dict[str, str]:
    """``file,caption`` rows of ``path`` (file names, not paths); a clear error for a malformed file."""
    try:
        with open(path, newline="", encoding="utf-8-sig") as handle:
            rows = list(csv.DictReader(handle))
    except (OSError, UnicodeDecodeError, csv.Error) as exc:
        raise PackshotError(f"{path} cannot be read as a CSV file ({exc}).") from exc
    if rows and not {"file", "caption"} <= set(rows[0]):
        raise PackshotError(f"{path} needs the columns 'file' and 'caption'.")
    return {Path(row["file"] or "").name: (row["caption"] or "").strip() for row in rows}


def write_caption_csv(path: Path, captions: dict[str, str]) -> Path:
    """Write ``file,caption`` rows atomically (the wizard's reviewed table; never into the photo folder)."""
    import io

    from packshot.core.images import write_atomic

    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    handle = io.StringIO(newline="")
    writer = csv.writer(handle)
    writer.writerow(["file", "caption"])
    writer.writerows(sorted(captions.items()))
    return write_atomic(path, handle.getvalue().encode("utf-8"))  # Packshot's own temp name, never a user's


def stem_text(photo: Path) -> str:
    return photo.stem.replace("_", " ").replace("-", " ").strip()


class CaptionSource:
    def __init__(self, data_dir: Path, captions_file: Optional[Path] = None, template: Optional[str] = None) -> None:
        self.data_dir = Path(data_dir)
        self.template = template or DEFAULT_TEMPLATE
        if "{" in self.template and "{stem}" not in self.template:
            raise PackshotError(f"The caption template '{self.template}' may only use {{stem}}.")
        self.csv_path = self.data_dir / "captions.csv"
        self.folder_table = read_caption_csv(self.csv_path) if self.csv_path.is_file() else {}
        self.explicit_path = Path(captions_file) if captions_file else None
        if self.explicit_path is not None and not self.explicit_path.is_file():
            raise PackshotError(f"The caption file {self.explicit_path} does not exist.")
        self.explicit = read_caption_csv(self.explicit_path) if self.explicit_path else {}

    def caption(self, photo: Path) -> str:
        for table in (self.explicit, self.folder_table):
            if photo.name in table:
                return table[photo.name]
        side = photo.with_suffix(".txt")
        if side.is_file():
            try:
                return side.read_text(encoding="utf-8").strip()
            except (OSError, UnicodeDecodeError):
                log.warning("Caption file %s is unreadable; using the template", side)
        return self.template.replace("{stem}", stem_text(photo)).strip()

    def origin(self, photo: Path) -> str:
        """Where ``photo``'s caption comes from, for the wizard's table."""
        if photo.name in self.explicit:
            return "reviewed"
        if photo.name in self.folder_table:
            return "captions.csv"
        if photo.with_suffix(".txt").is_file():
            return "sidecar .txt"
        return "template"

    def problems(self, photos: Iterable[Path]) -> list[str]:
        names = {p.name for p in photos}
        out = []
        for source, table in ((self.explicit_path, self.explicit), (self.csv_path, self.folder_table)):
            missing = sorted(set(table) - names)
            if missing:
                out.append(f"{source} names file(s) that are not photos in {self.data_dir}: {', '.join(missing)}")
        return out


def caption_model_available(store) -> bool:
    try:
        return store is not None and store.available(CAPTION_MODEL_ID)
    except Exception:  # an unknown id (manifest without the entry) means: no model
        return False


def propose_captions(photos: list[Path], source: CaptionSource, *, store=None, use_model: bool = False,
                     progress: Callable[[int, int], None] = lambda done, total: None) -> dict[str, tuple[str, str]]:
    """``{file name: (caption, origin)}`` for review; with ``use_model`` BLIP captions the photos that
    have no caption of their own (csv or sidecar)."""
    out = {p.name: (source.caption(p), source.origin(p)) for p in photos}
    todo = [p for p in photos if out[p.name][1] == "template"]
    if use_model and todo:
        captioner = BlipCaptioner(store.path(CAPTION_MODEL_ID))
        for i, photo in enumerate(todo):
            progress(i, len(todo))
            try:
                out[photo.name] = (captioner.caption(photo), "BLIP")
            except PackshotError as exc:
                log.warning("Not captioned: %s", exc)
        progress(len(todo), len(todo))
    return out


class BlipCaptioner:
    """BLIP image captioning from a local folder (safetensors or weights_only .bin, no remote code)."""

    def __init__(self, folder: Path, device: str = "cpu") -> None:
        from transformers import BlipForConditionalGeneration, BlipProcessor

        self.processor = BlipProcessor.from_pretrained(str(folder), local_files_only=True)
        self.model = BlipForConditionalGeneration.from_pretrained(str(folder), local_files_only=True).eval().to(device)
        self.device = device

    def caption(self, photo: Path, max_new_tokens: int = 30) -> str:
        import torch

        from packshot.core.images import load_photo

        rgb = load_photo(photo).rgb8.copy()  # writable: the processor makes a tensor of it
        inputs = self.processor(images=rgb, return_tensors="pt").to(self.device)
        with torch.no_grad():
            ids = self.model.generate(**inputs, max_new_tokens=max_new_tokens)
        return self.processor.decode(ids[0], skip_special_tokens=True).strip()
