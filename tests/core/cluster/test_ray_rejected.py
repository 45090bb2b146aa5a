"""``packshot batch --ray`` honours the project store's rejections as the local batch does."""

from __future__ import annotations

import pytest

from packshot.core.cli.main import main
from packshot.core.project import ProjectStore
from tests.core.batch_helpers import write_photos

pytest.importorskip("ray")


def test_a_ray_batch_renders_no_rejected_photo_and_says_so(local_ray, tmp_path, capsys):
    photos = write_photos(tmp_path / "in", 3, size=(120, 90))
    store = ProjectStore(tmp_path / "out")
    store.set_rejected(store.add_photo(photos[1]), True)  # rejected in the app's review
    assert main(["batch", str(tmp_path / "in"), "--out", str(tmp_path / "out"), "--engine", "white",
                 "--ray", "--no-progress"]) == 0
    said = capsys.readouterr().out
    assert "Done: 2" in said and "1 photo skipped: rejected in review (item_001.jpg)" in said
    assert sorted(p.stem for p in (tmp_path / "out").iterdir() if p.is_file()) == ["item_000", "item_002"]
