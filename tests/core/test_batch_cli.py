"""``packshot batch`` end to end through the real entry points (no weights: white engine, classic mask)."""

from __future__ import annotations

import os
import pty
import select
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
from PIL import Image

from packshot.core.cli.main import main as packshot
from packshot.core.recipe import read_recipe
from tests.core.batch_helpers import tree_hashes, write_photos

REPO = Path(__file__).resolve().parents[2]


def test_main_command_on_the_shipped_samples(tmp_path, capsys):
    """README's first command: real results on a fresh machine, and a hint on generated backgrounds."""
    samples = REPO / "resources" / "samples"
    before = tree_hashes(samples)
    out = tmp_path / "packshot-out"
    assert packshot(["batch", str(samples), "--out", str(out)]) == 0
    text = capsys.readouterr().out
    assert "packshot models download photo-background-generation" in text
    names = sorted(p.name for p in out.glob("*.png"))
    assert names == ["coffee_cup.png", "cream_jar.png", "gift-box.png", "red_mug.png", "serum bottle.png"]
    for path in out.glob("*.png"):
        img = np.asarray(Image.open(path).convert("RGB"))
        assert (img == 255).all(axis=2).mean() > 0.3, path.name  # a real white background...
        assert (img != 255).any(axis=2).mean() > 0.05, path.name  # ...behind a real product
    assert Image.open(samples / "gift-box.jpg").size == (800, 1000)  # stored sideways...
    assert Image.open(out / "gift-box.png").size == (1000, 800)  # ...comes out upright (EXIF orientation)
    assert "Done: 5" in text and "Failed: 0" in text
    assert tree_hashes(samples) == before  # originals untouched


def test_rerun_skips_redo_remakes_and_dry_run_writes_nothing(tmp_path, capsys):
    write_photos(tmp_path / "in", 3)
    out = tmp_path / "out"
    args = ["batch", str(tmp_path / "in"), "--out", str(out), "--no-progress"]
    assert packshot(args + ["--dry-run"]) == 0
    assert not out.exists()
    assert "3 to do" in capsys.readouterr().out
    assert packshot(args) == 0
    first = tree_hashes(out)
    capsys.readouterr()
    assert packshot(args + ["--dry-run"]) == 0
    assert "0 to do, 3 already done" in capsys.readouterr().out
    assert packshot(args) == 0
    assert "Skipped (already done): 3" in capsys.readouterr().out
    assert packshot(args + ["--redo"]) == 0
    assert "Done: 3" in capsys.readouterr().out
    assert {k: v for k, v in tree_hashes(out).items() if k.endswith(".png") and "/" not in k} == \
        {k: v for k, v in first.items() if k.endswith(".png") and "/" not in k}  # deterministic


def test_template_vars_csv_and_engine_options_reach_the_recipe(tmp_path, capsys):
    write_photos(tmp_path / "in", 2)
    csv_path = tmp_path / "vars.csv"
    csv_path.write_text("file,material\nitem_000.jpg,oak\nitem_001.jpg,slate\n", encoding="utf-8")
    out = tmp_path / "out"
    code = packshot(["batch", str(tmp_path / "in"), "--out", str(out), "--prompt", "{name} on {material}",
                     "--negative", "blurry", "--vars", str(csv_path), "--engine", "color", "--color", "#336699",
                     "--seed", "11", "--size", "square-1000", "--no-progress"])
    assert code == 0, capsys.readouterr()
    recipe = read_recipe(out / "item_001.png")
    assert recipe.prompt == "item 001 on slate" and recipe.negative_prompt == "blurry"
    assert recipe.engine == "color" and recipe.seed == 11 and recipe.preset == "square-1000"
    assert tuple(recipe.settings["color"]) == (0x33, 0x66, 0x99)
    img = Image.open(out / "item_001.png")
    assert img.size == (1000, 1000)
    assert np.allclose(np.asarray(img.convert("RGB"))[2, 2], (0x33, 0x66, 0x99), atol=2)


