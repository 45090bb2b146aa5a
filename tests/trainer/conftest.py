import numpy as np
import pytest
from PIL import Image


@pytest.fixture
def tiny_models(tmp_path, tiny_diffusion_models_dir):
    """An empty models folder of our own (the trained model lands here); the base model is found in
    the shared session folder through the store's second location."""
    (tmp_path / "models").mkdir()
    return tmp_path / "models"


@pytest.fixture
def store(tiny_models, tiny_diffusion_models_dir):
    from packshot.core.models.store import ModelStore

    return ModelStore(tiny_models, offline=True, download_dir=tiny_diffusion_models_dir, use_hf_cache=False)


@pytest.fixture
def runtime(store):
    """The runtime a training run gets (as ``packshot train`` and the training process make one)."""
    from packshot.core.runtime import Runtime

    return Runtime(store=store)


def make_photos(data, masks, count=4, size=(72, 96)):
    data.mkdir(exist_ok=True)
    masks.mkdir(exist_ok=True)
    rng = np.random.default_rng(0)
    for i in range(count):
        img = np.full((*size, 3), 230, np.uint8)
        img[20:50, 30:60] = rng.integers(0, 255, 3)
        Image.fromarray(img).save(data / f"bottle_{i}.png")
        mask = np.zeros(size, np.uint8)
        mask[20:50, 30:60] = 255
        Image.fromarray(mask).save(masks / f"bottle_{i}.png")
    return data, masks


@pytest.fixture
def brand_photos(tmp_path):
    data, masks = make_photos(tmp_path / "brand", tmp_path / "masks")
    (data / "captions.csv").write_text("file,caption\nbottle_0.png,a bottle on marble\n")
    return data, masks
