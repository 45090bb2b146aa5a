import numpy as np
import pytest
from PIL import Image

from core.models.store import ModelStore
from tests.factories.diffusion import build_models_dir


@pytest.fixture(scope="module")
def tiny_models(tmp_path_factory):
    return build_models_dir(tmp_path_factory.mktemp("models"))


def _photos(folder):
    folder.mkdir()
    masks = folder.parent / "masks"
    masks.mkdir()
    for i in range(2):
        img = np.full((64, 64, 3), 220, np.uint8)
        img[16:48, 20:44] = (40 * i, 90, 160)
        Image.fromarray(img).save(folder / f"jar_{i}.png")
        m = np.zeros((64, 64), np.uint8)
        m[16:48, 20:44] = 255
        Image.fromarray(m).save(masks / f"jar_{i}.png")
    return folder, masks


def _open_wizard(qtbot, tiny_models, tmp_path, steps, name):
    from desktop.trainer_wizard import TrainerWizard

    data, masks = _photos(tmp_path / "brand")
    wizard = TrainerWizard(ModelStore(tiny_models, offline=True, download_dir=tmp_path / "dl"))
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


def test_wizard_trains_and_plots(qtbot, tiny_models, tmp_path):
    wizard = _open_wizard(qtbot, tiny_models, tmp_path, steps=2, name="wizard-brand")
    page = wizard.train_page
    qtbot.waitUntil(lambda: page.isComplete(), timeout=120_000)
    assert page.result_folder == tiny_models / "wizard-brand"
    assert (page.result_folder / "controlnet" / "config.json").is_file()
    assert "ready" in page.status.text()
    if page.plot is not None:
        xs, _ = page.curve.getData()
        assert list(xs) == [1, 2]


def test_wizard_stop_keeps_checkpoint(qtbot, tiny_models, tmp_path):
    wizard = _open_wizard(qtbot, tiny_models, tmp_path, steps=500, name="wizard-stop")
    page = wizard.train_page
    qtbot.waitUntil(lambda: page.bar.value() >= 1 and "train" in page.status.text(), timeout=120_000)
    page.cancel()
    qtbot.waitUntil(lambda: page.isComplete(), timeout=60_000)
    assert "resume" in page.status.text()
    assert page.result_folder is None
    assert list((tiny_models / ".training" / "wizard-stop").glob("checkpoint-*"))
    assert not (tiny_models / "wizard-stop").exists()
