"""The product-evidence cues (core/masking/classic_evidence.py), the faint-outline unmixing
(core/masking/classic_outline.py) and how the classic prior uses them on a tone-on-tone studio shot."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from packshot.core.masking.backdrop import border_strip, linear_to_srgb, srgb8_to_linear
from packshot.core.masking.classic_evidence import (
    EVIDENCE_LEVEL,
    chroma_offset,
    evidence_bodies,
    evidence_cues,
    light_excess,
    product_evidence,
    spread,
    texture_energy,
)
from packshot.core.masking.classic_outline import colour_noise, unmix_faint_outline

H, W = 120, 160
PAPER = np.array([0.80, 0.70, 0.50], np.float32)  # beige paper, linear RGB


def _scene(seed: int = 0, tint: float = 0.04, shadow: float = 0.6, noise: float = 0.004,
           box: tuple[int, int, int, int] = (30, 95, 85, 140)):
    """Beige paper with a neutral shadow on the left and, on the right, a product of nearly the
    paper's colour (a small hue shift) with a faint texture. Returns (rgb8, paper, product, shade)."""
    rng = np.random.default_rng(seed)
    lin = np.broadcast_to(PAPER, (H, W, 3)).copy()
    shade = np.zeros((H, W), bool)
    shade[40:90, 15:60] = True
    # a soft shadow only darkens: the same factor in R, G and B
    factor = cv2.GaussianBlur(np.where(shade, shadow, 1.0).astype(np.float32), (0, 0), 4.0)
    lin *= factor[..., None]
    product = np.zeros((H, W), bool)
    product[box[0]:box[1], box[2]:box[3]] = True
    body = PAPER * np.array([1.0 - tint, 1.0, 1.0 + tint], np.float32)
    texture = 1.0 + 0.01 * rng.standard_normal((H, W, 1)).astype(np.float32)
    lin[product] = (body * texture)[product]
    # sensor noise added in gamma space, as a camera's (and the studio corpus's) is
    srgb = linear_to_srgb(np.clip(lin, 0, 1)) + 2 * noise * rng.standard_normal(lin.shape).astype(np.float32)
    rgb8 = np.clip(np.round(srgb * 255), 0, 255).astype(np.uint8)
    return rgb8, np.broadcast_to(PAPER, (H, W, 3)).copy(), product, shade


def test_chroma_offset_ignores_a_shadow_and_sees_a_hue_shift():
    rgb8, paper, product, shade = _scene(noise=0.0)
    offset = chroma_offset(srgb8_to_linear(rgb8), paper)
    inner = np.zeros_like(product)
    inner[40:85, 95:130] = True
    assert float(np.median(offset[shade])) < 0.01  # darker, same colour: no offset
    assert float(np.median(offset[inner])) > 0.04


