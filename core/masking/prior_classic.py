"""A salient-object prior with no learned weights: border colour model + GrabCut.

Product photos put the product inside the frame on a background that reaches the borders. So:
1. learn the background's colours from a strip along the image border (k-means in Lab; tiny
   clusters are dropped because they are usually the product touching the frame);
2. saliency = how far each pixel's colour lies from every background cluster, in units of that
   cluster's own spread (a boundary-prior saliency map; textured backgrounds have wide clusters);
3. threshold it for a first mask and let GrabCut refine it (its colour GMMs and smoothness term
   fix what a per-pixel threshold gets wrong: shadows, glare, thin parts);
4. when colour is unsure, add the minimum-barrier cue (core/masking/barrier.py) and grow the mask
   over lower barrier levels that enclose it: a saucer coloured like its table, under the cup.
On a studio shot (core/masking/backdrop.py finds a seamless backdrop) steps 1-4 give way to the
backdrop model: everything the frame reaches over backdrop-coloured pixels (clean or in shadow)
without crossing a sharp outline is background, which keeps contact and cast shadows, the gaps
between legs and the backdrop seen through a handle out of the mask; GrabCut only settles the
outline, a pale face the flood took whole comes back as a region its outline walls off
(core/masking/enclosed_bodies.py), and a symmetric product's side whose edge the key light washed
out is mirrored back from its other side where the photo shows that edge (core/masking/symmetry.py).
Photos without a backdrop (lifestyle, textured surfaces) take the colour path.
Runs on a downscaled copy (``work_side`` px long side); the mask comes back at the input size.
"""

from __future__ import annotations

import numpy as np

from packshot.core.masking.flood_evidence import is_faint, with_product_evidence
from packshot.core.masking.postprocess import clean_mask, erode_disk, fill_holes, resize_mask
from packshot.core.masking.prior import PriorResult
from packshot.core.quality.metric import iou as _iou

# Shadows and shading change lightness much more than colour; halving its weight keeps a contact
# shadow out of the product while a white product on a grey sweep still stands out.
LIGHTNESS_WEIGHT = 0.5


