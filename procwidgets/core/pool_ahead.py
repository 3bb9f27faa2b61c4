"""Jobs handed ahead: the part of `ProcessPool` that pipelines hand-offs to a remote backend.

Why: a remote backend (Dask) needs a round trip through its scheduler to start a job, which is
most of the cost when jobs last milliseconds. Where the backend supports it
(`backend.supports_successors`), the pool hands a few queued jobs *ahead* into each busy slot
(`backend.lookahead(attempt)` says how many; none once jobs are not short). Each goes to the
worker of that slot and starts there only once the job before it in the slot has ended, so no
more than `max_workers` ever run. What stays exact, and how:

* A handed job stays QUEUED until its slot is its own (`_pass_slot_on`, when the job ahead of it
  ends); then it becomes RUNNING like any job, its timeout clock starting then.
* Priorities: anything that changes the order (a re-prioritised or cancelled handed job, a
  paused pool, a lowered limit, a job ahead that runs long) withdraws handed jobs: the worker
  answers atomically whether the job will never start (it goes back to its old place in the
  queue, `Scheduler.put_back`) or has started (it keeps its turn; a cancel then kills it).
* A handed job whose worker is lost before it started is queued again: it never ran.

Uses the pool's `_engine`, `_scheduler`, `_jobs`, `_running`, `_backend`,
`_max_workers`, `_dispatch_paused`, `_killing`, `_begin_attempt`, `_run`, `_finish`, `_dispatch`,
`_spawn_supervised`.
All on the engine thread.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from typing import Any

from .attempt import Attempt
from .job import Job, JobState

__all__ = ["PoolAhead"]


@dataclass(eq=False)
class _Handed:
    """A job handed ahead into a busy slot, not yet running there."""

    attempt: Any  # the backend's attempt (a DaskAttempt): pid and worker once it started on the worker,
    # and `queue_place`, its place in the queue to go back to if withdrawn (also after it took its slot)
    head: int  # the id of the running job whose slot it waits for
    why: str | None = None  # a withdrawal under way: "cancel" or "requeue"


class PoolAhead:
    """The hand-ahead side of `ProcessPool` (see the module docstring)."""

    _jobs: dict[int, Job]
    _running: dict[int, Attempt]
    _engine: Any
    _scheduler: Any
    _backend: Any
    _max_workers: int
    _dispatch_paused: bool
    _killing: bool

    def _init_ahead(self) -> None:
        self._handed: dict[int, _Handed] = {}
        self._chains: dict[int, list[int]] = {}  # running job id -> ids handed ahead into its slot, in order
        self._chain_timers: dict[int, asyncio.TimerHandle] = {}

    # provided by ProcessPool
    def _begin_attempt(self, job: Job, after: Attempt | None = None) -> Attempt | None:
        raise NotImplementedError

    def _run(self, job: Job, attempt: Attempt, how: str) -> None:
        raise NotImplementedError

    def _finish(self, job: Job, state: JobState, reason: str) -> None:
        raise NotImplementedError

    def _dispatch(self) -> None:
        raise NotImplementedError

    def _spawn_supervised(self, work: Any, name: str) -> None:
        raise NotImplementedError

    # -- handing ahead ------------------------------------------------------------------------

    def _hand_ahead(self) -> None:
        """Top up each busy slot with jobs handed ahead, as many as the backend asks for."""
        if self._dispatch_paused or self._killing or len(self._running) > self._max_workers:
            return
        queue_done = False
        for head_id, head in list(self._running.items()):
            members = self._chains.get(head_id, [])
            # Not behind a paused job: it would hold them for as long as it stays paused.
            want = 0 if queue_done or self._jobs[head_id].state is not JobState.RUNNING \
                else self._backend.lookahead(head)
            while len(members) < want:
                job_id = self._scheduler.peek()
                # A job that needs resources waits for a free slot (its slot's worker may lack them).
                if job_id is None or self._jobs[job_id].spec.resources:
                    queue_done = True
                    break
                job = self._jobs[job_id]
                place = self._scheduler.place(job_id)
                self._scheduler.pop()
                tail = self._handed[members[-1]].attempt if members else head
                attempt = self._begin_attempt(job, after=tail)
                if attempt is None:  # it could not be handed over: it ended FAILED
                    continue
                attempt.pause_clock()  # the timeout counts from when the slot is its own
                attempt.queue_place = place
                self._handed[job.id] = _Handed(attempt, head_id)
                members.append(job.id)
                self._chains[head_id] = members
                attempt.on_resolved(lambda job=job, attempt=attempt: self._handed_resolved(job, attempt))
            if members and head_id not in self._chain_timers:
                self._chain_timers[head_id] = self._engine.loop.call_later(
                    self._backend.withdraw_after, self._head_runs_long, head_id)

    def _head_runs_long(self, head_id: int) -> None:
        """The job ahead runs longer than jobs were: what waits behind it goes back to the queue."""
        self._chain_timers.pop(head_id, None)
        for job_id in list(self._chains.get(head_id, ())):
            self._withdraw(job_id, "requeue")

    def _pass_slot_on(self, ended: Job) -> None:
        """`ended` left its slot: the first job handed ahead into it takes it (RUNNING from now)."""
        timer = self._chain_timers.pop(ended.id, None)
        if timer is not None:
            timer.cancel()
        members = self._chains.pop(ended.id, None)
        if not members:
            return
        # The one that already started on the worker goes first (Dask may run a later one first).
        nxt = next((j for j in members if self._handed[j].attempt.pid is not None), members[0])
        members.remove(nxt)
        handed = self._handed.pop(nxt)
        if members:
            self._chains[nxt] = members
            for job_id in members:
                self._handed[job_id].head = nxt
        attempt = handed.attempt
        attempt.withdraw_reason = handed.why  # a withdrawal still under way decides in `_supervise`
        attempt.resume_clock()
        self._run(self._jobs[nxt], attempt, f"handed ahead to the {self._backend.name} backend")

    # -- withdrawing --------------------------------------------------------------------------

    def _withdraw_all(self) -> None:
        for job_id in list(self._handed):
            self._withdraw(job_id, "requeue")

    def _withdraw(self, job_id: int, why: str) -> None:
        """Ask for a handed job back: "cancel" ends it CANCELLED, "requeue" queues it again."""
        handed = self._handed.get(job_id)
        if handed is None:
            return
        if handed.why is not None:
            if why == "cancel":
                handed.why = why  # the answer to the withdrawal under way decides, for a cancel now
            return
        handed.why = why
        self._backend.withdraw(handed.attempt, lambda ok, h=handed: self._withdrawn(job_id, h, ok))

    def _withdrawn(self, job_id: int, handed: _Handed, never_starts: bool) -> None:
        attempt = handed.attempt
        if not never_starts:  # it started first: it keeps its turn, unless it was cancelled
            if handed.why == "cancel":
                attempt.terminate("cancel")
            handed.why = attempt.withdraw_reason = None
            return
        if self._handed.get(job_id) is handed:
            self._put_back(self._jobs[job_id], handed)
            self._dispatch()
        else:  # it took its slot meanwhile: `_supervise` queues it again when the attempt ends
            attempt.withdraw_reason = handed.why

    def _handed_resolved(self, job: Job, attempt: Any) -> None:
        """A handed job's attempt ended before its slot came: if it never started (its worker was
        lost, or it was withdrawn), it goes back to the queue; if it ran, its slot comes for it."""
        handed = self._handed.get(job.id)
        if handed is None or handed.attempt is not attempt or attempt.pid is not None:
            return
        self._put_back(job, handed)
        self._dispatch()

    def _put_back(self, job: Job, handed: _Handed, reason: str = "cancelled while queued") -> None:
        """A handed job that will never start leaves its chain: queued again, or CANCELLED (`reason`)."""
        del self._handed[job.id]
        members = self._chains.get(handed.head)
        if members is not None:
            members.remove(job.id)
            if not members:
                del self._chains[handed.head]
        self._release_unstarted(handed.attempt)
        job.attempts -= 1  # no process was started for it
        if handed.why == "cancel" or self._killing:
            self._finish(job, JobState.CANCELLED, reason)
        else:
            self._scheduler.put_back(job.id, job.priority, handed.attempt.queue_place)

    def _release_unstarted(self, attempt: Any) -> None:
        """Let the backend forget an attempt that never started (once Dask confirms its end)."""
        async def release() -> None:
            await self._backend.finish(attempt)
            if attempt.log is not None:
                attempt.log.close()
        self._spawn_supervised(release(), "procwidgets-withdrawn")

    def _cancel_handed_for_shutdown(self) -> None:
        """Shutdown(kill=True): every handed job is told to stop (it may have just started) and ends CANCELLED."""
        for job_id, handed in list(self._handed.items()):
            handed.why = "cancel"
            # Withdrawn on its worker first (the backend's calls go out in order), so that the kill
            # of the job ahead cannot let it start there in the moment before its task is dropped.
            self._backend.withdraw(handed.attempt, lambda never_starts: None)
            handed.attempt.terminate("shutdown")
            self._put_back(self._jobs[job_id], handed, "pool shut down")
