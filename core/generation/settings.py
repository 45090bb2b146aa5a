"""What a caller asks of a background engine: one plain dataclass, serialisable into a recipe."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Optional

SCHEDULERS = ("unipc", "ddim", "euler", "dpm++")


@dataclass
class GenerationSettings:
    """Settings shared by every engine; engines ignore the fields that do not concern them.

    Defaults are the paper's: 20 UniPC steps, guidance 7.5, ControlNet scale 1.0, 512 x 512
    letterboxed canvas.
    """

    prompt: str = ""
    negative_prompt: str = ""
    steps: int = 20
    guidance: float = 7.5
    controlnet_scale: float = 1.0
    seed: int = 0
    variants: int = 1
    scheduler: str = "unipc"
    resolution: int = 512
    # Explicit per-variant seeds (replaying a recipe, QC retries); None = seed, seed + 1, ...
    seeds: Optional[tuple[int, ...]] = None
    # Non-generative engines
    color: tuple[int, int, int] = (255, 255, 255)
    gradient: tuple[tuple[int, int, int], tuple[int, int, int]] = ((255, 255, 255), (200, 200, 205))
    blur_sigma: float = 0.02  # fraction of the image diagonal
    background_image: Optional[str] = None
    extra: dict = field(default_factory=dict)

    def variant_seeds(self) -> list[int]:
        """The seed of each variant: a variant's output depends on its own seed only."""
        if self.seeds is not None:
            seeds = [int(s) for s in self.seeds]
            if len(seeds) != self.variants:
                raise ValueError(f"{len(seeds)} seeds given for {self.variants} variants.")
            return seeds
        return [int(self.seed) + i for i in range(self.variants)]

    def validate(self) -> GenerationSettings:
        """Raise ``ValueError`` with a readable message for settings no engine can honour."""
        if self.variants < 1:
            raise ValueError(f"variants must be at least 1 (got {self.variants}).")
        if self.steps < 1:
            raise ValueError(f"steps must be at least 1 (got {self.steps}).")
        if self.resolution < 64 or self.resolution % 8:
            raise ValueError(f"resolution must be a multiple of 8 and at least 64 (got {self.resolution}).")
        if self.scheduler not in SCHEDULERS:
            raise ValueError(f"Unknown scheduler '{self.scheduler}': choose one of {', '.join(SCHEDULERS)}.")
        if self.guidance < 0 or self.controlnet_scale < 0:
            raise ValueError("guidance and controlnet_scale must not be negative.")
        self.variant_seeds()
        return self

    def to_dict(self) -> dict:
        return asdict(self)
