"""The project store: one SQLite file per output folder, shared by the CLI, the GUI and workers.

Location: ``OUT_DIR/.packshot/project.sqlite``. It holds each photo's state (mask auto/reviewed/
edited and its PNG, settings, status), every result (seed, scores, QC flag, chosen) and every
error. WAL journaling lets several processes (``accelerate launch`` workers, the GUI beside a CLI
run) read while one writes; writes are short ``BEGIN IMMEDIATE`` transactions with a long busy
timeout, so concurrent writers queue instead of failing. The schema version lives in
``PRAGMA user_version`` and migrations run forward only.
"""

from __future__ import annotations

import errno
import json
import logging
import os
import sqlite3
import threading
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Optional

from packshot.core.errors import (
    ImageWriteError,
    PackshotError,
    ProjectStoreError,
    disk_full_error,
    is_disk_full,
    read_only_error,
)
from packshot.core.naming import from_storable, storable
from packshot.core.write_guard import make_temp

log = logging.getLogger(__name__)

SCHEMA_VERSION = 4
STORE_DIRNAME = ".packshot"
STORE_FILENAME = "project.sqlite"
MASK_STATES = ("auto", "reviewed", "edited")
PHOTO_STATUSES = ("pending", "done", "failed")

_SCHEMA_V1 = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS photos (
    id INTEGER PRIMARY KEY,
    path TEXT NOT NULL UNIQUE,          -- absolute path of the original (read only, never written)
    name TEXT NOT NULL,
    sha256 TEXT,
    width INTEGER, height INTEGER,
    status TEXT NOT NULL DEFAULT 'pending',
    job_key TEXT,                       -- fingerprint of the settings that produced 'done'
    mask_state TEXT,                    -- auto | reviewed | edited | NULL (no mask yet)
    mask_path TEXT,                     -- relative to the output folder
    mask_source TEXT, mask_score REAL,
    settings_json TEXT,                 -- per-photo overrides (GUI), JSON object
    error TEXT,                         -- last error message, NULL when fine
    updated_at REAL NOT NULL
);
CREATE TABLE IF NOT EXISTS runs (
    id INTEGER PRIMARY KEY,
    started_at REAL NOT NULL, finished_at REAL,
    settings_json TEXT NOT NULL, argv TEXT, host_pid INTEGER,
    process_index INTEGER NOT NULL DEFAULT 0, num_processes INTEGER NOT NULL DEFAULT 1,
    status TEXT NOT NULL DEFAULT 'running',
    summary_json TEXT
);
CREATE TABLE IF NOT EXISTS results (
    id INTEGER PRIMARY KEY,
    photo_id INTEGER NOT NULL REFERENCES photos(id) ON DELETE CASCADE,
    run_id INTEGER REFERENCES runs(id),
    job_key TEXT NOT NULL,
    variant INTEGER NOT NULL,
    seed INTEGER NOT NULL,
    engine TEXT NOT NULL,
    output_path TEXT NOT NULL,          -- relative to the output folder
    recipe_json TEXT NOT NULL,
    expansion REAL,                     -- QC expansion score (fraction), NULL when not scored
    qc_flag INTEGER NOT NULL DEFAULT 0, -- 1 = over the QC threshold
    qc_json TEXT,
    attempts INTEGER NOT NULL DEFAULT 1,
    chosen INTEGER NOT NULL DEFAULT 0,
    created_at REAL NOT NULL
);
CREATE INDEX IF NOT EXISTS results_photo ON results(photo_id, job_key);
CREATE TABLE IF NOT EXISTS errors (
    id INTEGER PRIMARY KEY,
    photo_id INTEGER REFERENCES photos(id) ON DELETE CASCADE,
    run_id INTEGER REFERENCES runs(id),
    kind TEXT NOT NULL, message TEXT NOT NULL,
    created_at REAL NOT NULL
);
"""
# v2: what an automatic mask was computed from (mask models + the photo's sha256), so a re-run
# with other generation settings reuses it instead of running SAM again.
_SCHEMA_V2 = "ALTER TABLE photos ADD COLUMN mask_origin TEXT"
# v3: why the batch's mask gate found an automatic mask doubtful (NULL: it passed).
_SCHEMA_V3 = "ALTER TABLE photos ADD COLUMN mask_doubt TEXT"
# v4: a photo rejected in review ("do not generate this one"): project state every face honours (the
# batch skips it), no longer a flag in the app's per-photo settings, which is moved over here.
_SCHEMA_V4 = "ALTER TABLE photos ADD COLUMN rejected INTEGER NOT NULL DEFAULT 0"


def _move_rejected_flags(conn: sqlite3.Connection) -> None:
    """v4: the app's ``mask_rejected`` flag, kept in ``settings_json`` before, becomes the column."""
    for photo_id, text in conn.execute("SELECT id, settings_json FROM photos WHERE settings_json LIKE "
                                       "'%mask_rejected%'").fetchall():
        try:
            settings = json.loads(text)
        except ValueError:
            continue
        if not isinstance(settings, dict):
            continue
        flag = bool(settings.pop("mask_rejected", False))
        conn.execute("UPDATE photos SET rejected = ?, settings_json = ? WHERE id = ?",
                     (int(flag), json.dumps(settings, sort_keys=True), photo_id))


