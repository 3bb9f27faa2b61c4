"""`ProcessPool`: the one owner of OS processes. Dispatch, limits, cancel, pause, timeout, retries.

Dispatch is event-driven: `_dispatch` runs when something could free or fill a slot (a submit, a
job's end, a raised limit, a resume), asks the scheduler which job is next, and starts it at
once. There is no polling loop and no tick. All pool state changes on the engine thread; the
public methods are safe to call from any thread (a notebook cell, a widget callback, a script).
"""

from __future__ import annotations

import asyncio
import atexit
import itertools
import os
import threading
import time
import warnings
import weakref
from collections.abc import Callable, Coroutine, Iterable
from typing import Any

from ..backends.base import Backend, SpawnError
from ..backends.local import LocalBackend
from .attempt import Attempt
from .engine import Engine
from .events import Event, EventBus, JobEvent, PoolEvent
from .guard import CommandGuard, make_guard
from .history import restore_job
from .job import Job, JobSpec, JobState
from .pool_ahead import PoolAhead
from .pool_control import STOP_WATCH_SECONDS, PoolControl
from .pool_history import PoolHistory
from .scheduler import Policy, Scheduler
from .spec import check_count, check_positive_seconds, make_spec
from .store import DEFAULT_STORE, JobStore, open_store

__all__ = ["ProcessPool"]

QUEUED, RUNNING, PAUSED = JobState.QUEUED, JobState.RUNNING, JobState.PAUSED
SUCCEEDED, FAILED, TIMED_OUT, CANCELLED = JobState.SUCCEEDED, JobState.FAILED, JobState.TIMED_OUT, JobState.CANCELLED

_live_pools: weakref.WeakSet[ProcessPool] = weakref.WeakSet()