class ClassicPrior:
    """Callable prior: ``ClassicPrior()(rgb8) -> PriorResult``."""

    name = "classic"

    def __init__(self, work_side: int = 400, border: float = 0.04, clusters: int = 8,
                 grabcut_iters: int = 4, min_cluster_weight: float = 0.03, barrier_below: float = 0.6,
                 grow_levels: tuple[float, ...] = (0.8, 0.6, 0.4), grow_margin: float = 0.05,
                 grow_agreement: float = 0.85, grow_trial_side: int = 200, use_backdrop: bool = True, use_evidence: bool = True,
                 use_symmetry: bool = True) -> None:
        self.use_backdrop = use_backdrop  # studio shots: model the backdrop and its shadows (backdrop.py)
        # studio shots: a product's own chroma, light and texture keep it from the backdrop's flood
        # (classic_evidence.py), however close its colour is to the paper's
        self.use_evidence = use_evidence
        # studio shots: a symmetric product's washed-out side mirrored from its other side (symmetry.py)
        self.use_symmetry = use_symmetry
        self.work_side = work_side
        self.border = border
        self.clusters = clusters
        self.grabcut_iters = grabcut_iters
        self.min_cluster_weight = min_cluster_weight
        self.barrier_below = barrier_below  # colour-only score under which the barrier cue is tried
        self.grow_levels = grow_levels  # barrier levels (1.0 = Otsu) tried to grow the product
        self.grow_margin = grow_margin  # how far (fraction of the short side) GrabCut may move past a seed
        self.grow_agreement = grow_agreement  # GrabCut-vs-seed IoU a grown mask needs to be kept
        self.grow_trial_side = grow_trial_side  # long side of the copy on which growth levels are compared

    def at_work_side(self, side: int) -> ClassicPrior:
        """The same prior reading photos at another working size (the gate's second reading), without
        the symmetry step: that step would make the two readings agree where the photo does not
        settle the mask (the first reading's mask before it is ``PriorResult.unmirrored``)."""
        import copy

        other = copy.copy(self)
        other.work_side = side
        other.use_symmetry = False
        return other

    def __call__(self, rgb8: np.ndarray) -> PriorResult:
        small = _downscale(rgb8, self.work_side)
        # dark paper's model leans on the noise the downscale averages away (see backdrop_dark.py)
        scale = rgb8.shape[1] / small.shape[1]
        mask_small, score, details = self.segment_small(small, dark_paper=scale >= 1.5, scale=scale)
        details["work_size"] = [small.shape[1], small.shape[0]]
        mask = resize_mask(mask_small, (rgb8.shape[1], rgb8.shape[0]))
        if details.get("cue") == "backdrop" and scale > 1.0 and mask.any():
            # put the outline where the photo's edge pixels are half product, at full size (on a
            # seamless backdrop both sides of the outline are known; the guided snap is not needed)
            from packshot.core.masking.backdrop import unmix_outline

            mask = unmix_outline(rgb8, _full_res_outline(rgb8, mask, scale))
            if self.use_evidence:
                from packshot.core.masking.classic_outline import colour_noise, unmix_faint_outline

                # a tone-on-tone outline: the same unmixing, trusted down to the backdrop's noise
                mask = unmix_faint_outline(rgb8, mask, colour_noise(rgb8))
            mask = clean_mask(mask)
            details["outline"] = "unmixed"
        elif details.get("cue") == "dark-backdrop" and scale > 1.0 and mask.any():
            from packshot.core.masking.backdrop_dark import full_res_outline

            mask = full_res_outline(rgb8, _full_res_outline(rgb8, mask, scale), scale)
            details["outline"] = "unmixed"
        if details.get("cue") == "backdrop" and self.use_symmetry and mask.any():
            from packshot.core.masking.symmetry import complete_by_symmetry

            # the side whose edge the key light washed out, mirrored from the side that shows it
            completed, symmetry = complete_by_symmetry(rgb8, mask)
            details.update(symmetry)
            if (completed != mask).any():
                return PriorResult(completed, score, details, unmirrored=mask)
        return PriorResult(mask, score, details)

    def segment_small(self, small: np.ndarray, dark_paper: bool = True, scale: float = 1.0
                      ) -> tuple[np.ndarray, float, dict]:
        """Segment an image already at working size; returns (mask, score, details). ``dark_paper``:
        a dark backdrop may take its own model (backdrop_dark.py); ``scale``: the photo's pixels per
        working pixel."""
        h, w = small.shape[:2]
        strip = _border_strip((h, w), max(2, int(round(self.border * min(h, w)))))
        lab = self.lab(small, strip)
        evidence = self.background_distance(lab, strip)
        backdrop_reason = None
        if self.use_backdrop:
            from packshot.core.masking.backdrop import estimate_backdrop

            backdrop = estimate_backdrop(small)
            backdrop_reason = backdrop.reason  # recorded either way: a review can say why
            if backdrop.is_studio:
                studio = self._segment_studio(small, backdrop, evidence, strip, scale)
                if studio is not None:
                    return studio
            else:  # dark paper: its own noise-aware model (backdrop_dark.py)
                from packshot.core.masking.backdrop_dark import is_dark, segment_dark

                dark = segment_dark(small, strip) if dark_paper and is_dark(backdrop) else None
                if dark is not None:
                    return dark[0], dark[1], dict(dark[2], backdrop=backdrop_reason, prior=self.name)
        mask, score, details = self._grabcut_from(small, evidence, strip)
        details["cue"] = "colour"
        if mask.any() and score < self.barrier_below:
            # colour alone is unsure (product colours close to the background's): add the barrier
            # cue and keep whichever segmentation is more self-consistent. The barrier result
            # may only grow what colour found: on texture or noise it invents blobs on its own.
            from packshot.core.masking.barrier import barrier_saliency

            barrier = barrier_saliency(lab)
            combined = np.maximum(evidence, barrier)
            mask2, score2, details2 = self._grabcut_from(small, combined, strip)
            if score2 > score and (mask2 & mask).sum() >= 0.8 * mask.sum():
                mask, score, details = mask2, score2, dict(details2, cue="colour+barrier")
            grown = self._grow(small, mask, evidence, barrier, strip)
            if grown is not None:
                mask, score, details = grown
        if backdrop_reason:
            details = dict(details, backdrop=backdrop_reason)
        return mask, score, dict(details, prior=self.name)

    def _segment_studio(self, small: np.ndarray, backdrop, evidence: np.ndarray, strip: np.ndarray,
                        scale: float = 1.0) -> tuple[np.ndarray, float, dict] | None:
        """Product = what the backdrop (clean or shadowed) does not reach; GrabCut settles the outline.

        None when nothing is left once the backdrop is taken away (the colour path then decides).
        """
        import cv2

        from packshot.core.masking.backdrop import backdrop_regions

        h, w = small.shape[:2]
        regions = backdrop_regions(small, backdrop, scale)
        if self.use_evidence:
            left = clean_mask(~regions.outside & ~regions.enclosed, hole_fraction=0.01)
            regions = with_product_evidence(small, backdrop, regions, strip, faint=is_faint(left, evidence))
        initial = clean_mask(~regions.outside & ~regions.enclosed, hole_fraction=0.01)
        if not initial.any() or initial.mean() > 0.95:
            return None
        band = _kernel(2)
        outside = regions.outside | regions.enclosed
        gc = np.full((h, w), cv2.GC_BGD, np.uint8)
        # the outline may move two pixels either way; the shadow and the open backdrop stay out
        gc[cv2.dilate(initial.astype(np.uint8), band).astype(bool)] = cv2.GC_PR_BGD
        gc[initial] = cv2.GC_PR_FGD
        gc[erode_disk(initial, 2)] = cv2.GC_FGD
        gc[regions.enclosed & ~erode_disk(regions.enclosed, 2)] = cv2.GC_PR_BGD
        gc[erode_disk(regions.enclosed, 2)] = cv2.GC_BGD
        gc[regions.shadow & ~cv2.dilate(initial.astype(np.uint8), band).astype(bool)] = cv2.GC_BGD
        # unshaded, paper-coloured regions the flood reached that the product evidence now encloses:
        # the flood came in through what is product, so they are not surely backdrop, and GrabCut's
        # colour models decide (a white vase's smooth face; a real hole shows the backdrop's colours)
        flooded_inside = fill_holes(initial, None) & ~initial & ~regions.enclosed & ~regions.shadow & ~regions.hard
        gc[flooded_inside] = cv2.GC_PR_BGD
        outside &= ~flooded_inside
        refined = _grabcut(small, gc, self.grabcut_iters)
        mask = clean_mask(refined & ~(outside & erode_disk(outside, 1))) if refined.any() else refined
        contact = body = 0
        if mask.any():
            from packshot.core.masking.backdrop import unmix_outline
            from packshot.core.masking.backdrop_contact import contact_band

            if self.use_evidence:
                from packshot.core.masking.enclosed_bodies import walled_off_bodies

                # a pale face the flood took whole, told apart as a region (its outline walls it off)
                bodies = walled_off_bodies(small, mask)
                if bodies.any():
                    mask = clean_mask(mask | bodies)
                    body = int(bodies.sum())
            mask = clean_mask(unmix_outline(small, mask))
            # the contact shadow's band under a pale product's base, which the flood and GrabCut left
            band = contact_band(mask, regions.t, regions.d)
            if band.any():
                contact = int(band.sum())
                mask = clean_mask(mask & ~band)
        if not mask.any():
            return None
        agreement = _iou(mask, initial)
        edge_touch = float(mask[strip].mean())
        # contrast against the backdrop: how far product pixels sit from "backdrop, maybe shaded"
        contrast = float(np.clip((np.median(evidence[mask]) - 1.0) / 2.0, 0, 1))
        separation = float(1.0 - np.median(regions.likelihood[mask]))
        score = agreement * (0.5 + 0.5 * max(contrast, separation)) * (1.0 - edge_touch)
        details = dict(cue="backdrop", init="backdrop", agreement=round(agreement, 4), contrast=round(contrast, 4),
                       edge_touch=round(edge_touch, 4), coverage=round(float(mask.mean()), 4),
                       shadow_fraction=round(float(regions.shadow.mean()), 4), backdrop=backdrop.reason,
                       hard_shadow=round(float(regions.hard.sum() / max(1, mask.sum())), 4),
                       contact_band=round(contact / max(1, int(mask.sum())), 4), prior=self.name)
        if body:
            details["walled_off_body"] = round(body / max(1, int(mask.sum())), 4)
        return mask, float(score), details

    def _grow(self, small: np.ndarray, core: np.ndarray, evidence: np.ndarray, barrier: np.ndarray,
              strip: np.ndarray) -> tuple[np.ndarray, float, dict] | None:
        """Extend ``core`` over the parts an edge encloses with it (a saucer under its cup).

        The barrier map has one level per nested region (table < saucer < cup), and Otsu's
        threshold keeps only the top one. So try lower levels: the region above each level that
        is connected to the core seeds GrabCut, which may only work near that seed (background
        is fixed beyond a margin) and trims what leaked into the table. The level whose GrabCut
        result agrees best with its own seed is the one that follows a real edge. Levels are
        compared on a half-size copy (GrabCut dominates the cost); only the winner runs at full size.
        """
        if not core.any() or not self.grow_levels:
            return None
        h, w = small.shape[:2]
        factor = min(1.0, self.grow_trial_side / max(h, w))
        size = (max(8, round(w * factor)), max(8, round(h * factor)))
        trial = _GrowInputs.resized(small, core, evidence, barrier, size, self.border)
        scored = [(trial.grabcut(level, self)[1], level) for level in self.grow_levels]
        agreement, level = max(scored)
        if agreement < self.grow_agreement:
            return None
        mask, agreement = _GrowInputs(small, core, evidence, barrier, strip).grabcut(level, self)
        if mask is None or mask.sum() < 1.05 * core.sum() or agreement < self.grow_agreement:
            return None  # nothing gained over what colour and barrier found, or no edge followed
        edge_touch = float(mask[strip].mean())
        # trust: as for colour; the added part has the background's colours, so a grown mask
        # stays "middling" and is reviewed before the clean ones
        contrast = float(np.clip((np.median(evidence[mask]) - 1.0) / 2.0, 0, 1))
        score = agreement * (0.5 + 0.5 * contrast) * (1.0 - edge_touch)
        return mask, float(score), dict(
            cue="colour+barrier-grown", init="barrier", level=level, agreement=round(agreement, 4),
            contrast=round(contrast, 4), edge_touch=round(edge_touch, 4), coverage=round(float(mask.mean()), 4))

    def _grabcut_from(self, small: np.ndarray, evidence: np.ndarray, strip: np.ndarray
                      ) -> tuple[np.ndarray, float, dict]:
        import cv2

        h, w = small.shape[:2]
        initial = clean_mask(_open(evidence > 1.0))
        details: dict = {}
        gc = np.full((h, w), cv2.GC_PR_BGD, np.uint8)
        if initial.any():
            gc[initial] = cv2.GC_PR_FGD
            gc[erode_disk(initial, 0.03 * min(h, w)) & (evidence > 2.0)] = cv2.GC_FGD
            details["init"] = "evidence"
        else:
            # nothing stands out from the border: assume a centred product
            my, mx = int(0.1 * h), int(0.1 * w)
            gc[my:h - my, mx:w - mx] = cv2.GC_PR_FGD
            details["init"] = "centre"
        gc[strip & (evidence < 1.0)] = cv2.GC_BGD
        refined = _grabcut(small, gc, self.grabcut_iters)
        mask = clean_mask(refined) if refined.any() else refined
        agreement = _iou(mask, initial) if initial.any() else 0.0
        edge_touch = float(mask[strip].mean())
        contrast = float(np.clip((np.median(evidence[mask]) - 1.0) / 2.0, 0, 1)) if mask.any() else 0.0
        # trust: GrabCut agreed with the evidence, the product stands out, and the mask is not
        # spilling along the frame (a mask that hugs the border usually swallowed background)
        score = agreement * (0.5 + 0.5 * contrast) * (1.0 - edge_touch)
        details.update(agreement=round(agreement, 4), contrast=round(contrast, 4),
                       edge_touch=round(edge_touch, 4), coverage=round(float(mask.mean()), 4))
        return mask, float(score), details

    def lab(self, small: np.ndarray, strip: np.ndarray) -> np.ndarray:
        """Lab colours, lightly blurred, lighting trend removed, lightness down-weighted."""
        import cv2

        lab = cv2.cvtColor(cv2.GaussianBlur(small, (0, 0), 1.0), cv2.COLOR_RGB2Lab).astype(np.float32)
        lab = _flatten_lighting(lab, strip)
        lab[..., 0] *= LIGHTNESS_WEIGHT
        return lab

    def background_distance(self, lab: np.ndarray, strip: np.ndarray) -> np.ndarray:
        """Per-pixel colour distance to the nearest border cluster, in units of its spread (>1 = salient)."""
        import cv2

        samples = lab[strip]
        k = min(self.clusters, len(samples))
        cv2.setRNGSeed(1234)  # deterministic clusters, so a photo always gets the same mask
        criteria = (cv2.TERM_CRITERIA_EPS + cv2.TERM_CRITERIA_MAX_ITER, 20, 0.5)
        _, labels, centres = cv2.kmeans(samples, k, None, criteria, 2, cv2.KMEANS_PP_CENTERS)
        labels = labels.ravel()
        pixels = lab.reshape(-1, 3)
        best = np.full(len(pixels), np.inf, np.float32)
        for c in range(k):
            members = samples[labels == c]
            if len(members) < self.min_cluster_weight * len(samples):
                continue  # likely the product touching the frame, not background
            spread = np.linalg.norm(members - centres[c], axis=1)
            scale = max(float(np.percentile(spread, 95)) * 1.5, 6.0)
            best = np.minimum(best, np.linalg.norm(pixels - centres[c], axis=1) / scale)
        return best.reshape(lab.shape[:2])


