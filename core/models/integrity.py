"""Is a local model folder complete and intact? Structure checks, checksums and the lock file.

A download records each file's size and sha256 in ``packshot-lock.json`` (hashes from the hub's LFS
metadata or the manifest, checked as the file arrives). ``verify`` re-hashes against that record,
against the manifest, and against the Hugging Face cache's content-addressed blob names.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import re
import struct
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Optional

from packshot.core.models.manifest import ModelSpec

log = logging.getLogger(__name__)
LOCK_NAME = "packshot-lock.json"
SINGLE_FILE_KINDS = ("sam", "onnx", "upscaler")  # one weights file per model folder
_HEX64 = re.compile(r"^[0-9a-f]{64}$")
WEIGHT_SUFFIXES = (".safetensors", ".bin", ".pth", ".pt", ".ckpt")
_CONFIG_ONLY = {"scheduler": ("scheduler_config.json",), "tokenizer": ("vocab.json", "tokenizer.json")}
_WEIGHT_NAMES = ("diffusion_pytorch_model", "model", "pytorch_model")
_SHARD = re.compile(r"-\d{5}-of-\d{5}$")


@dataclass
class VerifyReport:
    model_id: str
    folder: Optional[Path]
    problems: list[str] = field(default_factory=list)
    checked: int = 0
    notes: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return self.folder is not None and not self.problems


def sha256_file(path: Path, on_bytes: Optional[Callable[[int], None]] = None, chunk: int = 8 << 20) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        while block := handle.read(chunk):
            digest.update(block)
            if on_bytes:
                on_bytes(len(block))
    return digest.hexdigest()


def missing_parts(spec: ModelSpec, folder: Path) -> list[str]:
    """What a usable copy of ``spec`` lacks in ``folder`` (empty list = complete)."""
    if not folder.is_dir():
        return [f"{folder} does not exist"]
    if spec.kind in SINGLE_FILE_KINDS:
        names = [f.path for f in spec.files]
        if any((folder / n).is_file() for n in names) or _single_checkpoint(folder):
            return []
        return [names[0] if names else f"a {spec.kind} weights file"]
    if spec.kind == "diffusers-component":  # one model's folder (TAESD): config + weights, no pipeline index
        lacking = [] if (folder / "config.json").is_file() else ["config.json"]
        return lacking + ([] if _weight_files(folder) else ["weights (.safetensors)"])
    if spec.kind == "transformers":  # one transformers model folder (e.g. BLIP): config + weights at the top
        return [] if (folder / "config.json").is_file() and _weight_files(folder) else ["config.json and weights"]
    if not (folder / "model_index.json").is_file():
        return ["model_index.json"]
    lacking = []
    for component in spec.components or _components_from_index(folder):
        sub = folder / component
        wanted = _CONFIG_ONLY.get(component)
        if wanted:
            if not any((sub / w).is_file() for w in wanted):
                lacking.append(f"{component}/{wanted[0]}")
            continue
        if not (sub / "config.json").is_file():
            lacking.append(f"{component}/config.json")
        if not _weight_files(sub):
            lacking.append(f"{component}/ weights (.safetensors)")
    return lacking


def _components_from_index(folder: Path) -> list[str]:
    info = json.loads((folder / "model_index.json").read_text(encoding="utf-8"))
    return [k for k, v in info.items() if not k.startswith("_") and isinstance(v, list) and v[0]]


def _weight_files(sub: Path) -> list[Path]:
    if not sub.is_dir():
        return []
    # Sharded weights (text_encoder/model-00001-of-00002.safetensors, FLUX.2 klein's Qwen3) count too.
    return [p for p in sub.iterdir() if p.suffix in WEIGHT_SUFFIXES
            and _SHARD.sub("", p.stem.split(".")[0]) in _WEIGHT_NAMES]


def _single_checkpoint(folder: Path) -> Optional[Path]:
    found = [p for p in folder.iterdir() if p.is_file() and p.suffix in (".pth", ".safetensors", ".pt", ".onnx")]
    return found[0] if len(found) == 1 else None


def weights_file(spec: ModelSpec, folder: Path) -> Path:
    """The weights file of a single-file model folder (a SAM checkpoint, an ONNX model)."""
    for f in spec.files:
        if (folder / f.path).is_file():
            return folder / f.path
    found = _single_checkpoint(folder)
    if found is None:
        raise FileNotFoundError(f"No single {spec.kind} weights file in {folder}")
    return found


def safetensors_truncation(path: Path) -> Optional[str]:
    """A reason if a safetensors file's header promises more bytes than the file has."""
    size = path.stat().st_size
    try:
        with open(path, "rb") as handle:
            (header_len,) = struct.unpack("<Q", handle.read(8))
            if header_len > size - 8:
                return "header longer than the file"
            header = json.loads(handle.read(header_len))
    except (struct.error, json.JSONDecodeError, UnicodeDecodeError):
        return "unreadable header"
    end = max((v["data_offsets"][1] for k, v in header.items() if k != "__metadata__"), default=0)
    expected = 8 + header_len + end
    if size != expected:
        return f"{size} bytes, header says {expected}"
    return None


def read_lock(folder: Path) -> dict:
    """The lock file a download wrote into its folder ({} if none)."""
    return _read_json(folder / LOCK_NAME)


def write_lock(folder: Path, model_id: str, files: dict[str, dict], **extra: str) -> None:
    _write_json(folder / LOCK_NAME, {"model_id": model_id, **extra, "files": dict(sorted(files.items()))})


