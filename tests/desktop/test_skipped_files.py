"""Folder entries named like photos that cannot be read (a broken link, a FIFO, a folder) are said in
the app with core's reason, never dropped silently: above the photo grid (tooltip and details), in
the status line, and on the trainer wizard's pages."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from packshot.core.images import scan_photos
from packshot.core.models.store import ModelStore

pytestmark = pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="named pipes are POSIX")


def add_unreadable_entries(folder: Path) -> list[str]:
    """Three entries named like photos that are not readable files; core's lines for them."""
    (folder / "d_gone.jpg").symlink_to(folder / "moved-away.jpg")
    os.mkfifo(folder / "e_pipe.png")
    (folder / "f_folder.jpg").mkdir()
    lines = [s.message for s in scan_photos(folder).skipped]
    assert len(lines) == 3
    return lines


def test_skipped_entries_are_named_with_their_reasons(qtbot, make_window, app_settings, photos_dir, tmp_path):
    lines = add_unreadable_entries(photos_dir)
    window = make_window(app_settings)
    assert window.open_folder(photos_dir)
    assert window.model.rowCount() == 3  # the photos themselves are all there
    line = window.skipped_line
    qtbot.waitUntil(line.isVisible)
    assert line.label.text().startswith("3 files skipped: not photos Packshot can read (d_gone.jpg, e_pipe.png, ")
    assert line.label.toolTip() == "\n".join(lines)
    assert "broken link" in line.label.toolTip() and "named pipe" in line.label.toolTip()
    assert "(3 skipped)" in window.status_label.text()

    line.details_btn.click()
    qtbot.waitUntil(lambda: line.dialog is not None and line.dialog.isVisible())
    assert line.dialog.detailedText() == "\n".join(lines)
    line.dialog.accept()
    qtbot.waitUntil(lambda: line.dialog is None)

    # a folder with nothing left out: no line
    clean = tmp_path / "clean"
    clean.mkdir()
    Image.fromarray(np.full((40, 40, 3), 200, np.uint8)).save(clean / "one.png")
    assert window.open_folder(clean)
    qtbot.waitUntil(lambda: not line.isVisible())
    assert window.status_label.text().startswith("1 photo · project in")


def _jars(folder: Path, count: int) -> Path:
    folder.mkdir()
    for i in range(count):
        img = np.full((64, 64, 3), 220, np.uint8)
        img[16:48, 20:44] = (40 * i, 90, 160)
        Image.fromarray(img).save(folder / f"jar_{i}.png")
    return folder


def _wizard(qtbot, tmp_path, base_dir, data: Path):
    from packshot.desktop.trainer_wizard import TrainerWizard

    (tmp_path / "models").mkdir()
    wizard = TrainerWizard(ModelStore(tmp_path / "models", offline=True, download_dir=base_dir, use_hf_cache=False))
    qtbot.addWidget(wizard)
    wizard.show()
    wizard.data_page.data.setText(str(data))
    wizard.next()
    return wizard


def test_trainer_wizard_says_what_it_skipped(qtbot, tmp_path, tiny_diffusion_models_dir):
    data = _jars(tmp_path / "brand", 4)
    (data / "jar_gone.png").symlink_to(data / "nowhere.png")
    wizard = _wizard(qtbot, tmp_path, tiny_diffusion_models_dir, data)
    assert wizard.currentPage() is wizard.captions_page
    [skipped] = scan_photos(data).skipped
    assert f"Skipped {skipped.message}" in wizard.captions_page.message.text().splitlines()


def test_too_few_photos_names_the_entries_left_out(qtbot, tmp_path, tiny_diffusion_models_dir):
    data = _jars(tmp_path / "few", 2)
    os.mkfifo(data / "jar_pipe.png")
    wizard = _wizard(qtbot, tmp_path, tiny_diffusion_models_dir, data)
    assert wizard.currentPage() is wizard.data_page
    text = wizard.data_page.message.text()
    assert "holds 2 photo(s)" in text and scan_photos(data).skipped[0].message in text
