"""The learned upscale between the generation and the paste-back, for the engines that use it.

``LearnedUpscale`` is mixed into the generative engines (``DiffusionEngine`` and its SD2 variant,
``Flux2KleinEngine``): it says which upscaler (``packshot.core.generation.upscale``) enlarges their backgrounds
for given settings on the engine's device, loads it from the runtime, and writes the recipe's record.
Engines without it answer None (``BackgroundEngine``'s defaults): they paint at the photo's size.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Optional

from packshot.core.generation.settings import GenerationSettings

if TYPE_CHECKING:
    from packshot.core.models.store import ModelStore
    from packshot.core.runtime import Runtime


class LearnedUpscale:
    """Needs ``store``, ``runtime`` and ``device_preference`` (set by the engine's ``__init__``)."""

    store: ModelStore
    runtime: Runtime
    device_preference: str

    def _device_type(self) -> str:
        from packshot.core.devices import pick_device

        return pick_device(self.device_preference).type

    def with_resolved_detail(self, settings: GenerationSettings) -> GenerationSettings:
        """``settings`` with ``detail`` the pass that runs on this engine's device ("off", "upscale" or
        "repaint": ``packshot.core.generation.detail.resolve_detail``, never "auto") and ``upscaler`` the model that
        runs it: what the engine renders, so a caller that hands it "auto" (eval, the app) gets what the
        batch gets on this device."""
        from dataclasses import replace

        from packshot.core.generation.upscale import resolve_pass

        detail, upscaler = resolve_pass(self.store, settings, getattr(self, "name", ""), self._device_type())
        if detail == "off" and str(settings.quality) != "final":
            return settings  # a preview keeps what was asked: rendered at final quality later, it resolves then
        return replace(settings, detail=detail, upscaler=upscaler)

    def upscaler_id(self, settings: GenerationSettings) -> Optional[str]:
        """The upscaler that enlarges this engine's backgrounds for ``settings`` (None: bicubic); raises
        ``ModelMissingError`` when the settings ask for one that is not here."""
        from packshot.core.generation.upscale import resolve_upscaler

        return resolve_upscaler(self.store, settings, self._device_type())

    def upscaler_for(self, settings: GenerationSettings) -> Any:
        """The runtime's loaded upscaler for ``settings``, or None."""
        from packshot.core.devices import pick_device
        from packshot.core.generation.upscale import loaded_upscaler

        model_id = self.upscaler_id(settings)
        return None if model_id is None else loaded_upscaler(self.runtime, model_id, pick_device(self.device_preference))

    def upscaler_record(self, settings: GenerationSettings, device_type: Optional[str] = None) -> dict:
        """What a recipe's ``models`` records of the upscaler (id -> revision, path, sha256, role, and the
        device kind it ran on: ``device_type``, else this engine's); {} for none."""
        from packshot.core.generation.upscale import RECIPE_ROLE, upscaler_file

        model_id = self.upscaler_id(settings)
        if model_id is None:
            return {}
        found = upscaler_file(self.store, model_id)
        return {model_id: {"revision": self.store.revision(model_id), "path": str(found.path.resolve()),
                           "sha256": found.sha256, "role": RECIPE_ROLE,
                           "device": str(device_type or self._device_type()).split(":")[0]}}

    def upscale_note(self, settings: GenerationSettings) -> Optional[str]:
        """The note a final render carries when ``detail auto`` finds no upscaler (None otherwise)."""
        from packshot.core.generation.upscale import missing_note

        return missing_note(self.store, settings, self._device_type())
