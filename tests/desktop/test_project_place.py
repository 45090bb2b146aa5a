"""Where the project of a photo folder goes: beside it (PHOTOS-packshot) normally, never inside it; for a
read-only place or one inside Packshot's installation the user is asked, with a folder in the user data
dir offered."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from PySide6.QtWidgets import QFileDialog, QMessageBox

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def answers(monkeypatch):
    """Answer each project-place question with the next button text; records the questions."""
    asked, replies = [], []

    def exec_(box: QMessageBox) -> int:
        asked.append(box.text())
        reply = replies.pop(0) if replies else "Cancel"
        next(b for b in box.buttons() if b.text().replace("&", "") == reply).click()
        return 0

    monkeypatch.setattr(QMessageBox, "exec", exec_)
    return asked, replies


def test_a_normal_folder_keeps_its_project_beside_it(qtbot, make_window, app_settings, photos_dir, answers):
    before = sorted(p.name for p in photos_dir.iterdir())
    window = make_window(app_settings)
    assert window.open_folder(photos_dir)
    assert window.session.out_dir == (photos_dir.parent / "photos-packshot").resolve() and answers[0] == []
    assert sorted(p.name for p in photos_dir.iterdir()) == before  # no project folder inside the photos


def test_the_installs_sample_folder_gets_its_project_in_the_user_data_dir(qtbot, make_window, app_settings,
                                                                          answers):
    samples = ROOT / "resources" / "samples"
    before = sorted(p.name for p in samples.iterdir())
    asked, replies = answers
    replies.append("Use this folder")
    window = make_window(app_settings)
    assert window.open_folder(samples)
    out = window.session.out_dir
    assert out.is_relative_to(Path(os.environ["XDG_DATA_HOME"]).resolve())
    assert len(asked) == 1 and "installation" in asked[0] and str(out) in asked[0]
    assert sorted(p.name for p in samples.iterdir()) == before  # nothing written into the install
    assert window.model.rowCount() == len([n for n in before if n.endswith((".jpg", ".png"))])
    assert str(out) in window.status_label.text()
    window.close()
    again = make_window(app_settings)
    assert again.open_folder(samples) and again.session.out_dir == out and len(asked) == 1  # found, not asked


def test_a_read_only_folder_asks_where_the_project_goes(qtbot, make_window, app_settings, photos_dir,
                                                        tmp_path, answers, monkeypatch):
    real_access = os.access
    read_only = {photos_dir.resolve(), photos_dir.parent.resolve()}

    def access(path, mode, *args, **kwargs):  # the folder as a read-only mount answers (tests run as root)
        if mode & os.W_OK and Path(path).resolve() in read_only:
            return False
        return real_access(path, mode, *args, **kwargs)

    monkeypatch.setattr(os, "access", access)
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    asked, replies = answers
    window = make_window(app_settings)
    replies.append("Cancel")
    assert not window.open_folder(photos_dir) and window.session is None
    assert "read-only" in asked[0]
    monkeypatch.setattr(QFileDialog, "getExistingDirectory", lambda *a, **k: str(elsewhere))
    replies.append("Choose another…")
    assert window.open_folder(photos_dir)
    assert window.session.out_dir == elsewhere.resolve() and window.model.rowCount() == 3
    assert not (photos_dir / "packshot-output").exists() and not (photos_dir.parent / "photos-packshot").exists()
