"""SAM through the model store: registry, loading, automatic masks, alignment, one encoder run.

The tiny SAM has random weights: these tests prove the plumbing (shapes, coordinates, caching,
feedback of logits), not mask quality. Quality of the prompts comes from the prior, tested in
test_masking_classic.py.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch

from packshot.core.errors import Cancelled, UnsafeWeightsError
from packshot.core.images import Photo
from packshot.core.masking import build_masker
from packshot.core.masking.embedding import compute_embedding, predictor_for
from packshot.core.masking.prompts import prompts_from_prior
from packshot.core.masking.sam_models import SAM_ARCHS, SAM_BUILDERS, infer_arch, sam_for
from packshot.core.masking.sam_predict import Prompts, predict
from packshot.core.progress import CancelToken
from tests.core.masking import scenes as S


@pytest.mark.parametrize("variant", ["vit_b", "vit_l", "vit_h"])
def test_registry_builds_exactly_segment_anythings_shapes(variant):
    from segment_anything import sam_model_registry

    with torch.device("meta"):  # shapes only: no memory, no init time
        ours = SAM_BUILDERS[variant]().state_dict()
        theirs = sam_model_registry[variant]().state_dict()
    assert {k: tuple(v.shape) for k, v in ours.items()} == {k: tuple(v.shape) for k, v in theirs.items()}
    assert infer_arch(ours).name == variant


def test_vit_b_has_the_published_parameter_count():
    with torch.device("meta"):
        model = SAM_BUILDERS["vit_b"]()
    assert sum(p.numel() for p in model.parameters()) == pytest.approx(93.7e6, rel=0.005)


def test_tiny_sam_loads_through_the_store_and_safe_loader(tiny_runtime, tiny_sam_dir, monkeypatch):
    import packshot.core.models.safe_load as safe_load

    calls = []
    real = safe_load.load_state_dict
    monkeypatch.setattr(safe_load, "load_state_dict", lambda path, *a, **k: calls.append(path) or real(path, *a, **k))
    sam = sam_for(tiny_runtime, "vit_b", "cpu")
    assert calls == [tiny_sam_dir / "sam-vit_b" / "sam_tiny.safetensors"]
    assert sam.arch is SAM_ARCHS["tiny"] and sam.name == "sam-tiny" and sam.model_id == "sam-vit_b"
    assert sam_for(tiny_runtime, "sam-vit_b", "cpu") is sam, "loaded once per runtime"
    assert len(calls) == 1
    assert not any(t.is_meta for t in sam.model.state_dict().values())
    assert torch.equal(sam.model.pixel_mean.flatten(), torch.tensor([123.675, 116.28, 103.53]))


def test_checkpoints_that_are_not_sam_are_refused():
    with torch.device("meta"):
        tiny = SAM_BUILDERS["tiny"]().state_dict()
    with pytest.raises(UnsafeWeightsError, match="not a Segment Anything"):
        infer_arch({"unet.conv_in.weight": torch.zeros(1)})
    with pytest.raises(UnsafeWeightsError, match="width 48"):
        infer_arch({**tiny, "image_encoder.patch_embed.proj.weight": torch.zeros(48, 3, 16, 16)})
    shallow = {k: v for k, v in tiny.items() if not k.startswith("image_encoder.blocks.1.")}
    with pytest.raises(UnsafeWeightsError, match="blocks"):
        infer_arch(shallow)


def test_a_pth_that_would_run_code_is_refused_and_does_not_run(tmp_path):
    from packshot.core.runtime import Runtime

    marker = tmp_path / "pwned"

    class Evil:
        def __reduce__(self):
            return (marker.touch, ())

    folder = tmp_path / "models" / "sam-vit_b"
    folder.mkdir(parents=True)
    torch.save({"image_encoder.patch_embed.proj.weight": Evil()}, folder / "sam_vit_b_01ec64.pth")
    with pytest.raises(UnsafeWeightsError):
        sam_for(Runtime(tmp_path / "models", offline=True), "vit_b", "cpu")
    assert not marker.exists()


def test_auto_masker_uses_sam_end_to_end_at_odd_size(tiny_runtime, encoder_calls):
    masker = build_masker("auto", tiny_runtime, device="cpu")
    assert masker.name == "sam-tiny"
    image, truth = S.product_on_plain(361, 517)
    result = masker.compute(Photo(pixels=image))
    assert result.source == "sam-tiny"
    assert result.mask.shape == (361, 517) and result.alpha.shape == (361, 517)
    assert 0.0 <= result.score <= 1.0
    d = result.details
    assert d["model_id"] == "sam-vit_b" and d["prior"] == "classic" and d["prior_score"] > 0.8
    x0, y0, x1, y1 = d["prompts"]["box"]
    tys, txs = np.nonzero(truth)
    # the box SAM was given encloses the true product (the prior found it)
    assert x0 <= txs.min() + 3 and y0 <= tys.min() + 3 and x1 >= txs.max() - 3 and y1 >= tys.max() - 3
    assert all(truth[int(y), int(x)] for x, y in d["prompts"]["points"]), "points land on the product"
    assert len(encoder_calls) == 1


def test_fast_full_res_masks_match_sam_predictors_own_upsampling(tiny_sam):
    # SamPredictor upsamples to the original size itself; we decode at model size and resize the
    # chosen logits. Same embedding, same prompts: the masks must agree pixel for pixel (almost).
    from segment_anything import SamPredictor

    image, truth = S.product_on_plain(301, 457)
    photo = Photo(pixels=image)
    emb = compute_embedding(tiny_sam, photo)
    prompts = prompts_from_prior(truth, 3)
    ours = predict(predictor_for(tiny_sam, emb), emb, prompts, multimask=False)
    ref = SamPredictor(tiny_sam.model)
    ref.features, ref.original_size, ref.input_size, ref.is_image_set = emb.features, (301, 457), emb.work_size, True
    masks, _, _ = ref.predict(point_coords=prompts.points, point_labels=prompts.labels, box=prompts.box,
                              multimask_output=False)
    assert ours.mask.shape == masks[0].shape == (301, 457)
    differ = (ours.mask != masks[0]).mean()
    assert differ < 0.005, f"{differ:.4f} of pixels differ"
    if masks[0].any():
        assert S.iou(ours.mask, masks[0]) > 0.97


def test_positive_and_negative_labels_reach_the_decoder(tiny_sam):
    image, _ = S.product_on_plain(200, 260)
    emb = compute_embedding(tiny_sam, Photo(pixels=image))
    pred = predictor_for(tiny_sam, emb)
    point = np.array([[130.0, 120.0]], np.float32)
    pos = predict(pred, emb, Prompts(point, np.array([1], np.int32)), multimask=False)
    neg = predict(pred, emb, Prompts(point, np.array([0], np.int32)), multimask=False)
    assert not np.array_equal(pos.low_res_logits, neg.low_res_logits)


def test_encoder_can_be_cancelled_between_blocks(tiny_sam):
    token = CancelToken()
    blocks_run = []
    hooks = [b.register_forward_hook(lambda *_: (blocks_run.append(1), token.cancel())) for b in
             tiny_sam.model.image_encoder.blocks]
    try:
        with pytest.raises(Cancelled):
            compute_embedding(tiny_sam, Photo(pixels=np.zeros((64, 64, 3), np.uint8)), token)
    finally:
        for h in hooks:
            h.remove()
    assert len(blocks_run) == 1, "stopped before the second encoder block"


def test_an_empty_sam_mask_falls_back_to_the_priors_mask(tiny_runtime, monkeypatch):
    import packshot.core.masking.maskers as maskers
    from packshot.core.masking.sam_predict import predict as real_predict

    def predict_nothing(*args, **kwargs):
        pred = real_predict(*args, **kwargs)
        pred.mask = np.zeros_like(pred.mask)
        return pred

    monkeypatch.setattr("packshot.core.masking.sam_predict.predict", predict_nothing)
    masker = build_masker("auto", tiny_runtime, device="cpu")
    image, truth = S.product_on_plain(240, 320)
    result = masker.compute(Photo(pixels=image))
    expected = maskers.PriorMasker(maskers.get_prior("classic")).compute(Photo(pixels=image))
    assert result.source == "classic" and "sam_rejected" in result.details
    assert np.array_equal(result.mask, expected.mask)
    assert S.iou(result.mask, truth) > 0.9
