"""The wizard offscreen, driving a real training process (tiny random models): captions review,
progress and loss from the process's events, stop keeping a checkpoint, and a process that dies."""

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


@pytest.fixture(autouse=True)
def _no_stray_training(qtbot):
    """Whatever a test leaves running is killed (a failed wait must not leave a trainer on the CPU)."""
    yield
    for wizard in list(_opened):
        if wizard.train_page.process is not None:
            wizard.train_page.process.kill()
    _opened.clear()


_opened: list = []


def _photos(folder, count=4):
    folder.mkdir()
    masks = folder.parent / "masks"
    masks.mkdir()
    for i in range(count):
        img = np.full((64, 64, 3), 220, np.uint8)
        img[16:48, 20:44] = (40 * i, 90, 160)
        Image.fromarray(img).save(folder / f"jar_{i}.png")
        m = np.zeros((64, 64), np.uint8)
        m[16:48, 20:44] = 255
        Image.fromarray(m).save(masks / f"jar_{i}.png")
    (folder / "jar_1.txt").write_text("a blue jar on a shelf")
    return folder, masks


def _open_wizard(qtbot, tiny_models, tmp_path, steps, name, base_dir, *, start=True, photos=4, holdout=0):
    from desktop.trainer_wizard import TrainerWizard

    data, masks = _photos(tmp_path / "brand", photos)
    wizard = TrainerWizard(ModelStore(tiny_models, offline=True, download_dir=base_dir, use_hf_cache=False))
    qtbot.addWidget(wizard)
    _opened.append(wizard)
    wizard.show()
    wizard.data_page.data.setText(str(data))
    wizard.data_page.masks.setText(str(masks))
    wizard.next()
    assert wizard.currentPage() is wizard.captions_page
    wizard.next()
    settings = wizard.settings_page
    settings.name.setText(name)
    settings.steps.setValue(steps)
    settings.batch.setValue(2)
    settings.resolution.setValue(64)
    settings.holdout.setValue(holdout)
    settings.validation_steps.setValue(2)
    if start:
        wizard.next()  # starts the training process
    return wizard


def test_captions_page_shows_sources_and_edits_reach_training(qtbot, tiny_models, tmp_path, tiny_diffusion_models_dir):
    wizard = _open_wizard(qtbot, tiny_models, tmp_path, steps=1, name="cap-brand", base_dir=tiny_diffusion_models_dir,
                          start=False)
    table = wizard.captions_page.table
    rows = {table.item(r, 0).text(): (table.item(r, 1).text(), table.item(r, 2).text()) for r in range(table.rowCount())}
    assert rows["jar_1.png"] == ("a blue jar on a shelf", "sidecar .txt")
    assert rows["jar_0.png"] == ("a photo of jar 0", "template")
    table.item(sorted(rows).index("jar_0.png"), 1).setText("a green jar")
    config = wizard.config()
    from trainer.captions import read_caption_csv

    assert read_caption_csv(config.captions_file)["jar_0.png"] == "a green jar"
    assert not (tmp_path / "brand" / "captions-reviewed.csv").exists()  # the photo folder is never written


def test_too_few_photos_are_refused_on_the_first_page(qtbot, tiny_models, tmp_path, tiny_diffusion_models_dir):
    from desktop.trainer_wizard import TrainerWizard

    data, _ = _photos(tmp_path / "few", count=2)
    wizard = TrainerWizard(ModelStore(tiny_models, offline=True, download_dir=tiny_diffusion_models_dir,
                                      use_hf_cache=False))
    qtbot.addWidget(wizard)
    wizard.show()
    wizard.data_page.data.setText(str(data))
    wizard.next()
    assert wizard.currentPage() is wizard.data_page
    assert "at least 4" in wizard.data_page.message.text() and str(data) in wizard.data_page.message.text()


def test_wizard_trains_in_a_process_and_plots(qtbot, tiny_models, tmp_path, tiny_diffusion_models_dir):
    wizard = _open_wizard(qtbot, tiny_models, tmp_path, steps=2, name="wizard-brand",
                          base_dir=tiny_diffusion_models_dir, photos=5, holdout=1)
    page = wizard.train_page
    assert page.process is not None and page.process.popen.pid
    qtbot.waitUntil(lambda: page.isComplete(), timeout=180_000)
    assert page.outcome.kind == "done", page.status.text()
    assert page.result_folder == tiny_models / "wizard-brand"
    assert (page.result_folder / "controlnet" / "config.json").is_file()
    assert "ready" in page.status.text()
    assert "s/step" in page.estimate.text()
    assert page.steps == [1, 2]
    if page.plot is not None:
        xs, _ = page.curve.getData()
        assert list(xs) == [1, 2]
    # Validation: the base grid beside the latest, and eval's base-vs-fine-tuned table.
    assert sorted(page.grid_paths) == [0, 2]
    assert not page.base_grid.pixmap().isNull() and not page.latest_grid.pixmap().isNull()
    assert page.eval_table.isVisibleTo(page) and page.eval_table.rowCount() == 2
    assert page.eval_table.item(1, 0).text() == "fine-tuned (wizard-brand)"


def test_wizard_stop_keeps_checkpoint(qtbot, tiny_models, tmp_path, tiny_diffusion_models_dir):
    wizard = _open_wizard(qtbot, tiny_models, tmp_path, steps=500, name="wizard-stop",
                          base_dir=tiny_diffusion_models_dir)
    page = wizard.train_page
    qtbot.waitUntil(lambda: len(page.steps) >= 1, timeout=180_000)
    page.cancel()
    qtbot.waitUntil(lambda: page.isComplete(), timeout=120_000)
    assert page.outcome.kind == "cancelled"
    assert "resume" in page.status.text()
    assert page.result_folder is None
    assert list((tiny_models / ".training" / "wizard-stop").glob("checkpoint-*"))
    assert not (tiny_models / "wizard-stop").exists()


def test_wizard_survives_a_training_process_that_dies(qtbot, tiny_models, tmp_path, tiny_diffusion_models_dir):
    wizard = _open_wizard(qtbot, tiny_models, tmp_path, steps=500, name="wizard-crash",
                          base_dir=tiny_diffusion_models_dir)
    page = wizard.train_page
    qtbot.waitUntil(lambda: len(page.steps) >= 1, timeout=180_000)
    page.process.kill()  # as the out-of-memory killer would
    qtbot.waitUntil(lambda: page.isComplete(), timeout=60_000)
    assert page.outcome.kind == "crashed"
    assert "stopped unexpectedly" in page.status.text()
    assert wizard.isVisible()  # the app is still here
    assert page.result_folder is None
