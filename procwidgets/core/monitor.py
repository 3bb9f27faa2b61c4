"""`Monitor`: samples the machine and every running job's process tree, and keeps a bounded history.

Where it runs: ticks are timed on the pool's engine (its own `Engine` when there is no pool),
so they keep coming while a notebook cell blocks. The reading itself (hundreds of small /proc
reads for 100 jobs) runs on one worker thread of the monitor's own, and the engine only awaits
its result, so dispatching jobs and reading their output never waits behind a sample. The
monitor only reads processes: it never sends a signal and never reaps a child (the pool owns them).

What is measured, and how (details in `sampler.py`):

* **CPU %** of a job is the growth of its tree's cumulative CPU time (own plus reaped children's,
  summed over the tree) over the interval; it exceeds 100 on several cores.
* **Memory:** `rss` is summed over the tree and overcounts pages that forked children share;
  `pss` (proportional set size, Linux) divides each shared page among the processes mapping it,
  so the tree's sum counts every page once: it is the fair total for a tree, which is why PSS
  is kept rather than only USS (`uss`, private pages, is kept too and is a lower bound, since it
  counts shared pages nowhere). PSS costs a page-table walk (~45 µs for a small process, ~0.6 ms
  for 200 MB), so it is re-read every `memory_every` seconds, or sooner when RSS moves by 10 %
  (so it can lag RSS by up to 10 %).
* **`job.peak_rss`** at the end of an attempt (set in the pool's attempt-end hook, so it is in
  the job's final event) is the largest tree RSS sum seen by sampling, kept as the maximum over
  attempts. The kernel's `ru_maxrss` cannot serve: it is one process's peak, not the tree's, and
  Linux carries it across exec (a job forked from a big kernel would report the kernel's size);
  if the pool set a figure anyway, the larger one is kept. A peak shorter than the interval
  between two samples can be missed.
* **`job.cpu_seconds`**: the pool sets it from the kernel's rusage of the reaped leader, which is
  exact for the leader and every descendant that was waited for. Sampling raises it only where
  it saw more (descendants that were orphaned and reaped by init are not in the rusage).
* **A watched kernel** (`watch(os.getpid())`) does not count its jobs: the pool's jobs are its
  children, so reaping one grows its children time by the job's whole CPU time. That growth is
  taken out again (the sampler's rule for reaped processes, across trees), with the job's
  exact rusage, handed from the attempt-end hook to the next tick.

Jobs of a pool whose backend runs them elsewhere (`DaskBackend`) are sampled on their workers:
each tick asks the backend (`backend.sample_remote`, one round trip to every worker, on a
reader thread of its own) for each worker's load and the jobs it runs; a job's pid there means
nothing here. A slow cluster never holds up this machine's samples: a reading not back within half
an interval is taken by a later tick, and no new one is asked for meanwhile.
Their samples land in the same job histories, and each worker gets a history of its own
(`workers()`, `worker_history(address)`, `worker_since(address, i)`).

History: rings of `window / interval` samples, each with a monotonic index for `*_since(i)`;
finished jobs keep their ring until `keep_finished` newer jobs have finished. Memory is flat.
"""

from __future__ import annotations

import asyncio
import math
import os
import threading
import time
import warnings
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from .engine import Engine, EngineStopped
from .events import Event, JobEvent, PoolEvent
from .job import Job, JobState
from .monitor_watch import MonitorWatch
from .pool import ProcessPool
from .readers import make_reader
from .ring import Ring
from .sampler import Reaped, Root, Sampler
from .samples import JobSample, Sample, SystemSample, WorkerSample
from .tracks import Tracks
from .worker import ReaderThread

__all__ = ["JobSample", "Monitor", "MonitorStats", "Sample", "SystemSample", "WorkerSample", "make_reader"]

MIN_INTERVAL = 0.01
REMOTE_TIMEOUT = 10.0
"""Longest a remote reading may take before it counts as failed (and a new one may be asked for)."""


@dataclass(frozen=True, slots=True)
class MonitorStats:
    """What the monitor itself costs: CPU seconds spent reading (worker thread), over `samples` ticks."""

    samples: int
    cpu_seconds: float
    last_cpu_seconds: float
    reader: str


