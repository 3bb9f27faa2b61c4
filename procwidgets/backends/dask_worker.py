"""What runs on a Dask worker for `DaskBackend`: one job as a process group there, its output sent back
live, and a per-worker registry of the groups it runs so the owner can signal them.

Why this shape (measured with distributed 2026.8 on a `LocalCluster`):

* Dask cannot stop a running task (`future.cancel()` leaves a subprocess running), so each worker
  process keeps a registry `key -> process group` of the jobs it runs, and the owner signals one
  with `client.run(signal_job, key, sig, workers=[address])`: a plain function call on that one
  worker, no plugin to install on the cluster.
* Output travels as structured events (`Worker.log_event` -> scheduler -> the subscribed client,
  ~1 ms end to end), batched every `flush_seconds`. The scheduler keeps the last 1000 events of a
  topic, so one message is capped at `MAX_MESSAGE` characters: what the scheduler holds stays
  bounded. A job that writes faster than `MAX_MESSAGE` per `flush_seconds` is slowed (its pipe is
  not read meanwhile), as a slow terminal would: nothing is lost and worker memory stays bounded.
* A job must not outlive its worker or its owner: the core's `Watchdog` (one per worker process)
  kills every registered group if the worker dies, even by SIGKILL; and the task watches its own
  Dask state, so a task released by the scheduler (the owner's client went away, or someone
  cancelled the future) kills its group too.

The same core pieces as `LocalBackend` do the work (`spawn`, `LineReader`, `watch_exit`), on a
private event loop in the worker's task thread, so lines are cut, decoded and redrawn alike.
Needs procwidgets (same version) installed on every worker.
"""

from __future__ import annotations

import asyncio
import atexit
import multiprocessing.util
import os
import signal
import threading
import time
from collections import OrderedDict
from typing import Any

from ..core.process import (
    LineReader,
    describe_spawn_error,
    group_alive,
    scan_descendants,
    signal_group,
    signal_known,
    spawn,
    watch_exit,
)
from ..core.watchdog import Watchdog

__all__ = ["run_job", "sample_worker", "signal_job", "withdraw_job"]

MAX_MESSAGE = 32768
"""Characters of output per event; the scheduler keeps 1000 events per topic, so at most ~32 MB."""
DRAIN_SECONDS = 1.0
"""How long to read what is left in the pipes once the group is gone (as `LocalAttempt`)."""
ORPHAN_CHECK_SECONDS = 0.5
"""How often a running job checks that Dask still wants its task (else it kills its group)."""
PEAK_SAMPLE_SECONDS = 1.0
"""How often the job's tree RSS is summed for `job.peak_rss`."""
STREAM_CODE = {"stdout": 0, "stderr": 1}
CHAIN_POLL_SECONDS = 0.05
"""How often a job handed ahead, waiting for its chain's turn, checks that Dask still wants it."""


class _Chains:
    """Pool slots on this worker: a job handed ahead (`DaskBackend` pipelining) names the chain of
    the slot it will take, and its process starts only once the chain's previous job has ended
    here. One process per chain at a time is what keeps the pool's `max_workers` exact."""

    def __init__(self) -> None:
        self._cond = threading.Condition()
        self._busy: set[str] = set()  # only chains with a job running here: nothing accumulates

    def acquire(self, chain: str, timeout: float) -> bool:
        with self._cond:
            if not self._cond.wait_for(lambda: chain not in self._busy, timeout):
                return False
            self._busy.add(chain)
            return True

    def release(self, chain: str) -> None:
        with self._cond:
            self._busy.discard(chain)
            self._cond.notify_all()


_CHAINS = _Chains()


class _Entry:
    """One running job on this worker: its process group and how a kill went."""

    __slots__ = ("key", "pgid", "kill_started", "killed_hard", "escaped")

    def __init__(self, key: str, pgid: int) -> None:
        self.key, self.pgid = key, pgid
        self.escaped: dict[int, int] = {}  # descendants that left the group (setsid): {pid: starttime}
        self.kill_started: float | None = None  # monotonic time of the first SIGTERM
        self.killed_hard = False  # SIGKILL reached a live group: something ignored SIGTERM