def test_errors_are_one_line_without_traceback(tmp_path):
    write_photos(tmp_path / "in", 1)
    for extra, phrase in (
        (["--prompt", "{name.__class__}"], "not allowed"),
        (["--template", "nope"], "Unknown template 'nope'"),
        (["--engine", "image"], "--background-image"),
        (["--masks", str(tmp_path / "missing")], "--masks folder not found"),
        (["--name", "{stem}_{when}"], "{when}"),
        (["--engine", "si2-controlnet"], "packshot models download photo-background-generation"),
        (["--masker", "sam"], "packshot models download sam-vit_b"),
    ):
        proc = subprocess.run([sys.executable, "-m", "packshot.core.cli.main", "batch", str(tmp_path / "in"), "--out",
                               str(tmp_path / "out"), *extra], capture_output=True, text=True, cwd=REPO,
                              timeout=120)
        assert proc.returncode != 0, extra
        assert "Traceback" not in proc.stderr, proc.stderr
        assert phrase in proc.stderr, (extra, proc.stderr)
        assert proc.stderr.strip().count("\n") == 0, proc.stderr  # one readable line
    assert not (tmp_path / "out").exists()  # nothing was started


def test_progress_bar_shows_file_name_and_eta_on_a_terminal(tmp_path):
    write_photos(tmp_path / "in", 3, prefix="shot")
    master, slave = pty.openpty()
    env = dict(os.environ, COLUMNS="120")
    proc = subprocess.Popen([sys.executable, "-m", "packshot.core.cli.main", "batch", str(tmp_path / "in"), "--out",
                             str(tmp_path / "out")], stdin=slave, stdout=slave, stderr=slave, cwd=REPO, env=env)
    os.close(slave)
    chunks = []
    deadline = time.time() + 120
    while time.time() < deadline:
        ready, _, _ = select.select([master], [], [], 0.5)
        if ready:
            try:
                data = os.read(master, 65536)
            except OSError:
                break
            if not data:
                break
            chunks.append(data)
        elif proc.poll() is not None:
            break
    proc.wait(30)
    os.close(master)
    text = b"".join(chunks).decode("utf-8", "replace")
    assert proc.returncode == 0, text
    assert "shot_00" in text and "3/3" in text  # current file name and count on the bar
    assert "<" in text and ("photo/s" in text or "s/photo" in text)  # elapsed<remaining (ETA), rate


def test_list_templates_and_missing_arguments(capsys):
    assert packshot(["batch", "--list-templates"]) == 0
    text = capsys.readouterr().out
    assert "kitchen-counter" in text and "negative:" in text
    assert packshot(["batch", "somewhere"]) != 0
    assert "--out OUT_DIR" in capsys.readouterr().err


def test_models_dir_is_accepted_before_and_after_the_action(tmp_path, capsys):
    import json

    folder = tmp_path / "models" / "my-brand"
    folder.mkdir(parents=True)
    (folder / "model_index.json").write_text(json.dumps({"_class_name": "StableDiffusionControlNetInpaintPipeline",
                                                         "controlnet": ["diffusers", "ControlNetModel"]}))
    (folder / "controlnet").mkdir()
    (folder / "controlnet" / "config.json").write_text("{}")
    (folder / "controlnet" / "diffusion_pytorch_model.safetensors").write_bytes(b"")  # listing reads no weights
    models = str(tmp_path / "models")
    for argv in (["models", "list", "--models-dir", models], ["models", "--models-dir", models, "list"],
                 ["models", "path", "my-brand", "--models-dir", models]):
        assert packshot(argv) == 0, argv
        assert str(folder) in capsys.readouterr().out, argv
    assert packshot(["models", "--models-dir", models, "path", "my-brand", "--models-dir", str(tmp_path)]) == 1


def test_clashing_output_names_stop_the_cli_before_any_work(tmp_path, capsys):
    write_photos(tmp_path / "in", 2)
    out = tmp_path / "out"
    assert packshot(["batch", str(tmp_path / "in"), "--out", str(out), "--name", "{engine}"]) == 1
    err = capsys.readouterr().err
    assert "white.png <- item_000.jpg, item_001.jpg" in err and "{stem}" in err
    assert not out.exists()


