"""The fine-tuning job: only the ControlNet learns, exactly as the paper trained it.

Loss: epsilon-prediction MSE through the frozen SI2 UNet, whose 9-channel input (noisy latents,
background mask, masked-image latents) the ControlNet also sees, with the background mask as its
control image. AdamW, constant learning rate, grad-norm clip 1.0, 10% empty captions. Checkpoints
every ``checkpoint_every`` steps (and on cancel) so an interrupted run resumes where it stopped.
"""

from __future__ import annotations

import csv
import json
import logging
import os
import shutil
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Optional

from core.errors import Cancelled, PackshotError
from core.progress import CancelToken, Progress, ProgressCallback, no_progress
from trainer.dataset import BrandDataset, prepare_samples

log = logging.getLogger(__name__)


@dataclass
class TrainConfig:
    data_dir: Path
    name: str  # the new model's id (its folder name in the models folder)
    base_model: str = "photo-background-generation"
    steps: int = 1000
    batch_size: int = 4
    learning_rate: float = 5e-6
    resolution: int = 512
    checkpoint_every: int = 500
    empty_caption_rate: float = 0.1
    max_grad_norm: float = 1.0
    seed: int = 0
    masks_dir: Optional[Path] = None
    device: str = "auto"


def run_dir(models_root: Path, name: str) -> Path:
    return models_root / ".training" / name


def train_controlnet(config: TrainConfig, store, *, progress: ProgressCallback = no_progress,
                     cancel: Optional[CancelToken] = None, masker=None, restart: bool = False) -> Path:
    """Train, then write the user's model folder; returns its path.

    A run of the same ``name`` with the same data and settings resumes from its last checkpoint
    (more ``steps`` continue it); a run of that name with other data or settings is refused unless
    ``restart`` discards it.
    """
    import torch
    import torch.nn.functional as F
    from accelerate import Accelerator
    from diffusers import DDPMScheduler

    from core.devices import pick_device
    from core.generation.components import load_components

    models_root = store.models_dir or store.download_dir
    check_model_name(config.name, models_root)
    work = run_dir(models_root, config.name)
    if restart:
        shutil.rmtree(work, ignore_errors=True)
    work.mkdir(parents=True, exist_ok=True)
    _check_same_run(work, config)
    (work / "config.json").write_text(json.dumps(_run_identity(config), indent=2))
    samples = prepare_samples(Path(config.data_dir), work, masks_dir=config.masks_dir, masker=masker, store=store,
                              progress=progress, cancel=cancel)
    if not samples:
        raise PackshotError(f"None of the photos in {config.data_dir} could be read.")

    device = pick_device(config.device)
    accelerator = Accelerator(cpu=device.type == "cpu", mixed_precision="fp16" if device.type == "cuda" else "no")
    torch.manual_seed(config.seed)
    base = store.path(config.base_model)
    start_step, resume = _latest_checkpoint(work)
    parts = load_components(base, with_controlnet=resume is None)  # a resumed run loads its checkpoint instead
    controlnet = parts.controlnet
    if resume is not None:
        from diffusers import ControlNetModel

        controlnet = ControlNetModel.from_pretrained(str(resume / "controlnet"), local_files_only=True)
        log.info("Resuming %s from step %d", config.name, start_step)
    controlnet.train().requires_grad_(True)
    noise_scheduler = DDPMScheduler.from_config(parts.scheduler_config)
    optimizer = torch.optim.AdamW(controlnet.parameters(), lr=config.learning_rate)
    if resume is not None and (resume / "optimizer.pt").is_file():
        optimizer.load_state_dict(torch.load(resume / "optimizer.pt", weights_only=True))
    dataset = BrandDataset(samples, config.resolution, config.empty_caption_rate, config.seed + start_step)
    loader = torch.utils.data.DataLoader(dataset, batch_size=min(config.batch_size, len(dataset)), shuffle=True,
                                         drop_last=True)
    controlnet, optimizer, loader = accelerator.prepare(controlnet, optimizer, loader)
    frozen_dtype = torch.float16 if accelerator.mixed_precision == "fp16" else torch.float32
    for module in (parts.unet, parts.vae, parts.text_encoder):
        module.to(accelerator.device, dtype=frozen_dtype)
    scale = parts.vae.config.scaling_factor

    def encode(images):
        return parts.vae.encode(images.to(frozen_dtype)).latent_dist.sample() * scale

    step = start_step
    losses = open(work / "losses.csv", "a", newline="")
    writer = csv.writer(losses)
    try:
        while step < config.steps:
            for batch in loader:
                if cancel is not None and cancel.cancelled:
                    _save_checkpoint(accelerator, controlnet, optimizer, work, step)
                    raise Cancelled(f"Training stopped at step {step}; run it again to resume.")
                with torch.no_grad():
                    image, background = batch["image"], batch["background"]
                    latents = encode(image)
                    masked_latents = encode(image * (background < 0.5))
                    mask_latent = F.interpolate(background, size=latents.shape[-2:]).to(frozen_dtype)
                    ids = parts.tokenizer(list(batch["caption"]), padding="max_length", truncation=True,
                                          max_length=parts.tokenizer.model_max_length, return_tensors="pt").input_ids
                    text = parts.text_encoder(ids.to(accelerator.device))[0]
                    noise = torch.randn_like(latents)
                    t = torch.randint(0, noise_scheduler.config.num_train_timesteps, (latents.shape[0],),
                                      device=latents.device)
                    noisy = noise_scheduler.add_noise(latents, noise, t)
                    nine = torch.cat([noisy, mask_latent, masked_latents], dim=1)
                    target = noise if noise_scheduler.config.prediction_type == "epsilon" else \
                        noise_scheduler.get_velocity(latents, noise, t)
                with accelerator.autocast():
                    down, mid = controlnet(nine, t, encoder_hidden_states=text,
                                           controlnet_cond=background.repeat(1, 3, 1, 1), return_dict=False)
                    pred = parts.unet(nine, t, encoder_hidden_states=text,
                                      down_block_additional_residuals=[d.to(frozen_dtype) for d in down],
                                      mid_block_additional_residual=mid.to(frozen_dtype)).sample
                loss = F.mse_loss(pred.float(), target.float())
                accelerator.backward(loss)
                accelerator.clip_grad_norm_(controlnet.parameters(), config.max_grad_norm)
                optimizer.step()
                optimizer.zero_grad(set_to_none=True)
                step += 1
                if not torch.isfinite(loss):
                    raise PackshotError(f"Training diverged at step {step} (loss {loss.item()}); lower the learning rate.")
                writer.writerow([step, f"{loss.item():.6f}"])
                losses.flush()
                progress(Progress("train", step, config.steps, f"loss {loss.item():.4f}"))
                if step % config.checkpoint_every == 0 or step == config.steps:
                    _save_checkpoint(accelerator, controlnet, optimizer, work, step)
                if step >= config.steps:
                    break
    finally:
        losses.close()
    final = _latest_checkpoint(work)[1]
    return export_model(base, final / "controlnet", models_root / config.name)