def _full_res_outline(rgb8: np.ndarray, mask: np.ndarray, scale: float) -> np.ndarray:
    """An upscaled work-size mask with its stair-steps smoothed by the guided filter (photo as guide)."""
    if scale <= 1.5:
        return mask
    from packshot.core.masking.postprocess import snap_to_edges

    return snap_to_edges(mask, rgb8, int(np.ceil(scale)))


class _GrowInputs:
    """What one growth attempt needs, at one size: the photo, the core mask and both cues."""

    def __init__(self, small: np.ndarray, core: np.ndarray, evidence: np.ndarray, barrier: np.ndarray,
                 strip: np.ndarray) -> None:
        self.small, self.core, self.evidence, self.barrier, self.strip = small, core, evidence, barrier, strip

    @classmethod
    def resized(cls, small: np.ndarray, core: np.ndarray, evidence: np.ndarray, barrier: np.ndarray,
                size: tuple[int, int], border: float) -> _GrowInputs:
        import cv2

        if (small.shape[1], small.shape[0]) == size:
            strip = _border_strip(core.shape, max(2, int(round(border * min(core.shape)))))
            return cls(small, core, evidence, barrier, strip)
        w, h = size

        def shrink(a: np.ndarray) -> np.ndarray:
            return cv2.resize(a, size, interpolation=cv2.INTER_AREA)

        strip = _border_strip((h, w), max(2, int(round(border * min(h, w)))))
        return cls(shrink(small), resize_mask(core, size), shrink(evidence), shrink(barrier), strip)

    def seed(self, level: float) -> np.ndarray:
        """The core plus every region above ``level`` in the barrier map that touches it, holes filled."""
        import cv2

        above = (self.barrier > level).astype(np.uint8)
        _, labels = cv2.connectedComponents(above, connectivity=8)
        ids = np.unique(labels[self.core & (above > 0)])
        return fill_holes(np.isin(labels, ids[ids > 0]) | self.core, None)

    def grabcut(self, level: float, prior: ClassicPrior) -> tuple[np.ndarray | None, float]:
        """GrabCut confined near the seed, and its IoU with the seed.

        (None, 0.0) when the seed adds nothing to the core or GrabCut drops part of the core.
        """
        import cv2

        seed = self.seed(level)
        if seed.sum() <= self.core.sum() * 1.05:
            return None, 0.0  # nothing to add at this level
        h, w = seed.shape
        gc = np.full((h, w), cv2.GC_BGD, np.uint8)
        gc[cv2.dilate(seed.astype(np.uint8), _kernel(prior.grow_margin * min(h, w))).astype(bool)] = cv2.GC_PR_BGD
        gc[seed] = cv2.GC_PR_FGD
        gc[erode_disk(self.core, 0.03 * min(h, w))] = cv2.GC_FGD
        # the frame stays background where neither cue sees anything, as in the barrier pass
        gc[self.strip & (np.maximum(self.evidence, self.barrier) < 1.0)] = cv2.GC_BGD
        refined = _grabcut(self.small, gc, prior.grabcut_iters)
        mask = clean_mask(refined) if refined.any() else refined
        if (mask & self.core).sum() < 0.95 * self.core.sum():
            return None, 0.0  # growing must keep what colour found
        return mask, _iou(mask, seed)


