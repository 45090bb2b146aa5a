"""The fine-tuning job, in the paper's recipe: the SI2 UNet, VAE and text encoder stay frozen.

Loss: epsilon-prediction MSE through the SI2 UNet, whose 9-channel input (noisy latents, background
mask, masked-image latents) the ControlNet also sees, with the background mask as its control image.
AdamW, constant learning rate, grad-norm clip 1.0, 10% empty captions, optional gradient
accumulation, fp16 mixed precision on CUDA only (fp32 on the CPU, never bf16).

``mode`` picks what trains (see ``packshot.trainer.modes``): the paper's ControlNet, a LoRA on the UNet, or the
paper's ablation, a 4-channel ControlNet on SD2 base (``sd2-controlnet``: noisy latents only, the object
cut-out as control image, epsilon or v-prediction as the base's scheduler says).
Checkpoints (trained part, optimizer state, RNG state) every ``checkpoint_every`` steps and on
cancel; a rerun resumes at the saved step with the same optimizer state and the same data order.
Several GPUs: ``accelerate launch --multi_gpu -m packshot.core.cli.main train ...`` runs this unchanged
(data sharded by accelerate, only the main process writes).
"""

from __future__ import annotations

import csv
import json
import logging
import os
import shutil
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Callable, Optional

from packshot.core.errors import Cancelled, PackshotError
from packshot.core.progress import CancelToken, Progress, ProgressCallback, no_progress
from packshot.trainer.captions import CaptionSource
from packshot.trainer.dataset import MIN_USABLE_PHOTOS, BrandDataset, Draws, prepare_samples
from packshot.trainer.modes import DEFAULT_BASE, DEFAULT_LR, MODES, build_mode, mode_class
from packshot.trainer.resources import Estimate, check_disk, checkpoint_bytes, peak_process_memory

if TYPE_CHECKING:
    from packshot.core.runtime import Runtime

log = logging.getLogger(__name__)

Report = Callable[[dict], None]  # structured events (loss, estimate, checkpoint, data problems)
KEEP_CHECKPOINTS = 2  # older checkpoints are deleted: each one is ~4 GB for the full ControlNet


@dataclass
class TrainConfig:
    data_dir: Path
    name: str  # the new model's id (its folder name in the models folder)
    base_model: Optional[str] = None  # None: the mode's base (packshot.trainer.modes.DEFAULT_BASE)
    mode: str = "controlnet"  # see packshot.trainer.modes.MODES
    steps: int = 1000
    batch_size: int = 4
    grad_accum: int = 1  # micro-batches per optimizer step (effective batch = batch_size * grad_accum * GPUs)
    learning_rate: Optional[float] = None  # None: the mode's default (paper 5e-6; LoRA 1e-4)
    lora_rank: int = 8
    resolution: int = 512
    checkpoint_every: int = 500
    empty_caption_rate: float = 0.1
    max_grad_norm: float = 1.0
    seed: int = 0
    masks_dir: Optional[Path] = None
    captions_file: Optional[Path] = None
    caption_template: Optional[str] = None
    min_photos: int = MIN_USABLE_PHOTOS
    device: str = "auto"
    probe_steps: int = 2  # timed steps before training, for the time and memory estimate (0: none)
    holdout: int = 0  # photos kept out of training and rendered for validation (the last ones by name)
    validate_every: int = 0  # steps between validation grids; 0: at every checkpoint (needs holdout)
    validation_seeds: tuple = (0,)
    validation_steps: int = 20  # denoising steps per validation render
    compare: bool = True  # with held-out photos: base vs fine-tuned through core's eval at the end
    eval_prompt: str = "a product photo on a clean background"

    def __post_init__(self) -> None:
        if self.base_model is None:
            self.base_model = DEFAULT_BASE.get(self.mode, DEFAULT_BASE["controlnet"])

    @property
    def lr(self) -> float:
        return self.learning_rate if self.learning_rate is not None else DEFAULT_LR.get(self.mode, 5e-6)

    def to_json(self) -> dict:
        return {k: str(v) if isinstance(v, Path) else list(v) if isinstance(v, tuple) else v
                for k, v in asdict(self).items()}

    @classmethod
    def from_json(cls, data: dict) -> TrainConfig:
        paths = ("data_dir", "masks_dir", "captions_file")
        return cls(**{k: Path(v) if k in paths and v else tuple(v) if isinstance(v, list) else v
                      for k, v in data.items()})