class ProcessPool(PoolControl, PoolAhead, PoolHistory):
    """Runs submitted commands as subprocesses, at most `max_workers` at a time.

    `policy` is "priority" (default: higher first, FIFO among equals), "fifo", "aging", or a
    `Policy` object such as `AgingPolicy(rate=0.5)`. `kill_grace` is the seconds between TERM and
    KILL. `tail_lines` bounds each job's in-memory output. `allowed_commands=[...]` (program
    names or command-line patterns) restricts what any submission may run (see `CommandGuard`).

    `store` is a directory that keeps every job and its full output across kernel restarts
    (default ".procwidgets" in the current directory, or $PROCWIDGETS_STORE; "" or "none" there,
    or `store=None` here, keeps everything in memory). Earlier jobs found in it appear in
    `pool.jobs`; ones whose owner died while they were queued or running are INTERRUPTED.
    """

    def __init__(self, max_workers: int | None = None, *, policy: str | Policy = "priority",
                 store: str | os.PathLike[str] | None = DEFAULT_STORE, kill_grace: float = 5.0,
                 tail_lines: int = 1000, max_line: int = 4096, backend: Backend | None = None,
                 allowed_commands: CommandGuard | Iterable[str] | None = None) -> None:
        if backend is None:
            backend = LocalBackend()
        elif not isinstance(backend, Backend):
            raise TypeError(f"backend must be a Backend such as pw.LocalBackend() or pw.DaskBackend(client), "
                            f"got {backend!r} ({type(backend).__name__})")
        if max_workers is None:
            max_workers = backend.default_workers()
        self._max_workers = check_count("max_workers", max_workers, 1)
        self._kill_grace = check_positive_seconds("kill_grace", kill_grace, allow_none=False)
        self._tail_lines = check_count("tail_lines", tail_lines, 1)
        self._max_line = check_count("max_line", max_line, 80)
        self._guards: tuple[CommandGuard, ...] = () if allowed_commands is None else (make_guard(allowed_commands),)
        self._scheduler = Scheduler(policy)
        self._bus = EventBus()
        self._attempt_end_hooks: list[Callable[[Job], None]] = []
        self._lock = threading.Lock()
        self._all_finished = threading.Condition(self._lock)  # notified when _unfinished drops to 0
        self._unfinished = 0  # submitted jobs not yet in a finished state (changed under _lock)
        self._jobs: dict[int, Job] = {}
        self._ids = itertools.count(1)
        self._running: dict[int, Attempt] = {}
        self._init_ahead()
        self._supervisors: set[asyncio.Task[None]] = set()
        self._stop_watch: asyncio.TimerHandle | None = None
        self._dispatch_paused = False
        self._closed = False  # no more submissions
        self._killing = False  # shutdown(kill=True) under way: no retries
        self._store = open_store(store)
        if self._store is not None:
            rows, events = self._store.load()
            for row in rows:
                self._jobs[row["id"]] = restore_job(self, row, events.get(row["id"], []), self._tail_lines)
        self._engine = Engine(name="procwidgets-pool")
        self._backend = backend
        if backend.supports_successors:
            backend.on_progress = self._hand_ahead
        try:
            backend.bind(self._engine.loop, kill_grace=self._kill_grace, max_line=self._max_line)
        except BaseException:
            self._engine.stop()  # no thread left behind by a pool that never came to be
            if self._store is not None:
                self._store.close()
            raise
        self._finalizer = weakref.finalize(self, _release, self._engine, backend, self._store)
        _live_pools.add(self)

    # -- reading ----------------------------------------------------------------------------

    @property
    def jobs(self) -> list[Job]:
        """Every job submitted to this pool, in submission order (a snapshot)."""
        with self._lock:
            return list(self._jobs.values())

    def get(self, job_id: int) -> Job:
        try:
            return self._jobs[job_id]
        except KeyError:
            raise KeyError(f"{self!r} has no job {job_id!r}") from None

    @property
    def policy(self) -> Policy:
        return self._scheduler.policy

    @property
    def closed(self) -> bool:
        return self._closed

    @property
    def engine(self) -> Engine:
        """The event loop thread this pool runs on (a Monitor samples on it too)."""
        return self._engine

    @property
    def backend(self) -> Backend:
        """Where this pool's jobs run (`backend.name` is "local" for this machine)."""
        return self._backend

    @property
    def kill_grace(self) -> float:
        return self._kill_grace

    def counts(self) -> dict[JobState, int]:
        """How many jobs are in each state."""
        counts = dict.fromkeys(JobState, 0)
        for job in self.jobs:
            counts[job.state] += 1
        return counts

    def running_jobs(self) -> list[Job]:
        """Jobs that hold a slot now (RUNNING or PAUSED)."""
        return [self._jobs[i] for i in list(self._running)]

    def __repr__(self) -> str:
        c = self.counts()
        finished = sum(n for s, n in c.items() if s.is_finished)
        state = " shut down" if self._closed else (" paused" if self._dispatch_paused else "")
        return (f"<ProcessPool max_workers={self._max_workers}{state} running={c[RUNNING] + c[PAUSED]} "
                f"queued={c[QUEUED]} finished={finished}>")

    def dashboard(self, **kwargs: Any) -> Any:
        """`pw.Dashboard(self, **kwargs)`: form, queue table, charts, logs and timeline in one cell.

        The widget layer is imported only here, on demand: core itself never imports it.
        """
        from ..widgets import Dashboard
        return Dashboard(self, **kwargs)

    def subscribe(self, callback: Callable[[Event], object]) -> Callable[[], None]:
        """Call `callback(event)` on the engine thread for every change; returns `unsubscribe`."""
        return self._bus.subscribe(callback)

    def on_attempt_end(self, hook: Callable[[Job], None]) -> Callable[[], None]:
        """Call `hook(job)` on the engine thread when a job's process tree is gone, before its state
        event, so a monitor or a store can complete `job.peak_rss` / `job.cpu_seconds` in time."""
        self._attempt_end_hooks.append(hook)
        return lambda: self._attempt_end_hooks.remove(hook) if hook in self._attempt_end_hooks else None

    # -- submitting -------------------------------------------------------------------------

    def submit(self, command: str | list[str], *, name: str | None = None, priority: int = 0,
               timeout: float | None = None, cwd: str | None = None, env: dict[str, str] | None = None,
               retries: int = 0, after: Iterable[Job] | Job = (), shell: bool = False,
               resources: dict[str, float] | None = None) -> Job:
        """Queue a command; returns its `Job` at once (state QUEUED).

        A str command is split with shlex and run without a shell unless `shell=True`.
        `env` entries are laid over this process's environment. `after=[jobs]` holds the job
        until all of them SUCCEEDED; if one ends otherwise, this job ends CANCELLED.
        `retries=N` runs a FAILED or TIMED_OUT job again, up to N more times.
        `resources={"GPU": 1}` asks a backend that has resources (Dask workers) for them.
        """
        after_jobs = self._check_after(after)
        spec = make_spec(command, name=name, priority=priority, timeout=timeout, cwd=cwd, env=env,
                         retries=retries, after_ids=[j.id for j in after_jobs], shell=shell,
                         resources=resources)
        if spec.resources and not self._backend.supports_resources:
            raise ValueError(f"resources={dict(spec.resources)} needs a backend with resources, such as "
                             f"pw.DaskBackend(client); the {self._backend.name} backend has none")
        return self._add(spec)

    def _add(self, spec: JobSpec, retry_of: int | None = None) -> Job:
        for guard in self._guards:
            guard.check(spec)
        with self._lock:
            if not self._closed:
                job_id = self._store.next_id() if self._store is not None else next(self._ids)
                job = Job(self, job_id, spec, self._tail_lines)
                job.retry_of = retry_of
                if self._store is not None:
                    job.log_path = self._store.log_path(job_id)
                self._jobs[job.id] = job
                self._unfinished += 1
                self._engine.call_soon(self._enqueue, job)
                return job
        raise RuntimeError(f"{self!r} is shut down and takes no more jobs; create a new ProcessPool")

    def _check_after(self, after: Iterable[Job] | Job) -> list[Job]:
        if isinstance(after, Job):
            after = [after]
        if isinstance(after, (str, bytes)) or not isinstance(after, Iterable):
            raise TypeError(f"after must be a Job or a list of Jobs, got {after!r} ({type(after).__name__})")
        jobs = list(after)
        for dep in jobs:
            if not isinstance(dep, Job):
                raise TypeError(f"after= takes Job objects (what submit() returned), "
                                f"got {dep!r} ({type(dep).__name__})")
            if dep.pool is not self:
                raise ValueError(f"after= names {dep!r}, a job of another pool; "
                                 f"dependencies must be jobs of the same pool")
        return jobs

    def _own(self, job: Job) -> Job:
        if not isinstance(job, Job):
            raise TypeError(f"expected a Job, got {job!r} ({type(job).__name__})")
        if job.pool is not self:
            raise ValueError(f"{job!r} belongs to another pool")
        return job

    def _enqueue(self, job: Job) -> None:
        self._persist(job, job.submitted_at, "submitted")
        self._bus.emit(JobEvent(job.submitted_at, "state", job, None, QUEUED, "submitted"))
        if job.state is not QUEUED:  # cancelled by a subscriber before it reached the queue
            return
        pending = []
        for dep_id in job.spec.after:
            dep = self._jobs[dep_id]
            if dep.state is SUCCEEDED:
                continue
            if dep.state.is_finished:
                self._finish(job, CANCELLED, _dependency_error(dep))
                return
            pending.append(dep_id)
        self._scheduler.push(job.id, job.priority, pending)
        self._dispatch()

    # -- the engine's work ------------------------------------------------------------------

    def _dispatch(self) -> None:
        while not self._dispatch_paused and len(self._running) < self._max_workers:
            job_id = self._scheduler.pop()
            if job_id is None:
                return
            job = self._jobs[job_id]
            attempt = self._begin_attempt(job)
            if attempt is not None:
                self._run(job, attempt, f"pid {attempt.pid}" if attempt.pid is not None
                          else f"handed to the {self._backend.name} backend")
        if self._backend.supports_successors:
            self._hand_ahead()

    def _begin_attempt(self, job: Job, after: Attempt | None = None) -> Attempt | None:
        """Start (or, with `after`, hand ahead) one attempt of `job`; None if it could not, and then
        the job has ended FAILED with the reason."""
        job.attempts += 1
        log = self._open_log(job)
        try:
            attempt = self._backend.start(job, on_line=self._on_line_for(job),
                                          on_data=log.write if log is not None else None,
                                          on_timeout=lambda: attempt.terminate("timeout"), after=after)
        except Exception as exc:  # noqa: BLE001 - a job that cannot start must end FAILED, never hang QUEUED
            reason = str(exc) if isinstance(exc, SpawnError) else f"could not start: {exc!r}"
            if log is not None:
                log.note(reason)
                log.close()
            self._finish(job, FAILED, reason)
            return None
        attempt.log = log
        return attempt

    def _run(self, job: Job, attempt: Attempt, how: str) -> None:
        """The attempt takes a slot: the job is RUNNING, supervised until the attempt ends."""
        self._running[job.id] = attempt
        job.pid, job.worker = attempt.pid, getattr(attempt, "worker", None)
        # A job handed ahead may have started on its worker before its slot came: that is its start.
        job.started_at, job.finished_at = getattr(attempt, "started_wall", None) or time.time(), None
        job.returncode = job.error = None
        self._set_state(job, RUNNING, f"attempt {job.attempts}, {how}")
        self._spawn_supervised(self._supervise(job, attempt), f"job-{job.id}")
        if self._stop_watch is None:
            self._stop_watch = self._engine.loop.call_later(STOP_WATCH_SECONDS, self._watch_stops)

    def _spawn_supervised(self, work: Coroutine[Any, Any, None], name: str) -> None:
        """Run `work` on the engine; shutdown waits for it."""
        task = self._engine.spawn(work, name=name)
        self._supervisors.add(task)
        task.add_done_callback(self._supervisors.discard)

    @staticmethod
    def _on_line_for(job: Job) -> Callable[[str, str], None]:
        append = job._tail.append

        def on_line(stream: str, text: str) -> None:
            append((stream, text))
            job.output_seq += 1
        return on_line

    async def _supervise(self, job: Job, attempt: Attempt) -> None:
        returncode, usage = await self._backend.finish(attempt)
        log_error = None
        if attempt.log is not None:
            attempt.log.close()
            log_error = attempt.log.error
        del self._running[job.id]
        if getattr(attempt, "withdrawn", False):  # handed ahead, and it never started: it did not run
            self._requeue_unstarted(job, attempt)
            return
        job.returncode = returncode
        if usage is not None:
            # Exact CPU time of the leader and every descendant it reaped, over all attempts. Its
            # ru_maxrss is not used: Linux carries the high-water mark across exec, so a tiny job
            # forked from a big notebook kernel would report the kernel's size. peak_rss comes
            # from a Monitor's samples of the whole tree.
            job.cpu_seconds = (job.cpu_seconds or 0.0) + usage.ru_utime + usage.ru_stime
        for hook in self._attempt_end_hooks:
            try:
                hook(job)
            except Exception as exc:  # noqa: BLE001 - a monitor's bug must not lose the job's end
                warnings.warn(f"procwidgets attempt-end hook {hook!r} raised {exc!r}", RuntimeWarning, stacklevel=1)
        state, reason = attempt.outcome(returncode, job.spec.timeout)
        if log_error:
            reason = f"{reason}; {log_error}"
        if state in (FAILED, TIMED_OUT) and job.attempts <= job.spec.retries and not self._killing:
            job.error = reason
            self._set_state(job, QUEUED, f"retry {job.attempts}/{job.spec.retries} after {reason}")
            self._scheduler.push(job.id, job.priority)
        else:
            job.error = (log_error if state is SUCCEEDED else reason) or None
            self._finish(job, state, reason)
        self._pass_slot_on(job)
        self._dispatch()

    def _requeue_unstarted(self, job: Job, attempt: Attempt) -> None:
        job.attempts -= 1
        if getattr(attempt, "withdraw_reason", None) == "cancel" or self._killing:
            self._finish(job, CANCELLED, "cancelled before it started")
        else:
            self._set_state(job, QUEUED, "withdrawn before it started; queued again")
            self._scheduler.put_back(job.id, job.priority, attempt.queue_place)  # type: ignore[attr-defined]
        self._pass_slot_on(job)
        self._dispatch()

    def _set_state(self, job: Job, new: JobState, reason: str) -> None:
        old = job._transition(new, reason)
        self._persist(job, job.history[-1][0], reason)
        self._bus.emit(JobEvent(job.history[-1][0], "state", job, old, new, reason))

    def _finish(self, job: Job, state: JobState, reason: str) -> None:
        """End a job and cascade to dependents: a failure cancels every job waiting on it."""
        work = [(job, state, reason)]
        while work:
            job, state, reason = work.pop()
            if state is not SUCCEEDED:
                job.error = reason
            self._set_state(job, state, reason)
            with self._lock:
                self._unfinished -= 1
                if not self._unfinished:
                    self._all_finished.notify_all()
            ready, doomed = self._scheduler.finished(job.id, state is SUCCEEDED)
            work.extend((self._jobs[d], CANCELLED, _dependency_error(job)) for d in doomed)

    # -- waiting and shutting down ----------------------------------------------------------

    def wait(self, timeout: float | None = None) -> None:
        """Block until every job submitted so far is finished; TimeoutError after `timeout` s."""
        self._engine.refuse_blocking_call("pool.wait()")
        # One wake-up when the last job ends, not one per job: a waiter woken per job competes
        # with the engine thread for the GIL and slows dispatch.
        with self._all_finished:
            if self._all_finished.wait_for(lambda: not self._unfinished, timeout):
                return
        still = [j for j in self.jobs if not j.state.is_finished]
        paused = " (the pool is paused: pool.resume() starts queued jobs)" if self._dispatch_paused else ""
        raise TimeoutError(f"{len(still)} jobs still unfinished after {timeout} s, first {still[0]!r}{paused}")

    def shutdown(self, kill: bool = True) -> None:
        """Stop the pool. kill=True: cancel queued jobs, TERM (grace, KILL) running ones.
        kill=False: let every submitted job finish first. Either way, no process is left. Idempotent.
        """
        with self._lock:
            already = self._closed and not self._engine.running
            self._closed = True
        if already:
            return
        self._engine.refuse_blocking_call("pool.shutdown()")
        if self._engine.running:
            self._engine.submit(self._shutdown(kill)).result()
        _live_pools.discard(self)
        self._finalizer()

    async def _shutdown(self, kill: bool) -> None:
        if kill:
            self._killing = True
            self._dispatch_paused = True
            self._cancel_handed_for_shutdown()
            for job in list(self._jobs.values()):
                if job.state is QUEUED:
                    if job.id in self._scheduler:
                        self._scheduler.remove(job.id)
                    self._finish(job, CANCELLED, "pool shut down")
            for attempt in list(self._running.values()):
                attempt.terminate("shutdown")
        else:
            self._set_dispatch_paused(False)
            await asyncio.gather(*(asyncio.wrap_future(j._done) for j in list(self._jobs.values())))
        await asyncio.gather(*self._supervisors, return_exceptions=True)
        self._bus.emit(PoolEvent(time.time(), "shutdown"))

    def __enter__(self) -> ProcessPool:
        return self

    def __exit__(self, exc_type: object, *_: object) -> None:
        # Like concurrent.futures: a clean exit lets the work finish; an exception kills it.
        self.shutdown(kill=exc_type is not None)


def _dependency_error(dep: Job) -> str:
    return f"dependency job {dep.id} ({dep.name!r}) ended {dep.state.name}, not SUCCEEDED"


def _release(engine: Engine, backend: Backend, store: JobStore | None) -> None:
    # Runs at shutdown, or when a pool is dropped with nothing running: no thread is left behind.
    if not engine.in_engine_thread():
        engine.stop()
    backend.close()
    if store is not None:
        store.close()


@atexit.register
def _shutdown_all() -> None:
    for pool in list(_live_pools):
        try:
            pool.shutdown(kill=True)
        except Exception:  # noqa: BLE001 - at exit, one broken pool must not keep others' jobs alive
            pass