def model_files(folder: Path) -> list[Path]:
    """Every file that belongs to the model (not our lock, not download leftovers)."""
    return sorted(
        p for p in folder.rglob("*")
        if p.is_file() and p.name != LOCK_NAME and ".cache" not in p.relative_to(folder).parts
        and not p.name.endswith((".incomplete", ".part", ".tmp"))
    )


def verify_folder(spec: ModelSpec, folder: Path, *, record_if_unlocked: bool = True,
                  record_to: Optional[Path] = None,
                  on_bytes: Optional[Callable[[int], None]] = None) -> VerifyReport:
    """Check every file of a model folder; name each file that is missing, truncated or altered.

    A folder we downloaded carries its own lock file. For any other folder (the user's, the shared
    Hugging Face cache) the first clean verify records the hashes in ``record_to``, a file of ours:
    we never write into folders we do not own.
    """
    report = VerifyReport(spec.id, folder)
    report.problems += [f"missing: {part}" for part in missing_parts(spec, folder)]
    lock = read_lock(folder).get("files", {})
    if not lock and record_to is not None and record_to.is_file():
        lock = _read_json(record_to).get("files", {})
    known = {f.path: f for f in spec.files}
    if spec.kind in SINGLE_FILE_KINDS and len(spec.files) == 1 and spec.files[0].sha256:
        # Whatever the file is called, it must be the published one: check it against the manifest.
        only = _single_checkpoint(folder)
        if only is not None and only.name != spec.files[0].path:
            known[only.name] = spec.files[0]
    seen: dict[str, dict] = {}
    for path in model_files(folder):
        rel = path.relative_to(folder).as_posix()
        size = path.stat().st_size
        expect = lock.get(rel) or ({"bytes": known[rel].bytes, "sha256": known[rel].sha256} if rel in known else None)
        blob = path.resolve().name if path.is_symlink() else ""
        if expect is None and _HEX64.match(blob):  # Hugging Face cache: LFS blobs are named by sha256
            expect = {"sha256": blob}
        if path.suffix == ".safetensors" and (why := safetensors_truncation(path)):
            report.problems.append(f"truncated: {rel} ({why})")
            continue
        if expect and expect.get("bytes") is not None and size != expect["bytes"]:
            report.problems.append(f"wrong size: {rel} ({size} bytes, expected {expect['bytes']})")
            continue
        digest = sha256_file(path, on_bytes)
        report.checked += 1
        if expect and expect.get("sha256") and digest != expect["sha256"]:
            report.problems.append(f"checksum mismatch: {rel} (sha256 {digest[:12]}..., expected {expect['sha256'][:12]}...)")
        seen[rel] = {"bytes": size, "sha256": digest}
    for rel in lock:
        if rel not in seen and not (folder / rel).exists() and not any(rel in p for p in report.problems):
            report.problems.append(f"missing: {rel} (listed in {LOCK_NAME})")
    if not lock and not report.problems and record_if_unlocked and seen and record_to is not None:
        record_to.parent.mkdir(parents=True, exist_ok=True)
        _write_json(record_to, {"model_id": spec.id, "folder": str(folder),
                                "recorded": "first verify (trust on first use)", "files": dict(sorted(seen.items()))})
        report.notes.append(f"no checksums were recorded for this folder; recorded them in {record_to}")
    return report


def _read_json(path: Path) -> dict:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError):
        return {}


def _write_json(path: Path, data: dict) -> None:
    tmp = path.with_name(f"{path.name}.{os.getpid()}.tmp")  # Ray actors on one machine may write at once
    tmp.write_text(json.dumps(data, indent=2) + "\n", encoding="utf-8")
    tmp.replace(path)


def check_recorded(folder: Path, stamps: Optional[Path] = None,
                   on_bytes: Optional[Callable[[int], None]] = None) -> list[str]:
    """Problems of ``folder`` against the checksums its download recorded (``packshot-lock.json``); [] if none.

    For loads: every recorded file must exist with its size (a ``stat``), and its bytes must hash to the
    recorded sha256. A file already hashed at the same size and modification time is not hashed again:
    ``stamps`` (a file of ours, outside the model folder) remembers those. A folder without a lock (the
    user's own, the Hugging Face cache) has nothing recorded here: ``verify_folder`` covers it.
    """
    recorded = read_lock(folder).get("files", {})
    if not recorded:
        return []
    seen = _read_json(stamps).get("files", {}) if stamps is not None else {}
    problems, checked = [], {}
    for rel, want in sorted(recorded.items()):
        path = folder / rel
        try:
            stat = path.stat()
        except OSError:
            problems.append(f"missing: {rel}")
            continue
        if want.get("bytes") is not None and stat.st_size != want["bytes"]:
            problems.append(f"wrong size: {rel} ({stat.st_size} bytes, recorded {want['bytes']})")
            continue
        stamp = [stat.st_size, stat.st_mtime_ns, want.get("sha256")]
        if seen.get(rel) != stamp and want.get("sha256"):
            if stat.st_size > 100_000_000:
                log.info("Checking %s (%.1f GB) against the sha256 recorded at download (once per file)",
                         path, stat.st_size / 1e9)
            digest = sha256_file(path, on_bytes)
            if digest != want["sha256"]:
                problems.append(f"checksum mismatch: {rel} (sha256 {digest[:12]}..., recorded "
                                f"{want['sha256'][:12]}...)")
                continue
        checked[rel] = stamp
    if stamps is not None and checked != seen:
        try:  # only a memo of hashing done: a read-only data folder means hashing again next time
            stamps.parent.mkdir(parents=True, exist_ok=True)
            _write_json(stamps, {"folder": str(folder), "files": checked})
        except OSError as exc:
            log.info("Could not remember the checked files in %s: %s", stamps, exc)
    return problems