class _Registry:
    """The jobs this worker process runs. Task threads add and remove; `signal_job` (on the worker's
    event loop) signals: hence the lock. The watchdog starts with the first job."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.entries: dict[str, _Entry] = {}
        # Keys that started here, and keys the owner withdrew before they started: which of the
        # two happened first is decided under the lock (`claim` against `withdraw`). Bounded:
        # the owner asks only about jobs it handed ahead moments ago.
        self.claimed: OrderedDict[str, None] = OrderedDict()
        self.withdrawn: OrderedDict[str, None] = OrderedDict()
        self._watchdog: Watchdog | None = None
        self._cpu_ready = False
        self._procs: dict[int, Any] = {}  # pid -> psutil.Process, kept so cpu_percent means something

    def add(self, key: str, pgid: int, grace: float) -> _Entry:
        entry = _Entry(key, pgid)
        with self.lock:
            if self._watchdog is None:
                self._watchdog = Watchdog(grace)
                # When the worker process exits normally, its jobs end with it and the watchdog
                # exits, reaped here (else Python warns that a child "is still running"). A Dask
                # worker is a multiprocessing child, which skips atexit: hence both hooks.
                atexit.register(self._watchdog.close)
                multiprocessing.util.Finalize(None, self._watchdog.close, exitpriority=10)
            self._watchdog.add(pgid)
            self.entries[key] = entry
        return entry

    def claim(self, key: str) -> bool:
        """Mark `key` as starting now; False if the owner withdrew it first."""
        with self.lock:
            if key in self.withdrawn:
                del self.withdrawn[key]
                return False
            _remember(self.claimed, key)
            return True

    def withdraw(self, key: str) -> bool:
        """Make sure `key` never starts here; False if it has started already."""
        with self.lock:
            if key in self.claimed:
                return False
            _remember(self.withdrawn, key)
            return True

    def remove(self, entry: _Entry) -> None:
        with self.lock:
            self.entries.pop(entry.key, None)
            if self._watchdog is not None:
                self._watchdog.remove(entry.pgid)

    def signal(self, key: str, sig: int) -> bool:
        with self.lock:
            entry = self.entries.get(key)
        return entry is not None and _signal_entry(entry, sig)


_REGISTRY = _Registry()
REMEMBERED_KEYS = 10000


def _remember(keys: OrderedDict[str, None], key: str) -> None:
    keys[key] = None
    while len(keys) > REMEMBERED_KEYS:
        keys.popitem(last=False)


def withdraw_job(key: str) -> bool:
    """Make sure job `key`, handed ahead to this worker, never starts; False if it has started.

    Called by the owner through `client.run(..., workers=[address])`."""
    return _REGISTRY.withdraw(key)


def _signal_entry(entry: _Entry, sig: int) -> bool:
    """Signal the job's group, and (for TERM, CONT, KILL) the descendants that left it, as the
    core's `LocalAttempt` does: they are found by parent links when the first TERM goes out."""
    if sig == signal.SIGTERM and entry.kill_started is None:
        entry.kill_started = time.monotonic()
        entry.escaped.update({pid: t for pid, t in scan_descendants(entry.pgid).items() if _pgid(pid) != entry.pgid})
    escaped = sig in (signal.SIGTERM, signal.SIGKILL, signal.SIGCONT) and bool(entry.escaped)
    if sig == signal.SIGKILL:
        if not group_alive(entry.pgid) and not (escaped and signal_known(entry.escaped, 0)):
            return False
        hit = signal_group(entry.pgid, sig)
        hit = (signal_known(entry.escaped, sig) if escaped else False) or hit
        entry.killed_hard = hit or entry.killed_hard
        return hit
    sent = signal_group(entry.pgid, sig)
    return (signal_known(entry.escaped, sig) if escaped else False) or sent


def _pgid(pid: int) -> int | None:
    try:
        return os.getpgid(pid)
    except OSError:
        return None


def signal_job(key: str, sig: int) -> bool:
    """Send `sig` to the process group of job `key` on this worker; False if it runs here no more.

    Called by the owner through `client.run(..., workers=[address])`."""
    return _REGISTRY.signal(key, int(sig))


def run_job(key: str, topic: str, argv: list[str], cwd: str | None, env: dict[str, str] | None, *,
            max_line: int, kill_grace: float, send_bytes: bool, flush_seconds: float,
            chain: str | None = None) -> dict[str, Any]:
    """The Dask task: run one job to its end here, streaming its output to `topic`.

    With `chain`, the process starts only when no other job of that chain runs on this worker
    (the owner hands jobs ahead of time to a busy slot; see `_Chains`); a job the owner withdrew
    meanwhile (its task cancelled) never starts and reports `"withdrawn": True`.

    Returns (and also sends, so the owner needs no extra round trip) the exit record:
    `{"e": "exit", "k": key, "rc": int | None, "usage": [16 rusage fields] | None,
    "hard": bool, "peak_rss": int | None, "seq": last output message, "error": str | None}`.
    """
    from distributed import get_worker

    runner = _Runner(get_worker(), key, topic, max_line=max_line, kill_grace=kill_grace,
                     send_bytes=send_bytes, flush_seconds=flush_seconds)
    if chain is None:
        return asyncio.run(runner.run(argv, cwd, env))
    while not _CHAINS.acquire(chain, CHAIN_POLL_SECONDS):
        if not runner._still_wanted():
            return runner.withdrawn()
    try:
        if not runner._still_wanted():
            return runner.withdrawn()
        return asyncio.run(runner.run(argv, cwd, env))
    finally:
        _CHAINS.release(chain)


