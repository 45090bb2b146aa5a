"""``packshot eval --engines si2,si2-controlnet,sd2-controlnet``: the paper's Table 3 rows on tiny models."""

from __future__ import annotations

import argparse

import numpy as np
from PIL import Image

from tests.core.quality.test_eval_outputs import make_folder, read_rows
from tests.factories.sd2_fixtures import SD2_CONTROLNET_ID


def test_eval_lists_the_baseline_the_paper_and_the_ablation(tmp_path, capsys, tiny_sd2_models_dir,
                                                            tiny_diffusion_models_dir, monkeypatch):
    from packshot.core.cli import eval_cmd
    from packshot.core.models import store as store_module

    # The SI2 models are found in the download folder, the trained SD2 ControlNet in the models folder.
    monkeypatch.setattr(store_module, "default_download_dir", lambda: tiny_diffusion_models_dir)
    photos, masks = make_folder(tmp_path, n=1, with_masks=1, size=(64, 48))
    parser = argparse.ArgumentParser(prog="packshot")
    eval_cmd.register(parser.add_subparsers(dest="command"))
    out = tmp_path / "out"
    args = parser.parse_args(["eval", str(photos), "--out", str(out), "--masks", str(masks),
                              "--engines", "si2,si2-controlnet,sd2-controlnet", "--steps", "2", "--resolution", "64",
                              "--reseg", "classic", "--device", "cpu", "--prompt", "a red box on marble",
                              "--models-dir", str(tiny_sd2_models_dir)])
    assert args.func(args) == 0
    printed = capsys.readouterr().out
    rows = read_rows(out / "results.csv")
    assert [r["engine"] for r in rows] == ["si2", "si2-controlnet", "sd2-controlnet"]
    assert all(not r["error"] and r["expansion"] != "" for r in rows)
    for engine in ("si2 ", "si2-controlnet ", "sd2-controlnet "):
        assert any(line.startswith(engine) for line in printed.splitlines()), printed
    md = (out / "summary.md").read_text(encoding="utf-8")
    assert "| sd2-controlnet | 1 | 0 |" in md
    images = [np.asarray(Image.open(out / r["image"])) for r in rows]
    assert not np.array_equal(images[1], images[2])  # the ablation is another model, not the paper's again
    # The named form picks the same trained model.
    args = parser.parse_args(["eval", str(photos), "--out", str(tmp_path / "named"), "--masks", str(masks),
                              "--engines", f"sd2-controlnet@{SD2_CONTROLNET_ID}", "--steps", "2", "--resolution", "64",
                              "--reseg", "classic", "--device", "cpu", "--prompt", "a red box on marble",
                              "--models-dir", str(tiny_sd2_models_dir)])
    assert args.func(args) == 0
    named = read_rows(tmp_path / "named" / "results.csv")[0]
    assert np.array_equal(np.asarray(Image.open(tmp_path / "named" / named["image"])), images[2])
