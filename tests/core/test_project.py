"""The SQLite project store: schema, mask states, results, errors, concurrent writers."""

from __future__ import annotations

import multiprocessing
import sqlite3
import threading
from pathlib import Path

import pytest

from packshot.core.errors import PackshotError
from packshot.core.project import SCHEMA_VERSION, NewResult, ProjectStore


def _result(out: Path, variant: int, **kw) -> NewResult:
    path = out / f"r{variant}.png"
    path.write_bytes(b"x")
    return NewResult(variant=variant, seed=variant, engine="white", output_path=path, recipe={"v": variant}, **kw)


def test_store_is_created_versioned_and_in_wal_mode(tmp_path):
    store = ProjectStore(tmp_path / "out")
    assert store.path == (tmp_path / "out" / ".packshot" / "project.sqlite").resolve()
    assert store.schema_version == SCHEMA_VERSION
    mode = sqlite3.connect(store.path).execute("PRAGMA journal_mode").fetchone()[0]
    assert mode == "wal"
    tables = {r[0] for r in sqlite3.connect(store.path).execute("SELECT name FROM sqlite_master WHERE type='table'")}
    assert {"photos", "results", "errors", "runs", "meta"} <= tables


def test_a_store_from_a_newer_version_is_refused(tmp_path):
    ProjectStore(tmp_path).close()
    con = sqlite3.connect(tmp_path / ".packshot" / "project.sqlite")
    con.execute(f"PRAGMA user_version = {SCHEMA_VERSION + 1}")
    con.commit()
    con.close()
    with pytest.raises(PackshotError, match="newer Packshot"):
        ProjectStore(tmp_path)


def test_opening_without_create_needs_an_existing_project(tmp_path):
    with pytest.raises(PackshotError, match="No Packshot project"):
        ProjectStore(tmp_path / "nothing", create=False)


def test_photos_masks_and_states(tmp_path):
    store = ProjectStore(tmp_path / "out")
    a, b = tmp_path / "a.jpg", tmp_path / "b.jpg"
    ids = store.add_photos([a, b])
    assert store.add_photos([a]) == ids[:1]  # idempotent
    mask = store.masks_dir / "a.png"
    store.set_mask(ids[0], "reviewed", mask, source="file", score=1.0)
    store.set_mask(ids[0], "auto", store.masks_dir / "other.png", source="classic", score=0.3)
    record = store.photo(a)
    assert record.mask_state == "reviewed" and record.mask_path == mask.resolve()  # auto never replaces a review
    store.set_mask(ids[0], "edited", mask, source="edited")
    assert store.photo(ids[0]).mask_state == "edited"
    with pytest.raises(ValueError):
        store.set_mask(ids[1], "guessed", mask)
    store.set_photo_settings(ids[1], {"prompt": "x"})
    assert store.photo(b).settings == {"prompt": "x"}
    assert [p.name for p in store.photos()] == ["a.jpg", "b.jpg"]


def test_results_done_chosen_and_errors(tmp_path):
    out = tmp_path / "out"
    store = ProjectStore(out)
    pid = store.add_photo(tmp_path / "a.jpg")
    run = store.start_run({"engine": "white"}, ["packshot", "batch"])
    assert not store.is_done(pid, "k1", 2)
    r1, r2 = _result(out, 1, expansion=0.3, qc_flag=True), _result(out, 2, expansion=0.05)
    ids = store.complete_photo(pid, "k1", [r1, r2], run)
    results = store.results(pid, "k1")
    assert [r.variant for r in results] == [1, 2]
    assert [r.chosen for r in results] == [False, True]  # the unflagged, lower-expansion one is the keeper
    assert results[0].qc_flag and results[0].expansion == pytest.approx(0.3)
    assert store.is_done(pid, "k1", 2) and not store.is_done(pid, "other-key", 2)
    store.choose(ids[0])
    assert [r.chosen for r in store.results(pid)] == [True, False]
    (out / "r2.png").unlink()
    assert not store.is_done(pid, "k1", 2)  # a missing file means not done
    store.fail_photo(pid, "ImageReadError", "a.jpg: broken", run)
    assert store.photo(pid).status == "failed" and store.photo(pid).error == "a.jpg: broken"
    assert store.errors(run)[0]["photo_name"] == "a.jpg"
    store.finish_run(run, "finished", {"done": []})
    assert store.runs()[0]["status"] == "finished"


def test_redoing_a_photo_replaces_its_results_but_keeps_the_users_choice(tmp_path):
    out = tmp_path / "out"
    store = ProjectStore(out)
    pid = store.add_photo(tmp_path / "a.jpg")
    ids = store.complete_photo(pid, "k", [_result(out, 1), _result(out, 2)])
    store.choose(ids[1])
    store.complete_photo(pid, "k", [_result(out, 1), _result(out, 2)])
    results = store.results(pid, "k")
    assert len(results) == 2 and not any(r.chosen for r in results)  # no silent re-pick over the user's


