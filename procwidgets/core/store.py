"""Durable job history: a SQLite database (WAL) and one log file per job, in a store directory.

Layout of a store directory (default ``.procwidgets`` beside the notebook):

    jobs.sqlite3        every job's spec, fields and state changes
    logs/<id>.log       every job's full output (see logfile.py)

Writes come from the pool's engine as events happen, go onto a queue, and are committed in
batches by one writer thread, so a slow disk never stalls dispatch. Job ids are handed out in
blocks reserved in the database, so two kernels on one store never collide. Each job row names
its owner (pid and start time); a new pool marks the unfinished jobs of dead owners INTERRUPTED
and leaves those of live owners alone.
"""

from __future__ import annotations

import json
import os
import queue
import sqlite3
import threading
import time
import warnings
from collections.abc import Iterator
from typing import Any

__all__ = ["DEFAULT_STORE", "SCHEMA_VERSION", "JobStore", "StoreError", "open_store"]

SCHEMA_VERSION = 2
"""1: the first; 2 adds `jobs.worker` (where a remote backend ran the job)."""
DB_NAME = "jobs.sqlite3"
ID_BLOCK = 1000

_SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS jobs (
    id INTEGER PRIMARY KEY, owner TEXT NOT NULL, spec TEXT NOT NULL, name TEXT NOT NULL,
    priority INTEGER NOT NULL, state TEXT NOT NULL, pid INTEGER, returncode INTEGER, error TEXT,
    submitted_at REAL NOT NULL, started_at REAL, finished_at REAL, attempts INTEGER NOT NULL,
    peak_rss INTEGER, cpu_seconds REAL, log_path TEXT, retry_of INTEGER, worker TEXT);
CREATE TABLE IF NOT EXISTS events (
    job_id INTEGER NOT NULL, time REAL NOT NULL, state TEXT NOT NULL, reason TEXT NOT NULL);