def test_cli_refuses_a_second_batch_on_a_locked_output_folder(tmp_path, capsys):
    from filelock import FileLock

    write_photos(tmp_path / "in", 1)
    out = tmp_path / "out"
    (out / ".packshot").mkdir(parents=True)
    args = ["batch", str(tmp_path / "in"), "--out", str(out), "--no-progress"]
    with FileLock(str(out / ".packshot" / "batch.lock"), timeout=0):  # another batch is running
        assert packshot(args) == 1
        assert "Another packshot batch is already working" in capsys.readouterr().err
        assert not list(out.glob("*.png"))
    assert packshot(args) == 0
    assert "Done: 1" in capsys.readouterr().out


def test_a_two_process_run_on_a_locked_folder_stops_every_worker(tmp_path):
    """Only the main process takes the lock; the other worker must not wait for it at a barrier forever."""
    import shutil

    from filelock import FileLock

    write_photos(tmp_path / "in", 2)
    out = tmp_path / "out"
    (out / ".packshot").mkdir(parents=True)
    exe = Path(sys.executable).with_name("accelerate")
    cmd = ([str(exe)] if exe.exists() else [shutil.which("accelerate") or "accelerate"]) + [
        "launch", "--multi_gpu", "--num_processes", "2", "--num_machines", "1", "--mixed_precision", "no",
        "--dynamo_backend", "no", "--main_process_port", "0", "-m", "packshot.core.cli.main", "batch", str(tmp_path / "in"),
        "--out", str(out), "--no-progress"]
    env = {k: v for k, v in os.environ.items() if k not in ("WORLD_SIZE", "RANK", "LOCAL_RANK")}
    env["CUDA_VISIBLE_DEVICES"] = ""
    with FileLock(str(out / ".packshot" / "batch.lock"), timeout=0):
        proc = subprocess.run(cmd, cwd=REPO, capture_output=True, text=True, timeout=300, env=env)
    text = proc.stdout + proc.stderr
    assert proc.returncode != 0, text
    assert text.count("Another packshot batch is already working") == 1, text
    assert not list(out.glob("*.png"))


def test_colour_alone_picks_its_engine_and_a_rerun_with_other_settings_never_overwrites(tmp_path, capsys):
    """No silent no-ops (--color without --engine, --variants on a plain engine) and no silent overwrite."""
    write_photos(tmp_path / "in", 2)
    out = tmp_path / "out"
    common = ["batch", str(tmp_path / "in"), "--out", str(out), "--no-progress", "--models-dir", str(tmp_path / "m")]
    assert packshot([*common, "--color", "10,20,30", "--variants", "3"]) == 0
    said = capsys.readouterr().out
    assert "--color given without --engine: using the 'color' engine" in said
    assert "--variants 3: the 'color' engine paints the same background for every seed" in said
    assert sorted(p.name for p in out.glob("*.png")) == ["item_000.png", "item_001.png"]
    first = (out / "item_000.png").read_bytes()
    assert np.allclose(np.asarray(Image.open(out / "item_000.png"))[0, 0], (10, 20, 30), atol=3)

    assert packshot([*common, "--engine", "white"]) == 1  # other settings, same names: refused before any work
    said = capsys.readouterr()
    assert "would be overwritten: item_000.png" in said.err and "--redo" in said.err
    assert (out / "item_000.png").read_bytes() == first
    assert packshot([*common, "--engine", "white", "--name", "{stem}-{engine}"]) == 0  # keep both
    assert sorted(p.name for p in out.glob("*.png")) == ["item_000-white.png", "item_000.png", "item_001-white.png",
                                                         "item_001.png"]
    assert packshot([*common, "--engine", "white", "--redo"]) == 0  # replace, as asked
    assert (out / "item_000.png").read_bytes() != first