def run_dir(models_root: Path, name: str) -> Path:
    return models_root / ".training" / name


def _nothing(_: dict) -> None:
    pass


class _Run:
    """One prepared run: data, models, optimizer, loader, positioned at the resumed step."""

    def __init__(self, config: TrainConfig, runtime: Runtime, *, progress: ProgressCallback,
                 cancel: Optional[CancelToken], masker, restart: bool, report: Report) -> None:
        import torch
        from accelerate import Accelerator
        from diffusers import DDPMScheduler

        from packshot.core.devices import pick_device

        if config.mode not in MODES:
            raise PackshotError(f"Unknown training mode '{config.mode}': choose one of {', '.join(MODES)}.")
        if config.grad_accum < 1 or config.batch_size < 1 or config.steps < 1:
            raise PackshotError("Steps, batch size and gradient accumulation must each be at least 1.")
        self.config, self.report = config, report
        store = runtime.store
        self.models_root = store.models_dir or store.download_dir
        check_model_name(config.name, self.models_root)
        self.work = work = run_dir(self.models_root, config.name)
        device = pick_device(config.device)
        # fp16 autocast only on CUDA: the CPU trains in fp32 (bf16 is far slower on CPUs and loses precision).
        self.accelerator = accelerator = Accelerator(cpu=device.type == "cpu",
                                                     mixed_precision="fp16" if device.type == "cuda" else "no")
        self.main = accelerator.is_main_process
        # The checks that need no masks come first: computing masks takes seconds per photo.
        self.base = store.path(config.base_model)
        check_photo_count(Path(config.data_dir), config.min_photos + max(0, config.holdout))
        if restart and self.main:
            shutil.rmtree(work, ignore_errors=True)
        accelerator.wait_for_everyone()
        try:
            work.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise PackshotError(f"Cannot write the training run's folder {work}: {exc.strerror or exc}.") from exc
        _check_same_run(work, config)
        if self.main:
            try:
                (work / "config.json").write_text(json.dumps(_run_identity(config), indent=2))
            except OSError as exc:
                raise PackshotError(f"Cannot write to {work}: {exc.strerror or exc}.") from exc
        captions = CaptionSource(config.data_dir, config.captions_file, config.caption_template)
        with accelerator.main_process_first():  # one process computes the masks, the others read the cache
            data = prepare_samples(Path(config.data_dir), work, masks_dir=config.masks_dir, masker=masker,
                                   runtime=runtime, captions=captions, progress=progress, cancel=cancel)
        for problem in data.problems:
            log.warning("Training data: %s", problem)
        report({"event": "data", "usable": len(data.samples), "problems": data.problems})
        self.heldout = data.samples[len(data.samples) - config.holdout:] if config.holdout > 0 else []
        data.samples = data.samples[:len(data.samples) - len(self.heldout)]
        data.require(config.min_photos, config.data_dir)
        self.samples = data.samples

        self.start_step, resume = _latest_checkpoint(work, config.mode)
        self.frozen_dtype = torch.float16 if accelerator.mixed_precision == "fp16" else torch.float32
        parts = mode_class(config.mode).load_parts(self.base, config.seed)
        self.parts = parts
        self.mode = build_mode(config.mode, parts, resume, accelerator.device, self.frozen_dtype, config.lora_rank)
        self.resumed_from = resume  # the checkpoint this run continues, or None for a fresh run
        self.noise_scheduler = DDPMScheduler.from_config(parts.scheduler_config)
        params = self.mode.trainable_parameters(self.mode.module)
        self.checkpoint_size = checkpoint_bytes(params)
        optimizer = torch.optim.AdamW(params, lr=config.lr)
        if resume is not None:
            optimizer.load_state_dict(torch.load(resume / "optimizer.pt", weights_only=True))
            _restore_rng(torch.load(resume / "state.pt", weights_only=True))
        else:
            torch.manual_seed(config.seed)
        batch = min(config.batch_size, len(self.samples))
        per_step = batch * config.grad_accum * accelerator.num_processes
        self.dataset = BrandDataset(self.samples, config.resolution, config.empty_caption_rate, config.seed)
        draws = Draws(self.dataset, config.seed, self.start_step * per_step,
                      max(0, config.steps - self.start_step) * per_step)
        # Our own generator: creating the loader's iterator must not consume the global RNG.
        loader = torch.utils.data.DataLoader(draws, batch_size=batch, shuffle=False,
                                             generator=torch.Generator().manual_seed(config.seed))
        self.model, self.optimizer, self.loader = accelerator.prepare(self.mode.module, optimizer, loader)
        self.batch = batch
        self.draws_seen: list[int] = []  # the draws this process trained on in this session (processes.json)

    # -- one step ------------------------------------------------------------------------------
    def micro_loss(self, batch):
        import torch
        import torch.nn.functional as F

        parts, dtype, device = self.parts, self.frozen_dtype, self.accelerator.device
        scale = parts.vae.config.scaling_factor
        with torch.no_grad():
            image, background = batch["image"].to(device), batch["background"].to(device)
            latents = parts.vae.encode(image.to(dtype)).latent_dist.sample() * scale
            if self.mode.inpainting:
                binary = (background >= 0.5).float()  # the UNet's mask channel; the control image stays soft
                masked_latents = parts.vae.encode((image * (binary < 0.5)).to(dtype)).latent_dist.sample() * scale
                mask_latent = F.interpolate(binary, size=latents.shape[-2:]).to(dtype)
            ids = parts.tokenizer(list(batch["caption"]), padding="max_length", truncation=True,
                                  max_length=parts.tokenizer.model_max_length, return_tensors="pt").input_ids
            text = parts.text_encoder(ids.to(device))[0]
            noise = torch.randn_like(latents)
            t = torch.randint(0, self.noise_scheduler.config.num_train_timesteps, (latents.shape[0],),
                              device=latents.device)
            noisy = self.noise_scheduler.add_noise(latents, noise, t)
            # SI2's 9 channels (noisy latents, mask, masked-image latents), or SD2 base's 4 noisy-latent channels.
            model_in = torch.cat([noisy, mask_latent, masked_latents], dim=1) if self.mode.inpainting else noisy
            target = noise if self.noise_scheduler.config.prediction_type == "epsilon" else \
                self.noise_scheduler.get_velocity(latents, noise, t)
            control = self.mode.control_image(image, background).to(dtype)
        with self.accelerator.autocast():
            pred = self.mode.predict(self.model, model_in, t, text, control, dtype)
        return F.mse_loss(pred.float(), target.float())

    def step(self, batches) -> float:
        import torch

        acc = self.accelerator
        total = 0.0
        for i, batch in enumerate(batches):
            if "draw" in batch:
                self.draws_seen.extend(int(d) for d in batch["draw"])
            last = i == len(batches) - 1
            ctx = acc.no_sync(self.model) if not last else _null()
            # gradients whatever grad mode the calling thread was left in (an inference context the app
            # or a library entered and did not leave would otherwise make every step's loss graph-less)
            with ctx, torch.enable_grad():  # all-reduced once per optimizer step, not per micro-batch
                loss = self.micro_loss(batch) / len(batches)
                acc.backward(loss)
            total += loss.detach().float().item()
        acc.clip_grad_norm_(self.mode.trainable_parameters(self.model), self.config.max_grad_norm)
        self.optimizer.step()
        self.optimizer.zero_grad(set_to_none=True)
        if acc.num_processes > 1:  # the step's loss over every process's share of the batch, not this one's alone
            total = acc.reduce(torch.tensor(total, device=acc.device), reduction="mean").item()
        if not torch.isfinite(torch.tensor(total)):
            raise PackshotError(f"Training diverged (loss {total}); lower the learning rate.")
        return total

    # -- probe ---------------------------------------------------------------------------------
    def probe(self, steps: int) -> Estimate:
        """Time 1-2 forward/backward passes on real batches; weights, optimizer and RNG are left as they were."""
        import torch
        from torch.utils.data import default_collate

        rng = _rng_state()
        cuda = self.accelerator.device.type == "cuda"
        if cuda:
            torch.cuda.reset_peak_memory_stats()
        batch = default_collate([self.dataset[i % len(self.dataset)] for i in range(self.batch)])
        times = []
        for _ in range(max(1, steps)):
            if cuda:
                torch.cuda.synchronize()
            start = time.perf_counter()
            with torch.enable_grad():  # as in step(): whatever grad mode the caller left on
                self.accelerator.backward(self.micro_loss(batch))
            if cuda:
                torch.cuda.synchronize()
            times.append(time.perf_counter() - start)
        self.optimizer.zero_grad(set_to_none=True)
        _restore_rng(rng)
        # The first pass pays for warm-up; AdamW's moments (2 x fp32 weights) are not allocated yet.
        optimizer_bytes = self.checkpoint_size * 2 // 3
        peak = (torch.cuda.max_memory_allocated() if cuda else peak_process_memory()) + optimizer_bytes
        per_step = min(times[1:] or times) * self.config.grad_accum * 1.05  # + the optimizer step
        return Estimate(per_step, max(0, self.config.steps - self.start_step), int(peak),
                        "GPU" if cuda else "RAM", self.checkpoint_size)

    # -- validation ----------------------------------------------------------------------------
    def validate(self, step: int) -> None:
        """A grid of the held-out photos rendered with fixed seeds by the model as it is at ``step``."""
        from packshot.trainer.validation import render_grid

        self.accelerator.wait_for_everyone()
        if not (self.main and self.heldout):
            return
        rng = _rng_state()  # validation must not change what training draws next
        controlnet = self.accelerator.unwrap_model(self.model) if self.mode.trains_controlnet \
            else self.parts.controlnet
        out = self.work / "validation" / f"step-{step:07d}.png"
        with self.accelerator.autocast():
            render_grid(self.parts, controlnet, self.heldout, out, device=self.accelerator.device,
                        dtype=self.frozen_dtype, resolution=self.config.resolution,
                        seeds=tuple(self.config.validation_seeds), steps=self.config.validation_steps,
                        pipeline_factory=self.mode.validation_pipeline)
        _restore_rng(rng)
        self.report({"event": "validation", "step": step, "path": str(out)})

    def wants_validation(self, step: int) -> bool:
        if not self.heldout:
            return False
        every = self.config.validate_every or self.config.checkpoint_every
        return step % every == 0 or step == self.config.steps

    def record_processes(self) -> None:
        """``processes.json`` in the run folder: which draws each process trained on in this session."""
        from accelerate.utils import gather_object

        mine = {"index": self.accelerator.process_index, "pid": os.getpid(), "start_step": self.start_step,
                "draws": self.draws_seen}
        everyone = gather_object([mine]) if self.accelerator.num_processes > 1 else [mine]
        if self.main:
            (self.work / "processes.json").write_text(json.dumps(
                {"num_processes": self.accelerator.num_processes, "processes": everyone}, indent=1))

    # -- checkpoints ---------------------------------------------------------------------------
    def save_checkpoint(self, step: int) -> None:
        import torch

        self.accelerator.wait_for_everyone()
        if not self.main:
            return
        check_disk(self.work, self.checkpoint_size, f"the checkpoint at step {step}")
        target = self.work / f"checkpoint-{step:07d}"
        tmp = self.work / f".tmp-checkpoint-{step:07d}"
        shutil.rmtree(tmp, ignore_errors=True)
        tmp.mkdir(parents=True)
        self.mode.save(self.accelerator.unwrap_model(self.model), tmp)
        torch.save(self.optimizer.state_dict(), tmp / "optimizer.pt")
        torch.save({"step": torch.tensor(step), "process_index": torch.tensor(self.accelerator.process_index),
                    "num_processes": torch.tensor(self.accelerator.num_processes), **_rng_state()}, tmp / "state.pt")
        shutil.rmtree(target, ignore_errors=True)
        os.replace(tmp, target)  # a checkpoint exists completely or not at all
        for old in _checkpoints(self.work, self.config.mode)[:-KEEP_CHECKPOINTS]:
            shutil.rmtree(old, ignore_errors=True)
        self.report({"event": "checkpoint", "step": step, "path": str(target)})