class _Runner:
    """One job on this worker, on a private event loop in the task's thread."""

    def __init__(self, worker: Any, key: str, topic: str, *, max_line: int, kill_grace: float,
                 send_bytes: bool, flush_seconds: float) -> None:
        self.worker, self.key, self.topic = worker, key, topic
        self.max_line, self.kill_grace = max_line, kill_grace
        self.send_bytes, self.flush_seconds = send_bytes, flush_seconds
        self.seq = 0
        self._lines: list[list[Any]] = []
        self._data: list[list[Any]] = []
        self._size = 0
        self._last_flush = 0.0
        self.peak_rss: int | None = None

    def send(self, msg: dict[str, Any]) -> None:
        msg["k"] = self.key
        self.worker.log_event(self.topic, msg)

    async def run(self, argv: list[str], cwd: str | None, env: dict[str, str] | None) -> dict[str, Any]:
        loop = asyncio.get_running_loop()
        if not _REGISTRY.claim(self.key):
            return self.withdrawn()
        try:
            proc = spawn(argv, cwd=cwd, env=env)
        except OSError as exc:
            error = f"on worker {self.worker.address}: {describe_spawn_error(exc, argv, cwd)}"
            return self._exit({"rc": None, "error": error})
        entry = _REGISTRY.add(self.key, proc.pid, self.kill_grace)
        try:
            self.send({"e": "start", "pid": proc.pid})
            readers = [LineReader(loop, pipe, name, self._on_line, max_line=self.max_line,
                                  on_data=self._on_data if self.send_bytes else None)
                       for pipe, name in ((proc.stdout, "stdout"), (proc.stderr, "stderr"))]
            exited = watch_exit(loop, proc)
            ticker = asyncio.ensure_future(self._tick(entry, exited))
            returncode, usage = await exited
            await self._clear_group(entry)
            try:
                await asyncio.wait_for(asyncio.gather(*(r.eof for r in readers)), timeout=DRAIN_SECONDS)
            except asyncio.TimeoutError:
                for reader in readers:
                    reader.close()
            ticker.cancel()
            self.flush()
        finally:
            _REGISTRY.remove(entry)
        return self._exit({"rc": returncode, "usage": list(usage) if usage is not None else None,
                           "hard": entry.killed_hard, "error": None})

    def withdrawn(self) -> dict[str, Any]:
        """The exit record of a job the owner took back before it started: no process ran."""
        return self._exit({"rc": None, "error": None, "withdrawn": True})

    def _exit(self, record: dict[str, Any]) -> dict[str, Any]:
        record.update(e="exit", seq=self.seq, peak_rss=self.peak_rss)
        self.send(record)
        return record

    # -- output -----------------------------------------------------------------------------

    def _on_line(self, stream: str, text: str) -> None:
        self._lines.append([STREAM_CODE[stream], text])
        self._grow(len(text) + 1)

    def _on_data(self, stream: str, data: bytes) -> None:
        self._data.append([STREAM_CODE[stream], data])
        self._grow(len(data))

    def _grow(self, size: int) -> None:
        self._size += size
        if self._size >= MAX_MESSAGE:
            # Backpressure: at most one full message per flush period. Sleeping here holds this
            # private loop, so the pipes are not read and a chatty job waits on its own writes.
            wait = self._last_flush + self.flush_seconds - time.monotonic()
            if wait > 0:
                time.sleep(wait)
            self.flush()

    def flush(self) -> None:
        """Send the output gathered since the last flush, as one event."""
        if not self._lines and not self._data:
            return
        self.seq += 1
        msg: dict[str, Any] = {"e": "out", "s": self.seq, "l": self._lines}
        if self._data:
            msg["b"] = self._data
        self._lines, self._data, self._size = [], [], 0
        self._last_flush = time.monotonic()
        self.send(msg)

    # -- watching the job while it runs ----------------------------------------------------

    async def _tick(self, entry: _Entry, exited: asyncio.Future[Any]) -> None:
        """Flush output every `flush_seconds`; now and then sample memory and check that Dask still
        wants this task (a task released by the scheduler means nobody waits for this job)."""
        next_check = next_sample = time.monotonic()
        while not exited.done():
            await asyncio.sleep(self.flush_seconds)
            self.flush()
            now = time.monotonic()
            if now >= next_sample:
                next_sample = now + PEAK_SAMPLE_SECONDS
                rss = _tree_rss(entry.pgid)
                if rss is not None and (self.peak_rss is None or rss > self.peak_rss):
                    self.peak_rss = rss
            if now >= next_check:
                next_check = now + ORPHAN_CHECK_SECONDS
                if entry.kill_started is None and not self._still_wanted():
                    _signal_entry(entry, signal.SIGTERM)
                    _signal_entry(entry, signal.SIGCONT)
                    asyncio.get_running_loop().call_later(self.kill_grace, _signal_entry, entry, signal.SIGKILL)

    def _still_wanted(self) -> bool:
        # WorkerState is distributed's internal model; if its shape changes, assume wanted (the
        # owner's explicit kills through `signal_job` do not depend on it).
        try:
            task = self.worker.state.tasks.get(self.key)
            return task is not None and task.state != "cancelled"
        except AttributeError:
            return True

    async def _clear_group(self, entry: _Entry) -> None:
        """After the leader exits, its group does not outlive it: TERM, grace, KILL (as `LocalAttempt`)."""
        if not group_alive(entry.pgid) and not (entry.escaped and signal_known(entry.escaped, 0)):
            return
        if entry.kill_started is None:
            _signal_entry(entry, signal.SIGTERM)
            _signal_entry(entry, signal.SIGCONT)
        deadline = (entry.kill_started or time.monotonic()) + self.kill_grace
        while (group_alive(entry.pgid) or (entry.escaped and signal_known(entry.escaped, 0))) \
                and time.monotonic() < deadline:
            await asyncio.sleep(0.02)  # a bounded wait for stragglers
        _signal_entry(entry, signal.SIGKILL)


