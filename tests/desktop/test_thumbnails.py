"""The photo grid model: thumbnails decode lazily off the GUI thread, only for rows painted."""

from __future__ import annotations

import threading
from pathlib import Path

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QApplication

from packshot.desktop import thumbnails
from packshot.desktop.photo_grid import PhotoGrid
from packshot.desktop.thumbnails import PhotoEntry, PhotoListModel, StatusRole, load_thumbnail
from tests.desktop.conftest import product_photo


def test_thumbnail_is_small_and_upright(tmp_path):
    from PIL import Image

    path = tmp_path / "rotated.jpg"
    img = Image.new("RGB", (400, 200), (255, 0, 0))
    exif = img.getexif()
    exif[0x0112] = 6  # rotate 90 degrees on display
    img.save(path, exif=exif)
    thumb = load_thumbnail(path, 100)
    assert (thumb.width(), thumb.height()) == (50, 100)


def test_thousands_of_rows_only_visible_ones_load(qtbot, tmp_path, monkeypatch):
    photo = product_photo(tmp_path / "p.png")
    threads = set()
    real = thumbnails.load_thumbnail

    def spy(path, size=thumbnails.THUMB_SIZE):
        threads.add(threading.get_ident())
        return real(photo, size)

    monkeypatch.setattr(thumbnails, "load_thumbnail", spy)
    model = PhotoListModel()
    model.set_entries([PhotoEntry(tmp_path / f"photo_{i:05d}.png") for i in range(5000)])
    grid = PhotoGrid()
    grid.setModel(model)
    grid.resize(800, 600)
    qtbot.addWidget(grid)
    grid.show()
    qtbot.waitExposed(grid)
    qtbot.waitUntil(lambda: model.thumbnails_cached() > 0, timeout=10_000)
    model.wait_for_thumbnails()
    QApplication.processEvents()  # deliver the thumbnails' queued signals
    requested = model.thumbnails_requested()
    assert 0 < requested < 200  # a window's worth, not 5000
    assert threading.get_ident() not in threads  # decoded on the pool, never on the GUI thread


def test_status_badges_follow_the_entry(qtbot, tmp_path):
    model = PhotoListModel()
    entry = PhotoEntry(Path(tmp_path / "x.png"), mask_state="auto")
    model.set_entries([entry])
    idx = model.index(0)
    assert model.data(idx, StatusRole) == "auto"
    model.update_entry(PhotoEntry(entry.path, mask_state="reviewed", generated=True, flagged=True))
    assert model.data(idx, StatusRole) == "flagged"
    model.update_entry(PhotoEntry(entry.path, error="bad file"))
    assert model.data(idx, StatusRole) == "failed"
    assert "bad file" in model.data(idx, Qt.ItemDataRole.ToolTipRole)


def test_unreadable_file_gets_a_tile_not_a_crash(qtbot, tmp_path):
    bad = tmp_path / "broken.jpg"
    bad.write_bytes(b"not a jpeg")
    model = PhotoListModel()
    model.set_entries([PhotoEntry(bad)])
    model.data(model.index(0), Qt.ItemDataRole.DecorationRole)
    qtbot.waitUntil(lambda: model.has_thumbnail(bad), timeout=5000)