# version -> the script (and then the function, if any) taking the store from version-1 to version
_MIGRATIONS = {1: _SCHEMA_V1, 2: _SCHEMA_V2, 3: _SCHEMA_V3, 4: _SCHEMA_V4}
_MIGRATION_STEPS = {4: _move_rejected_flags}


@dataclass
class PhotoRecord:
    id: int
    path: Path
    name: str
    status: str
    job_key: Optional[str]
    mask_state: Optional[str]
    mask_path: Optional[Path]  # absolute
    mask_source: Optional[str]
    mask_score: Optional[float]
    settings: dict
    error: Optional[str]
    sha256: Optional[str] = None
    width: Optional[int] = None
    height: Optional[int] = None
    mask_origin: Optional[dict] = None  # auto masks: {"models": ..., "photo_sha256": ...}
    mask_doubt: Optional[str] = None  # why the mask gate wants a review (None: passed, or reviewed)
    rejected: bool = False  # rejected in review: no face generates it (``ProjectStore.set_rejected``)


@dataclass
class ResultRecord:
    id: int
    photo_id: int
    job_key: str
    variant: int
    seed: int
    engine: str
    output_path: Path  # absolute
    recipe: dict
    expansion: Optional[float]
    qc_flag: bool
    qc: dict
    attempts: int
    chosen: bool
    run_id: Optional[int] = None


@dataclass
class NewResult:
    """A result about to be recorded (the output file already exists)."""

    variant: int
    seed: int
    engine: str
    output_path: Path
    recipe: dict
    expansion: Optional[float] = None
    qc_flag: bool = False
    qc: dict = field(default_factory=dict)
    attempts: int = 1