def _downscale(rgb8: np.ndarray, side: int) -> np.ndarray:
    import cv2

    h, w = rgb8.shape[:2]
    factor = side / max(h, w)
    if factor >= 1.0:
        return np.ascontiguousarray(rgb8)
    size = (max(1, round(w * factor)), max(1, round(h * factor)))
    return cv2.resize(rgb8, size, interpolation=cv2.INTER_AREA)


def _flatten_lighting(lab: np.ndarray, strip: np.ndarray) -> np.ndarray:
    """Remove a smooth quadratic trend fitted to the border (vignetting, a light fall-off sweep).

    Without this the bright centre of an evenly lit studio backdrop looks "salient" against its
    darker corners. Fitted with one robust refit so a product touching the frame does not bend it.
    """
    h, w = strip.shape
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
    xx, yy = xx / w - 0.5, yy / h - 0.5
    basis = np.stack([np.ones_like(xx), xx, yy, xx * xx, yy * yy, xx * yy], axis=-1)
    a, values = basis[strip], lab[strip]
    keep = np.ones(len(a), bool)
    trend = np.zeros_like(lab)
    for _ in range(2):
        coef, *_ = np.linalg.lstsq(a[keep], values[keep], rcond=None)
        residual = np.linalg.norm(values - a @ coef, axis=1)
        keep = residual <= max(float(np.percentile(residual, 80)) * 2.0, 1.0)
    trend = basis @ coef
    return lab - trend + coef[0]


