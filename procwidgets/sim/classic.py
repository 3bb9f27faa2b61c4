"""FIFO, SJF, STCF and RR on one CPU, following OSTEP's scheduler.py (see SCHEDULING-SEMANTICS.md).

With every job arriving at 0 these are scheduler.py exactly: ties go by job number, SJF is a
stable sort, RR runs a job whose remaining time is at most the quantum to completion at once.
Arrival times extend the model the way mlfq.py does it: a job whose RR slice ends at the instant
another arrives goes back in the queue ahead of the newcomer, and the CPU idles while nobody is
there. STCF re-decides at every arrival and preempts only for a strictly shorter remaining time.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable, Sequence

from .jobs import SimJob
from .result import Slice, merge_slices

__all__ = ["Run", "fifo", "rr", "sjf", "stcf"]

Run = tuple[list[Slice], list[float], list[float], int]
"""(timeline, first_run per job, end per job, dispatches)."""


def _arrival_order(jobs: Sequence[SimJob]) -> list[int]:
    return sorted(range(len(jobs)), key=lambda i: (jobs[i].arrival, i))


def _admit(jobs: Sequence[SimJob], pending: deque[int], ready: list[int] | deque[int], now: float,
           raw: list[Slice]) -> float | None:
    """Move the jobs that have arrived by `now` into `ready`. If none is ready, record the CPU idle
    until the next arrival and return that time (the caller goes round again from there)."""
    while pending and jobs[pending[0]].arrival <= now:
        ready.append(pending.popleft())
    if ready:
        return None
    nxt = jobs[pending[0]].arrival
    raw.append(Slice(now, nxt, None))
    return nxt


def _finish(raw: list[Slice], first: list[float | None], end: list[float | None], dispatches: int) -> Run:
    return merge_slices(raw), first, end, dispatches  # type: ignore[return-value]


def fifo(jobs: Sequence[SimJob]) -> Run:
    """Run to completion in arrival order (job-number order when all arrive at 0)."""
    return _nonpreemptive(jobs, key=lambda i: (jobs[i].arrival, i))


def sjf(jobs: Sequence[SimJob]) -> Run:
    """Shortest job first, non-preemptive; equal lengths keep job-number order (a stable sort)."""
    return _nonpreemptive(jobs, key=lambda i: (jobs[i].length, i))


def _nonpreemptive(jobs: Sequence[SimJob], key: Callable[[int], tuple]) -> Run:
    n = len(jobs)
    pending = deque(_arrival_order(jobs))
    ready: list[int] = []
    first: list[float | None] = [None] * n
    end: list[float | None] = [None] * n
    raw: list[Slice] = []
    now: float = 0
    while pending or ready:
        idle_until = _admit(jobs, pending, ready, now, raw)
        if idle_until is not None:
            now = idle_until
            continue
        job = min(ready, key=key)
        ready.remove(job)
        first[job] = now
        raw.append(Slice(now, now + jobs[job].length, job))
        now = end[job] = now + jobs[job].length
    return _finish(raw, first, end, n)


def stcf(jobs: Sequence[SimJob]) -> Run:
    """Shortest time-to-completion first: at every arrival, run the job with least time left.

    The running job keeps the CPU on a tie, so nobody is preempted for nothing; among waiting
    jobs ties go by job number, which makes STCF equal SJF when all jobs arrive at 0.
    """
    n = len(jobs)
    pending = deque(_arrival_order(jobs))
    left = [job.length for job in jobs]
    ready: list[int] = []
    first: list[float | None] = [None] * n
    end: list[float | None] = [None] * n
    raw: list[Slice] = []
    now: float = 0
    current: int | None = None
    dispatches = 0
    while pending or ready:
        idle_until = _admit(jobs, pending, ready, now, raw)
        if idle_until is not None:
            now, current = idle_until, None
            continue
        job = min(ready, key=lambda i: (left[i], i != current, i))
        if job != current:
            dispatches += 1
            current = job
        if first[job] is None:
            first[job] = now
        finish_at = now + left[job]
        if pending and jobs[pending[0]].arrival < finish_at:
            until = jobs[pending[0]].arrival
            left[job] = finish_at - until
        else:
            until, left[job] = finish_at, 0
        raw.append(Slice(now, until, job))
        now = until
        if left[job] == 0:
            ready.remove(job)
            end[job] = now
            current = None
    return _finish(raw, first, end, dispatches)


def rr(jobs: Sequence[SimJob], quantum: float) -> Run:
    """Round robin with time slice `quantum`; every slice handed out counts as a dispatch."""
    n = len(jobs)
    pending = deque(_arrival_order(jobs))
    left = [job.length for job in jobs]
    queue: deque[int] = deque()
    first: list[float | None] = [None] * n
    end: list[float | None] = [None] * n
    raw: list[Slice] = []
    now: float = 0
    dispatches = 0
    while pending or queue:
        idle_until = _admit(jobs, pending, queue, now, raw)
        if idle_until is not None:
            now = idle_until
            continue
        job = queue.popleft()
        dispatches += 1
        if first[job] is None:
            first[job] = now
        ran = quantum if left[job] > quantum else left[job]
        raw.append(Slice(now, now + ran, job))
        now += ran
        left[job] -= ran
        if left[job] > 0:
            # Jobs that arrived during the slice queue up ahead of it; one arriving exactly as
            # the slice ends comes after it (mlfq.py's order: re-queue first, then arrivals).
            while pending and jobs[pending[0]].arrival < now:
                queue.append(pending.popleft())
            queue.append(job)
        else:
            end[job] = now
    return _finish(raw, first, end, dispatches)