class _null:
    def __enter__(self):
        return self

    def __exit__(self, *exc):
        return False


def _rng_state() -> dict:
    import torch

    state = {"rng_cpu": torch.get_rng_state()}
    if torch.cuda.is_available():
        state["rng_cuda"] = torch.cuda.get_rng_state_all()
    return state


def _restore_rng(state: dict) -> None:
    import torch

    torch.set_rng_state(state["rng_cpu"])
    if "rng_cuda" in state and torch.cuda.is_available() and len(state["rng_cuda"]) == torch.cuda.device_count():
        torch.cuda.set_rng_state_all(state["rng_cuda"])


def estimate_run(config: TrainConfig, runtime: Runtime, *, progress: ProgressCallback = no_progress,
                 cancel: Optional[CancelToken] = None, masker=None, restart: bool = False,
                 report: Report = _nothing) -> Estimate:
    """Prepare the run and time ``probe_steps`` (at least one) passes; trains nothing."""
    run = _Run(config, runtime, progress=progress, cancel=cancel, masker=masker, restart=restart, report=report)
    estimate = run.probe(max(1, config.probe_steps))
    report({"event": "estimate", **estimate.to_dict(), "text": estimate.text()})
    return estimate


def train_controlnet(config: TrainConfig, runtime: Runtime, *, progress: ProgressCallback = no_progress,
                     cancel: Optional[CancelToken] = None, masker=None, restart: bool = False,
                     report: Report = _nothing) -> Path:
    """Train (``config.mode``), then write the user's model folder; returns its path.

    A run of the same ``name`` with the same data and settings resumes from its last checkpoint
    (more ``steps`` continue it); a run of that name with other data or settings is refused unless
    ``restart`` discards it. ``runtime``: the models folder (its store) and what the masks and the
    closing comparison load; the training's own copies of the weights are not shared with it.
    """
    run = _Run(config, runtime, progress=progress, cancel=cancel, masker=masker, restart=restart, report=report)
    if run.main:
        check_disk(run.work, run.checkpoint_size, "training checkpoints")
    if config.probe_steps > 0 and run.start_step < config.steps:
        estimate = run.probe(config.probe_steps)
        report({"event": "estimate", **estimate.to_dict(), "text": estimate.text()})
        progress(Progress("estimate", 1, 1, estimate.text()))
    step = run.start_step
    if run.resumed_from is not None:
        if run.main:  # an interrupted run's rows past the checkpoint are redone: the plot must not step back
            truncate_losses(run.work, step)
        message = f"Resumed from step {step} (checkpoint {run.resumed_from})"
        log.info("%s: %s", config.name, message)
        report({"event": "resumed", "step": step, "checkpoint": str(run.resumed_from), "text": message})
        progress(Progress("resume", step, config.steps, message))
    if run.heldout and step == 0:
        run.validate(0)  # the base model on the held-out photos, to compare the grids against
    losses = open(run.work / "losses.csv", "a", newline="") if run.main else None
    writer = csv.writer(losses) if losses else None
    batches = iter(run.loader)
    try:
        while step < config.steps:
            if cancel is not None and cancel.cancelled:
                if step > run.start_step or not _checkpoints(run.work, config.mode):
                    run.save_checkpoint(step)
                raise Cancelled(f"Training stopped at step {step}; run it again to resume.")
            loss = run.step([next(batches) for _ in range(config.grad_accum)])
            step += 1
            if writer is not None:
                writer.writerow([step, f"{loss:.6f}"])
                losses.flush()
            report({"event": "loss", "step": step, "loss": loss})
            progress(Progress("train", step, config.steps, f"loss {loss:.4f}"))
            if step % config.checkpoint_every == 0 or step == config.steps:
                run.save_checkpoint(step)
            if run.wants_validation(step):
                run.validate(step)
    finally:
        if losses is not None:
            losses.close()
    run.accelerator.wait_for_everyone()
    run.record_processes()
    final = _latest_checkpoint(run.work, config.mode)[1]
    if not run.main:
        return run.models_root / config.name
    if final is None:  # e.g. a finished run whose checkpoints were deleted by hand
        raise PackshotError(f"No checkpoint of '{config.name}' in {run.work}; restart the training.")
    folder = export_model(run.base, final, run.models_root / config.name, config.mode)
    if run.heldout and config.compare:
        from packshot.trainer.compare import compare_models

        result = compare_models(run.heldout, run.work, runtime, config.base_model, config.name, mode=config.mode,
                                resolution=config.resolution, steps=config.validation_steps,
                                seeds=tuple(config.validation_seeds), prompt=config.eval_prompt,
                                device=str(run.accelerator.device.type), progress=progress, cancel=cancel)
        report({"event": "eval", **result})
    return folder


