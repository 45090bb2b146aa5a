"""CLIP score: where the model is looked for, and the number it gives."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pytest

from packshot.core.errors import ModelMissingError
from packshot.core.quality.clip_score import ClipScorer, find_clip_model, is_clip_folder


def manual_cosine(scorer: ClipScorer, image: np.ndarray, prompt: str) -> float:
    import torch

    pixels = scorer.processor.image_processor(images=[image], return_tensors="pt")["pixel_values"]
    tokens = scorer.processor.tokenizer([prompt], return_tensors="pt")
    with torch.no_grad():
        img = scorer.model.get_image_features(pixel_values=pixels)
        txt = scorer.model.get_text_features(**tokens)
    img = getattr(img, "pooler_output", img)
    txt = getattr(txt, "pooler_output", txt)
    return float(torch.nn.functional.cosine_similarity(img, txt)[0])


def test_score_is_100_times_clamped_cosine(tiny_clip_dir):
    import torch

    scorer = ClipScorer(tiny_clip_dir)
    rng = np.random.default_rng(1)
    images = [rng.integers(0, 255, (40, 56, 3), dtype=np.uint8) for _ in range(3)]
    prompt = "a red mug on a marble table"
    for sign in (1, -1):
        if sign < 0:  # flip the image projection: every cosine changes sign, the clamp must follow
            with torch.no_grad():
                scorer.model.visual_projection.weight.neg_()
        for image in images:
            cos = manual_cosine(scorer, image, prompt)
            assert scorer.score(image, prompt) == pytest.approx(100 * max(cos, 0.0), abs=1e-3)
    scores = [scorer.score(im, prompt) for im in images]
    assert any(s > 0 for s in scores) and len(set(scores)) == 3


def test_lookup_order_and_messages(tmp_path, tiny_clip_dir):
    from packshot.core.models.store import ModelStore

    store = ModelStore(tmp_path / "models", offline=True, download_dir=tmp_path / "dl", use_hf_cache=False)
    found = find_clip_model(store)
    assert found.folder is None and "no CLIP score was computed" in found.describe()
    assert str(tmp_path / "models" / "clip") in found.describe()
    shutil.copytree(tiny_clip_dir, tmp_path / "dl" / "clip")
    assert find_clip_model(store).folder == tmp_path / "dl" / "clip"
    shutil.copytree(tiny_clip_dir, tmp_path / "models" / "clip")
    assert find_clip_model(store).folder == tmp_path / "models" / "clip"  # the user's folder wins
    assert find_clip_model(store, explicit=tiny_clip_dir).folder == tiny_clip_dir
    (tmp_path / "notclip").mkdir()
    assert not is_clip_folder(tmp_path / "notclip")
    with pytest.raises(ModelMissingError, match="not a transformers CLIP folder"):
        find_clip_model(store, explicit=tmp_path / "notclip")


def test_lookup_finds_an_openai_clip_in_the_hugging_face_cache(tmp_path, tiny_clip_dir):
    """A CLIP fetched earlier by any tool (hub cache layout: refs/main -> snapshots/<commit>/) is used offline."""
    from huggingface_hub import constants

    from packshot.core.models.store import ModelStore

    repo = Path(constants.HF_HUB_CACHE) / "models--openai--clip-vit-base-patch32"
    commit = "0123456789abcdef0123456789abcdef01234567"
    try:
        shutil.copytree(tiny_clip_dir, repo / "snapshots" / commit)
        (repo / "refs").mkdir(parents=True)
        (repo / "refs" / "main").write_text(commit)
        store = ModelStore(tmp_path / "models", offline=True, download_dir=tmp_path / "dl")
        found = find_clip_model(store)
        assert found.folder is not None and found.folder.resolve() == (repo / "snapshots" / commit).resolve()
        assert "Hugging Face cache: openai/clip-vit-large-patch14" in found.searched  # looked there first
        no_cache = ModelStore(tmp_path / "models", offline=True, download_dir=tmp_path / "dl", use_hf_cache=False)
        assert find_clip_model(no_cache).folder is None
    finally:
        shutil.rmtree(repo, ignore_errors=True)
