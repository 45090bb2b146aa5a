"""The batch and photo jobs of a Ray batch whose input or output folder is a URI (``s3://…``).

They are the local ``BatchJob`` and ``PhotoJob`` with their file access redirected through
``packshot.core.cluster.storage.Tree``: the same listing rule and order, the same names, the same decoding and
encoding code, so outputs match the local batch's byte for byte except the recipe's ``input_path``,
which names the original where it lives (its URI). Resume is the local rule: an output whose recipe
carries this job's key and the photo's sha256 is done.
"""

from __future__ import annotations

import hashlib
import io
from pathlib import Path
from typing import Any, Optional

from packshot.core.cluster.storage import HEAD_BYTES, Tree
from packshot.core.errors import PackshotError
from packshot.core.images import Photo, decode_photo
from packshot.core.jobs.batch import BatchJob
from packshot.core.jobs.outcomes import PhotoOutcome
from packshot.core.jobs.photo import PhotoJob, PhotoWork
from packshot.core.progress import CancelToken, ProgressCallback, no_progress
from packshot.core.recipe import Recipe, embeds_in_file, encode_output, recipe_in_image, sidecar_path


class RemoteBatchJob(BatchJob):
    """``BatchJob`` over ``Tree`` folders; its ``input_dir``/``out_dir`` are their mirror paths."""

    def __init__(self, inputs: Tree, outputs: Tree, settings: Any, *, runtime: Any) -> None:
        super().__init__(inputs.mirror, outputs.mirror, settings, runtime=runtime)
        self.input_tree, self.output_tree = inputs, outputs

    def list_inputs(self) -> list[Path]:
        if self.input_tree.where == self.output_tree.where:
            raise PackshotError("--out must not be the input folder: originals are never written.")
        photos = self.input_tree.list_photos() if self.input_tree.remote else super().list_inputs()
        if self.output_tree.remote:
            self.output_tree.check_writable()  # a missing bucket or no credentials stop it before any work
        return photos

    def lock(self) -> None:
        """No lock on an object store (it has none to take); a second run on the same URI redoes the
        same photos into the same bytes, so it wastes work but corrupts nothing."""
        if not self.output_tree.remote:
            super().lock()


class RemotePhotoJob(PhotoJob):
    """``PhotoJob`` whose photo and outputs are mirror paths of ``Tree`` folders (either may be local)."""

    def __init__(self, photo_path: Path, out_dir: Path, context: Any, *, stem: str, inputs: Tree,
                 outputs: Tree) -> None:
        super().__init__(photo_path, out_dir, context, stem=stem)
        self.input_tree, self.output_tree = inputs, outputs
        self._data: Optional[bytes] = None
        self._local_masks: list[Path] = []

    @property
    def source(self) -> str:
        return self.input_tree.uri_of(self.path) if self.input_tree.remote else super().source

    # -- the input -----------------------------------------------------------------------
    def input_bytes(self) -> bytes:
        """The original's bytes, fetched once per job (the resume check and the read share them)."""
        if self._data is None:
            self._data = self.input_tree.read_bytes(self.path)
        return self._data

    def input_sha(self) -> str:
        if not self.input_tree.remote:
            return super().input_sha()
        return hashlib.sha256(self.input_bytes()).hexdigest()

    def load_input(self) -> tuple[Photo, str]:
        if not self.input_tree.remote:
            return super().load_input()
        return decode_photo(self.input_bytes(), self.path), self.input_sha()

    # -- masks: computed and snapshotted locally as ever, then put next to the outputs -------
    def mask_stage(self, work: PhotoWork, progress: ProgressCallback = no_progress,
                   cancel: Optional[CancelToken] = None) -> Optional[PhotoOutcome]:
        try:
            return super().mask_stage(work, progress, cancel)
        finally:
            for local in self._local_masks:  # the object store has them now
                local.unlink(missing_ok=True)
            self._local_masks.clear()

    def _store_mask(self, path: Path, mask: Any, state: str, origin: Optional[dict] = None) -> tuple[Any, Path, str]:
        stored = super()._store_mask(path, mask, state, origin)
        self._put_local(path)
        return stored

    def _snapshot_mask(self, mask_file: Path, sha: str) -> Path:
        target = super()._snapshot_mask(mask_file, sha)
        self._put_local(target, Path(mask_file).read_bytes())  # same content; the target may be another's
        return target

    def _put_local(self, path: Path, data: Optional[bytes] = None) -> None:
        if self.output_tree.remote:
            self.output_tree.write_bytes(path, path.read_bytes() if data is None else data)
            self._local_masks.append(path)

    # -- outputs -------------------------------------------------------------------------
    def _save(self, out: Path, pixels: Any, photo: Photo, recipe: Recipe) -> None:
        if not self.output_tree.remote:
            return super()._save(out, pixels, photo, recipe)
        data, sidecar = encode_output(out, pixels, recipe, icc_profile=photo.icc_profile, exif=photo.exif)
        if sidecar is not None:  # before the image, as locally: an image never lacks its recipe
            self.output_tree.write_bytes(sidecar_path(out), sidecar)
        self.output_tree.write_bytes(out, data)
        if sidecar is None:
            self.output_tree.remove(sidecar_path(out))  # a stale one from an earlier run
        return None

    def recipe_of(self, out: Path) -> Optional[Recipe]:
        if not self.output_tree.remote:
            return super().recipe_of(out)
        tree = self.output_tree
        head = tree.read_if_exists(out, head=HEAD_BYTES)
        if head is None:
            return None  # not made yet
        found = None
        if embeds_in_file(out):
            try:
                found = recipe_in_image(io.BytesIO(head), out.name)
            except PackshotError:  # the recipe may lie beyond the head: read it all
                found = None
            if found is None and len(head) >= HEAD_BYTES:
                found = recipe_in_image(io.BytesIO(tree.read_bytes(out)), out.name)
        if found is not None:
            return found
        side = tree.read_if_exists(sidecar_path(out))
        if side is None:
            raise PackshotError(f"{tree.uri_of(out)} carries no Packshot recipe.")
        return Recipe.from_json(side.decode("utf-8"))
