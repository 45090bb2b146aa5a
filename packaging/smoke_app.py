"""Drive the installed app once, offscreen: open a folder, run a white batch through the app's queue,
export the results, quit. Run by ``packaging/smoke_test.py`` with the installed environment's Python.

    python smoke_app.py PHOTOS EXPORT_DIR     # exit status 0 when every step worked
"""

from __future__ import annotations

import os
import sys
import time
from pathlib import Path

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")


def wait_for(app, condition, seconds: float, what: str) -> None:
    deadline = time.monotonic() + seconds
    while not condition():
        if time.monotonic() > deadline:
            raise SystemExit(f"smoke: timed out waiting for {what}")
        app.processEvents()
        time.sleep(0.02)


def main(photos: Path, export_dir: Path) -> int:
    from PySide6.QtWidgets import QApplication

    from packshot.core.jobs import JobSettings
    from packshot.desktop.main_window import MainWindow
    from packshot.desktop.settings import AppSettings

    app = QApplication.instance() or QApplication(sys.argv[:1])
    # The job settings are the app's JobSettings (the masker and engine are no AppSettings fields).
    job = JobSettings.from_flat({"masker": "classic", "engine": "white", "variants": 1})
    window = MainWindow(AppSettings(device="cpu", first_run_done=True), job)
    window.ask_before_closing = False
    window.show()
    if not window.open_folder(photos):
        raise SystemExit(f"smoke: could not open {photos}")
    if not window.run_on_all():
        raise SystemExit(f"smoke: the batch was not queued ({window.status_label.text()})")
    idle = lambda: not window.queue.busy and all(  # noqa: E731
        window.queue_panel.state_of(i) not in ("queued", "running") for i in window.queue_panel.item_ids())
    wait_for(app, idle, 600, "the batch")
    item = window.export_chosen("original", export_dir)
    wait_for(app, idle, 600, "the export")
    state = window.queue_panel.state_of(item)
    exported = sorted(export_dir.glob("*.png"))
    window.close()
    app.processEvents()
    if state != "done" or not exported:
        print(f"smoke: export {state}, {len(exported)} file(s)", file=sys.stderr)
        return 1
    print(f"smoke: {len(exported)} photo(s) exported to {export_dir}")
    return 0


if __name__ == "__main__":
    sys.exit(main(Path(sys.argv[1]), Path(sys.argv[2])))
