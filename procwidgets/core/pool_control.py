"""The control side of `ProcessPool`: cancel, pause, resume and reprioritise jobs; limit, pause and restrict the pool.

A mixin so that pool.py keeps to submission, dispatch and shutdown. The public methods are safe
from any thread and hand the work to the engine thread, where the `_`-methods run. It uses the
pool's `_engine`, `_scheduler`, `_running`, `_bus`, `_lock`, `_own`, `_dispatch`, `_set_state`,
`_finish` and `_persist`. Also here: the watch that keeps RUNNING / PAUSED true for a job stopped
or continued from outside the pool.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterable
from typing import Any

from .attempt import Attempt
from .events import JobEvent, PoolEvent
from .guard import CommandGuard, make_guard
from .job import Job, JobState
from .scheduler import Scheduler
from .spec import check_count, check_priority

__all__ = ["STOP_WATCH_SECONDS", "PoolControl"]

QUEUED, RUNNING, PAUSED, CANCELLED = JobState.QUEUED, JobState.RUNNING, JobState.PAUSED, JobState.CANCELLED

STOP_WATCH_SECONDS = 2.0  # a stop from outside shows within this; more often costs a monitor measurably


class PoolControl:
    """Per-job and pool-level control methods of `ProcessPool`."""

    _jobs: dict[int, Job]
    _engine: Any
    _scheduler: Scheduler
    _running: dict[int, Attempt]
    _bus: Any
    _max_workers: int
    _dispatch_paused: bool
    _handed: dict[int, Any]  # jobs handed ahead into busy slots (see pool_ahead.py)
    _withdraw: Callable[[int, str], None]  # provided by PoolAhead (annotated only: a stub here would shadow it)
    _withdraw_all: Callable[[], None]
    _stop_watch: Any
    _lock: threading.Lock
    _guards: tuple[CommandGuard, ...]
    # Provided by PoolHistory; an annotation, not a stub method, so the order of the bases cannot shadow it.
    _persist: Callable[..., None]

    def _own(self, job: Job) -> Job:  # provided by ProcessPool
        raise NotImplementedError

    def _dispatch(self) -> None:  # provided by ProcessPool
        raise NotImplementedError

    def _set_state(self, job: Job, new: JobState, reason: str) -> None:  # provided by ProcessPool
        raise NotImplementedError

    def _finish(self, job: Job, state: JobState, reason: str) -> None:  # provided by ProcessPool
        raise NotImplementedError

    # -- controlling jobs (any thread) ------------------------------------------------------

    def cancel(self, job: Job) -> bool:
        """Cancel a job; True if it was queued or running (the end is recorded when it is gone)."""
        return self._engine.call(self._cancel, self._own(job))

    def pause_job(self, job: Job) -> None:
        self._engine.call(self._pause_job, self._own(job))

    def resume_job(self, job: Job) -> None:
        self._engine.call(self._resume_job, self._own(job))

    def set_priority(self, job: Job, priority: int) -> None:
        check_priority(priority)
        self._engine.call(self._set_priority, self._own(job), priority)

    def _cancel(self, job: Job) -> bool:
        if job.state is QUEUED and job.id in self._handed:  # taken back from its worker (killed, if it just started)
            self._withdraw(job.id, "cancel")
            return True
        if job.state is QUEUED:
            if job.id in self._scheduler:
                self._scheduler.remove(job.id)
            self._finish(job, CANCELLED, "cancelled while queued")
            return True
        if job.id in self._running:
            self._running[job.id].terminate("cancel")
            return True
        return False

    def _pause_job(self, job: Job) -> None:
        attempt = self._running.get(job.id)
        if job.state is not RUNNING or attempt is None:
            raise ValueError(f"only a RUNNING job can be paused; {job!r} is {job.state.name}"
                             + (" (to hold queued jobs, pause the pool: pool.pause())" if job.state is QUEUED else ""))
        if attempt.kill_reason:
            raise ValueError(f"{job!r} is being stopped ({attempt.kill_reason}); it cannot be paused")
        attempt.stop()
        self._set_state(job, PAUSED, "SIGSTOP sent to its process group")

    def _resume_job(self, job: Job) -> None:
        attempt = self._running.get(job.id)
        if job.state is not PAUSED or attempt is None:
            raise ValueError(f"only a PAUSED job can be resumed; {job!r} is {job.state.name}")
        attempt.cont()
        self._set_state(job, RUNNING, "SIGCONT sent to its process group")

    def _set_priority(self, job: Job, priority: int) -> None:
        if job.state.is_finished:
            raise ValueError(f"{job!r} is finished; its priority can no longer matter")
        lowered = priority < job._priority
        job._priority = priority
        if job.id in self._scheduler:
            self._scheduler.reprioritise(job.id, priority)
        elif lowered and job.id in self._handed:  # others may now come first: it goes back to the queue
            self._withdraw(job.id, "requeue")
        self._persist(job)
        self._bus.emit(JobEvent(time.time(), "priority", job, job.state, job.state, f"priority {priority}"))

    # -- controlling the pool ---------------------------------------------------------------

    @property
    def max_workers(self) -> int:
        return self._max_workers

    @max_workers.setter
    def max_workers(self, value: int) -> None:
        """Change the limit live: raising it starts queued jobs now; lowering it kills nothing."""
        check_count("max_workers", value, 1)
        self._engine.call(self._set_max_workers, value)

    def _set_max_workers(self, value: int) -> None:
        if value < self._max_workers:
            self._withdraw_all()  # fewer slots: what was handed ahead into them goes back to the queue
        self._max_workers = value
        self._bus.emit(PoolEvent(time.time(), "max_workers", str(value)))
        self._dispatch()

    @property
    def paused(self) -> bool:
        """True while dispatch is paused (running jobs go on; queued ones wait)."""
        return self._dispatch_paused

    def pause(self) -> None:
        """Stop starting queued jobs (running ones go on)."""
        self._engine.call(self._set_dispatch_paused, True)

    def resume(self) -> None:
        """Start queued jobs again."""
        self._engine.call(self._set_dispatch_paused, False)

    def _set_dispatch_paused(self, paused: bool) -> None:
        if self._dispatch_paused != paused:
            self._dispatch_paused = paused
            if paused:
                self._withdraw_all()  # nothing handed ahead starts while the pool is paused
            self._bus.emit(PoolEvent(time.time(), "paused" if paused else "resumed"))
        self._dispatch()

    @property
    def restricted(self) -> bool:
        """True once `allowed_commands` limits what this pool may run."""
        return bool(self._guards)

    def restrict(self, allowed_commands: CommandGuard | Iterable[str]) -> None:
        """Limit every later submission to `allowed_commands` as well (one way: restrictions only add up).

        `pw.Dashboard(pool, allowed_commands=[...])` calls this, so the check lives in the pool,
        not in the widget.
        """
        guard = make_guard(allowed_commands)
        with self._lock:
            self._guards = (*self._guards, guard)

    # -- jobs stopped or continued from outside (engine thread) -----------------------------

    def _watch_stops(self) -> None:
        """Report a job stopped or continued from outside the pool (kill -STOP / -CONT by pid) truthfully.

        The kernel wakes no one when a child stops, so running jobs' state is read every 2 s
        while any job runs (one /proc read per job); dispatch does not depend on it.
        """
        self._stop_watch = None
        now = time.monotonic()
        for job_id, attempt in list(self._running.items()):
            if attempt.kill_reason or now - attempt.signalled_at < STOP_WATCH_SECONDS:
                continue  # our own STOP/CONT may not have landed yet
            stopped = attempt.is_stopped()
            job = self._jobs[job_id]
            if stopped and job.state is RUNNING:  # its timeout keeps counting: nobody here paused it
                self._set_state(job, PAUSED, "stopped from outside the pool (SIGSTOP or SIGTSTP)")
            elif stopped is False and job.state is PAUSED:
                attempt.resume_clock()
                self._set_state(job, RUNNING, "continued from outside the pool (SIGCONT)")
        if self._running:
            self._stop_watch = self._engine.loop.call_later(STOP_WATCH_SECONDS, self._watch_stops)