TRAINED_MARKER = "packshot-trained.json"  # written into every model folder the trainer makes


def check_model_name(name: str, models_root: Path) -> None:
    """A new model's name must be a plain folder name, not a known model, not someone else's folder."""
    from core.models.manifest import load_manifest

    if not name or any(c in name for c in "/\\:") or name.startswith(".") or name != name.strip():
        raise PackshotError(f"'{name}' cannot be a model name: use letters, digits, '-' and '_'.")
    if name in load_manifest():
        raise PackshotError(f"'{name}' is the name of a published model; choose another name for yours.")
    dest = models_root / name
    if dest.exists() and not (dest / TRAINED_MARKER).is_file():
        raise PackshotError(f"{dest} already exists and was not made by the trainer; choose another name.")


def _run_identity(config: TrainConfig) -> dict:
    """What makes a run the same run: everything but the step count, which may grow to continue it."""
    identity = {k: str(v) if isinstance(v, Path) else v for k, v in asdict(config).items() if k != "steps"}
    identity["data_dir"] = str(Path(config.data_dir).resolve())
    identity["masks_dir"] = str(Path(config.masks_dir).resolve()) if config.masks_dir else None
    return identity


def _check_same_run(work: Path, config: TrainConfig) -> None:
    previous = work / "config.json"
    if not previous.is_file():
        return
    try:
        before = json.loads(previous.read_text())
    except (OSError, ValueError):
        return
    changed = sorted(k for k, v in _run_identity(config).items() if before.get(k) != v and k != "device")
    if changed:
        raise PackshotError(
            f"A training run named '{config.name}' already exists with other {', '.join(changed)}. "
            "Continue it with the same data and settings, choose another name, or restart it (--restart).")


def read_losses(work: Path) -> list[tuple[int, float]]:
    """(step, loss) rows of a run, for plotting."""
    path = work / "losses.csv"
    if not path.is_file():
        return []
    with open(path, newline="") as handle:
        return [(int(s), float(v)) for s, v in csv.reader(handle)]


def _save_checkpoint(accelerator, controlnet, optimizer, work: Path, step: int) -> None:
    import torch

    target = work / f"checkpoint-{step:07d}"
    tmp = work / f".tmp-checkpoint-{step:07d}"
    shutil.rmtree(tmp, ignore_errors=True)
    accelerator.unwrap_model(controlnet).save_pretrained(tmp / "controlnet", safe_serialization=True)
    torch.save(optimizer.state_dict(), tmp / "optimizer.pt")
    shutil.rmtree(target, ignore_errors=True)
    os.replace(tmp, target)  # a checkpoint exists completely or not at all


def _latest_checkpoint(work: Path) -> tuple[int, Optional[Path]]:
    found = sorted(p for p in work.glob("checkpoint-*") if (p / "controlnet" / "config.json").is_file())
    if not found:
        return 0, None
    return int(found[-1].name.split("-")[1]), found[-1]


def export_model(base: Path, controlnet_dir: Path, dest: Path) -> Path:
    """A complete model folder like the published one: base components hard-linked, new ControlNet copied."""
    tmp = dest.with_name(f".tmp-{dest.name}")
    shutil.rmtree(tmp, ignore_errors=True)
    for path in base.rglob("*"):
        rel = path.relative_to(base)
        if rel.parts[0] in ("controlnet", ".cache") or path.name == "pipeline.py" or not path.is_file() \
                or path.name == "packshot-lock.json":
            continue
        out = tmp / rel
        out.parent.mkdir(parents=True, exist_ok=True)
        try:
            os.link(path.resolve(), out)  # no extra disk for the frozen SI2 weights
        except OSError:
            shutil.copy2(path, out)
    shutil.copytree(controlnet_dir, tmp / "controlnet")
    index = json.loads((base / "model_index.json").read_text())
    index["_class_name"] = "StableDiffusionControlNetInpaintPipeline"
    index["controlnet"] = ["diffusers", "ControlNetModel"]
    (tmp / "model_index.json").unlink(missing_ok=True)
    (tmp / "model_index.json").write_text(json.dumps(index, indent=2))
    (tmp / TRAINED_MARKER).write_text(json.dumps({"base": str(base), "controlnet": str(controlnet_dir)}, indent=2))
    shutil.rmtree(dest, ignore_errors=True)
    os.replace(tmp, dest)
    return dest