def check_photo_count(data_dir: Path, minimum: int) -> None:
    """Too few photo files can never make enough usable samples: refuse before computing any mask."""
    from packshot.core.images import list_photos

    if not Path(data_dir).is_dir():
        raise PackshotError(f"{data_dir} is not a folder of photos.")
    count = len(list_photos(Path(data_dir)))
    if count == 0:
        raise PackshotError(f"No photos found in {data_dir} (JPEG, PNG, WebP or TIFF).")
    if count < minimum:
        raise PackshotError(f"Only {count} photo(s) in {data_dir}; training needs at least {minimum}.")


TRAINED_MARKER = "packshot-trained.json"  # written into every model folder the trainer makes


def check_model_name(name: str, models_root: Path) -> None:
    """A new model's name must be a plain folder name, not a known model, not someone else's folder."""
    from packshot.core.models.manifest import load_manifest

    if not name or any(c in name for c in "/\\:") or name.startswith(".") or name != name.strip():
        raise PackshotError(f"'{name}' cannot be a model name: use letters, digits, '-' and '_'.")
    if name in load_manifest():
        raise PackshotError(f"'{name}' is the name of a published model; choose another name for yours.")
    dest = models_root / name
    if dest.exists() and not (dest / TRAINED_MARKER).is_file():
        raise PackshotError(f"{dest} already exists and was not made by the trainer; choose another name.")


