"""The shape of a simulation's answer, shared by every policy, the views, the notebooks and the tests.

`SimResult.per_job` holds one `JobStats` per job in job-number order, `averages` the plain means,
`timeline` the slices of who ran when (merged, so a job running on is one slice), and
`dispatches` how many times the scheduler handed the CPU to a job: FIFO/SJF once per job, RR
every slice (scheduler.py re-dispatches a lone job slice after slice), STCF every switch, MLFQ
every time a job gets the CPU after another job, an idle tick, or leaving its queue (quantum
end, I/O, a boost out of a lower queue).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any, NamedTuple

from .jobs import SimJob

__all__ = ["CpuSlice", "JobStats", "LevelSlice", "SimResult", "Slice", "merge_slices", "stats_from_times"]


class Slice(NamedTuple):
    """[start, end) on the one CPU; `job` None means the CPU was idle."""

    start: float
    end: float
    job: int | None


class LevelSlice(NamedTuple):
    """An MLFQ slice: also the queue level it ran at (highest = queues - 1; None when idle)."""

    start: float
    end: float
    job: int | None
    level: int | None


class CpuSlice(NamedTuple):
    """A slice on one of several workers (`cpu` counts from 0)."""

    start: float
    end: float
    job: int
    cpu: int


@dataclass(frozen=True)
class JobStats:
    """The textbook's numbers for one job, measured from its arrival.

    `wait` (time ready but not running) is None for MLFQ, which has no such figure in mlfq.py.
    `first_run` and `end` are absolute times on the virtual clock.
    """

    job: int
    arrival: float
    length: float
    response: float
    turnaround: float
    wait: float | None
    first_run: float
    end: float


@dataclass(frozen=True)
class SimResult:
    """What one policy did with one workload."""

    policy: str
    params: dict[str, Any]
    jobs: tuple[SimJob, ...]
    per_job: list[JobStats]
    averages: dict[str, float]
    timeline: list[Any]
    dispatches: int
    extra: dict[str, Any] = field(default_factory=dict)
    """Policy-specific extras (MLFQ: number of queues, boosts)."""

    @property
    def end_time(self) -> float:
        """When the last job finished (the makespan)."""
        return max(s.end for s in self.per_job)

    def label(self) -> str:
        """A short name for charts and tables, e.g. ``rr q=10``."""
        shown = {k: v for k, v in self.params.items() if v not in (None, False)}
        if not shown:
            return self.policy
        return self.policy + " " + " ".join(f"{_short(k)}={_fmt(v)}" for k, v in shown.items())

    def report(self) -> str:
        """The "Final statistics" in the OSTEP tools' layout, so a class can compare line by line.

        Like scheduler.py, SJF lists jobs in execution order; MLFQ uses mlfq.py's lines.
        """
        a = self.averages
        if self.policy == "mlfq":
            lines = [f"  Job {s.job:2d}: startTime {s.arrival:3d} - response {s.response:3d} - turnaround "
                     f"{s.turnaround:3d}" for s in self.per_job]
            lines += ["", f"  Avg {len(self.per_job) - 1:2d}: startTime n/a - response {a['response']:.2f} - "
                          f"turnaround {a['turnaround']:.2f}"]
            return "\n".join(lines)
        order = sorted(self.per_job, key=lambda s: (s.first_run, s.job)) if self.policy == "sjf" else self.per_job
        lines = [f"  Job {s.job:3d} -- Response: {s.response:3.2f}  Turnaround {s.turnaround:3.2f}  Wait {s.wait:3.2f}"
                 for s in order]
        lines.append(f"  Average -- Response: {a['response']:3.2f}  Turnaround {a['turnaround']:3.2f}"
                     f"  Wait {a['wait']:3.2f}")
        return "\n".join(lines)

    def __repr__(self) -> str:
        avg = ", ".join(f"{k}={v:.2f}" for k, v in self.averages.items())
        return f"<SimResult {self.label()!r} jobs={len(self.jobs)} {avg} dispatches={self.dispatches}>"


_SHORT = {"quantum": "q", "allotment": "a", "boost": "B", "io_time": "i", "queues": "n"}


def _short(name: str) -> str:
    return _SHORT.get(name, name)


def _fmt(value: Any) -> str:
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    if isinstance(value, (list, tuple)):
        return ",".join(_fmt(v) for v in value)
    return str(value)


def merge_slices(slices: Iterable[tuple]) -> list:
    """Join touching slices that differ only in time (same job, same level or cpu)."""
    out: list = []
    for s in slices:
        if s[1] <= s[0]:
            continue
        if out:
            last = out[-1]
            if last[1] == s[0] and last[2:] == s[2:]:
                out[-1] = last._replace(end=s[1])
                continue
        out.append(s)
    return out


def stats_from_times(jobs: Sequence[SimJob], first_run: Sequence[float], end: Sequence[float],
                     *, with_wait: bool = True) -> tuple[list[JobStats], dict[str, float]]:
    """Per-job statistics and their means from each job's first-run and completion times."""
    per_job = []
    for i, job in enumerate(jobs):
        turnaround = end[i] - job.arrival
        per_job.append(JobStats(job=i, arrival=job.arrival, length=job.length,
                                response=first_run[i] - job.arrival, turnaround=turnaround,
                                wait=turnaround - job.length if with_wait else None,
                                first_run=first_run[i], end=end[i]))
    n = len(per_job)
    averages = {"response": sum(s.response for s in per_job) / n,
                "turnaround": sum(s.turnaround for s in per_job) / n}
    if with_wait:
        averages["wait"] = sum(s.wait for s in per_job) / n  # type: ignore[misc]
    return per_job, averages
