"""``packshot batch --ray``: the same batch as Ray Data stages, on one machine or a cluster.

Each stage is a class that builds its job context (models, masker) once in ``__init__`` and then
handles one photo per call, as Ray's batch-inference guide recommends:

    read (CPU) -> mask (CPU, or GPU for SAM) -> background + QC (GPU actors) -> save (CPU)

Every stage calls the same ``PhotoJob`` stage method the local batch calls in turn, so outputs,
recipes and names are exactly those of ``packshot batch``. There is no shared database: a photo
is done when its outputs exist and their recipes carry this job's key (``PhotoJob.done_by_recipe``),
so a re-run after a killed driver skips them and loses only the photos that were in flight.
Per-photo failures are reported by name (summary and ``.packshot/failures.csv``), never fatal.

Input and output may each be a local (or mounted) folder or a URI fsspec opens (``s3://bucket/photos``;
see ``packshot.core.cluster.storage``): the stages then read the photos' bytes and write outputs, masks and
``failures.csv`` through fsspec, with the same names and bytes.
"""

from __future__ import annotations

import csv
import io
import logging
import os
import pickle
import time
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING, Any, Optional

from packshot.core.cluster.storage import Tree, local_path_of
from packshot.core.errors import PackshotError
from packshot.core.images import write_atomic
from packshot.core.jobs.batch import BatchJob
from packshot.core.jobs.outcomes import BatchSummary, PhotoOutcome
from packshot.core.jobs.settings import JobSettings
from packshot.core.naming import display_name

if TYPE_CHECKING:
    from packshot.core.runtime import Runtime

log = logging.getLogger(__name__)

INSTALL_HINT = "Ray is not installed: pip install 'packshot[cluster]' (it brings ray[data])."
FAILURES_FILE = "failures.csv"  # in OUT_DIR/.packshot/


def import_ray() -> Any:
    try:
        import ray
        import ray.data  # noqa: F401  (the extra, not just the core)
    except ImportError:
        raise PackshotError(INSTALL_HINT) from None
    return ray


class _Stage:
    """One photo per call; the job context (and its models) is built once per actor."""

    def __init__(self, settings: dict, out_dir: str, threads: int = 0, trees: Optional[dict] = None,
                 replaceable: tuple = (), render_device: Optional[str] = None) -> None:
        if threads:
            import torch

            torch.set_num_threads(threads)  # several actors share a machine's cores
        from packshot.core.jobs.context import JobContext
        from packshot.core.runtime import Runtime

        job_settings = JobSettings.from_dict(settings)
        self.runtime = Runtime(job_settings.machine.models_dir)  # this actor's own models
        # Every stage records the render actors' device (the save stage writes the recipe on a CPU).
        self.context = JobContext(job_settings, runtime=self.runtime, render_device=render_device)
        self.out_dir = Path(out_dir)
        # Set when input or output is a URI; the trees' file systems are opened once per actor.
        self.trees = {k: Tree.from_dict(v) for k, v in trees.items()} if trees else None
        self.replaceable = set(replaceable)  # job keys the driver's write check found replaceable

    def job(self, row: dict) -> Any:
        """The photo's job; its writes go through its write guard (packshot.core.write_guard) like the local batch's."""
        if self.trees is not None:
            from packshot.core.cluster.remote import RemotePhotoJob

            job = RemotePhotoJob(Path(row["path"]), self.out_dir, self.context, stem=row["stem"],
                                 inputs=self.trees["input"], outputs=self.trees["output"])
        else:
            from packshot.core.jobs.photo import PhotoJob

            job = PhotoJob(Path(row["path"]), self.out_dir, self.context, stem=row["stem"])
        job.replaceable = set(self.replaceable)
        return job

    def __call__(self, row: dict) -> dict:
        if row.get("outcome"):  # skipped, failed or held upstream: pass it on
            return row
        job = self.job(row)
        work = pickle.loads(row["work"]) if row.get("work") else None
        result = job.guarded(lambda: self.step(job, work))
        if isinstance(result, PhotoOutcome):
            return {**row, "work": b"", "outcome": pickle.dumps(result)}
        return {**row, "work": pickle.dumps(result) if result is not None else row.get("work", b"")}

    def step(self, job: Any, work: Any) -> Any:
        raise NotImplementedError


