"""Caption sources in order, and BLIP proposals from a tiny random BLIP in the real folder format."""

import numpy as np
import pytest
from PIL import Image

from packshot.core.errors import PackshotError
from packshot.core.models.store import ModelStore
from packshot.trainer.captions import (
    CAPTION_MODEL_ID,
    CaptionSource,
    caption_model_available,
    propose_captions,
)


@pytest.fixture
def photos(tmp_path):
    folder = tmp_path / "brand"
    folder.mkdir()
    for name in ("red_mug.png", "tea-tin.png", "vase.png"):
        Image.fromarray(np.full((32, 32, 3), 200, np.uint8)).save(folder / name)
    return folder


def test_sources_in_order(photos, tmp_path):
    (photos / "captions.csv").write_text("file,caption\nred_mug.png,a red mug\nvase.png,a vase from csv\n")
    (photos / "vase.txt").write_text("a vase from txt")
    (photos / "tea-tin.txt").write_text("a tea tin on oak\n")
    reviewed = tmp_path / "reviewed.csv"
    reviewed.write_text("file,caption\nred_mug.png,my edited mug\n")
    source = CaptionSource(photos, reviewed, "a photo of {stem}")
    assert source.caption(photos / "red_mug.png") == "my edited mug"
    assert source.caption(photos / "vase.png") == "a vase from csv"
    assert source.caption(photos / "tea-tin.png") == "a tea tin on oak"
    (photos / "tea-tin.txt").unlink()
    assert source.caption(photos / "tea-tin.png") == "a photo of tea tin"


def test_csv_naming_missing_files_is_reported_by_name(photos):
    (photos / "captions.csv").write_text("file,caption\nred_mug.png,a mug\nghost.png,a ghost\n")
    problems = CaptionSource(photos).problems(sorted(photos.glob("*.png")))
    assert len(problems) == 1 and "ghost.png" in problems[0] and "captions.csv" in problems[0]


def test_malformed_csv_and_template_are_refused(photos):
    (photos / "captions.csv").write_text("name,text\nred_mug.png,a mug\n")
    with pytest.raises(PackshotError, match="columns 'file' and 'caption'"):
        CaptionSource(photos)
    (photos / "captions.csv").unlink()
    with pytest.raises(PackshotError, match="only use"):
        CaptionSource(photos, template="a {colour} thing")


def _tiny_blip(folder):
    from transformers import (
        BertTokenizerFast,
        BlipConfig,
        BlipForConditionalGeneration,
        BlipImageProcessor,
        BlipProcessor,
    )

    words = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", "a", "mug", "on", "table", "red", "photo", "of"]
    folder.mkdir(parents=True)
    (folder / "vocab.txt").write_text("\n".join(words) + "\n")
    tokenizer = BertTokenizerFast(vocab_file=str(folder / "vocab.txt"))
    tokenizer.bos_token = "[CLS]"
    config = BlipConfig(text_config=dict(vocab_size=len(words), hidden_size=32, intermediate_size=37,
                                         num_hidden_layers=2, num_attention_heads=4, max_position_embeddings=40,
                                         bos_token_id=2, sep_token_id=3, pad_token_id=0, eos_token_id=3),
                        vision_config=dict(hidden_size=32, intermediate_size=37, num_hidden_layers=2,
                                           num_attention_heads=4, image_size=32, patch_size=8),
                        projection_dim=32, image_text_hidden_size=32)
    BlipForConditionalGeneration(config).save_pretrained(folder, safe_serialization=True)
    BlipProcessor(BlipImageProcessor(size={"height": 32, "width": 32}), tokenizer).save_pretrained(folder)
    return folder


def test_blip_proposes_captions_for_photos_without_one(photos, tmp_path):
    (photos / "captions.csv").write_text("file,caption\nred_mug.png,a red mug\n")
    models = tmp_path / "models"
    store = ModelStore(models, offline=True, download_dir=tmp_path / "dl", use_hf_cache=False)
    assert not caption_model_available(store)
    _tiny_blip(models / CAPTION_MODEL_ID)
    assert caption_model_available(store)
    out = propose_captions(sorted(photos.glob("*.png")), CaptionSource(photos), store=store, use_model=True)
    assert out["red_mug.png"] == ("a red mug", "captions.csv")  # the user's own caption is kept
    for name in ("tea-tin.png", "vase.png"):
        caption, origin = out[name]
        assert origin == "BLIP" and isinstance(caption, str)