CREATE INDEX IF NOT EXISTS events_by_job ON events (job_id, time);
"""

JOB_FIELDS = ("id", "owner", "spec", "name", "priority", "state", "pid", "returncode", "error",
              "submitted_at", "started_at", "finished_at", "attempts", "peak_rss", "cpu_seconds",
              "log_path", "retry_of", "worker")


class StoreError(RuntimeError):
    """The store cannot be used as it is; the message says why and what to do."""


class _DefaultStore:
    def __repr__(self) -> str:
        return "DEFAULT_STORE"


DEFAULT_STORE: Any = _DefaultStore()
"""`store=` default: $PROCWIDGETS_STORE if set ("" or "none" = memory only), else ".procwidgets"."""


def open_store(store: Any) -> JobStore | None:
    """The `JobStore` a pool asked for, or None for memory only."""
    if store is DEFAULT_STORE:
        env = os.environ.get("PROCWIDGETS_STORE")
        store = ".procwidgets" if env is None else (None if env.strip().lower() in ("", "none") else env)
    if store is None:
        return None
    if not isinstance(store, (str, os.PathLike)):
        raise TypeError(f"store must be a directory path or None, got {store!r} ({type(store).__name__})")
    if not os.fspath(store):
        raise ValueError("store is an empty path; pass a directory, or store=None to keep history in memory")
    return JobStore(store)


def owner_token(pid: int | None = None) -> str:
    """`pid:start-time`: names a process uniquely even after its pid is reused."""
    import psutil
    process = psutil.Process(pid)
    return f"{process.pid}:{process.create_time():.3f}"


def owner_alive(token: str) -> bool:
    import psutil
    pid_text, _, started = token.partition(":")
    try:
        return f"{psutil.Process(int(pid_text)).create_time():.3f}" == started
    except (psutil.Error, ValueError):
        return False


BATCH_SECONDS = 0.05
RETRY_SECONDS = 1.0  # how often writes that failed (disk full) are tried again
MAX_HELD = 100_000  # failed writes kept in memory at most


def _latest_rows(writes: list[tuple[str, tuple[Any, ...]]]) -> list[tuple[str, tuple[Any, ...]]]:
    """Only the newest row of each job matters (INSERT OR REPLACE); every event is kept, in order."""
    last = {values[0]: i for i, (kind, values) in enumerate(writes) if kind == "job"}
    return [w for i, w in enumerate(writes) if w[0] != "job" or last[w[1][0]] == i]


class JobStore:
    """One store directory. `open` checks it; `put_job`/`put_event` queue writes; `close` flushes."""

    def __init__(self, path: str | os.PathLike[str]) -> None:
        self.path = os.path.abspath(os.fspath(path))
        self.logs = os.path.join(self.path, "logs")
        self.db_path = os.path.join(self.path, DB_NAME)
        self.owner = owner_token()
        self._check_directory()
        self._db = self._connect()
        self._next_id = self._block_end = 0
        self._queue: queue.SimpleQueue[tuple[str, tuple[Any, ...]] | None] = queue.SimpleQueue()
        self._writer = threading.Thread(target=self._write_loop, name="procwidgets-store", daemon=True)
        self._writer_db = self._connect(check_schema=False)
        self.write_error: str | None = None
        self._warned = False
        self._writer.start()

    # -- opening ----------------------------------------------------------------------------

    def _check_directory(self) -> None:
        if os.path.exists(self.path) and not os.path.isdir(self.path):
            raise StoreError(f"store path {self.path!r} is a file, not a directory; "
                             f"pass another store= path, or store=None to keep history in memory only")
        try:
            os.makedirs(self.logs, exist_ok=True)
        except OSError as exc:
            raise StoreError(f"cannot create the store directory {self.path!r}: {exc.strerror or exc}; "
                             f"pass another store= path, or store=None to keep history in memory only") from None
        probe = os.path.join(self.path, f".write-test-{os.getpid()}")
        try:
            with open(probe, "w"):
                pass
            os.unlink(probe)
        except OSError as exc:
            raise StoreError(f"the store directory {self.path!r} is not writable ({exc.strerror or exc}); "
                             f"pass another store= path, or store=None to keep history in memory only") from None

    def _connect(self, check_schema: bool = True) -> sqlite3.Connection:
        try:
            db = self._open_db()
            if check_schema:
                self._migrate(db)
            return db
        except sqlite3.DatabaseError as exc:
            corrupted = "not a database" in str(exc) or "malformed" in str(exc)
            if not (check_schema and corrupted):
                raise
            kept = f"{self.db_path}.corrupt-{time.strftime('%Y%m%d-%H%M%S')}"
            for suffix in ("", "-wal", "-shm"):
                if os.path.exists(self.db_path + suffix):
                    os.replace(self.db_path + suffix, kept + suffix)
            warnings.warn(f"procwidgets store database {self.db_path!r} was corrupted ({exc}); it was kept "
                          f"aside as {kept!r} and a fresh one started (log files are untouched)",
                          RuntimeWarning, stacklevel=4)
            db = self._open_db()
            self._migrate(db)
            return db

    def _open_db(self) -> sqlite3.Connection:
        db = sqlite3.connect(self.db_path, timeout=30, isolation_level=None, check_same_thread=False)
        db.execute("PRAGMA busy_timeout = 30000")
        # Switching a new database to WAL takes a lock that the busy timeout does not wait for:
        # two kernels opening one store at once retry for a while instead of failing.
        deadline = time.monotonic() + 30
        while True:
            try:
                db.execute("PRAGMA journal_mode = WAL")
                break
            except sqlite3.OperationalError as exc:
                if "locked" not in str(exc) or time.monotonic() > deadline:
                    raise
                time.sleep(0.05)
        db.execute("PRAGMA synchronous = NORMAL")
        return db

    def _migrate(self, db: sqlite3.Connection) -> None:
        db.execute("BEGIN IMMEDIATE")
        try:
            for statement in _SCHEMA.split(";"):
                if statement.strip():
                    db.execute(statement)
            row = db.execute("SELECT value FROM meta WHERE key = 'schema_version'").fetchone()
            if row is None:
                db.execute("INSERT INTO meta VALUES ('schema_version', ?), ('next_id', '1')", (str(SCHEMA_VERSION),))
            elif int(row[0]) > SCHEMA_VERSION:
                raise StoreError(
                    f"store {self.path!r} was written by a newer procwidgets (schema {row[0]}, this one reads "
                    f"up to {SCHEMA_VERSION}); upgrade procwidgets, or pass another store= path. "
                    f"Nothing in it was changed.")
            elif int(row[0]) < 2:  # in the same transaction: a store is upgraded whole or not at all
                db.execute("ALTER TABLE jobs ADD COLUMN worker TEXT")
                db.execute("UPDATE meta SET value = ? WHERE key = 'schema_version'", (str(SCHEMA_VERSION),))
            db.execute("COMMIT")
        except BaseException:
            db.execute("ROLLBACK")
            raise

    # -- ids --------------------------------------------------------------------------------

    def next_id(self) -> int:
        """A job id no other pool on this store will use (ids come in reserved blocks)."""
        if self._next_id >= self._block_end:
            try:
                self._db.execute("BEGIN IMMEDIATE")
                start = int(self._db.execute("SELECT value FROM meta WHERE key = 'next_id'").fetchone()[0])
                self._db.execute("UPDATE meta SET value = ? WHERE key = 'next_id'", (str(start + ID_BLOCK),))
                self._db.execute("COMMIT")
            except sqlite3.Error as exc:
                if self._db.in_transaction:  # SQLite may have rolled back already (disk full)
                    self._db.execute("ROLLBACK")
                raise StoreError(f"the store {self.path!r} cannot hand out job ids ({exc}); free some space "
                                 f"or fix the store, or use a pool with store=None. Nothing was submitted.") from None
            self._next_id, self._block_end = start, start + ID_BLOCK
        self._next_id += 1
        return self._next_id - 1

    def log_path(self, job_id: int) -> str:
        return os.path.join(self.logs, f"{job_id}.log")

    # -- reading history --------------------------------------------------------------------

    def load(self) -> tuple[list[dict[str, Any]], dict[int, list[tuple[float, str, str]]]]:
        """Every job whose owner is this pool's past: finished ones, and unfinished ones of dead
        owners (marked INTERRUPTED here, in the database too). Jobs of live owners are skipped."""
        rows = [dict(zip(JOB_FIELDS, r)) for r in
                self._db.execute(f"SELECT {', '.join(JOB_FIELDS)} FROM jobs ORDER BY id")]
        alive: dict[str, bool] = {}
        now = time.time()
        kept = []
        for row in rows:
            if row["state"] in ("queued", "running", "paused"):
                if row["owner"] not in alive:
                    alive[row["owner"]] = owner_alive(row["owner"])
                if alive[row["owner"]]:
                    continue
                was = row["state"].upper()
                row.update(state="interrupted", finished_at=now,
                           error=f"interrupted: it was {was} when its owner (pid {row['owner'].split(':')[0]}) died")
                self._db.execute("UPDATE jobs SET state = ?, finished_at = ?, error = ? WHERE id = ?",
                                 (row["state"], now, row["error"], row["id"]))
                self._db.execute("INSERT INTO events VALUES (?, ?, ?, ?)",
                                 (row["id"], now, "interrupted", row["error"]))
            kept.append(row)
        events: dict[int, list[tuple[float, str, str]]] = {}
        for job_id, t, state, reason in self._db.execute("SELECT * FROM events ORDER BY job_id, time, rowid"):
            events.setdefault(job_id, []).append((t, state, reason))
        return kept, events

    def history(self) -> Iterator[dict[str, Any]]:
        """Every job row in the store, as plain dicts (spec decoded), oldest first."""
        for row in self._db.execute(f"SELECT {', '.join(JOB_FIELDS)} FROM jobs ORDER BY id"):
            record = dict(zip(JOB_FIELDS, row))
            record["spec"] = json.loads(record["spec"])
            yield record

    # -- writing (any thread queues; the writer thread commits) -----------------------------

    def put_job(self, row: dict[str, Any]) -> None:
        self._queue.put(("job", tuple(row[f] for f in JOB_FIELDS)))

    def put_event(self, job_id: int, t: float, state: str, reason: str) -> None:
        self._queue.put(("event", (job_id, t, state, reason)))

    def flush(self, timeout: float = 10.0) -> None:
        """Wait until everything queued so far is committed."""
        done = threading.Event()
        self._queue.put(("flush", (done,)))
        done.wait(timeout)

    def close(self) -> None:
        if self._writer.is_alive():
            self._queue.put(None)
            self._writer.join(30)
        self._db.close()

    def _commit(self, db: sqlite3.Connection, insert_job: str, writes: list) -> bool:
        """Write `writes` in one transaction; on any error roll back, note it, and return False."""
        try:
            db.execute("BEGIN IMMEDIATE")
            for kind, values in writes:
                db.execute(insert_job if kind == "job" else "INSERT INTO events VALUES (?, ?, ?, ?)", values)
            db.execute("COMMIT")
            return True
        except Exception as exc:  # noqa: BLE001 - disk full, locked too long, a bad value: say so, go on
            self.write_error = f"store writes failing: {exc!r}"
            try:
                db.execute("ROLLBACK")
            except sqlite3.Error:
                pass
            return False

    def _write_loop(self) -> None:
        db = self._writer_db
        columns, marks = ", ".join(JOB_FIELDS), ", ".join("?" * len(JOB_FIELDS))
        insert_job = f"INSERT OR REPLACE INTO jobs ({columns}) VALUES ({marks})"
        held: list[tuple[str, tuple[Any, ...]]] = []  # writes that failed (disk full): tried again
        running = True
        while running:
            try:
                batch = [self._queue.get(timeout=RETRY_SECONDS if held else None)]
            except queue.Empty:
                batch = []
            # Let a batch gather: while this thread sleeps, `put` notifies nobody, so the engine
            # thread is not made to hand the GIL to this one for every state change.
            time.sleep(BATCH_SECONDS)
            while len(batch) < 5000:
                try:
                    batch.append(self._queue.get_nowait())
                except queue.Empty:
                    break
            running = None not in batch
            waiters = [item[1][0] for item in batch if item is not None and item[0] == "flush"]
            # A job's row is replaced whole, so only its newest one in a batch is written.
            writes = _latest_rows(held + [item for item in batch if item is not None and item[0] != "flush"])
            held = []
            if not self._commit(db, insert_job, writes):
                # One bad record must not cost the others: write them one by one; keep what fails
                # for later (space may come back), and say so once.
                held = [item for item in writes if not self._commit(db, insert_job, [item])]
                if held and not self._warned:
                    self._warned = True
                    warnings.warn(f"procwidgets store {self.path!r}: {self.write_error}; {len(held)} records are "
                                  f"held in memory and written when the store accepts them again",
                                  RuntimeWarning, stacklevel=1)
                del held[MAX_HELD:]
            elif self._warned:
                self._warned = False
                self.write_error = None
            for waiter in waiters:
                waiter.set()
        db.close()