class ReadStage(_Stage):
    def step(self, job: Any, work: Any) -> Any:
        if job.done_by_recipe():
            return PhotoOutcome(job.path, "skipped", job.outputs(), "already done")
        return job.read()


class MaskStage(_Stage):
    def step(self, job: Any, work: Any) -> Any:
        held = job.mask_stage(work)
        return held if held is not None else work


class RenderStage(_Stage):
    def step(self, job: Any, work: Any) -> Any:
        job.render_stage(work)
        return work


class SaveStage(_Stage):
    def step(self, job: Any, work: Any) -> Any:
        return job.save_stage(work)


def _local_threads() -> int:
    import torch

    return torch.get_num_threads()


class RayBatch:
    """A ``BatchJob`` whose photos run as Ray Data stages. ``address``: a cluster to join (None: local)."""

    def __init__(self, input_dir: Path | str, out_dir: Path | str, settings: JobSettings, *,
                 address: Optional[str] = None, render_gpus: Optional[float] = None,
                 runtime: Runtime, storage_options: Optional[dict] = None) -> None:
        self.input_tree = Tree.at(input_dir, storage_options)
        self.output_tree = Tree.at(out_dir, storage_options)
        if self.input_tree.remote:
            self.output_tree.protected = (str(self.input_tree.uri),)  # nothing written among the photos
        self.remote = self.input_tree.remote or self.output_tree.remote
        # One runtime for the driver's checks and its choice of upscaler (``pinned_settings``).
        self.runtime = runtime
        if self.remote:
            from packshot.core.cluster.remote import RemoteBatchJob

            self.batch: BatchJob = RemoteBatchJob(self.input_tree, self.output_tree, settings,
                                                  runtime=self.runtime)
        else:  # two folders (file:// read as one): exactly the local batch's job
            self.batch = BatchJob(local_path_of(input_dir), local_path_of(out_dir), settings,
                                  runtime=self.runtime)
        self.address = address or os.environ.get("RAY_ADDRESS") or None
        self.render_gpus = render_gpus
        self.upscale_note: Optional[str] = None  # set by ``pinned_settings`` when the actors will run none
        self.pinned_device: Optional[str] = None  # the render actors' device kind, when ``pinned_settings`` asked

    def prepare(self) -> None:
        """The folder's lock, then the local batch's checks (inputs, templates, models, name clashes, the
        write guard over every output). A folder that is no project yet is locked once the checks pass
        (nothing is created for a batch that is refused)."""
        local = not self.output_tree.remote
        if local and (self.batch.out_dir / ".packshot").is_dir():
            self.batch.lock()  # first: a folder another batch works on is "locked", not "taken"
        self.batch.settings = self.pinned_settings()
        self.batch.prepare(dry_run=True)
        if self.upscale_note and self.batch.context is not None:
            self.batch.context.notes.append(self.upscale_note)
        if local:
            self.batch.out_dir.mkdir(parents=True, exist_ok=True)
        else:  # every output's URI, before any work: none may land among the photos (a --name walking in)
            for job in self.batch.photo_jobs(self.batch.photos):
                for out in job.outputs():
                    self.output_tree.check_write(out)
        self.batch.lock()

    @property
    def notes(self) -> list[str]:
        return self.batch.notes

    def _connect(self, ray: Any) -> None:
        if not ray.is_initialized():
            ray.init(address=self.address, include_dashboard=False, log_to_driver=False,
                     ignore_reinit_error=True)

    def _want_gpu(self, gpus: float, generative: bool) -> bool:
        return generative and gpus >= 1 and str(self.batch.settings.machine.device) in ("auto", "cuda")

    def _plan(self, ray: Any) -> dict:
        """Actors per stage and their resources: every stage gets a share of the CPUs, generation the GPUs."""
        resources = ray.cluster_resources()
        cpus, gpus = float(resources.get("CPU", 1)), float(resources.get("GPU", 0))
        want_gpu = self._want_gpu(gpus, bool(self.batch.context and self.batch.context.generative))
        share = max(cpus / 4, 0.25)  # four stages on the CPUs; an actor's torch threads follow its share
        return {
            # Ray sets OMP_NUM_THREADS=1 for fractional actors; on one machine give them the local batch's
            # thread count instead, so float sums run in the same order and outputs are bit-identical to it
            "cpu_share": share, "threads": _local_threads() if not self.address else max(1, int(share)),
            "render_gpus": self.render_gpus if self.render_gpus is not None else (1.0 if want_gpu else 0.0),
            "render_actors": max(1, int(gpus)) if want_gpu else 1,
        }

    def render_device_type(self) -> str:
        """The device type the render actors run on: "cpu" or "mps" when named, else "cuda" when they are given
        a GPU (``render_gpus``, or the cluster has GPUs: asks Ray, joining it if need be), else "cpu" (Ray hides
        the GPUs from an actor that asked for none)."""
        device = str(self.batch.settings.machine.device)
        if device in ("cpu", "mps"):
            return device
        gpus = self.render_gpus
        if gpus is None:
            ray = import_ray()
            self._connect(ray)
            gpus = 1.0 if self._want_gpu(float(ray.cluster_resources().get("GPU", 0)), True) else 0.0
        return "cuda" if gpus > 0 else "cpu"

    def pinned_settings(self) -> JobSettings:
        """The batch's settings with the upscaler the render actors will run written in, so every stage and this
        driver agree on it, and so on the job key and the recipe's record.

        Each process would otherwise choose by its own device (``packshot.core.generation.upscale.resolve_upscaler``):
        the CPU stages (read, save: Ray hides the GPUs from them) and a CPU driver the compact model, the GPU
        actors Real-ESRGAN x4plus, and the saved recipe would name a model that did not make the image.
        ``upscaler`` is not part of the job key (the resolved one is), so pinning changes no key. When the
        actors' device finds none but another device would, every stage is told ``--detail off`` (bicubic,
        what the actors would do) and the run says why. ``--detail auto`` is pinned alike (``_pinned_detail``).
        """
        from packshot.core.devices import pick_device
        from packshot.core.generation.upscale import UPSCALED_ENGINES, missing_note, resolve_upscaler
        from packshot.core.jobs.engines import resolve_engine

        settings = self.batch.settings
        g = settings.generation
        if str(g.detail) == "off" or str(g.quality) != "final":
            return settings  # none runs
        store = self.runtime.store
        engine = resolve_engine(settings, store).name
        if engine not in UPSCALED_ENGINES:
            return settings
        device = self.pinned_device = self.render_device_type()
        chosen = resolve_upscaler(store, g, device)  # ModelMissingError for --detail upscale without one
        # The CPU stages choose as a CPU does; this driver as its own device does.
        others = {"cpu", pick_device(str(settings.machine.device)).type}
        if g.upscaler or all(resolve_upscaler(store, g, other) == chosen for other in others):
            pass  # named already, or every process chooses alike: the local batch's settings (and recipes)
        elif chosen is not None:
            settings = replace(settings, generation=replace(g, upscaler=chosen))
        else:
            self.upscale_note = missing_note(store, g, device)
            return replace(settings, generation=replace(g, detail="off"))
        return settings if chosen is None else self._pinned_detail(settings, engine, device)

    def _pinned_detail(self, settings: JobSettings, engine: str, device: str) -> JobSettings:
        """``--detail auto`` written as the pass the render actors' device gives it (``resolve_detail``: the
        detail pass on a GPU) when the CPU stages or this driver would read it otherwise."""
        from packshot.core.devices import pick_device
        from packshot.core.generation.detail import resolve_detail

        g = settings.generation
        if str(g.detail) != "auto":
            return settings
        chosen = resolve_detail("auto", engine, device, "final")
        others = {"cpu", pick_device(str(settings.machine.device)).type}
        if all(resolve_detail("auto", engine, other, "final") == chosen for other in others):
            return settings
        return replace(settings, generation=replace(g, detail=chosen))

    def rows(self) -> list[dict]:
        """One row per photo, as the read stage takes it."""
        rejected = set(self.batch.rejected_photos())  # rejected in review (the project store): not rendered
        return [{"path": str(job.path), "stem": job.stem, "work": b"", "outcome": b""}
                for job in self.batch.photo_jobs([p for p in self.batch.photos if p not in rejected])]

    def stage_kwargs(self, threads: int) -> dict:
        """What every stage's actor is built from (plain data: it travels to the actors)."""
        return {"settings": self.batch.settings.to_dict(), "out_dir": str(self.batch.out_dir.resolve()),
                "threads": threads, "replaceable": tuple(sorted(self.batch.replaceable)),
                "render_device": self.pinned_device,  # recorded with the upscaler by every stage
                "trees": {"input": self.input_tree.to_dict(), "output": self.output_tree.to_dict()}
                if self.remote else None}

    def run(self, on_photo: Optional[Callable[[PhotoOutcome], None]] = None) -> BatchSummary:
        ray = import_ray()
        if self.batch.context is None:
            self.prepare()
        assert self.batch.context is not None
        self._connect(ray)
        self.batch.cleanup_partials()
        plan = self._plan(ray)
        rows, common = self.rows(), self.stage_kwargs(plan["threads"])
        ds = ray.data.from_items(rows, override_num_blocks=max(1, len(rows)))
        ds = ds.map(ReadStage, fn_constructor_kwargs=common, concurrency=1, num_cpus=plan["cpu_share"])
        ds = ds.map(MaskStage, fn_constructor_kwargs=common, concurrency=1, num_cpus=plan["cpu_share"])
        ds = ds.map(RenderStage, fn_constructor_kwargs=common, concurrency=plan["render_actors"],
                    num_cpus=plan["cpu_share"], num_gpus=plan["render_gpus"])
        ds = ds.map(SaveStage, fn_constructor_kwargs=common, concurrency=1, num_cpus=plan["cpu_share"])
        summary = BatchSummary(engine=self.batch.context.engine_name,
                               rejected=[display_name(p.name) for p in self.batch.rejected_photos()])
        start = time.perf_counter()
        try:
            for row in ds.iter_rows():
                outcome: PhotoOutcome = pickle.loads(row["outcome"])
                summary.record(outcome)
                if on_photo is not None:
                    on_photo(outcome)
        finally:
            summary.seconds = time.perf_counter() - start
            self.write_failures(summary)
            self.batch.release()
        return summary

    def write_failures(self, summary: BatchSummary) -> Optional[str]:
        """``.packshot/failures.csv``: every failed photo by name and why (rewritten each run). Returns
        where it went (a path or URI), None when there was nothing to say."""
        target = self.batch.out_dir / ".packshot" / FAILURES_FILE
        buffer = io.StringIO()
        writer = csv.writer(buffer)
        writer.writerow(["file", "reason"])
        writer.writerows(summary.failed)
        if self.output_tree.remote:
            if not summary.failed and self.output_tree.read_if_exists(target, head=1) is None:
                return None
            return self.output_tree.write_bytes(target, buffer.getvalue().encode())
        if not summary.failed and not target.exists():
            return None
        if self.batch.guard is not None:
            self.batch.guard.check(target)
        return str(write_atomic(target, buffer.getvalue().encode()))
