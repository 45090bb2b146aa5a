"""Screenshots of Packshot Studio's main views for the README, taken on a virtual X screen.

    python packaging/screenshots.py [--out resources/screenshots] [--screen 1366x768]

Starts Xvfb (Debian: ``apt-get install xvfb xauth libxcb-cursor0 libxkbcommon-x11-0``), runs the
real app on a copy of resources/samples with the weight-free engine and classic masks, drives it
through the views and saves one small PNG per view. Without Xvfb it says so and stops.
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SIZE = (1360, 860)


def start_xvfb(screen: tuple[int, int] = (SIZE[0] + 40, SIZE[1] + 40)) -> subprocess.Popen:
    if shutil.which("Xvfb") is None:
        raise SystemExit("Xvfb is not installed: apt-get install -y xvfb xauth libxcb-cursor0 libxkbcommon-x11-0")
    for display in range(90, 110):
        if not Path(f"/tmp/.X11-unix/X{display}").exists() and not Path(f"/tmp/.X{display}-lock").exists():
            break
    proc = subprocess.Popen(["Xvfb", f":{display}", "-screen", "0", f"{screen[0]}x{screen[1]}x24", "-nolisten",
                             "tcp"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    for _ in range(100):
        if Path(f"/tmp/.X11-unix/X{display}").exists():
            break
        time.sleep(0.05)
    os.environ["DISPLAY"] = f":{display}"
    os.environ["QT_QPA_PLATFORM"] = "xcb"
    return proc


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=ROOT / "resources" / "screenshots")
    parser.add_argument("--screen", help="WxH: a screen of this size, the window at the size the app picks for it")
    args = parser.parse_args(argv)
    args.out = args.out.resolve()
    screen = tuple(int(v) for v in args.screen.split("x")) if args.screen else None
    xvfb = start_xvfb(screen) if screen else start_xvfb()
    home = Path(tempfile.mkdtemp(prefix="packshot-shots-"))
    for var, sub in (("HOME", ""), ("XDG_CONFIG_HOME", ".config"), ("XDG_STATE_HOME", ".state"),
                     ("XDG_DATA_HOME", ".data"), ("XDG_CACHE_HOME", ".cache")):
        os.environ[var] = str(home / sub)  # the user's real settings stay untouched
    os.environ["HF_HUB_OFFLINE"] = "1"
    try:
        return take(args.out, home, fit_screen=screen is not None)
    finally:
        xvfb.terminate()
        xvfb.wait(5)
        shutil.rmtree(home, ignore_errors=True)


def take(out: Path, home: Path, fit_screen: bool = False) -> int:
    sys.path.insert(0, str(ROOT))
    from PySide6.QtCore import Qt
    from PySide6.QtWidgets import QApplication

    from packshot.desktop.main_window import TAB_MASKS, TAB_PHOTOS, TAB_PROMPT, TAB_RESULTS, MainWindow
    from packshot.desktop.settings import AppSettings

    app = QApplication([sys.argv[0]])
    photos = home / "photos"
    shutil.copytree(ROOT / "resources" / "samples", photos,
                    ignore=shutil.ignore_patterns("*.py", "*.md", "__pycache__"))
    from packshot.core.jobs import JobSettings

    settings = AppSettings(first_run_done=True, device="cpu")
    window = MainWindow(settings, JobSettings.from_flat({"masker": "classic", "engine": "gradient", "variants": 1}))
    if not fit_screen:
        window.resize(*SIZE)
    window.show()
    pump(app, lambda: window.isVisible())
    out.mkdir(parents=True, exist_ok=True)
    shot(app, window, out / "empty-state.png")  # one big button; folders can be dropped

    window.open_folder(photos)
    pump(app, lambda: window.model.wait_for_thumbnails(50) and len(window.model._cache) >= window.model.rowCount())
    shot(app, window, out / "photos.png")

    window.compute_all_masks()  # scores for every photo: the review queue puts doubtful masks first
    pump(app, lambda: not window.queue.busy, 300)
    first = window.mask_panel.order[0]  # the most doubtful mask
    window.select_photo(first)
    window.tabs.setCurrentIndex(TAB_MASKS)
    pump(app, lambda: window.mask_panel._opened is not None, 60)
    shot(app, window, out / "mask-review.png")

    window.tabs.setCurrentIndex(TAB_PROMPT)
    t = window.templates
    t.engine_combo.setCurrentText("gradient")
    t.shadow.setCurrentIndex(t.shadow.findData("contact"))
    rendered = t.shadow_preview.rendered
    window.select_photo(first)
    pump(app, lambda: t.shadow_preview.rendered > rendered, 30)
    shot(app, window, out / "background.png")
    if fit_screen:  # every other option of `packshot batch`, behind the disclosure
        t.form.advanced_btn.setChecked(True)
        shot(app, window, out / "background-advanced.png")
        t.form.advanced_btn.setChecked(False)

    window.run_on_all()
    pump(app, lambda: not window.queue.busy, 300)
    mug = next((e.path for e in window.model.entries() if "mug" in e.path.name), first)
    window.select_photo(mug)
    window.tabs.setCurrentIndex(TAB_RESULTS)
    pump(app, window.results.previews_loaded, 30)
    window.results.compare.split = 0.45
    shot(app, window, out / "results.png")

    export = home / "export"
    window.export_chosen("original", export)
    pump(app, lambda: not window.queue.busy and "Exported" in window.results.export_dir_label.text(), 120)
    shot(app, window, out / "export-done.png")

    from packshot.desktop.models_dialog import ModelsDialog
    from packshot.desktop.settings_dialog import SettingsDialog

    dialog = ModelsDialog(settings, window.workspace, window)
    dialog.show()
    pump(app, lambda: dialog.table.rowCount() > 0 and "Checking" not in dialog.message.text(), 60)
    shot(app, dialog, out / "models-dialog.png")
    dialog.close()
    sdialog = SettingsDialog(settings, parent=window)
    sdialog.show()
    shot(app, sdialog, out / "settings.png")
    sdialog.close()
    shot_training(app, window, photos, home, out)
    window.tabs.setCurrentIndex(TAB_PHOTOS)
    window.close()
    _ = Qt
    print("\n".join(str(p.relative_to(ROOT)) for p in sorted(out.glob("*.png"))))
    return 0


def shot_training(app, window, photos: Path, home: Path, out: Path) -> None:
    """The trainer wizard's training page after a real run of 4 steps on the samples: progress, loss plot,
    validation grids and the base-vs-fine-tuned table. The base model is the tests' tiny random one
    (no weights to download), so the grids show noise: the page's layout is what this shows."""
    from packshot.core.models.store import ModelStore
    from packshot.desktop.trainer_wizard import TrainerWizard
    from tests.factories.diffusion import build_models_dir

    (home / "trained").mkdir()
    store = ModelStore(home / "trained", offline=True, download_dir=build_models_dir(home / "tiny-base"),
                       use_hf_cache=False)
    wizard = TrainerWizard(store, window, photos_folder=photos)
    wizard.show()
    pump(app, wizard.isVisible)
    wizard.next()  # captions
    wizard.next()  # the new model's settings
    s = wizard.settings_page
    s.name.setText("sample-brand")
    for box, value in ((s.steps, 4), (s.batch, 2), (s.resolution, 64), (s.holdout, 1), (s.validation_steps, 2)):
        box.setValue(value)
    wizard.next()  # starts the training process
    pump(app, lambda: wizard.train_page.isComplete() and wizard.train_page.eval_table.isVisible(), 900)
    shot(app, wizard, out / "training.png")
    wizard.close()


def pump(app, condition, timeout: float = 20.0) -> None:
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        app.processEvents()
        if condition():
            break
        time.sleep(0.02)
    for _ in range(10):  # let layouts and paints settle
        app.processEvents()
        time.sleep(0.01)


def shot(app, widget, path: Path) -> None:
    """Grab the widget's window from the X screen, palette-quantised so the PNG stays small."""
    from PIL import Image

    pump(app, lambda: True, 0)
    screen = widget.screen()
    pixmap = screen.grabWindow(widget.winId()) if screen is not None else widget.grab()
    if pixmap.isNull() or pixmap.width() < 10:
        pixmap = widget.grab()
    tmp = path.with_suffix(".raw.png")
    pixmap.save(str(tmp), "PNG")
    with Image.open(tmp) as im:
        im.convert("RGB").quantize(colors=256, method=Image.Quantize.MEDIANCUT).save(path, optimize=True)
    tmp.unlink()


if __name__ == "__main__":
    raise SystemExit(main())
