import numpy as np
import pytest
from PIL import Image

from core.models.store import ModelStore


@pytest.fixture
def tiny_models(tmp_path, tiny_diffusion_models_dir):
    """An empty models folder of our own (the trained model lands here); the base model is found in
    the shared session folder through the store's second location."""
    (tmp_path / "models").mkdir()
    return tmp_path / "models"


def _photos(folder):
    folder.mkdir()
    masks = folder.parent / "masks"
    masks.mkdir()
    for i in range(4):
        img = np.full((64, 64, 3), 220, np.uint8)
        img[16:48, 20:44] = (40 * i, 90, 160)
        Image.fromarray(img).save(folder / f"jar_{i}.png")
        m = np.zeros((64, 64), np.uint8)
        m[16:48, 20:44] = 255
        Image.fromarray(m).save(masks / f"jar_{i}.png")
    return folder, masks


def _open_wizard(qtbot, tiny_models, tmp_path, steps, name, base_dir):
    from desktop.trainer_wizard import TrainerWizard

    data, masks = _photos(tmp_path / "brand")
    wizard = TrainerWizard(ModelStore(tiny_models, offline=True, download_dir=base_dir, use_hf_cache=False))
    qtbot.addWidget(wizard)
    wizard.show()
    wizard.page(0).data.setText(str(data))
    wizard.page(0).masks.setText(str(masks))
    wizard.next()
    settings = wizard.page(1)
    settings.name.setText(name)
    settings.steps.setValue(steps)
    settings.batch.setValue(2)
    settings.resolution.setValue(64)
    wizard.next()  # starts training on a worker
    return wizard


def test_wizard_trains_and_plots(qtbot, tiny_models, tmp_path, tiny_diffusion_models_dir):
    wizard = _open_wizard(qtbot, tiny_models, tmp_path, steps=2, name="wizard-brand",
                          base_dir=tiny_diffusion_models_dir)
    page = wizard.train_page
    qtbot.waitUntil(lambda: page.isComplete(), timeout=120_000)
    assert page.result_folder == tiny_models / "wizard-brand"
    assert (page.result_folder / "controlnet" / "config.json").is_file()
    assert "ready" in page.status.text()
    if page.plot is not None:
        xs, _ = page.curve.getData()
        assert list(xs) == [1, 2]


def test_wizard_stop_keeps_checkpoint(qtbot, tiny_models, tmp_path, tiny_diffusion_models_dir):
    wizard = _open_wizard(qtbot, tiny_models, tmp_path, steps=500, name="wizard-stop",
                          base_dir=tiny_diffusion_models_dir)
    page = wizard.train_page
    qtbot.waitUntil(lambda: page.bar.value() >= 1 and "train" in page.status.text(), timeout=120_000)
    page.cancel()
    qtbot.waitUntil(lambda: page.isComplete(), timeout=60_000)
    assert "resume" in page.status.text()
    assert page.result_folder is None
    assert list((tiny_models / ".training" / "wizard-stop").glob("checkpoint-*"))
    assert not (tiny_models / "wizard-stop").exists()