def _border_strip(shape: tuple[int, int], width: int) -> np.ndarray:
    strip = np.zeros(shape, bool)
    strip[:width, :] = strip[-width:, :] = True
    strip[:, :width] = strip[:, -width:] = True
    return strip


def _kernel(radius: float):
    import cv2

    r = max(1, int(round(radius)))
    return cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * r + 1, 2 * r + 1))


def _open(mask: np.ndarray) -> np.ndarray:
    import cv2

    return cv2.morphologyEx(mask.astype(np.uint8), cv2.MORPH_OPEN, _kernel(1)).astype(bool)


def _grabcut(small: np.ndarray, gc: np.ndarray, iters: int) -> np.ndarray:
    import cv2

    if not (gc == cv2.GC_BGD).any() and not (gc == cv2.GC_PR_BGD).any():
        return gc != cv2.GC_BGD
    bgd, fgd = np.zeros((1, 65), np.float64), np.zeros((1, 65), np.float64)
    work = gc.copy()
    try:
        cv2.grabCut(cv2.cvtColor(small, cv2.COLOR_RGB2BGR), work, None, bgd, fgd, iters,
                    cv2.GC_INIT_WITH_MASK)
    except cv2.error:  # degenerate colour statistics (e.g. a flat image): keep the initial guess
        return (gc == cv2.GC_FGD) | (gc == cv2.GC_PR_FGD)
    return (work == cv2.GC_FGD) | (work == cv2.GC_PR_FGD)
