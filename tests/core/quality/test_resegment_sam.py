"""SAM re-segmentation through the model store with the tiny SAM; choosing SAM or classic."""

from __future__ import annotations

import numpy as np
import pytest

from packshot.core.errors import ModelMissingError
from packshot.core.quality.resegment import (
    MaskerResegmenter,
    SamResegmenter,
    build_resegmenter,
    prompts_from_mask,
)


@pytest.fixture(scope="module")
def sam_models_dir(tmp_path_factory: pytest.TempPathFactory):
    from tests.factories.sam import write_tiny_sam

    models_dir = tmp_path_factory.mktemp("sam-models")
    write_tiny_sam(models_dir)
    return models_dir


def runtime_for(models_dir, tmp_path):
    from packshot.core.runtime import Runtime

    return Runtime(models_dir, offline=True, download_dir=tmp_path / "dl", use_hf_cache=False)


def test_auto_uses_tiny_sam_from_the_store_and_prompts_it_from_the_input_mask(sam_models_dir, tmp_path):
    reseg = build_resegmenter("auto", runtime_for(sam_models_dir, tmp_path), device="cpu")
    assert isinstance(reseg, SamResegmenter) and reseg.name == "sam-tiny"
    encoder_runs = []
    hook = reseg.predictor.model.image_encoder.register_forward_hook(lambda *_: encoder_runs.append(1))
    calls = []
    real_predict = reseg.predictor.predict

    def spy(**kwargs):
        calls.append(kwargs)
        return real_predict(**kwargs)

    reseg.predictor.predict = spy
    try:
        image = np.random.default_rng(0).integers(0, 255, (90, 130, 3), dtype=np.uint8)
        m_in = np.zeros((90, 130), bool)
        m_in[30:60, 40:90] = True
        out = reseg.segment(image, m_in)
    finally:
        hook.remove()
    assert out.shape == (90, 130) and out.dtype == bool
    assert len(encoder_runs) == 1  # one embedding per generated image
    points, labels, box = prompts_from_mask(m_in)
    np.testing.assert_array_equal(calls[0]["point_coords"], points)
    np.testing.assert_array_equal(calls[0]["box"], box)
    assert calls[0]["multimask_output"] is False  # many points + box: SAM's single-mask output
    assert not reseg.predictor.is_image_set  # the generated image's embedding is not kept


def test_auto_without_sam_weights_falls_back_to_classic(tmp_path):
    reseg = build_resegmenter("auto", runtime_for(tmp_path / "empty", tmp_path))
    assert isinstance(reseg, MaskerResegmenter) and reseg.name == "classic"
    with pytest.raises(ModelMissingError, match="sam-vit_b"):
        build_resegmenter("sam", runtime_for(tmp_path / "empty", tmp_path))
    with pytest.raises(ValueError, match="re-segmentation"):
        build_resegmenter("grabcut", runtime_for(tmp_path / "empty", tmp_path))


def test_classic_resegmentation_recovers_a_product_on_a_plain_background(tmp_path):
    reseg = build_resegmenter("classic", runtime_for(tmp_path / "empty", tmp_path))
    img = np.full((120, 160, 3), 245, np.uint8)
    m_in = np.zeros((120, 160), bool)
    m_in[30:90, 50:110] = True
    img[m_in] = (30, 60, 160)
    grown = m_in.copy()
    grown[90:105, 60:100] = True  # the background model added a stand under the product
    img[grown & ~m_in] = (30, 60, 160)
    out = reseg.segment(img, m_in)
    from packshot.core.quality.metric import expansion

    s = expansion(m_in, out)
    assert s.iou < 0.95 and s.expansion_object == pytest.approx(600 / 3600, abs=0.05)