class ProjectStore:
    """SQLite-backed state of one output folder. Safe to open from several processes.

    One connection per thread (sqlite3 connections must not cross threads), so a GUI worker thread
    and the GUI thread can both hold the same ``ProjectStore``.
    """

    def __init__(self, out_dir: Path | str, *, create: bool = True, timeout_s: float = 60.0) -> None:
        self.out_dir = Path(out_dir).resolve()
        self.path = self.out_dir / STORE_DIRNAME / STORE_FILENAME
        self._timeout = timeout_s
        self._local = threading.local()
        if not self.path.exists():
            if not create:
                raise ProjectStoreError(f"No Packshot project in {self.out_dir} (no {STORE_DIRNAME}/{STORE_FILENAME}).")
            try:
                self.path.parent.mkdir(parents=True, exist_ok=True)
            except OSError as exc:
                if is_disk_full(exc):
                    raise disk_full_error(self.path.parent) from exc
                if exc.errno in (errno.EROFS, errno.EACCES, errno.EPERM):
                    raise read_only_error(Path(exc.filename or self.out_dir), exc) from exc
                raise ImageWriteError(f"Cannot create the output folder {self.path.parent}: "
                                      f"{exc.strerror or exc}.") from exc
        self._check_writable()
        self._migrate()

    def _check_writable(self) -> None:
        """Try a real write: permission bits say nothing for root, a read-only mount or a full disk."""
        try:
            fd, probe = make_temp(self.path.parent)  # Packshot's own temp name (packshot.core.write_guard)
            os.close(fd)
            probe.unlink(missing_ok=True)
        except OSError as exc:
            if is_disk_full(exc):
                raise disk_full_error(self.out_dir) from exc
            if exc.errno in (errno.EROFS, errno.EACCES, errno.EPERM):
                raise read_only_error(self.out_dir, exc) from exc
            raise ImageWriteError(f"The output folder {self.out_dir} is not writable ({exc.strerror or exc}); "
                                  "choose another --out folder.") from exc

    # -- connection handling -------------------------------------------------------------
    def _conn(self) -> sqlite3.Connection:
        conn = getattr(self._local, "conn", None)
        if conn is None:
            try:
                conn = sqlite3.connect(self.path, timeout=self._timeout, isolation_level=None)
                conn.row_factory = sqlite3.Row
                conn.execute(f"PRAGMA busy_timeout = {int(self._timeout * 1000)}")
                self._enable_wal(conn)
                conn.execute("PRAGMA synchronous = NORMAL")  # WAL + NORMAL: durable across process kills
                conn.execute("PRAGMA foreign_keys = ON")
            except sqlite3.DatabaseError as exc:
                if is_disk_full(exc):
                    raise disk_full_error(self.path) from exc
                raise ProjectStoreError(f"Cannot open the project store {self.path}: {exc}. If the file is "
                                    "damaged, move it away to start a fresh project.") from exc
            self._local.conn = conn
        return conn

    def _enable_wal(self, conn: sqlite3.Connection) -> None:
        """Switch to WAL, retrying: two processes opening a new store at once (``accelerate launch``)
        can get "database is locked" straight away here, without SQLite's busy handler waiting."""
        deadline = time.monotonic() + self._timeout
        while True:
            try:
                conn.execute("PRAGMA journal_mode = WAL")
                return
            except sqlite3.OperationalError as exc:
                if not ("locked" in str(exc) or "busy" in str(exc)) or time.monotonic() > deadline:
                    raise
                time.sleep(0.05)

    @contextmanager
    def transaction(self) -> Iterator[sqlite3.Connection]:
        """An exclusive-write transaction: taken at once, so writers queue on the busy timeout.

        Whatever fails inside (a full disk included) rolls the whole transaction back, so the store
        is never left half-updated; SQLite errors come out as ``ProjectStoreError`` or ``DiskFullError``."""
        conn = self._conn()
        try:
            conn.execute("BEGIN IMMEDIATE")
        except sqlite3.Error as exc:
            raise self._wrap(exc) from exc
        try:
            yield conn
            conn.execute("COMMIT")
        except BaseException as exc:
            self._rollback(conn)
            if isinstance(exc, sqlite3.Error):
                raise self._wrap(exc) from exc
            raise

    def _rollback(self, conn: sqlite3.Connection) -> None:
        # SQLite may already have rolled back itself (it does on a full disk): a second ROLLBACK would
        # raise "no transaction is active" on top of the real error.
        if not conn.in_transaction:
            return
        try:
            conn.execute("ROLLBACK")
        except sqlite3.Error as exc:
            log.warning("Rolling back a project store transaction failed: %s", exc)

    def _wrap(self, exc: sqlite3.Error) -> PackshotError:
        text = str(exc)
        if is_disk_full(exc):
            return disk_full_error(self.path)
        if "readonly" in text or "read-only" in text:
            return read_only_error(self.path.parent, OSError(0, text, str(self.path)))
        if "locked" in text or "busy" in text:
            return ProjectStoreError(f"The project store {self.path} stayed busy for {self._timeout:.0f} s (another "
                                     "Packshot is writing to this folder); run again when it has finished.")
        return ProjectStoreError(f"Project store {self.path}: {text}. If the file is damaged, move the "
                                 f"{STORE_DIRNAME} folder away to start a fresh project.")

    def close(self) -> None:
        conn = getattr(self._local, "conn", None)
        if conn is not None:
            conn.close()
            self._local.conn = None

    def __enter__(self) -> ProjectStore:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _migrate(self) -> None:
        with self.transaction() as conn:
            version = conn.execute("PRAGMA user_version").fetchone()[0]
            if version > SCHEMA_VERSION:
                raise ProjectStoreError(f"{self.path} was written by a newer Packshot (schema {version}, this "
                                    f"version reads up to {SCHEMA_VERSION}); update Packshot.")
            for target in range(version + 1, SCHEMA_VERSION + 1):
                for statement in _MIGRATIONS[target].split(";"):
                    if statement.strip():
                        conn.execute(statement)
                if target in _MIGRATION_STEPS:
                    _MIGRATION_STEPS[target](conn)
                conn.execute(f"PRAGMA user_version = {target}")
            conn.execute("INSERT OR IGNORE INTO meta(key, value) VALUES ('created_at', ?)", (str(time.time()),))

    @property
    def schema_version(self) -> int:
        return int(self._conn().execute("PRAGMA user_version").fetchone()[0])

    # -- paths ---------------------------------------------------------------------------
    def rel(self, path: Path) -> str:
        """Paths inside the output folder are stored relative, so the folder can be moved."""
        path = Path(path).resolve()
        try:
            return storable(path.relative_to(self.out_dir).as_posix())
        except ValueError:
            return storable(path)

    def abs(self, stored: Optional[str]) -> Optional[Path]:
        if stored is None:
            return None
        path = Path(from_storable(stored))
        return path if path.is_absolute() else self.out_dir / path

    @property
    def masks_dir(self) -> Path:
        return self.out_dir / STORE_DIRNAME / "masks"

    # -- runs ----------------------------------------------------------------------------
    def start_run(self, settings: dict, argv: Optional[Sequence[str]] = None, *, process_index: int = 0,
                  num_processes: int = 1) -> int:
        with self.transaction() as conn:
            cur = conn.execute(
                "INSERT INTO runs(started_at, settings_json, argv, host_pid, process_index, num_processes) "
                "VALUES (?, ?, ?, ?, ?, ?)",
                (time.time(), json.dumps(settings, sort_keys=True, default=str),
                 json.dumps(list(argv)) if argv is not None else None, os.getpid(), process_index, num_processes))
            return int(cur.lastrowid)

    def finish_run(self, run_id: int, status: str = "finished", summary: Optional[dict] = None) -> None:
        with self.transaction() as conn:
            conn.execute("UPDATE runs SET finished_at = ?, status = ?, summary_json = ? WHERE id = ?",
                         (time.time(), status, json.dumps(summary, default=str) if summary else None, run_id))

    def runs(self) -> list[dict]:
        rows = self._conn().execute("SELECT * FROM runs ORDER BY id").fetchall()
        return [dict(r) | {"settings": json.loads(r["settings_json"])} for r in rows]

    # -- photos --------------------------------------------------------------------------
    def add_photo(self, path: Path, *, sha256: Optional[str] = None, width: Optional[int] = None,
                  height: Optional[int] = None) -> int:
        """Register a photo (idempotent) and return its id."""
        path = Path(path).resolve()
        with self.transaction() as conn:
            conn.execute("INSERT OR IGNORE INTO photos(path, name, updated_at) VALUES (?, ?, ?)",
                         (storable(path), storable(path.name), time.time()))
            if sha256 is not None or width is not None:
                conn.execute("UPDATE photos SET sha256 = COALESCE(?, sha256), width = COALESCE(?, width), "
                             "height = COALESCE(?, height) WHERE path = ?", (sha256, width, height, storable(path)))
            return int(conn.execute("SELECT id FROM photos WHERE path = ?", (storable(path),)).fetchone()[0])

    def add_photos(self, paths: Sequence[Path]) -> list[int]:
        now = time.time()
        resolved = [Path(p).resolve() for p in paths]
        with self.transaction() as conn:
            conn.executemany("INSERT OR IGNORE INTO photos(path, name, updated_at) VALUES (?, ?, ?)",
                             [(storable(p), storable(p.name), now) for p in resolved])
            return [int(conn.execute("SELECT id FROM photos WHERE path = ?", (storable(p),)).fetchone()[0])
                    for p in resolved]

    def photo(self, key: int | Path | str) -> Optional[PhotoRecord]:
        if isinstance(key, int):
            row = self._conn().execute("SELECT * FROM photos WHERE id = ?", (key,)).fetchone()
        else:
            row = self._conn().execute("SELECT * FROM photos WHERE path = ?", (storable(Path(key).resolve()),)).fetchone()
        return self._photo(row) if row else None

    def photos(self) -> list[PhotoRecord]:
        return [self._photo(r) for r in self._conn().execute("SELECT * FROM photos ORDER BY name, id")]

    def _photo(self, row: sqlite3.Row) -> PhotoRecord:
        return PhotoRecord(id=row["id"], path=Path(from_storable(row["path"])), name=from_storable(row["name"]),
                           status=row["status"],
                           job_key=row["job_key"], mask_state=row["mask_state"],
                           mask_path=self.abs(row["mask_path"]), mask_source=row["mask_source"],
                           mask_score=row["mask_score"], settings=json.loads(row["settings_json"] or "{}"),
                           error=row["error"], sha256=row["sha256"], width=row["width"], height=row["height"],
                           mask_origin=json.loads(row["mask_origin"]) if row["mask_origin"] else None,
                           mask_doubt=row["mask_doubt"], rejected=bool(row["rejected"]))

    def set_mask(self, photo_id: int, state: str, mask_path: Path, *, source: Optional[str] = None,
                 score: Optional[float] = None, origin: Optional[dict] = None,
                 doubt: Optional[str] = None) -> None:
        """Record the mask a photo uses. ``reviewed``/``edited`` masks are never replaced by ``auto``.

        ``origin``: what an automatic mask was made from (see ``PhotoRecord.mask_origin``)."""
        if state not in MASK_STATES:
            raise ValueError(f"mask state must be one of {MASK_STATES}, not {state!r}")
        with self.transaction() as conn:
            if state == "auto":
                current = conn.execute("SELECT mask_state FROM photos WHERE id = ?", (photo_id,)).fetchone()
                if current and current[0] in ("reviewed", "edited"):
                    return
            conn.execute("UPDATE photos SET mask_state = ?, mask_path = ?, mask_source = ?, mask_score = ?, "
                         "mask_origin = ?, mask_doubt = ?, updated_at = ? WHERE id = ?",
                         (state, self.rel(mask_path), source, score,
                          json.dumps(origin, sort_keys=True) if origin is not None else None, doubt, time.time(),
                          photo_id))

    def set_rejected(self, photo_id: int, rejected: bool) -> None:
        """Reject a photo in review ("do not generate this one"), or take the rejection back. Every face
        honours it: ``packshot batch`` and the app's batch skip it and say so; its results are kept."""
        with self.transaction() as conn:
            conn.execute("UPDATE photos SET rejected = ?, updated_at = ? WHERE id = ?",
                         (int(bool(rejected)), time.time(), photo_id))

    def rejected_paths(self) -> set[Path]:
        """The photos rejected in review (their originals' absolute paths)."""
        rows = self._conn().execute("SELECT path FROM photos WHERE rejected = 1").fetchall()
        return {Path(from_storable(r[0])) for r in rows}

    def set_photo_settings(self, photo_id: int, settings: dict) -> None:
        with self.transaction() as conn:
            conn.execute("UPDATE photos SET settings_json = ?, updated_at = ? WHERE id = ?",
                         (json.dumps(settings, sort_keys=True), time.time(), photo_id))

    def set_photo_info(self, photo_id: int, *, sha256: Optional[str] = None, width: Optional[int] = None,
                       height: Optional[int] = None) -> None:
        with self.transaction() as conn:
            conn.execute("UPDATE photos SET sha256 = COALESCE(?, sha256), width = COALESCE(?, width), "
                         "height = COALESCE(?, height), updated_at = ? WHERE id = ?",
                         (sha256, width, height, time.time(), photo_id))

    # -- results -------------------------------------------------------------------------
    def complete_photo(self, photo_id: int, job_key: str, results: Sequence[NewResult],
                       run_id: Optional[int] = None) -> list[int]:
        """Record a finished photo in one transaction: old results of this job key are replaced,
        the first new one is chosen unless the user already chose one, and the status becomes done.
        Called only after every output file is in place, so 'done' always means files exist."""
        now = time.time()
        with self.transaction() as conn:
            had_choice = conn.execute(
                "SELECT 1 FROM results WHERE photo_id = ? AND job_key = ? AND chosen = 1",
                (photo_id, job_key)).fetchone() is not None
            conn.execute("DELETE FROM results WHERE photo_id = ? AND job_key = ?", (photo_id, job_key))
            ids = []
            best = _best_index(results)
            for i, res in enumerate(results):
                cur = conn.execute(
                    "INSERT INTO results(photo_id, run_id, job_key, variant, seed, engine, output_path, "
                    "recipe_json, expansion, qc_flag, qc_json, attempts, chosen, created_at) "
                    "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                    (photo_id, run_id, job_key, res.variant, res.seed, res.engine, self.rel(res.output_path),
                     json.dumps(res.recipe, sort_keys=True, default=str), res.expansion, int(res.qc_flag),
                     json.dumps(res.qc, default=str), res.attempts, int(i == best and not had_choice), now))
                ids.append(int(cur.lastrowid))
            conn.execute("UPDATE photos SET status = 'done', job_key = ?, error = NULL, updated_at = ? WHERE id = ?",
                         (job_key, now, photo_id))
            return ids

    def fail_photo(self, photo_id: Optional[int], kind: str, message: str, run_id: Optional[int] = None) -> None:
        now = time.time()
        with self.transaction() as conn:
            conn.execute("INSERT INTO errors(photo_id, run_id, kind, message, created_at) VALUES (?, ?, ?, ?, ?)",
                         (photo_id, run_id, kind, message, now))
            if photo_id is not None:
                conn.execute("UPDATE photos SET status = 'failed', error = ?, updated_at = ? WHERE id = ?",
                             (message, now, photo_id))

    def results(self, photo_id: int, job_key: Optional[str] = None) -> list[ResultRecord]:
        sql = "SELECT * FROM results WHERE photo_id = ?"
        args: list[Any] = [photo_id]
        if job_key is not None:
            sql += " AND job_key = ?"
            args.append(job_key)
        rows = self._conn().execute(sql + " ORDER BY created_at, variant", args).fetchall()
        return [self._result(r) for r in rows]

    def all_results(self) -> list[ResultRecord]:
        return [self._result(r) for r in self._conn().execute("SELECT * FROM results ORDER BY photo_id, variant")]

    def _result(self, row: sqlite3.Row) -> ResultRecord:
        return ResultRecord(id=row["id"], photo_id=row["photo_id"], job_key=row["job_key"], variant=row["variant"],
                            seed=row["seed"], engine=row["engine"], output_path=self.abs(row["output_path"]),
                            recipe=json.loads(row["recipe_json"]), expansion=row["expansion"],
                            qc_flag=bool(row["qc_flag"]), qc=json.loads(row["qc_json"] or "{}"),
                            attempts=row["attempts"], chosen=bool(row["chosen"]), run_id=row["run_id"])

    def choose(self, result_id: int) -> None:
        """Make one result the keeper of its photo (the desktop's 'pick')."""
        with self.transaction() as conn:
            row = conn.execute("SELECT photo_id FROM results WHERE id = ?", (result_id,)).fetchone()
            if row is None:
                raise ProjectStoreError(f"No result with id {result_id}.")
            conn.execute("UPDATE results SET chosen = (id = ?) WHERE photo_id = ?", (result_id, row[0]))

    def is_done(self, photo_id: int, job_key: str, expected: int) -> bool:
        """True when the photo has ``expected`` results for ``job_key`` and every file exists."""
        rec = self.photo(photo_id)
        if rec is None or rec.status != "done" or rec.job_key != job_key:
            return False
        results = self.results(photo_id, job_key)
        return len(results) >= expected and all(r.output_path.is_file() for r in results)

    def errors(self, run_id: Optional[int] = None) -> list[dict]:
        sql = ("SELECT errors.*, photos.name AS photo_name FROM errors LEFT JOIN photos ON photos.id = errors.photo_id")
        if run_id is not None:
            rows = self._conn().execute(sql + " WHERE run_id = ? ORDER BY errors.id", (run_id,)).fetchall()
        else:
            rows = self._conn().execute(sql + " ORDER BY errors.id").fetchall()
        return [dict(r) for r in rows]

    def counts(self) -> dict[str, int]:
        rows = self._conn().execute("SELECT status, COUNT(*) FROM photos GROUP BY status").fetchall()
        return {r[0]: r[1] for r in rows}


def _best_index(results: Sequence[NewResult]) -> int:
    """Default keeper: unflagged before flagged, then lowest expansion, then first variant."""
    if not results:
        return -1
    order = sorted(range(len(results)), key=lambda i: (results[i].qc_flag,
                                                        results[i].expansion if results[i].expansion is not None else 0.0,
                                                        i))
    return order[0]


def open_store(out_dir: Path | str, *, create: bool = True) -> ProjectStore:
    return ProjectStore(out_dir, create=create)
