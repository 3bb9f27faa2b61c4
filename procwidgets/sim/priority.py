"""Run-to-completion scheduling on one or more workers, deciding with the real pool's policies.

The ``"priority"`` and ``"aging"`` simulations (and `replay`) hand the decision to the very
`procwidgets.core.Scheduler` the `ProcessPool` uses, driven by a virtual clock, so what a class
sees here is what the pool would do. Like the pool, nothing is preempted: a started job runs to
its end, and a worker that frees up takes the scheduler's next choice at once.
"""

from __future__ import annotations

import heapq
from collections import deque
from collections.abc import Callable, Sequence

from ..core.scheduler import Policy, Scheduler
from .jobs import SimJob
from .result import CpuSlice, Slice, merge_slices

__all__ = ["VirtualClock", "run_to_completion"]


class VirtualClock:
    """A clock the simulation sets by hand; the core scheduler reads it for aging."""

    def __init__(self) -> None:
        self.now: float = 0.0

    def __call__(self) -> float:
        return self.now


def _ready_queue(jobs: Sequence[SimJob], policy: Policy | str,
                 clock: VirtualClock) -> tuple[Callable[[int], None], Callable[[], int | None]]:
    if isinstance(policy, Policy):
        scheduler = Scheduler(policy, clock=clock)
        return (lambda j: scheduler.push(j, jobs[j].priority)), scheduler.pop
    if policy == "sjf":  # an oracle that knows each job's length (replay knows it: it was measured)
        heap: list[tuple[float, int]] = []
        return (lambda j: heapq.heappush(heap, (jobs[j].length, j))), (lambda: heapq.heappop(heap)[1] if heap else None)
    raise ValueError(f"no run-to-completion order called {policy!r}")


def run_to_completion(jobs: Sequence[SimJob], policy: Policy | str,
                      workers: int = 1) -> tuple[list, list[float], list[float], int]:
    """Simulate; returns (timeline, first_run, end, dispatches).

    Jobs arriving at the same instant are queued in job-number order (the pool's submission
    order); a job finishing and another arriving at one instant both count before the next pick.
    One worker gives `Slice`s with idle gaps, several give `CpuSlice`s.
    """
    n = len(jobs)
    clock = VirtualClock()
    push, pop = _ready_queue(jobs, policy, clock)
    pending = deque(sorted(range(n), key=lambda i: (jobs[i].arrival, i)))
    free = list(range(workers))
    running: list[tuple[float, int, int]] = []  # (end, cpu, job)
    first: list[float | None] = [None] * n
    end: list[float | None] = [None] * n
    raw: list = []
    busy_until = 0.0
    now: float = 0
    while pending or running:
        while running and running[0][0] <= now:
            t, cpu, job = heapq.heappop(running)
            end[job] = t
            heapq.heappush(free, cpu)
        while pending and jobs[pending[0]].arrival <= now:
            job = pending.popleft()
            clock.now = jobs[job].arrival
            push(job)
        clock.now = now
        while free:
            job = pop()
            if job is None:
                break
            cpu = heapq.heappop(free)
            first[job] = now
            done = now + jobs[job].length
            heapq.heappush(running, (done, cpu, job))
            if workers == 1:
                if now > busy_until:
                    raw.append(Slice(busy_until, now, None))
                raw.append(Slice(now, done, job))
                busy_until = done
            else:
                raw.append(CpuSlice(now, done, job, cpu))
        upcoming = [t for t in (jobs[pending[0]].arrival if pending else None,
                                running[0][0] if running else None) if t is not None]
        if not upcoming:
            break
        now = min(upcoming)
    timeline = merge_slices(raw) if workers == 1 else [s for s in sorted(raw) if s.end > s.start]
    return timeline, first, end, n
