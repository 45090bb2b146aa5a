"""Evidence about an automatic mask that does not come from the masker's own confidence.

A masker's score says how sure it is; it is sure of itself in exactly the cases it gets wrong
(tone-on-tone, vignetting, hard shadows). So the gate looks at the photo and the mask together:

1. **outline on edges**: a product's outline is an edge in the photo. Where the mask's outline
   runs through smooth pixels (no edge within two work pixels) it is not a product outline:
   the mask cut into the product, or ended somewhere in the backdrop. Measured per side.
2. **backdrop inside the mask**: the backdrop is fitted on the pixels *outside* the mask
   (core/masking/backdrop.py). Smooth mask regions with the backdrop's colour ratio (neutral)
   that sit behind an outline with no edge are backdrop kept as product: a corner (vignetting
   wedge) when they touch the frame, a shadow when they are darker than the backdrop. A large
   uniform patch that is just the backdrop times one factor is a hard shadow, edge or not. Where
   neither holds the photo cannot tell product from backdrop there (tone-on-tone), and says so.
3. **parts at the frame**: mask parts touching the frame that the main product does not reach.
4. **outlines outside the mask**: long edges in what was taken as backdrop, far from the mask,
   that are not a shadow's neutral step: part of the product is missing (tone-on-tone).
5. what the masker's shadow step took (``details["shadow_removed"]``, fraction of the mask), and a
   large hard shadow it cut off beside a grey or glass product (mostly the backdrop's chroma), which
   could be part of that product; beside a coloured product a neutral, darker region cannot be.
6. **holes and cuts** (core/quality/evidence_holes.py, evidence_cut.py): a hole in the mask with
   no edge round it or that shows no backdrop (product left out), a hole that shows the backdrop unchanged but is filled
   (backdrop kept), and pixels that do not fit the backdrop model just outside a stretch of outline
   with no edge (the mask cut through the product there; a second opinion from the backdrop model).
7. **outline separation**: the colour difference (CIE76 ΔE) between the product just inside the
   outline and the backdrop just outside it. Where it is under ``LOW_SEPARATION_DE`` (a difference
   the eye barely sees) the outline cannot be trusted: a white jar on white paper loses or gains a
   pixel of outline there without any other cue noticing, and that pixel is 1-3 % of the product.
   Said when a one-pixel slip along that stretch would move ``LOW_SEPARATION_AT_RISK`` of the
   product or more (a thin product), not for a short stretch on a big one.
8. **a cast shadow kept at the base** (core/quality/evidence_shadow.py): a neutral, darker region
   at the bottom of a coloured product's mask reaching its outline; found where the cues above
   miss it because the shadow has a sharp outline of its own.
9. **the edge beside the outline** (core/quality/evidence_rim.py): at 800 px, where the photo's
   strongest edges run inside the mask's outline (a rim of backdrop kept, or a part beyond an
   inner outline left out), summed as a share of the product.
10. **a second reading** (core/quality/evidence_scale.py), when the masker gives one: the same
   masker on a smaller copy of the photo. A mask that changes by more than ``UNSETTLED`` of its
   area hangs on pixel-wide decisions. One that does not change settles the cues that only say a
   mistake *may* be there: 7 and 9, a stretch of outline the same colour as the backdrop (2), outlines
   outside the mask (4) and a flat shadow that may be part of a grey product (5).
A region with the backdrop's colour that is most of the mask (glass, a white product) is not
reported when the mask's outline is seen all round (on edges, clearly apart from the backdrop):
the outline confirms the mask there. Nor is a darker region of a mirror-symmetric mask
(``SYMMETRIC_MASK``) whose mirror image is product too (``MIRRORED_REGION``) of the same kind, near
the backdrop's chroma as well (``MIRROR_CHROMA``): a glass body, a shaded face or a dark neck, where
the product's other side says what it is (a hard shadow kept down a coloured bottle's side can make
the mask symmetric about a shifted axis; its mirror image is the coloured bottle). A cast shadow beside
the product makes its mask lopsided; one straight below it is left to cue 8. (Round 14, development
seeds 5, 7, 13 and 21, 1200 scenes: 15 clean masks no longer flagged, 8 of them glass, and no
wrong mask let through, false flags 14.5 -> 13.1 %. A dark box whose kept-shadow finding went is
flagged by its bottom outline, which that finding had stood in for.)

Everything runs on a copy ``WORK_SIDE`` px long: a few tens of milliseconds per photo.
``findings`` are sentences a photographer understands, most serious first.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Optional

import numpy as np

from packshot.core.masking.postprocess import disk

WORK_SIDE = 400
OUTLINE_UNSUPPORTED_ALL = 0.2  # share of the whole outline off edges that is suspect
OUTLINE_UNSUPPORTED_SIDE = 0.35  # share of one side's outline off edges that is suspect
SIDE_MIN_SHARE = 0.1  # a side counts when it holds this share of the outline
MOST_OF_MASK = 0.4  # a backdrop-like region this large is the product itself, tone-on-tone or glass
OWN_BODY = 0.2  # a darker neutral region this large inside an outline seen all round is the product's (glass)
REGION_MIN = 0.03  # a region inside the mask is reported from this share of the mask's area
STRAY_EDGES = 0.35  # outline length outside the mask, as a share of the mask's outline, that is suspect
MIRROR_SHARE = 0.8  # share of those outside edges inside the mask's mirror image under its base: a reflection
REFLECTION_FAINTER = 0.6  # ... whose edges are at most this share of the strength of the product's outline
SHADOW_SIDE = 0.8  # the darker side of a shadow's edge is at most this share of the backdrop's light
HARD_SHADOW_DOUBT = 0.3  # a hard shadow the classic masker cut off, as a share of the mask, that is suspect
SYMMETRIC_MASK = 0.95  # IoU of the mask with its mirror image from which a darker region mirrored ...
MIRRORED_REGION = 0.95  # ... this much inside the mask is the product's own, not a kept shadow
RIM_OUT_SHARE = 0.05  # share of a uniform dark region's rim on the backdrop for it to be a kept shadow
RIM_REACH = 3  # px round a region inside the mask in which its rim on the backdrop is looked for
# ... and round a uniform dark region beside a coloured product: a hard shadow's sharp edge on the
# mask's outline leaves the smooth region 3 px short of the backdrop (the erosion, the edge and the
# pixel beside it), so 3 px found the rim of a soft shadow only. A grey product's own dark faces
# look like that shadow: there the rim stays RIM_REACH round.
SHADOW_REACH = 5
# the median chroma deviation (in the backdrop's chroma spreads) of a darker region's mirror image up
# to which it is the same body: glass mirrors onto glass (0.9-3.1), a brown bottle's dark neck onto its
# lit side (6.4); a hard shadow kept down a red bottle's side mirrors onto the bottle (49-110)
MIRROR_CHROMA = 16.0
SHADOW_STEP_MAX = 0.15  # share of a mask the shadow step may take before it is suspect
LOW_SEPARATION_DE = 4.0  # ΔE between the two sides of the outline under which it cannot be trusted
LOW_SEPARATION_SHARE = 0.08  # share of the outline that low before the mask is suspect
LOW_SEPARATION_AT_RISK = 0.005  # ... and a one-pixel slip along it moves this share of the product
OUTLINE_CONFIRMED_OFF = 0.06  # share of the outline off edges up to which the outline is seen all round
OUTLINE_CONFIRMED_LOW = 0.1  # ... and share of it barely visible (ΔE < LOW_SEPARATION_DE)
NEUTRAL_PRODUCT = 0.5  # share of the mask with the backdrop's chroma from which a product counts as grey
_SIDES = ("on the right side", "along the bottom", "on the left side", "along the top")


@dataclass
class MaskEvidence:
    """What the photo says about a mask: ``findings`` (photographer's words) and the numbers behind them."""

    findings: list[str] = field(default_factory=list)
    numbers: dict = field(default_factory=dict)

    @property
    def doubt(self) -> Optional[str]:
        return "; ".join(self.findings) if self.findings else None

    def to_json(self) -> dict:
        return {"findings": list(self.findings), **self.numbers}


def _work_copy(rgb8: np.ndarray, mask: np.ndarray, side: int) -> tuple[np.ndarray, np.ndarray]:
    import cv2

    h, w = mask.shape
    factor = min(1.0, side / max(h, w))
    if factor >= 1.0:
        return np.ascontiguousarray(rgb8[:, :, :3]), mask.astype(bool)
    size = (max(8, round(w * factor)), max(8, round(h * factor)))
    small = cv2.resize(np.ascontiguousarray(rgb8[:, :, :3]), size, interpolation=cv2.INTER_AREA)
    m = cv2.resize(mask.astype(np.float32), size, interpolation=cv2.INTER_AREA) >= 0.5
    return small, m


def edge_map(small: np.ndarray, m: np.ndarray) -> tuple[np.ndarray, float]:
    """(edges, threshold): the photo's narrow edges (``packshot.core.masking.backdrop.narrow_edges``), the noise
    measured away from the mask's outline (smooth backdrop, sensor noise and JPEG)."""
    import cv2

    from packshot.core.masking.backdrop import narrow_edges

    band = cv2.dilate(m.astype(np.uint8), disk(4)).astype(bool) & ~cv2.erode(m.astype(np.uint8),
                                                                                disk(4)).astype(bool)
    return narrow_edges(small, ~band)


def outline_off_edges(small: np.ndarray, m: np.ndarray) -> np.ndarray:
    """The mask's outline pixels (away from the frame) with no photo edge within two pixels."""
    import cv2

    edges, _ = edge_map(small, m)
    support = cv2.dilate(edges.astype(np.uint8), disk(2)).astype(bool)
    h, w = m.shape
    outline = m & ~cv2.erode(m.astype(np.uint8), np.ones((3, 3), np.uint8),
                             borderType=cv2.BORDER_REPLICATE).astype(bool)
    outline[:2, :] = outline[-2:, :] = outline[:, :2] = outline[:, -2:] = False
    return outline & ~support


def mask_evidence(rgb8: np.ndarray, mask: np.ndarray, details: Optional[dict] = None,
                  work_side: int = WORK_SIDE, second_reading: Optional[np.ndarray] = None,
                  first_reading: Optional[np.ndarray] = None) -> MaskEvidence:
    """Check ``mask`` (H x W bool, True = product) against the photo ``rgb8`` (H x W x 3 uint8).

    ``second_reading``: the same masker's mask from a smaller copy of the photo (H x W bool), when
    it has one (core/quality/evidence_scale.py); ``first_reading``: what it is compared with, when
    that is not ``mask`` (the mask before a shape step the second reading does not take)."""
    import cv2

    from packshot.core.quality.evidence_scale import SETTLED, SHADOW_LIGHT, UNSETTLED, reading_change

    details = details or {}
    ev = MaskEvidence()
    if rgb8.dtype != np.uint8:
        rgb8 = (rgb8 >> 8).astype(np.uint8) if rgb8.dtype == np.uint16 else np.clip(rgb8, 0, 255).astype(np.uint8)
    small, m = _work_copy(rgb8, mask, work_side)
    h, w = m.shape
    coverage = float(m.mean())
    ev.numbers["coverage"] = round(coverage, 4)
    if coverage < 0.002:
        ev.findings.append("no product was found: the mask is (almost) empty")
        return ev
    if coverage > 0.97:
        ev.findings.append("the mask covers the whole photo: no backdrop was told apart from the product")
        return ev
    edges, threshold = edge_map(small, m)
    ev.numbers["edge_threshold"] = round(threshold, 3)
    support = cv2.dilate(edges.astype(np.uint8), disk(2)).astype(bool)

    m8 = m.astype(np.uint8)
    outline = m & ~cv2.erode(m8, np.ones((3, 3), np.uint8), borderType=cv2.BORDER_REPLICATE).astype(bool)
    frame = np.zeros((h, w), bool)
    frame[:2, :] = frame[-2:, :] = frame[:, :2] = frame[:, -2:] = True
    outline &= ~frame
    unsupported = outline & ~support
    n_outline = int(outline.sum())
    off_share = float(unsupported.sum() / max(1, n_outline))
    ev.numbers["outline_off_edges"] = round(off_share, 4)
    sides = _side_shares(outline, unsupported, m)
    ev.numbers["outline_off_edges_by_side"] = {k: round(v[1], 3) for k, v in zip(("right", "bottom", "left", "top"),
                                                                                 sides)}

    backdrop, t, d, sigma = _backdrop_fit(small, m)
    changed_share, changed = (None, None) if second_reading is None else reading_change(
        (mask if first_reading is None else first_reading).astype(bool), second_reading.astype(bool),
        None if t is None else (d < 2.0 * sigma) & (t > 0.12) & (t < SHADOW_LIGHT))
    # the readings agree: an outline the photo barely shows still did not move
    settled = changed_share is not None and changed_share <= SETTLED
    regions, mirrored = _regions_inside(m, unsupported, frame, edges, t, d, sigma) if backdrop is not None else ([], 0.0)
    if mirrored:
        ev.numbers["mirrored_inside"] = round(mirrored, 4)  # darker, but the product's own (its mirror image)
    reported_outline = False
    low = outline_separation(small, m, outline)
    # the mask's edge follows a clear outline all round: a product that has the backdrop's colour
    # inside it (glass, a white label) is confirmed by its outline, so "cannot be checked" is not true
    outline_seen = off_share <= OUTLINE_CONFIRMED_OFF and (low is None or low <= OUTLINE_CONFIRMED_LOW)
    for kind, share, where in regions:
        ev.numbers[f"{kind}_inside"] = round(share, 4)
        if outline_seen and (share >= MOST_OF_MASK or (kind == "shadow" and share >= OWN_BODY)):
            continue  # a large neutral region inside an outline seen all round is the product's body (glass)
        if outline_seen and kind == "backdrop":
            continue  # a pale patch of a white product: its outline is on edges and clear of the paper all round
        if share >= MOST_OF_MASK:  # then it is the product itself that looks like the backdrop
            ev.findings.append(f"most of the product ({share:.0%} of the mask) has the backdrop's colour, or "
                               "its shadow's: the mask cannot be checked against the photo there")
        elif kind == "corner":
            ev.findings.append(f"a corner of the backdrop is kept as product ({where}, {share:.0%} of the mask)")
        elif kind == "shadow":
            ev.findings.append(f"the backdrop's shadow is kept as product ({where}, {share:.0%} of the mask)")
        elif not settled:  # "may be cut off or backdrop kept": the second reading did not move it
            ev.findings.append(f"the product and the backdrop are nearly the same colour {where} and the mask's "
                               f"edge there follows no outline ({share:.0%} of the mask): product may be cut off "
                               "or backdrop kept")
        else:
            continue  # not said: the side's own outline cue below may still speak
        reported_outline = True
    if n_outline >= 20 and not reported_outline:
        worst = max(range(4), key=lambda i: sides[i][1] if sides[i][0] >= SIDE_MIN_SHARE else -1.0)
        if sides[worst][0] >= SIDE_MIN_SHARE and sides[worst][1] > OUTLINE_UNSUPPORTED_SIDE:
            ev.findings.append(f"the mask's edge does not follow the product's outline {_SIDES[worst]} "
                               f"({sides[worst][1]:.0%} of it runs over smooth pixels)")
        elif off_share > OUTLINE_UNSUPPORTED_ALL:
            ev.findings.append(f"the mask's edge does not follow the product's outline "
                               f"({off_share:.0%} of it runs over smooth pixels)")

    _holes_and_cuts(ev, m, support, edges, t, d, sigma, regions,
                    tone_on_tone=low is not None and low > LOW_SEPARATION_SHARE)

    if low is not None:
        ev.numbers["outline_low_separation"] = round(low, 4)
        # how much of the product a one-pixel slip along the barely visible stretch would move: the
        # same share of the outline matters more on a thin product than on a round one
        at_risk = low * n_outline / max(1.0, float(m.sum()))
        ev.numbers["outline_low_separation_at_risk"] = round(at_risk, 4)
        if low > LOW_SEPARATION_SHARE and at_risk >= LOW_SEPARATION_AT_RISK and not ev.findings and not settled:
            ev.findings.append(f"along {low:.0%} of the mask's edge the product and the backdrop differ by less "
                               f"than {LOW_SEPARATION_DE:.0f} ΔE (barely visible): the edge there cannot be "
                               "checked, product may be cut off or backdrop kept")

    if t is not None and not any(kind == "shadow" for kind, _, _ in regions):
        from packshot.core.quality.evidence_shadow import kept_base_shadow

        share, kept = kept_base_shadow(m, t, d, sigma)
        if kept is not None:
            ev.numbers["base_shadow_kept"] = round(share, 4)
            ev.findings.append(f"the backdrop's shadow is kept as product ({_where(kept, m)}, {share:.0%} of the "
                               "mask): a flat, darker patch of the backdrop's own colour at the product's base")

    from packshot.core.quality.evidence_rim import RIM_DOUBT, edge_inside_mask

    rim, rim_at = edge_inside_mask(rgb8, mask)
    ev.numbers["edge_inside_mask"] = round(rim, 4)
    if rim > RIM_DOUBT and rim_at is not None and not settled:
        at = cv2.resize(rim_at.astype(np.uint8), (w, h), interpolation=cv2.INTER_NEAREST).astype(bool)
        ev.findings.append(f"the mask's edge runs beside the product's outline, not on it "
                           f"({_where(at, m) if at.any() else 'along its edge'}; the photo's outline lies "
                           f"inside the mask, {rim:.1%} of the product's size between them): a rim of backdrop "
                           "is kept, or a part beyond an inner outline is left out")

    stray = _frame_parts(m, frame)
    if stray > 0:
        ev.numbers["frame_parts"] = round(stray, 4)
    if stray > 0 and "corner_inside" not in ev.numbers:  # else already named as a corner of the backdrop
        ev.findings.append(f"a separate patch at the edge of the frame is kept as product ({stray:.0%} of the mask)")

    missing, where = _outlines_outside(m, edges, t, d, sigma, frame, n_outline, small)
    ev.numbers["outlines_outside"] = round(missing, 3)
    if missing > STRAY_EDGES and not settled:
        ev.findings.append(f"there are outlines outside the mask ({where}): part of the product may be missing")

    if changed_share is not None:
        ev.numbers["second_reading_change"] = round(changed_share, 4)
        # dark paper's model leans on the photo's noise, which a smaller copy averages differently
        # (core/masking/backdrop_dark.py): its two readings part where the mask is right too
        if changed_share > UNSETTLED and details.get("cue") != "dark-backdrop":
            ev.findings.append(f"the mask is unsure ({_where(changed, mask.astype(bool))}): masked again from a "
                               f"smaller copy of the photo, {changed_share:.1%} of it comes out different; the "
                               "photo does not settle its edge there")

    hard = float(details.get("hard_shadow") or 0.0)
    # the hedge is for a product a neutral shadow could be part of (glass, grey): a coloured product
    # (most of the mask off the backdrop's chroma) cannot have lost a neutral, darker region to it
    if hard > HARD_SHADOW_DOUBT and not settled and (d is None or _neutral_share(m, d, sigma) >= NEUTRAL_PRODUCT):
        ev.findings.append(f"a dark, flat region beside the product ({hard:.0%} of its size) was taken for its "
                           "shadow: if the product is glass or grey, it may be part of it")
    removed = details.get("shadow_removed_fraction")
    if removed is not None and float(removed) > SHADOW_STEP_MAX:
        ev.findings.append(f"the shadow step took {float(removed):.0%} of the mask away as shadow")
    return ev


def _holes_and_cuts(ev: MaskEvidence, m: np.ndarray, support: np.ndarray, edges: np.ndarray, t, d, sigma,
                    regions: list, tone_on_tone: bool) -> None:
    """Holes with no outline, the backdrop kept in a hole, product cut off beside an open outline
    (core/quality/evidence_holes.py, evidence_cut.py): mistakes of a few percent the other cues miss."""
    from packshot.core.quality.evidence_cut import CUT_DOUBT, cut_off_beside_open_outline, in_holes
    from packshot.core.quality.evidence_holes import (
        HOLE_DOUBT,
        filled_holes,
        holes_not_backdrop,
        holes_without_outline,
    )

    share, holes = holes_without_outline(m, support)
    hole_named = False
    if holes is not None:
        ev.numbers["holes_without_outline"] = round(share, 4)
        if share > HOLE_DOUBT:
            ev.findings.append(f"the mask has a hole {_where(holes, m)} with no outline around it in the photo "
                               f"({share:.1%} of the product): part of the product is left out")
            hole_named = True
    if t is None:
        return
    share, holes = holes_not_backdrop(m, t, d, sigma)
    if holes is not None:
        ev.numbers["holes_not_backdrop"] = round(share, 4)
        if not hole_named:
            ev.findings.append(f"the mask has a hole {_where(holes, m)} that shows no backdrop ({share:.1%} of "
                               "the product's size): part of the product is left out")
            hole_named = True
    # a patch of the backdrop's colour inside a product that has that colour itself proves no hole;
    # a region already named (a kept corner, shadow or backdrop) is not named twice
    if not regions and not tone_on_tone:
        share, filled = filled_holes(m, edges, t, d, sigma, _reaches_out)
        if filled is not None:
            ev.numbers["backdrop_in_hole"] = round(share, 4)
            if share >= MOST_OF_MASK:  # a big hole kept, or the product itself looks like the backdrop
                ev.findings.append(f"{share:.0%} of the mask is the backdrop unchanged ({_where(filled, m)}): "
                                   "a hole in the product kept as product, or a product of the backdrop's colour")
            else:
                ev.findings.append(f"the backdrop seen through a hole in the product is kept as product "
                                   f"({_where(filled, m)}, {share:.0%} of the mask)")
    share, cut = cut_off_beside_open_outline(m, support, t, d, sigma)
    if cut is not None:
        ev.numbers["cut_off"] = round(share, 4)
        if share > CUT_DOUBT and in_holes(m, cut):
            if hole_named:
                return
            ev.findings.append(f"the mask has a hole {_where(cut, m)} where the photo shows product, not backdrop "
                               f"({share:.1%} of the product's size): part of the product is left out")
        elif share > CUT_DOUBT:
            ev.findings.append(f"the product goes on past the mask's edge {_where(cut, m)}, where the edge "
                               f"follows no outline ({share:.1%} of the product's size): part of it is cut off")


def outline_separation(small: np.ndarray, m: np.ndarray, outline: np.ndarray) -> Optional[float]:
    """Share of the outline where the product just inside (1-4 px) and the backdrop just outside
    differ by less than ``LOW_SEPARATION_DE``; None when the outline is too short to judge."""
    import cv2

    lab = cv2.cvtColor(small.astype(np.float32) / 255.0, cv2.COLOR_RGB2Lab)
    m8 = m.astype(np.uint8)
    ring_in = cv2.erode(m8, disk(1)).astype(bool) & ~cv2.erode(m8, disk(4)).astype(bool)
    ring_out = cv2.dilate(m8, disk(4)).astype(bool) & ~cv2.dilate(m8, disk(1)).astype(bool)

    def local_mean(ring: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        count = cv2.boxFilter(ring.astype(np.float32), -1, (9, 9), normalize=False)
        total = cv2.boxFilter(lab * ring[..., None], -1, (9, 9), normalize=False)
        return total / np.maximum(count, 1.0)[..., None], count

    inside, n_in = local_mean(ring_in)
    outside, n_out = local_mean(ring_out)
    judged = outline & (n_in > 0) & (n_out > 0)
    judged[:3, :] = judged[-3:, :] = judged[:, :3] = judged[:, -3:] = False
    n = int(judged.sum())
    if n < 20:
        return None
    delta = np.linalg.norm(inside[judged] - outside[judged], axis=1)
    return float((delta < LOW_SEPARATION_DE).mean())


def _neutral_share(m: np.ndarray, d: np.ndarray, sigma: np.ndarray) -> float:
    """Share of the mask whose chroma is the backdrop's (a grey or glass product: most of it)."""
    return float((d[m] < 2.0 * sigma[m]).mean()) if m.any() else 0.0


def _side_shares(outline: np.ndarray, unsupported: np.ndarray, m: np.ndarray) -> list[tuple[float, float]]:
    """(share of the outline, share of it off edges) per side: right, bottom, left, top of the mask's centre."""
    ys, xs = np.nonzero(m)
    cy, cx = ys.mean(), xs.mean()
    oy, ox = np.nonzero(outline)
    if not len(oy):
        return [(0.0, 0.0)] * 4
    # normalise by the mask's extent so a tall bottle's sides are left and right, not top and bottom
    sy, sx = max(1.0, ys.max() - ys.min()), max(1.0, xs.max() - xs.min())
    angle = np.degrees(np.arctan2((oy - cy) / sy, (ox - cx) / sx))
    sector = (((angle + 45.0) % 360.0) // 90.0).astype(int)  # 0 right, 1 bottom, 2 left, 3 top
    off = unsupported[oy, ox]
    out = []
    for s in range(4):
        sel = sector == s
        n = int(sel.sum())
        out.append((n / len(oy), float(off[sel].mean()) if n else 0.0))
    return out


def _where(region: np.ndarray, m: np.ndarray) -> str:
    """Where ``region`` lies relative to the mask's centre, in words."""
    ys, xs = np.nonzero(region)
    my, mx = np.nonzero(m)
    h, w = m.shape
    dy = (ys.mean() - my.mean()) / max(1.0, float(my.max() - my.min()))
    dx = (xs.mean() - mx.mean()) / max(1.0, float(mx.max() - mx.min()))
    vertical = "bottom" if dy > 0.2 else "top" if dy < -0.2 else ""
    horizontal = "right" if dx > 0.2 else "left" if dx < -0.2 else ""
    if vertical and horizontal:
        return f"{vertical} {horizontal}"
    if vertical or horizontal:
        return {"bottom": "below the product", "top": "above the product"}.get(vertical, f"on the {horizontal}") \
            if vertical else f"on the {horizontal}"
    return "in the middle"


def _backdrop_fit(small: np.ndarray, m: np.ndarray):
    """The backdrop fitted on the pixels outside the mask; (backdrop, t, d, sigma) or Nones off a studio shot."""
    import cv2

    from packshot.core.masking.backdrop import chroma_sigma, estimate_backdrop, ratio_and_deviation

    grown = cv2.dilate(m.astype(np.uint8), disk(3)).astype(bool)
    backdrop = estimate_backdrop(small, product=grown, work_side=max(small.shape[:2]))
    if not backdrop.is_studio:
        return None, None, None, None
    t, d = ratio_and_deviation(small, backdrop)
    return backdrop, t, d, chroma_sigma(t)


def _regions_inside(m: np.ndarray, unsupported: np.ndarray, frame: np.ndarray, edges: np.ndarray,
                    t: np.ndarray, d: np.ndarray, sigma: np.ndarray) -> tuple[list[tuple[str, float, str]], float]:
    """(backdrop-like regions inside the mask: ("corner" | "shadow" | "backdrop", share of mask, where),
    the share of the mask in darker regions that its mirror image shows are the product's own)."""
    import cv2

    area = float(m.sum())
    inside = cv2.erode(m.astype(np.uint8), disk(1)).astype(bool)
    smooth = ~cv2.dilate(edges.astype(np.uint8), disk(1)).astype(bool)
    neutral = d < 2.0 * sigma
    like = inside & smooth & neutral & (t > 0.12) & (t < 1.08)
    count, labels, stats, _ = cv2.connectedComponentsWithStats(like.astype(np.uint8), connectivity=8)
    near_off = cv2.dilate(unsupported.astype(np.uint8), disk(3)).astype(bool)
    near_frame = cv2.dilate(frame.astype(np.uint8), disk(3)).astype(bool)
    found = []
    mirrored_share = 0.0
    # a grey product (half its mask the backdrop's chroma, as ``_neutral_share`` counts it): RIM_REACH
    reach = SHADOW_REACH if float(neutral[m].mean()) < NEUTRAL_PRODUCT else RIM_REACH
    chroma_off = d / np.maximum(sigma, 1e-6)  # in the backdrop's chroma spreads
    axis: Optional[int] = None  # the mask's mirror axis, found when a shadow-like region first asks
    for c in range(1, count):
        size = stats[c, cv2.CC_STAT_AREA]
        if size < REGION_MIN * area:
            continue
        region = labels == c
        share = size / area
        tc = t[region]
        darker = float(np.median(tc)) < 0.9
        off = int((near_off & region).sum())
        # the mask's outline beside it has no edge: the flood (or the model) simply stopped there
        open_side = off >= max(6, 0.15 * np.sqrt(size))
        if (region & near_frame).any() and not darker and open_side:
            found.append(("corner", share, _where(region, m)))
        elif darker and (open_side or (_uniform_shadow(tc, share) and _reaches_out(region, m, reach))):
            if axis is None:
                axis = _mirror_axis_if_symmetric(m)
            # (most of the mask is the product itself looking like the backdrop: said as such below)
            if share < MOST_OF_MASK and _mirrored_by_product(region, m, axis, chroma_off):
                mirrored_share += share
            else:
                found.append(("shadow", share, _where(region, m)))
        elif open_side and not darker:
            found.append(("backdrop", share, _where(region, m)))
    found.sort(key=lambda f: -f[1])
    return found[:2], mirrored_share


def _mirror_axis_if_symmetric(m: np.ndarray) -> int:
    """Twice the x of the mask's mirror axis when the mask is ``SYMMETRIC_MASK`` symmetric, else -1."""
    from packshot.core.masking.symmetry import mirror_axis

    symmetry, twice_axis = mirror_axis(m)
    return twice_axis if twice_axis is not None and symmetry >= SYMMETRIC_MASK else -1


def _mirrored_by_product(region: np.ndarray, m: np.ndarray, twice_axis: int, chroma_off: np.ndarray) -> bool:
    """Whether a darker region of a mirror-symmetric mask has product of the same kind as its mirror
    image: the product's own body (glass, a shaded face), not a shadow the mask kept (a cast shadow
    beside the product makes the mask lopsided; ``twice_axis`` < 0: the mask is not symmetric).

    Same kind: the mirror image is near the backdrop's chroma too (``chroma_off``: the deviation in
    the backdrop's chroma spreads), as glass or a grey body is on both sides. A hard shadow kept down
    one side of a bottle can make the mask symmetric about a shifted axis, with the coloured bottle
    as the shadow's mirror image."""
    if twice_axis < 0:
        return False
    from packshot.core.masking.symmetry import mirror

    mirrored = mirror(region, twice_axis)
    if float((mirrored & m).sum()) < MIRRORED_REGION * max(1, int(mirrored.sum())):
        return False
    return float(np.median(chroma_off[mirrored])) <= MIRROR_CHROMA


def _reaches_out(region: np.ndarray, m: np.ndarray, reach: int = RIM_REACH) -> bool:
    """Whether a region inside the mask borders the backdrop along part of its rim (a kept shadow ends
    at the mask's outline); one enclosed by product all round is seen through glass or is its shading."""
    import cv2

    rim = cv2.dilate(region.astype(np.uint8), disk(reach)).astype(bool) & ~region
    return float((rim & ~m).sum()) >= RIM_OUT_SHARE * max(1, int(rim.sum()))


def _uniform_shadow(tc: np.ndarray, share: float) -> bool:
    """A big patch that is the backdrop times one factor (a hard shadow's core), not a shaded product."""
    if share < 0.045 or len(tc) < 50:
        return False
    logt = np.log(np.maximum(tc, 1e-3))
    # most of it within 5 % of one factor (the soft rim of a hard shadow is a thin minority)
    return float((np.abs(logt - np.median(logt)) < 0.05).mean()) >= 0.6


def _frame_parts(m: np.ndarray, frame: np.ndarray) -> float:
    """Share of the mask in parts that touch the frame and are not the largest part."""
    import cv2

    count, labels, stats, _ = cv2.connectedComponentsWithStats(m.astype(np.uint8), connectivity=8)
    if count <= 2:
        return 0.0
    areas = stats[1:, cv2.CC_STAT_AREA]
    biggest = 1 + int(np.argmax(areas))
    touching = np.unique(labels[frame & m])
    stray = [c for c in touching if c not in (0, biggest) and stats[c, cv2.CC_STAT_AREA] >= 0.01 * m.sum()]
    return float(sum(stats[c, cv2.CC_STAT_AREA] for c in stray) / m.sum())


def _outlines_outside(m: np.ndarray, edges: np.ndarray, t, d, sigma, frame: np.ndarray,
                      n_outline: int, small: Optional[np.ndarray] = None) -> tuple[float, str]:
    """Length of edges outside the mask (not a shadow's neutral step), as a share of the mask's outline."""
    import cv2

    away = ~cv2.dilate(m.astype(np.uint8), disk(4)).astype(bool)
    far = away & ~cv2.dilate(frame.astype(np.uint8), disk(2)).astype(bool)
    cand = edges & far
    if t is not None:
        # a hard shadow's edge: the backdrop's own colour ratio (neutral) on both sides, and a real
        # shadow on the darker one (a tone-on-tone product sits within a few percent of the backdrop)
        neutral = (d < 2.0 * sigma) & (t > 0.1)
        both = cv2.erode(neutral.astype(np.uint8), disk(2)).astype(bool)
        darkest = cv2.erode(t.astype(np.float32), disk(2))
        cand &= ~(both & (darkest < SHADOW_SIDE))
    thin = cv2.ximgproc.thinning(cand.astype(np.uint8) * 255).astype(bool) if hasattr(cv2, "ximgproc") else cand
    count, labels, stats, _ = cv2.connectedComponentsWithStats(thin.astype(np.uint8), connectivity=8)
    length = 0
    keep = np.zeros(count, bool)
    for c in range(1, count):
        if stats[c, cv2.CC_STAT_AREA] >= 12:  # a long edge, not noise or a speck
            keep[c] = True
            length += int(stats[c, cv2.CC_STAT_AREA])
    if not length:
        return 0.0, ""
    region = keep[labels]
    if small is not None and _reflection(small, m, edges, region):
        return 0.0, ""  # a glossy floor's reflection: the product's own edges, flipped under its base, fainter
    share = length / max(40, n_outline) * (1.0 if thin is not cand else 0.5)
    return share, _where(region, m) if m.any() else "in the frame"


def _reflection(small: np.ndarray, m: np.ndarray, edges: np.ndarray, region: np.ndarray) -> bool:
    """Whether the edges ``region`` outside the mask are a glossy floor's reflection of the product:
    most of them inside the mask's mirror image under its base, and fainter than the product's own
    outline (a floor reflects 15-50 % of the light; a part of the product cut off is as strong)."""
    from packshot.core.masking.backdrop import colour_gradient

    mirrored = _mirrored_below(m)
    if mirrored is None or float(mirrored[region].mean()) < MIRROR_SHARE:
        return False
    import cv2

    outline = m & ~cv2.erode(m.astype(np.uint8), np.ones((3, 3), np.uint8)).astype(bool)
    ring = cv2.dilate(outline.astype(np.uint8), disk(1)).astype(bool) & edges
    if ring.sum() < 10:
        return False
    grad = colour_gradient(small)
    return float(np.median(grad[region])) < REFLECTION_FAINTER * float(np.median(grad[ring]))


def _mirrored_below(m: np.ndarray) -> Optional[np.ndarray]:
    """The mask flipped about its base row (where a glossy floor shows the product's reflection),
    grown by a few pixels; None when nothing of it lies in the frame."""
    import cv2

    rows = np.nonzero(m.any(axis=1))[0]
    if not len(rows):
        return None
    base = int(rows.max())
    span = min(m.shape[0] - 1 - base, base - int(rows.min()))
    if span < 2:
        return None
    flipped = np.zeros_like(m)
    flipped[base + 1:base + 1 + span] = m[base - 1:base - 1 - span:-1] if base - 1 - span >= 0 else \
        m[base - 1::-1][:span]
    return cv2.dilate(flipped.astype(np.uint8), disk(3)).astype(bool)