# Settings that may change between a run and its continuation without making it another run.
_NOT_IDENTITY = ("steps", "device", "probe_steps", "checkpoint_every", "validate_every", "validation_seeds",
                 "validation_steps", "compare", "eval_prompt")


def _run_identity(config: TrainConfig) -> dict:
    """What makes a run the same run: everything but the step count, which may grow to continue it."""
    identity = {k: v for k, v in config.to_json().items() if k not in _NOT_IDENTITY}
    identity["data_dir"] = str(Path(config.data_dir).resolve())
    identity["masks_dir"] = str(Path(config.masks_dir).resolve()) if config.masks_dir else None
    identity["captions_file"] = str(Path(config.captions_file).resolve()) if config.captions_file else None
    return identity


def _check_same_run(work: Path, config: TrainConfig) -> None:
    previous = work / "config.json"
    if not previous.is_file():
        return
    try:
        before = json.loads(previous.read_text())
    except (OSError, ValueError):
        return
    changed = sorted(k for k, v in _run_identity(config).items() if before.get(k) != v)
    if changed:
        raise PackshotError(
            f"A training run named '{config.name}' already exists with other {', '.join(changed)}. "
            "Continue it with the same data and settings, choose another name, or restart it (--restart).")


def read_losses(work: Path) -> list[tuple[int, float]]:
    """(step, loss) rows of a run, for plotting."""
    path = work / "losses.csv"
    if not path.is_file():
        return []
    return [(s, float(v)) for s, v in _loss_rows(path)]