def _tree_rss(pid: int) -> int | None:
    """Resident memory summed over the job's leader and its descendants; None if it is gone."""
    try:
        import psutil

        root = psutil.Process(pid)
        total = root.memory_info().rss
        for child in root.children(recursive=True):
            try:
                total += child.memory_info().rss
            except psutil.Error:
                continue
        return total
    except Exception:  # noqa: BLE001 - the leader exited between two samples, or psutil is missing
        return None


def sample_worker() -> dict[str, Any]:
    """This worker's host, its own process and its jobs, for `worker_metrics` (run on every worker
    by `client.run`).

    CPU % is over the interval since the previous call (psutil keeps the last reading, so the
    first call has no interval: host CPU is None then, and processes first seen count 0). A job's
    CPU %, CPU seconds, RSS and threads are summed over its tree, with `psutil.Process` objects
    kept between calls for the same reason.
    """
    import psutil

    reg = _REGISTRY
    host_cpu = psutil.cpu_percent(interval=None)
    first, reg._cpu_ready = not reg._cpu_ready, True
    vm = psutil.virtual_memory()
    with reg.lock:
        entries = list(reg.entries.values())
    jobs: dict[str, dict[str, Any]] = {}
    me = psutil.Process()
    seen: set[int] = {me.pid}
    own = reg._procs.setdefault(me.pid, me)
    worker_cpu, worker_rss = own.cpu_percent(interval=None), own.memory_info().rss
    for entry in entries:
        cpu, cpu_seconds, rss, threads, procs = 0.0, 0.0, 0, 0, 0
        try:
            root = psutil.Process(entry.pgid)
            tree = [root, *root.children(recursive=True)]
        except psutil.Error:
            continue
        for proc in tree:
            try:
                cached = reg._procs.setdefault(proc.pid, proc)
                if cached.create_time() != proc.create_time():  # the pid was reused
                    cached = reg._procs[proc.pid] = proc
                with cached.oneshot():
                    cpu += cached.cpu_percent(interval=None)
                    times = cached.cpu_times()
                    rss += cached.memory_info().rss
                    threads += cached.num_threads()
                cpu_seconds += times.user + times.system
                procs += 1
            except psutil.Error:
                continue
            seen.add(proc.pid)
        jobs[entry.key] = {"pid": entry.pgid, "cpu_percent": cpu, "cpu_seconds": cpu_seconds, "rss": rss,
                           "threads": threads, "processes": procs}
    for pid in set(reg._procs) - seen:  # forget processes that are gone
        del reg._procs[pid]
    return {"time": time.time(), "cpu_percent": None if first else host_cpu, "cpu_count": os.cpu_count(),
            "memory_used": vm.total - vm.available, "memory_total": vm.total,
            "worker_rss": worker_rss, "worker_cpu_percent": worker_cpu, "jobs": jobs}
