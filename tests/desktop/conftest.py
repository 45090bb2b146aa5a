"""Desktop test fixtures: isolated settings (the root conftest isolates HOME/XDG), tiny models,
small synthetic product photos, and a main window that is shut down cleanly after each test."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from tests.factories.diffusion_fixtures import tiny_diffusion_models_dir  # noqa: F401


def product_photo(path: Path, size: tuple[int, int] = (96, 80), colour=(200, 30, 40), seed: int = 0) -> Path:
    """A red ellipse 'product' on a light grey background (plus a little noise)."""
    w, h = size
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[0:h, 0:w]
    inside = ((xx - w / 2) / (w * 0.25)) ** 2 + ((yy - h / 2) / (h * 0.3)) ** 2 <= 1
    img = np.full((h, w, 3), 225, np.uint8)
    img[inside] = colour
    img = np.clip(img.astype(np.int16) + rng.integers(-4, 5, img.shape), 0, 255).astype(np.uint8)
    Image.fromarray(img).save(path)
    return path


@pytest.fixture
def photos_dir(tmp_path: Path) -> Path:
    folder = tmp_path / "photos"
    folder.mkdir()
    product_photo(folder / "a_mug.png", (96, 80), (200, 30, 40), 0)
    product_photo(folder / "b_jar.jpg", (80, 96), (30, 60, 200), 1)
    product_photo(folder / "c box.png", (88, 88), (30, 160, 60), 2)
    return folder


@pytest.fixture(scope="session")
def models_dir(tiny_diffusion_models_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:  # noqa: F811
    """Tiny SI2 + ControlNet, SI2 and a tiny SAM, in the on-disk layout of the real ones.

    The shared diffusion folders are linked, not modified: other suites expect no SAM beside them.
    """
    from tests.factories.sam import write_tiny_sam

    root = tmp_path_factory.mktemp("desktop-models")
    for model in tiny_diffusion_models_dir.iterdir():
        (root / model.name).symlink_to(model, target_is_directory=True)
    write_tiny_sam(root, "sam-vit_b")
    return root


@pytest.fixture
def app_settings(models_dir: Path):
    from packshot.desktop.settings import AppSettings

    return AppSettings(models_dir=str(models_dir), device="cpu", first_run_done=True)


# The job settings a test window starts from (flat names, as `packshot batch` options): tiny and fast.
TEST_JOB = {"engine": "si2-controlnet", "masker": "classic", "variants": 2, "steps": 2, "resolution": 64}


def job_for_test(**changes):
    from packshot.core.jobs import JobSettings

    return JobSettings.from_flat({**TEST_JOB, **changes})


@pytest.fixture
def make_window(qtbot):
    """Build main windows; each is closed (queue and workers stopped) at teardown.

    ``make_window(settings, engine="white", ...)`` starts from ``TEST_JOB`` with those changes;
    ``make_window(settings)`` from the saved job settings, as the app does (``TEST_JOB`` when none
    are saved yet), so a second window sees what the first one saved."""
    from packshot.desktop.options_store import load_job_settings, save_job_settings

    windows = []

    def make(settings, **changes):
        from packshot.desktop.main_window import MainWindow

        if changes:
            job = job_for_test(**changes)
        else:
            if load_job_settings() is None:
                save_job_settings(job_for_test())
            job = None
        window = MainWindow(settings, job)
        window.ask_before_closing = False  # teardown closes windows whose queue may still be working
        qtbot.addWidget(window)
        window.show()
        qtbot.waitExposed(window)
        windows.append(window)
        return window

    yield make
    for window in windows:
        window.close()


@pytest.fixture(autouse=True)
def isolated_qsettings(tmp_path_factory):
    """QSettings reads XDG_CONFIG_HOME once per process: point it at a fresh folder for every test."""
    from PySide6.QtCore import QSettings

    folder = tmp_path_factory.mktemp("qsettings")
    for fmt in (QSettings.Format.NativeFormat, QSettings.Format.IniFormat):
        QSettings.setPath(fmt, QSettings.Scope.UserScope, str(folder))
    yield folder