def _writer(out_dir: str, worker: int, count: int) -> None:
    store = ProjectStore(out_dir)
    for i in range(count):
        pid = store.add_photo(Path(out_dir).parent / f"w{worker}_{i}.jpg")
        store.complete_photo(pid, "k", [NewResult(1, i, "white", Path(out_dir) / f"w{worker}_{i}.png", {})])
        store.fail_photo(pid, "Test", f"note {worker} {i}")
    store.close()


def test_several_processes_write_at_once(tmp_path):
    out = tmp_path / "out"
    ProjectStore(out).close()
    ctx = multiprocessing.get_context("spawn")
    procs = [ctx.Process(target=_writer, args=(str(out), w, 40)) for w in range(3)]
    for p in procs:
        p.start()
    for p in procs:
        p.join(120)
    assert [p.exitcode for p in procs] == [0, 0, 0]
    store = ProjectStore(out)
    assert len(store.photos()) == 120
    assert len(store.all_results()) == 120
    assert len(store.errors()) == 120
    assert sqlite3.connect(store.path).execute("PRAGMA integrity_check").fetchone()[0] == "ok"


def test_one_store_used_from_two_threads(tmp_path):
    store = ProjectStore(tmp_path / "out")
    errors: list[BaseException] = []

    def work(tag: str) -> None:
        try:
            for i in range(20):
                store.add_photo(tmp_path / f"{tag}{i}.jpg")
        except BaseException as exc:  # pragma: no cover - reported below
            errors.append(exc)

    threads = [threading.Thread(target=work, args=(t,)) for t in "ab"]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors and len(store.photos()) == 40


def test_a_version_1_store_is_migrated_and_keeps_its_photos(tmp_path):
    from packshot.core.project import _SCHEMA_V1

    db = tmp_path / ".packshot" / "project.sqlite"
    db.parent.mkdir()
    con = sqlite3.connect(db)
    con.executescript(_SCHEMA_V1)
    con.execute("INSERT INTO photos(path, name, mask_state, mask_path, updated_at) "
                "VALUES ('/x/a.jpg', 'a.jpg', 'auto', '.packshot/masks/a.png', 0)")
    con.execute("PRAGMA user_version = 1")
    con.commit()
    con.close()
    store = ProjectStore(tmp_path)
    assert store.schema_version == SCHEMA_VERSION == 4
    record = store.photo(Path("/x/a.jpg"))
    assert record.mask_state == "auto" and record.mask_origin is None  # unknown origin: recomputed once
    store.set_mask(record.id, "auto", tmp_path / "m.png", source="classic", origin={"models": {"sam": None}})
    assert store.photo(record.id).mask_origin == {"models": {"sam": None}}



def test_a_version_3_store_moves_the_apps_rejected_flag_into_the_store(tmp_path):
    from packshot.core.project import _SCHEMA_V1, _SCHEMA_V2, _SCHEMA_V3

    db = tmp_path / ".packshot" / "project.sqlite"
    db.parent.mkdir()
    con = sqlite3.connect(db)
    con.executescript(_SCHEMA_V1 + ";" + _SCHEMA_V2 + ";" + _SCHEMA_V3)
    con.execute("INSERT INTO photos(path, name, settings_json, updated_at) "
                "VALUES ('/x/a.jpg', 'a.jpg', '{\"mask_rejected\": true, \"zoom\": 2}', 0)")
    con.execute("INSERT INTO photos(path, name, settings_json, updated_at) VALUES ('/x/b.jpg', 'b.jpg', '{}', 0)")
    con.execute("PRAGMA user_version = 3")
    con.commit()
    con.close()
    store = ProjectStore(tmp_path)
    a, b = store.photo(Path("/x/a.jpg")), store.photo(Path("/x/b.jpg"))
    assert a.rejected and a.settings == {"zoom": 2}  # the flag moved; the app's other settings stay
    assert not b.rejected
    assert store.rejected_paths() == {Path("/x/a.jpg")}
    store.set_rejected(a.id, False)
    store.set_rejected(b.id, True)
    assert ProjectStore(tmp_path).rejected_paths() == {Path("/x/b.jpg")}  # kept across openings

def _open_new_store(folder: str, barrier, queue) -> None:
    barrier.wait()  # all at once, like the workers of `accelerate launch` on a fresh --out folder
    try:
        ProjectStore(folder).add_photos([])
        queue.put("ok")
    except Exception as exc:  # reported to the parent, which asserts on it
        queue.put(str(exc))


def test_several_processes_can_create_the_same_new_store_at_once(tmp_path):
    ctx = multiprocessing.get_context("fork")
    problems = []
    for trial in range(8):
        barrier, queue = ctx.Barrier(4), ctx.Queue()
        procs = [ctx.Process(target=_open_new_store, args=(str(tmp_path / str(trial)), barrier, queue))
                 for _ in range(4)]
        for proc in procs:
            proc.start()
        for proc in procs:
            proc.join(60)
        problems += [r for r in (queue.get(timeout=10) for _ in procs) if r != "ok"]
    assert problems == []
