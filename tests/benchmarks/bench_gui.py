"""Desktop responsiveness: ``python -m tests.benchmarks.bench_gui [--quick]``.

1. Start-up: seconds from process start (``Popen``) to the main window shown and the event loop
   running, offscreen and (where Xvfb is installed) on a virtual X screen. Target <= 1.5 s.
2. Event-loop blocking while generations run: a 10 ms QTimer heartbeat on the GUI thread records
   the longest gap between ticks while the queue runs the tiny SI2 + ControlNet models (real
   on-disk format, many progress signals) and the white engine on 2000 px photos, while the test
   also flips tabs and selects photos like a user, after the window's start-up work. Target <= 100 ms.
3. Click-to-mask latency with the tiny SAM: a real click on the mask view until the new mask shows.
Prints a table; nothing is asserted.
"""

from __future__ import annotations

import argparse
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]

CHILD = r"""
import sys
from PySide6.QtWidgets import QApplication
from PySide6.QtCore import QTimer

def exposed():
    # "shown" = the main window is mapped and exposed on the screen (first frame can be drawn)
    for w in QApplication.topLevelWidgets():
        if type(w).__name__ == "MainWindow" and w.windowHandle() is not None and w.windowHandle().isExposed():
            return True
    return False

def fake_exec(*_):
    timer = QTimer()
    timer.setInterval(1)
    timer.timeout.connect(lambda: exposed() and (print("SHOWN", flush=True), QApplication.quit()))
    timer.start()
    return QApplication._real_exec()

QApplication._real_exec = QApplication.exec
QApplication.exec = fake_exec
from packshot.desktop.app import main
raise SystemExit(main(sys.argv[1:]))
"""