def test_texture_energy_is_higher_on_a_textured_material_than_on_noisy_paper():
    rng = np.random.default_rng(1)
    lin = np.full((H, W, 3), 0.5, np.float32) + 0.003 * rng.standard_normal((H, W, 3)).astype(np.float32)
    lin[:, W // 2:] *= 1.0 + 0.05 * rng.standard_normal((H, W // 2, 1)).astype(np.float32)
    energy = texture_energy(np.clip(lin, 1e-3, 1))
    assert float(np.median(energy[:, W // 2 + 8:])) > 4 * float(np.median(energy[:, :W // 2 - 8]))


def test_product_evidence_marks_the_product_not_the_shadow_or_the_paper():
    rgb8, paper, product, shade = _scene()
    strip = border_strip((H, W))
    evidence = product_evidence(rgb8, paper, strip)
    cues = evidence_cues(rgb8, paper, strip)
    assert set(cues) == {"chroma", "texture", "chroma_wide"}
    assert np.allclose(evidence, np.maximum(cues["chroma"], cues["texture"]))
    inner = product.copy()
    inner[:, :] = False
    inner[36:89, 91:134] = True
    assert float((evidence[inner] > EVIDENCE_LEVEL).mean()) > 0.95
    shade_inner = np.zeros_like(shade)
    shade_inner[46:84, 21:54] = True
    assert float((evidence[shade_inner] > EVIDENCE_LEVEL).mean()) < 0.05
    near = cv2.dilate((product | shade).astype(np.uint8), np.ones((13, 13), np.uint8)).astype(bool)
    paper_only = ~near & ~strip  # the cues' window reaches past an outline
    assert float((evidence[paper_only] > EVIDENCE_LEVEL).mean()) < 0.05


def test_evidence_bodies_keep_a_body_and_drop_specks():
    evidence = np.zeros((H, W), np.float32)
    evidence[20:60, 20:60] = 3.0  # a body
    evidence[90, 100] = evidence[10, 140] = 5.0  # noisy windows
    bodies = evidence_bodies(evidence)
    assert bodies[40, 40] and not bodies[90, 100] and not bodies[10, 140]
    assert spread("texture") > spread("chroma") > 0


def test_unmix_faint_outline_puts_a_faint_outline_back_where_a_mask_fell_short():
    rgb8, _, product, _ = _scene(noise=0.002)
    short = np.zeros_like(product)
    short[32:93, 87:138] = True  # two pixels inside on every side
    noise = colour_noise(rgb8)
    assert 0.0 < noise < 0.01
    fixed = unmix_faint_outline(rgb8, short, noise)
    lost_before = (product & ~short).sum()
    lost_after = (product & ~fixed).sum()
    assert lost_after < 0.25 * lost_before
    assert (fixed & ~product).sum() < 0.1 * lost_before  # it does not spill onto the paper
    # colours the noise cannot tell apart keep the mask as it was
    assert np.array_equal(unmix_faint_outline(rgb8, short, 1.0), short)


def test_the_classic_prior_keeps_a_tone_on_tone_product_the_flood_would_take():
    from packshot.core.masking.prior_classic import ClassicPrior
    from packshot.core.quality.metric import iou

    rgb8, _, product, _ = _scene(tint=0.05, box=(45, 85, 100, 135))  # 7 % of the frame, as products are
    big = np.kron(rgb8, np.ones((2, 2, 1), np.uint8))  # 320 x 240: under the work size, no rescale
    truth = np.kron(product, np.ones((2, 2), bool))
    with_evidence = ClassicPrior()(big)
    assert iou(with_evidence.mask, truth) > 0.9, with_evidence.details


@pytest.mark.parametrize("rows,expect", [((5, 20), 23), ((0, 0), None)])
def test_above_bottom_of_stops_under_the_lowest_row(rows, expect):
    from packshot.core.masking.flood_evidence import above_bottom_of

    mask = np.zeros((40, 30), bool)
    if rows != (0, 0):
        mask[rows[0]:rows[1] + 1, 10:20] = True
    out = above_bottom_of(mask, margin=2)
    if expect is None:
        assert not out.any()
    else:
        assert out[:expect].all() and not out[expect:].any()


def test_pockets_with_evidence_keeps_holes_of_bare_paper():
    from packshot.core.masking.flood_evidence import pockets_with_evidence

    enclosed = np.zeros((40, 60), bool)
    enclosed[5:15, 5:15] = True  # a handle's hole: bare paper
    enclosed[20:30, 30:50] = True  # a print patch of the paper's colour, but the product's texture
    evidence = np.zeros_like(enclosed)
    evidence[20:30, 30:50] = True
    evidence[5:7, 5:15] = True  # the window smears the rim of a hole
    taken = pockets_with_evidence(enclosed, evidence)
    assert taken[25, 40] and not taken[10, 10]


def test_light_excess_sees_a_highlight_not_the_paper_or_its_shadow():
    rgb8, paper, _, shade = _scene(noise=0.004)
    lin = srgb8_to_linear(rgb8)
    stripe = np.zeros(shade.shape, bool)
    stripe[30:95, 70:80] = True  # a highlight: the paper's colour, a tenth brighter
    lin[stripe] = np.clip(PAPER * 1.1, 0, 1)
    rgb8 = np.clip(np.round(linear_to_srgb(lin) * 255), 0, 255).astype(np.uint8)
    light = light_excess(rgb8, paper, border_strip((H, W)))
    inner_stripe = np.zeros_like(stripe)
    inner_stripe[36:89, 73:77] = True
    assert float(light[inner_stripe].min()) > EVIDENCE_LEVEL
    assert float(light[shade].max()) == 0.0  # a shadow only darkens
    far = ~cv2.dilate((stripe | shade).astype(np.uint8), np.ones((11, 11), np.uint8)).astype(bool)
    assert float((light[far] > EVIDENCE_LEVEL).mean()) < 0.01


def test_lit_enclosed_takes_a_highlight_the_product_flanks_not_a_lit_band_at_the_frame():
    from packshot.core.masking.flood_evidence import lit_enclosed

    light = np.zeros((H, W), np.float32)
    light[20:100, 70:82] = 4.0  # a highlight stripe down the product
    light[0:12, :] = 4.0  # a sweep's bend the fit missed: lit, reaching the frame
    backdrop = np.ones((H, W), bool)
    backdrop[20:100, 50:102] = False  # the product, flanking the stripe
    backdrop[20:100, 70:82] = True  # the flood came in at the stripe's faint ends
    taken = lit_enclosed(light, backdrop, border_strip((H, W)))
    assert taken[60, 76] and not taken[5, 76]
    backdrop[20:100, 50:102] = True  # the same lit stripe on open paper: nothing flanks it
    assert not lit_enclosed(light, backdrop, border_strip((H, W))).any()


def test_the_wide_chroma_cue_takes_its_unit_from_the_paper_the_flood_reached_too():
    """Paper by the product can carry more colour noise than the frame's strip (a sweep the fit
    follows less well there): measured only on the strip, its blotches read as product."""
    rng = np.random.default_rng(3)
    lin = np.broadcast_to(PAPER, (H, W, 3)).copy()
    blotches = cv2.GaussianBlur(rng.standard_normal((H, W, 3)).astype(np.float32), (0, 0), 6.0)
    centre = np.zeros((H, W), bool)
    centre[20:100, 25:135] = True
    lin[centre] *= 1.0 + 0.4 * blotches[centre]  # slow colour blotches in the middle only
    rgb8 = np.clip(np.round(linear_to_srgb(np.clip(lin, 0, 1)) * 255), 0, 255).astype(np.uint8)
    strip = border_strip((H, W))
    inner = np.zeros_like(centre)
    inner[30:90, 35:125] = True
    strip_only = evidence_cues(rgb8, PAPER, strip)["chroma_wide"]
    with_paper = evidence_cues(rgb8, PAPER, strip, paper=~strip)["chroma_wide"]
    assert float((strip_only[inner] > EVIDENCE_LEVEL).mean()) > 0.3
    assert float((with_paper[inner] > EVIDENCE_LEVEL).mean()) < 0.25


def _paper_with_a_rounding_patch(level: tuple[int, int, int], step: int = 1
                                 ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Uniform 8-bit paper with a patch where every other pixel is ``step`` levels redder and less
    blue: with one level, half a level of colour on average, what JPEG's rounding leaves on a smooth
    patch. Returns (rgb8, the paper in linear light, the patch's inside)."""
    rgb8 = np.empty((H, W, 3), np.uint8)
    rgb8[:] = level
    box = np.zeros((H, W), bool)
    box[40:80, 60:100] = True
    every_other = np.add.outer(np.arange(H), np.arange(W)) % 2 == 0
    rgb8[box & every_other, 0] += step
    rgb8[box & every_other, 2] -= step
    paper = srgb8_to_linear(np.broadcast_to(np.array(level, np.uint8), (H, W, 3)).copy())
    inside = np.zeros((H, W), bool)
    inside[46:74, 66:94] = True
    return rgb8, paper, inside


def test_half_a_level_of_colour_on_dark_paper_is_not_product_evidence():
    # on paper at level 40 half an 8-bit level is 3 % of the light in linear terms, as much as a
    # tone-on-tone product's tint on light paper; JPEG leaves that much on a dark shadow's smooth patch
    rgb8, paper, inside = _paper_with_a_rounding_patch((40, 42, 49))
    cues = evidence_cues(rgb8, paper, border_strip((H, W)))
    assert float(np.median(cues["chroma"][inside])) < EVIDENCE_LEVEL
    assert float(np.median(cues["chroma_wide"][inside])) < EVIDENCE_LEVEL
    # on light paper a level is a smaller share of the light: the floor is as before, and two levels
    # stand out where one does not
    strip = border_strip((H, W))
    rgb8, paper, inside = _paper_with_a_rounding_patch((200, 205, 215))
    one = float(np.median(evidence_cues(rgb8, paper, strip)["chroma"][inside]))
    rgb8, paper, inside = _paper_with_a_rounding_patch((200, 205, 215), step=2)
    two = float(np.median(evidence_cues(rgb8, paper, strip)["chroma"][inside]))
    assert two > EVIDENCE_LEVEL > one


# dark-on-dark corpus scenes (tests/studio_corpus.py) whose soft shadow read as coloured against dark
# paper (JPEG's rounding) and was kept as product: IoU 0.85 and 0.90 before the floor rose with darkness
@pytest.mark.parametrize("seed", [13000162, 5000278])
def test_a_soft_shadow_on_dark_paper_is_not_kept(seed):
    from packshot.core.masking.maskers import prior_to_full_mask
    from packshot.core.masking.prior_classic import ClassicPrior
    from packshot.core.masking.result import stored_mask
    from tests import studio_corpus as Sc
    from tests.core.masking import corpus_scoring as Cs

    scene = Sc.make_scene(seed, "dark-on-dark", (800, 600))
    mask = stored_mask(prior_to_full_mask(ClassicPrior()(scene.image), scene.image)[1])
    assert Cs.clean(mask, scene.mask), (Cs.iou(mask, scene.mask), Cs.product_lost(mask, scene.mask))