class Monitor(MonitorWatch):
    """Samples the machine and each running job's process tree every `interval` seconds.

    `pool=None` watches the machine only (plus pids given to `watch`). `window` is the seconds of
    history kept. `reader` picks the process reader ("auto", "procfs", "psutil").
    `keep_finished` bounds how many finished jobs keep their history. `memory_every` is how
    often PSS/USS are re-read per process (None: never read them).

        mon = Monitor(pool, interval=1.0, window=600)
        mon.latest().jobs[job.id].cpu_percent
        points, next_i = mon.system_since(i)      # only what a chart has not drawn yet
        mon.stop()
    """

    def __init__(self, pool: ProcessPool | None = None, interval: float = 1.0, window: float = 600.0, *,
                 reader: str = "auto", keep_finished: int = 50, memory_every: float | None = 30.0) -> None:
        if pool is not None and not isinstance(pool, ProcessPool):
            raise TypeError(f"Monitor(pool) takes a ProcessPool or None, not {type(pool).__name__}")
        self._interval = _check_seconds("interval", interval, MIN_INTERVAL)
        self._window = _check_seconds("window", window, self._interval)
        if not isinstance(keep_finished, int) or isinstance(keep_finished, bool) or keep_finished < 0:
            raise ValueError(f"keep_finished must be an int >= 0, got {keep_finished!r}")
        if memory_every is not None:
            memory_every = _check_seconds("memory_every", memory_every, 0.0)
        self._reader = make_reader(reader)
        self._sampler = Sampler(self._reader, memory_every)
        self._pool = pool
        if pool is not None:
            if pool.closed or not pool.engine.running:
                raise RuntimeError(f"{pool!r} is shut down; a monitor needs a live pool (or pool=None)")
            self._engine, self._own_engine = pool.engine, False
        else:
            self._engine, self._own_engine = Engine(name="procwidgets-monitor"), True
        # A job's pid on a remote backend (Dask) names some other process here: its backend samples it.
        self._local_jobs = pool is not None and pool.backend.name == "local"
        self._remote = pool.backend if pool is not None and not self._local_jobs else None
        self._workers: dict[str, Ring[WorkerSample]] = {}  # engine thread writes, any thread reads
        self._system: Ring[SystemSample] = Ring(self.capacity)
        self._tracks = Tracks(keep_finished)  # engine thread writes, any thread reads
        self._roots: dict[int | str, Root] = {}  # engine thread only
        self._reaped: list[Reaped] = []  # engine thread only: job leaders the pool reaped since the last tick
        self._owner: tuple | None = None  # (pid, ident) of this process, which reaps the jobs' leaders
        self._latest: Sample | None = None
        self._new_sample = threading.Condition()
        self._stats = MonitorStats(0, 0.0, 0.0, self._reader.name)
        self._stopped = False
        self._closed = False
        self._warned = False
        self._unsubscribe: Callable[[], None] | None = None
        self._unhook: Callable[[], None] | None = None
        self._task: asyncio.Task[None] | None = None
        self._wake: asyncio.Event | None = None
        self._worker = ReaderThread("procwidgets-monitor-reader")
        self._remote_reader = ReaderThread("procwidgets-monitor-remote") if self._remote is not None else None
        self._remote_call: asyncio.Future[Any] | None = None  # engine thread only: the reading under way
        try:
            self._engine.call(self._start)
        except BaseException:
            self.stop()
            raise

    # -- settings ---------------------------------------------------------------------------

    @property
    def pool(self) -> ProcessPool | None:
        return self._pool

    @property
    def reader(self) -> str:
        """Which process reader samples: "procfs" or "psutil"."""
        return self._reader.name

    @property
    def window(self) -> float:
        return self._window

    @property
    def capacity(self) -> int:
        """Samples kept per history: window / interval."""
        return max(1, math.ceil(self._window / self._interval - 1e-9))

    @property
    def interval(self) -> float:
        return self._interval

    @interval.setter
    def interval(self, value: float) -> None:
        """Change the sampling period live; the next tick comes one new interval after the last."""
        self._interval = _check_seconds("interval", value, MIN_INTERVAL)
        if self._window < self._interval:
            self._window = self._interval
        capacity = self.capacity
        self._system.capacity = capacity
        self._tracks.resize(capacity)
        for ring in list(self._workers.values()):
            ring.capacity = capacity
        if not self._stopped:
            try:
                self._engine.call_soon(self._poke)
            except EngineStopped:
                pass

    @property
    def running(self) -> bool:
        """True while sampling (False after `stop()` or once the pool has shut down)."""
        return not self._stopped and self._task is not None and not self._task.done()

    # -- reading ----------------------------------------------------------------------------

    def latest(self) -> Sample | None:
        """The newest sample (`.time`, `.system`, `.jobs`), or None before the first one."""
        return self._latest

    def system_history(self) -> list[SystemSample]:
        """The machine's samples held, oldest first."""
        return self._system.to_list()

    def job_history(self, job: Job | int | str) -> list[JobSample]:
        """A job's (or watched pid's) samples held, oldest first; [] if it has none (yet, or any more)."""
        track = self._tracks.get(job)
        return track.ring.to_list() if track is not None else []

    def system_since(self, index: int) -> tuple[list[SystemSample], int]:
        """System samples with index >= `index`, and the index to ask for next time."""
        return self._system.since(index)

    def job_since(self, job: Job | int | str, index: int) -> tuple[list[JobSample], int]:
        """A job's samples with index >= `index` (its own count), and the index to ask for next."""
        track = self._tracks.get(job)
        return track.ring.since(index) if track is not None else ([], index)

    def workers(self) -> list[str]:
        """Addresses of the remote workers that have a history, in the order first seen ([] for local pools)."""
        return list(self._workers)

    def worker_history(self, address: str) -> list[WorkerSample]:
        """A remote worker's samples held, oldest first; [] for an address never seen."""
        ring = self._workers.get(address)
        return ring.to_list() if ring is not None else []

    def worker_since(self, address: str, index: int) -> tuple[list[WorkerSample], int]:
        """A worker's samples with index >= `index` (its own count), and the index to ask for next."""
        ring = self._workers.get(address)
        return ring.since(index) if ring is not None else ([], index)

    def tracked(self) -> list[int | str]:
        """Keys (job ids and watch names) that have a history, in the order they were first seen."""
        return self._tracks.keys()

    def stats(self) -> MonitorStats:
        return self._stats

    def next_sample(self, timeout: float | None = None) -> Sample:
        """Block until a sample newer than the current one is recorded; TimeoutError after `timeout` s."""
        self._engine.refuse_blocking_call("monitor.next_sample()")
        with self._new_sample:
            before = self._latest
            if not self._new_sample.wait_for(lambda: self._latest is not before or self._stopped, timeout):
                raise TimeoutError(f"{self!r} recorded no sample within {timeout} s")
            if self._latest is before:
                raise RuntimeError(f"{self!r} is stopped; it records no more samples")
            return self._latest  # type: ignore[return-value]

    # -- engine side ------------------------------------------------------------------------

    def _start(self) -> None:
        pool = self._pool
        if pool is not None:
            self._owner = (os.getpid(), self._reader.ident(os.getpid()))
            self._unsubscribe = pool.subscribe(self._on_event)
            self._unhook = pool.on_attempt_end(self._on_attempt_end)
            for job in pool.running_jobs():
                self._add_job(job, fresh=False)
        self._wake = asyncio.Event()
        self._task = self._engine.spawn(self._run(), name="procwidgets-monitor")

    def _poke(self) -> None:
        if self._wake is not None:
            self._wake.set()

    def _on_event(self, event: Event) -> None:
        if isinstance(event, PoolEvent):
            if event.kind == "shutdown":
                self._halt()
        elif isinstance(event, JobEvent) and event.kind == "state":
            if event.new is JobState.RUNNING and event.old is JobState.QUEUED:
                self._add_job(event.job, fresh=True)  # a new attempt: its leader is not reaped yet
            elif event.new.is_finished:
                self._roots.pop(event.job.id, None)
                self._tracks.close(event.job.id)

    def _add_job(self, job: Job, fresh: bool) -> None:
        if self._remote is not None:  # sampled on its worker: a history, and no tree to scan here
            self._tracks.open(job.id, None, self.capacity)
            return
        if job.pid is None or not self._local_jobs:
            return
        ident = self._reader.ident(job.pid)
        if ident is None:
            return
        self._roots[job.id] = Root(job.id, job.pid, ident, job.name, is_job=True, fresh=fresh)
        track = self._tracks.open(job.id, (job.pid, ident), self.capacity)
        track.cpu_before = job.cpu_seconds or 0.0  # earlier attempts, maybe unseen by this monitor

    def _on_attempt_end(self, job: Job) -> None:
        """The attempt's tree is gone (pool hook, before the state event): complete the job's figures."""
        self._roots.pop(job.id, None)
        track = self._tracks.get(job.id)
        if track is not None and self._remote is not None:  # sampled on its worker: only the peak to add
            track.raise_peak(job)
            track.attempt_peak = 0
            return
        if track is None or track.attempt is None:
            return
        from_rusage = (job.cpu_seconds or 0.0) - track.cpu_before
        if from_rusage > 0 and self._owner is not None:  # this process reaped the leader: its children time grew
            self._reaped.append(Reaped(track.attempt[0], track.attempt[1], self._owner, from_rusage))
        track.end_attempt(job, from_rusage)

    async def _run(self) -> None:
        loop = asyncio.get_running_loop()
        assert self._wake is not None
        await self._tick(record=False)  # a baseline, so the first recorded rates are real
        last = loop.time()
        while True:
            delay = last + self._interval - loop.time()
            if delay > 0:
                self._wake.clear()
                try:
                    await asyncio.wait_for(self._wake.wait(), delay)
                    continue  # the interval changed: measure the wait again
                except asyncio.TimeoutError:
                    pass
            # A tick that overran its interval does not make the next one start at once.
            last = max(last + self._interval, loop.time() - 0.75 * self._interval)
            await self._tick(record=True)

    async def _tick(self, record: bool) -> None:
        roots = list(self._roots.values())
        reaped, self._reaped = self._reaped, []
        if self._remote_reader is not None and self._remote_call is None:
            self._remote_call = self._remote_reader.run(self._remote.sample_remote, time.time(), REMOTE_TIMEOUT)
        try:
            system, jobs, missing, cost = await self._worker.run(self._collect, roots, reaped)
        except Exception as exc:  # noqa: BLE001 - a bad tick must not end the sampling
            self._warn_once(f"a sample failed ({exc!r})")
            return
        remote = await self._take_remote()
        s = self._stats
        self._stats = MonitorStats(s.samples + record, s.cpu_seconds + cost, cost, s.reader)
        for key in missing:  # a watched process that ended; a job's end comes from the pool
            root = self._roots.get(key)
            if root is not None and not root.is_job and root in roots:
                del self._roots[key]
                self._tracks.close(key)
        if not record:
            return
        self._tracks.record(jobs, {root.key: (root.pid, root.ident) for root in roots})
        workers: dict[str, WorkerSample] = {}
        if remote is not None:
            workers = remote.workers
            for address, worker_sample in workers.items():
                ring = self._workers.get(address)
                if ring is None:
                    ring = self._workers[address] = Ring(self.capacity)
                ring.append(worker_sample)
            jobs.update(self._tracks.record_running(remote.jobs))  # a job that ended meanwhile keeps its end
        index = self._system.append(system)
        with self._new_sample:
            self._latest = Sample(time=system.time, system=system, jobs=jobs, index=index, workers=workers)
            self._new_sample.notify_all()

    def _collect(self, roots: list[Root], reaped: list[Reaped]) -> tuple[SystemSample, dict, set, float]:
        # The clock is read here, when the reading starts, not when the engine asked: a reader
        # thread that starts late under load would otherwise divide a longer span by a shorter one.
        mono, wall, started = time.monotonic(), time.time(), time.thread_time()
        system = self._sampler.system(mono, wall)
        jobs, missing = self._sampler.jobs(roots, mono, wall, reaped)
        return system, jobs, missing, time.thread_time() - started

    async def _take_remote(self) -> Any:
        """The remote reading if it is back within half an interval, else None (a later tick takes it)."""
        call = self._remote_call
        if call is None:
            return None
        if not call.done():
            try:
                await asyncio.wait_for(asyncio.shield(call), self._interval / 2)
            except asyncio.TimeoutError:
                return None
        self._remote_call = None
        if call.exception() is not None:  # a cluster that cannot answer must not stop local samples
            self._warn_once(f"the remote workers gave no reading ({call.exception()!r})")
            return None
        return call.result()

    def _warn_once(self, what: str) -> None:
        if not self._warned and not self._stopped:
            self._warned = True
            warnings.warn(f"{self!r}: {what}; sampling goes on", RuntimeWarning, stacklevel=2)

    # -- stopping ---------------------------------------------------------------------------

    def _detach(self) -> None:
        if self._task is not None and not self._task.done():
            self._task.cancel()
        for undo in (self._unsubscribe, self._unhook):
            if undo is not None:
                undo()
        self._unsubscribe = self._unhook = None

    def _halt(self) -> None:
        """The pool shut down (engine thread): stop sampling; the pool's engine stops next."""
        self._stopped = True
        self._detach()
        self._worker.close(wait=False)
        if self._remote_reader is not None:
            self._remote_reader.close(wait=False)
        with self._new_sample:
            self._new_sample.notify_all()

    def stop(self) -> None:
        """Stop sampling (the history stays readable). Idempotent; also when the pool is gone."""
        if self._closed:
            return
        self._closed = self._stopped = True
        try:
            self._engine.call(self._detach)
        except EngineStopped:
            pass
        self._worker.close(wait=not self._engine.in_engine_thread())
        if self._remote_reader is not None:  # not joined: a cluster call may take REMOTE_TIMEOUT to give up
            self._remote_reader.close(wait=False)
        if self._own_engine:
            self._engine.stop()
        with self._new_sample:
            self._new_sample.notify_all()

    def __enter__(self) -> Monitor:
        return self

    def __exit__(self, *_: object) -> None:
        self.stop()

    def __repr__(self) -> str:
        state = "running" if self.running else "stopped"
        return (f"<Monitor {state} interval={self._interval:g}s window={self._window:g}s "
                f"reader={self._reader.name} samples={self._system.next_index} jobs={len(self._roots)}>")


def _check_seconds(what: str, value: float, minimum: float) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise TypeError(f"{what} must be a number of seconds, not {type(value).__name__}")
    if not math.isfinite(value) or value < minimum or value <= 0:
        raise ValueError(f"{what} must be a finite number of seconds >= {minimum:g} and > 0, got {value!r}")
    return float(value)
