"""The runtime owns every loaded model: one load per runtime however many jobs and threads ask,
nothing shared between runtimes, everything freed by ``unload()``, one runtime per CLI command."""

from __future__ import annotations

import gc
import threading
import weakref
from pathlib import Path

import pytest

import packshot.core.runtime
from packshot.core.generation.engines import engine_for
from packshot.core.jobs import BatchJob, JobContext, JobSettings
from packshot.core.masking.sam_models import sam_for
from packshot.core.runtime import LoadOnce, Runtime
from tests.core.batch_helpers import write_photos

WAIT = 30  # seconds a thread may wait for another in these tests before the test fails


@pytest.fixture(scope="module")
def sam_models(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from tests.factories.sam import write_tiny_sam

    folder = tmp_path_factory.mktemp("runtime-sam")
    write_tiny_sam(folder, "sam-vit_b")
    return folder


def sam_runtime(models: Path) -> Runtime:
    return Runtime(models, offline=True, download_dir=models / "_dl", use_hf_cache=False)


@pytest.fixture
def count_sam_loads(monkeypatch):
    from packshot.core.masking import sam_models

    loads: list[Path] = []
    real = sam_models.load_sam_checkpoint

    def spy(checkpoint, model_id, device):
        loads.append(checkpoint)
        return real(checkpoint, model_id, device)

    monkeypatch.setattr(sam_models, "load_sam_checkpoint", spy)
    return loads


# -- the cache -----------------------------------------------------------------------------------
def test_threads_asking_for_one_key_at_once_load_it_once():
    cache: LoadOnce[str, object] = LoadOnce("things")
    loads, release = [], threading.Event()
    start = threading.Barrier(8)

    def load():
        loads.append(1)
        assert release.wait(WAIT)  # hold the load open while the other threads arrive
        return object()

    got: list[object] = []

    def ask():
        start.wait(WAIT)
        got.append(cache.get("sam", load))

    threads = [threading.Thread(target=ask) for _ in range(8)]
    for t in threads:
        t.start()
    release.set()
    for t in threads:
        t.join(WAIT)
    assert len(loads) == 1 and len(got) == 8 and all(g is got[0] for g in got)


def test_a_slow_load_does_not_hold_up_another_key():
    cache: LoadOnce[str, str] = LoadOnce("things")
    slow_started, release = threading.Event(), threading.Event()

    def slow():
        slow_started.set()
        assert release.wait(WAIT)
        return "slow"

    worker = threading.Thread(target=lambda: cache.get("big", slow))
    worker.start()
    assert slow_started.wait(WAIT)
    assert cache.get("small", lambda: "quick") == "quick"  # while "big" is still loading
    release.set()
    worker.join(WAIT)
    assert cache.get("big", lambda: "again") == "slow" and len(cache) == 2


def test_clear_during_a_load_does_not_keep_the_value_loaded_before_it():
    cache: LoadOnce[str, str] = LoadOnce("things")
    started, release = threading.Event(), threading.Event()

    def load():
        started.set()
        assert release.wait(WAIT)
        return "old folder's"

    worker = threading.Thread(target=lambda: cache.get("k", load))
    worker.start()
    assert started.wait(WAIT)
    cache.clear()
    release.set()
    worker.join(WAIT)
    assert cache.get("k", lambda: "new") == "new"


# -- SAM through the runtime ---------------------------------------------------------------------
def test_one_runtime_loads_sam_once_for_every_job_and_thread(sam_models, count_sam_loads):
    runtime = sam_runtime(sam_models)
    settings = JobSettings.from_flat(dict(masker="sam", prior="classic", device="cpu", engine="white"))
    contexts = [JobContext(settings, runtime=runtime) for _ in range(3)]
    start = threading.Barrier(4)
    got = []

    def mask_with(ctx):
        start.wait(WAIT)
        got.append(ctx.masker.sam)

    threads = [threading.Thread(target=mask_with, args=(c,)) for c in contexts]
    threads.append(threading.Thread(target=lambda: (start.wait(WAIT), got.append(sam_for(runtime, "vit_b", "cpu")))))
    for t in threads:
        t.start()
    for t in threads:
        t.join(WAIT)
    assert len(got) == 4 and all(g is got[0] for g in got)
    assert len(count_sam_loads) == 1
    assert runtime.loaded()["SAM models"] == 1


def test_two_runtimes_in_one_process_do_not_share_models(sam_models, count_sam_loads):
    first, second = sam_runtime(sam_models), sam_runtime(sam_models)
    assert sam_for(first, "vit_b", "cpu") is not sam_for(second, "vit_b", "cpu")
    assert engine_for(first, "white") is not engine_for(second, "white")
    assert len(count_sam_loads) == 2


def test_unload_releases_sam_and_the_next_request_loads_again(sam_models, count_sam_loads):
    runtime = sam_runtime(sam_models)
    model = weakref.ref(sam_for(runtime, "vit_b", "cpu").model)
    assert model() is not None
    runtime.unload()
    gc.collect()
    assert model() is None, "the runtime still holds SAM after unload()"
    assert runtime.loaded()["SAM models"] == 0
    sam_for(runtime, "vit_b", "cpu")
    assert len(count_sam_loads) == 2


# -- diffusion models through the runtime ---------------------------------------------------------
def test_engines_of_one_runtime_share_one_load_and_unload_frees_it(tiny_diffusion_store, monkeypatch):
    from packshot.core.generation import loaded

    built = []

    class CountingLoaded(loaded.LoadedModels):
        def __init__(self, *args, **kwargs):
            built.append(args[0])
            super().__init__(*args, **kwargs)

    monkeypatch.setattr(loaded, "LoadedModels", CountingLoaded)
    runtime = Runtime(store=tiny_diffusion_store)
    start = threading.Barrier(4)
    got = []

    def models(name):
        start.wait(WAIT)
        got.append(engine_for(runtime, name, "cpu").models())

    threads = [threading.Thread(target=models, args=("si2-controlnet",)) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(WAIT)
    assert len(got) == 4 and all(g is got[0] for g in got) and len(built) == 1
    assert engine_for(runtime, "si2-controlnet", "cpu") is engine_for(runtime, "si2-controlnet", "cpu")
    unet = weakref.ref(got[0].components.unet)
    got.clear()
    runtime.unload()
    gc.collect()
    assert unet() is None, "the runtime still holds the UNet after unload()"


# -- one runtime per CLI command --------------------------------------------------------------------
@pytest.fixture
def runtimes_made(monkeypatch):
    made: list[Runtime] = []

    class CountingRuntime(Runtime):
        def __init__(self, *args, **kwargs):
            super().__init__(*args, **kwargs)
            made.append(self)

    monkeypatch.setattr(packshot.core.runtime, "Runtime", CountingRuntime)
    return made


def test_each_cli_command_builds_exactly_one_runtime(tmp_path, runtimes_made, capsys):
    from packshot.core.cli.main import main

    write_photos(tmp_path / "in", 2, size=(96, 72))
    models = ["--models-dir", str(tmp_path / "no-models"), "--device", "cpu"]
    runs = {
        "batch": ["batch", str(tmp_path / "in"), "--out", str(tmp_path / "out"), "--engine", "gradient",
                  "--masker", "classic", "--no-progress", *models],
        "masks": ["masks", str(tmp_path / "in"), "--out", str(tmp_path / "masks"), "--masker", "classic", *models],
        "eval": ["eval", str(tmp_path / "in"), "--out", str(tmp_path / "eval"), "--engines", "white",
                 "--masker", "classic", "--reseg", "classic", "--no-images", *models],
        "export": ["export", str(tmp_path / "out"), "--out", str(tmp_path / "export"), "--size", "square-1000",
                   "--no-progress", *models],
        "replay": ["replay", str(tmp_path / "out" / "item_000.png"), "--models-dir", str(tmp_path / "no-models"),
                   "--device", "cpu"],
        "models": ["models", "list", "--models-dir", str(tmp_path / "no-models")],
    }
    for command, argv in runs.items():
        runtimes_made.clear()
        assert main(argv) == 0, (command, capsys.readouterr())
        assert len(runtimes_made) == 1, f"packshot {command} made {len(runtimes_made)} runtimes"


def test_a_batch_given_a_runtime_makes_none_of_its_own(tmp_path, runtimes_made):
    from tests.core.batch_helpers import no_models_store

    runtime = Runtime(store=no_models_store(tmp_path))  # the unpatched class: not counted
    write_photos(tmp_path / "in", 2, size=(96, 72))
    job = BatchJob(tmp_path / "in", tmp_path / "out", JobSettings(engine="white"), runtime=runtime)
    assert job.run().ok and job.context.runtime is runtime
    assert runtimes_made == []


def test_settings_for_another_models_folder_than_the_runtimes_are_refused(tmp_path):
    from packshot.core.errors import PackshotError

    runtime = Runtime(tmp_path / "a", offline=True)
    with pytest.raises(PackshotError, match="models folder"):
        JobContext(JobSettings.from_flat(dict(models_dir=str(tmp_path / "b"))), runtime=runtime)


def test_cached_keeps_one_value_per_kind_and_key_until_unload(tmp_path):
    from tests.core.batch_helpers import no_models_store

    runtime = Runtime(store=no_models_store(tmp_path))
    made: list[tuple[str, str]] = []

    def load(kind: str, key: str) -> object:
        made.append((kind, key))
        return object()

    first = runtime.cached("things", "a", lambda: load("things", "a"))
    assert runtime.cached("things", "a", lambda: load("things", "a")) is first
    other_kind = runtime.cached("gadgets", "a", lambda: load("gadgets", "a"))
    assert other_kind is not first and made == [("things", "a"), ("gadgets", "a")]
    assert runtime.loaded() == {"things": 1, "gadgets": 1}
    runtime.unload()
    assert runtime.loaded() == {"things": 0, "gadgets": 0}
    assert runtime.cached("things", "a", lambda: load("things", "a")) is not first


def test_what_may_load_models_refuses_to_run_without_a_runtime():
    """No hidden private runtime: a learned prior or an auto masker handed none says so; the classic
    ones need no weights and none."""
    from packshot.core.masking.maskers import build_masker
    from packshot.core.masking.prior import get_prior

    with pytest.raises(ValueError, match="Runtime"):
        get_prior("isnet")
    with pytest.raises(ValueError, match="Runtime"):
        build_masker("auto")
    assert get_prior("classic").name == "classic" and build_masker("classic") is not None
    with pytest.raises(TypeError, match="runtime"):
        JobContext(JobSettings(engine="white"))  # type: ignore[call-arg]