def truncate_losses(work: Path, last_step: int) -> None:
    """Keep only the ``losses.csv`` rows up to ``last_step`` (the checkpoint a run resumes from), atomically."""
    from packshot.core.images import write_atomic

    path = work / "losses.csv"
    if not path.is_file():
        return
    rows = [(s, v) for s, v in _loss_rows(path) if s <= last_step]
    text = "".join(f"{s},{v}\r\n" for s, v in rows)  # csv.writer's own line ending, as the run appends
    write_atomic(path, text.encode())


def _loss_rows(path: Path) -> list[tuple[int, str]]:
    rows = []
    with open(path, newline="") as handle:
        for row in csv.reader(handle):
            if len(row) == 2 and row[0].isdigit() and _is_number(row[1]):  # a row cut short by a kill: dropped
                rows.append((int(row[0]), row[1]))
    return rows


def _is_number(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True


def _checkpoints(work: Path, mode: str) -> list[Path]:
    sub = {"lora": "lora"}.get(mode, "controlnet")
    return sorted(p for p in work.glob("checkpoint-*") if (p / sub).is_dir() and (p / "state.pt").is_file())


def _latest_checkpoint(work: Path, mode: str = "controlnet") -> tuple[int, Optional[Path]]:
    found = _checkpoints(work, mode)
    if not found:
        return 0, None
    return int(found[-1].name.split("-")[1]), found[-1]


def export_model(base: Path, checkpoint: Path, dest: Path, mode: str = "controlnet") -> Path:
    """A complete model folder like the published one: base components hard-linked (no extra disk for the
    frozen weights), plus the trained ControlNet, or the base ControlNet and a ``lora`` folder."""
    tmp = dest.with_name(f".packshot-tmp-export-{dest.name}")  # never a user's ".tmp-" folder
    shutil.rmtree(tmp, ignore_errors=True)
    replaced = "controlnet" if mode != "lora" else None
    for path in base.rglob("*"):
        rel = path.relative_to(base)
        if rel.parts[0] in (replaced, ".cache", "lora") or path.name == "pipeline.py" or not path.is_file() \
                or path.name == "packshot-lock.json":
            continue
        out = tmp / rel
        out.parent.mkdir(parents=True, exist_ok=True)
        try:
            os.link(path.resolve(), out)
        except OSError:
            shutil.copy2(path, out)
    trained = "lora" if mode == "lora" else "controlnet"
    shutil.copytree(checkpoint / trained, tmp / trained)
    index = json.loads((base / "model_index.json").read_text())
    index["_class_name"] = mode_class(mode).pipeline_class  # SI2 + ControlNet, or SD2 base + ControlNet
    index["controlnet"] = ["diffusers", "ControlNetModel"]
    (tmp / "model_index.json").unlink(missing_ok=True)
    (tmp / "model_index.json").write_text(json.dumps(index, indent=2))
    (tmp / TRAINED_MARKER).write_text(json.dumps({"base": str(base), "mode": mode, "trained": trained,
                                                   "checkpoint": str(checkpoint)}, indent=2))
    shutil.rmtree(dest, ignore_errors=True)
    os.replace(tmp, dest)
    return dest