def startup_seconds(env: dict, folder: Path, runs: int) -> list[float]:
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        proc = subprocess.Popen([sys.executable, "-c", CHILD, str(folder)], env=env, cwd=ROOT,
                                stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
        for line in proc.stdout:
            if line.startswith("SHOWN"):
                times.append(time.perf_counter() - start)
                break
        proc.wait(60)
    return times


def isolated_env(home: Path, platform_name: str, display: str | None = None) -> dict:
    env = dict(os.environ, QT_QPA_PLATFORM=platform_name, PYTHONPATH=str(ROOT), HOME=str(home),
               XDG_CONFIG_HOME=str(home / "c"), XDG_STATE_HOME=str(home / "s"), XDG_DATA_HOME=str(home / "d"),
               HF_HUB_OFFLINE="1")
    if display:
        env["DISPLAY"] = display
    return env


def bench_startup(tmp: Path, runs: int) -> list[tuple[str, str, str]]:
    from tests.desktop.conftest import product_photo

    folder = tmp / "startup-photos"
    folder.mkdir()
    for i in range(20):
        product_photo(folder / f"p{i:02d}.png", (320, 240), seed=i)
    rows = []
    home = tmp / "home-startup"
    # first run writes settings (first_run_done stays False: the models check runs 300 ms later)
    t = startup_seconds(isolated_env(home, "offscreen"), folder, runs)
    rows.append(("start -> window shown (offscreen)", f"median {statistics.median(t):.2f} s, max {max(t):.2f} s",
                 "<= 1.5 s"))
    if shutil.which("Xvfb"):
        display = ":97"
        xvfb = subprocess.Popen(["Xvfb", display, "-screen", "0", "1400x900x24", "-nolisten", "tcp"],
                                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        try:
            time.sleep(0.5)  # sleep-ok: benchmark pacing
            t = startup_seconds(isolated_env(home, "xcb", display), folder, runs)
            rows.append(("start -> window shown (Xvfb, xcb)",
                         f"median {statistics.median(t):.2f} s, max {max(t):.2f} s", "<= 1.5 s"))
        finally:
            xvfb.terminate()
            xvfb.wait(5)
    return rows


class Heartbeat:
    """A 10 ms QTimer on the GUI thread; ``gaps`` holds the ms between consecutive ticks."""

    def __init__(self, elapsed_timer_cls, timer_cls, interval_ms: int = 10) -> None:
        self.gaps: list[float] = []
        self.clock = elapsed_timer_cls()
        self.clock.start()
        self.last = self.clock.elapsed()
        self.timer = timer_cls()
        self.timer.setInterval(interval_ms)
        self.timer.timeout.connect(self.beat)

    def beat(self) -> None:
        now = self.clock.elapsed()
        self.gaps.append(now - self.last)
        self.last = now


def idle_baseline(app, elapsed_timer_cls, timer_cls, seconds: float) -> tuple[str, str, str]:
    """The same heartbeat with nothing running: what the machine's own load (other processes on
    shared cores) costs, to read the rows below against."""
    beat = Heartbeat(elapsed_timer_cls, timer_cls)
    beat.timer.start()
    end = time.perf_counter() + seconds
    while time.perf_counter() < end:
        app.processEvents()
        time.sleep(0.002)  # sleep-ok: benchmark pacing
    beat.timer.stop()
    steady = sorted(g - 10 for g in beat.gaps[1:])
    p99 = steady[int(0.99 * (len(steady) - 1))]
    return ("longest event-loop block: idle app (machine-load baseline)",
            f"{steady[-1]:.0f} ms (p99 {p99:.0f} ms, {len(beat.gaps)} beats)", "-")


def settle(app, window, seconds: float = 3.0) -> None:
    """Let the window finish its start-up work first (the edge-matting warm-up runs 2 s after start:
    its numba code holds the GIL while it first loads, ~0.3 s, which a generation started at once
    would meet as one long block)."""
    end = time.perf_counter() + seconds
    while time.perf_counter() < end:
        app.processEvents()
        time.sleep(0.01)  # sleep-ok: benchmark pacing


def bench_clicks(tmp: Path, quick: bool) -> list[tuple[str, str, str]]:
    """Click-to-mask latency with the tiny SAM: a real click on the mask view until the new mask is shown."""
    from PySide6.QtCore import Qt
    from PySide6.QtTest import QTest
    from PySide6.QtWidgets import QApplication

    from packshot.core.jobs import JobSettings
    from packshot.desktop.main_window import MainWindow
    from packshot.desktop.settings import AppSettings
    from tests.desktop.conftest import product_photo
    from tests.factories.sam import write_tiny_sam

    app = QApplication.instance() or QApplication([])
    models = tmp / "sam-models"
    write_tiny_sam(models, "sam-vit_b")
    folder = tmp / "photos-sam"
    folder.mkdir()
    for i in range(3):
        product_photo(folder / f"s{i:02d}.png", (800, 600), seed=i)
    window = MainWindow(AppSettings(models_dir=str(models), device="cpu", first_run_done=True),
                        JobSettings.from_flat({"masker": "sam", "engine": "white"}))
    window.show()
    window.open_folder(folder)
    panel = window.mask_panel
    window.select_photo(panel.order[0])
    window.tabs.setCurrentIndex(1)
    deadline = time.perf_counter() + 120
    while (panel._opened is None or panel.busy) and time.perf_counter() < deadline:
        app.processEvents()
        time.sleep(0.005)  # sleep-ok: benchmark pacing
    view, latencies = panel.view, []
    for i in range(5 if quick else 20):
        x, y = 300 + 20 * (i % 5), 250 + 10 * (i // 5)
        start = time.perf_counter()
        QTest.mouseClick(view.viewport(), Qt.MouseButton.LeftButton, pos=view.from_photo(x, y))
        while panel.busy and time.perf_counter() - start < 30:
            app.processEvents()
        app.processEvents()
        latencies.append(1000 * (time.perf_counter() - start))
    window.close()
    return [("click -> mask shown (tiny SAM, 800 x 600 photo)",
             f"median {statistics.median(latencies):.0f} ms, max {max(latencies):.0f} ms", "<= 150 ms")]


def bench_blocking(tmp: Path, quick: bool) -> list[tuple[str, str, str]]:
    os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    home = tmp / "home-gui"
    for var, sub in (("HOME", ""), ("XDG_CONFIG_HOME", "c"), ("XDG_STATE_HOME", "s"), ("XDG_DATA_HOME", "d")):
        os.environ[var] = str(home / sub)
    os.environ["HF_HUB_OFFLINE"] = "1"
    from PySide6.QtCore import QElapsedTimer, QTimer
    from PySide6.QtWidgets import QApplication

    from packshot.core.jobs import JobSettings
    from packshot.desktop.main_window import MainWindow
    from packshot.desktop.settings import AppSettings
    from tests.desktop.conftest import product_photo
    from tests.factories.diffusion import build_models_dir

    app = QApplication.instance() or QApplication([])
    models = build_models_dir(tmp / "models")
    rows = [idle_baseline(app, QElapsedTimer, QTimer, 5.0)]
    cases = [
        ("masks + si2-controlnet (tiny), 256 px, 20 steps + export", "si2-controlnet", (640, 480),
         3 if quick else 6, 256),
        ("masks + white engine, 2000 px photos + export", "white", (2000, 1500), 2 if quick else 4, 512),
    ]
    for label, engine, size, count, resolution in cases:
        folder = tmp / f"photos-{engine}"
        folder.mkdir()
        for i in range(count):
            product_photo(folder / f"p{i:02d}.png", size, seed=i)
        settings = AppSettings(models_dir=str(models), device="cpu", first_run_done=True)
        window = MainWindow(settings, JobSettings.from_flat({"masker": "classic", "engine": engine, "variants": 2,
                                                             "steps": 20, "resolution": resolution}))
        window.show()
        window.open_folder(folder)
        window.templates.engine_combo.setCurrentText(engine)
        window.templates.resolution.setValue(resolution)
        settle(app, window)
        beat = Heartbeat(QElapsedTimer, QTimer)
        gaps, heartbeat = beat.gaps, beat.timer
        ids = window.run_on_all()
        heartbeat.start()
        start = time.perf_counter()
        flips = 0
        actions: list[float] = []
        exported = False
        while time.perf_counter() - start < 900:
            app.processEvents()
            if not window.queue.busy:
                if exported:
                    break
                # then export the results (keepers, another size preset: rendered again) under the same heartbeat
                ids.append(window.export_chosen("square-1000", folder.parent / f"export-{engine}"))
                exported = True
                continue
            if len(gaps) % 25 == 0:  # act like a user: switch views and photos while it runs
                t0 = time.perf_counter()
                window.tabs.setCurrentIndex(flips % 4)
                window.select_photo(window.model.entry(flips % window.model.rowCount()).path)
                actions.append(1000 * (time.perf_counter() - t0))
                flips += 1
            time.sleep(0.002)  # sleep-ok: benchmark pacing
        heartbeat.stop()
        seconds = time.perf_counter() - start
        for _ in range(20):  # deliver the last queued "finished" signals before reading states
            app.processEvents()
            time.sleep(0.005)  # sleep-ok: benchmark pacing
        states = {window.queue_panel.state_of(i) for i in ids}
        window.close()
        steady = sorted(g - 10 for g in gaps[1:])
        worst = steady[-1] if steady else float("nan")
        p99 = steady[int(0.99 * (len(steady) - 1))] if steady else float("nan")
        over = sum(g > 100 for g in steady)
        rows.append((f"longest event-loop block: {label}",
                     f"{worst:.0f} ms (p99 {p99:.0f} ms, {over} of {len(gaps)} beats over 100 ms, {count} photos in "
                     f"{seconds:.0f} s,"
                     f" {states}; slowest user action {max(actions, default=0):.0f} ms)", "<= 100 ms"))
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="fewer runs and photos")
    args = parser.parse_args()
    tmp = Path(tempfile.mkdtemp(prefix="packshot-bench-gui-"))
    try:
        rows = bench_startup(tmp, 3 if args.quick else 5) + bench_blocking(tmp, args.quick) + \
            bench_clicks(tmp, args.quick)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    print(f"\nPackshot Studio responsiveness ({platform.processor() or platform.machine()}, "
          f"{os.cpu_count()} CPUs, load {os.getloadavg()[0]:.1f})\n")
    width = max(len(r[0]) for r in rows)
    print(f"| {'measure'.ljust(width)} | result | target |")
    print(f"|{'-' * (width + 2)}|--------|--------|")
    for name, value, target in rows:
        print(f"| {name.ljust(width)} | {value} | {target} |")


if __name__ == "__main__":
    main()
