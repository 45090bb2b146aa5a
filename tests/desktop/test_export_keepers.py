"""The app's export uses core's keeper rule: a keeper whose file is gone is not exported (nor an error)."""

from __future__ import annotations

from packshot.core.cli.main import main as packshot
from packshot.core.project import ProjectStore
from packshot.core.runtime import Runtime
from packshot.desktop.export_actions import export_chosen
from tests.core.batch_helpers import no_models_store, write_photos


def test_export_skips_a_keeper_whose_file_is_gone(tmp_path):
    write_photos(tmp_path / "in", 2, size=(80, 64))
    out = tmp_path / "out"
    assert packshot(["batch", str(tmp_path / "in"), "--out", str(out), "--no-progress", "--engine", "white"]) == 0
    (out / "item_000.png").unlink()  # the user deleted one output by hand
    store = ProjectStore(out, create=False)
    try:
        written = export_chosen(store, out, tmp_path / "exp", "original",
                                runtime=Runtime(store=no_models_store(tmp_path)), device="cpu")
    finally:
        store.close()
    assert [p.name for p in written] == ["item_001.png"]
