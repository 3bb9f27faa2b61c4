"""Replay real runs: what another policy, or another `max_workers`, would have done with the same jobs.

`replay` reads finished jobs of a real `ProcessPool` (measured durations, submission times,
priorities) and runs them again on the virtual clock with the core scheduler, beside what really
happened. The real side is measured, so it includes the pool's own overheads (spawning,
reaping); the simulated side has none, which is itself worth showing a class.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from ..core.scheduler import AgingPolicy, FifoPolicy, Policy, PriorityPolicy
from .jobs import SimJob, check_whole
from .priority import run_to_completion
from .result import CpuSlice, SimResult, stats_from_times

__all__ = ["ReplayResult", "replay"]

_REPLAY_POLICIES = ("fifo", "priority", "aging", "sjf")


@dataclass(frozen=True)
class ReplayResult:
    """The real run and the simulated one, over the same jobs (`jobs`, in submission order)."""

    real: SimResult
    simulated: SimResult
    jobs: list[Any]
    workers: int
    skipped: list[Any]
    """Jobs left out because they never started (cancelled while queued, or still queued)."""

    def results(self) -> dict[str, SimResult]:
        """Both sides by label, ready for `procwidgets.sim.views.compare`."""
        return {"real": self.real, f"replay: {self.simulated.label()}": self.simulated}

    def __repr__(self) -> str:
        r, s = self.real.averages, self.simulated.averages
        return (f"<ReplayResult {len(self.jobs)} jobs, workers={self.workers}: real turnaround "
                f"{r['turnaround']:.3f}s, {self.simulated.label()} {s['turnaround']:.3f}s>")


def _policy(policy: Any, rate: float | None) -> tuple[Policy | str, str, dict[str, Any]]:
    if isinstance(policy, Policy):
        if rate is not None:
            raise TypeError(f"rate goes with policy='aging', not with {policy!r}")
        return policy, policy.name, ({"rate": policy.rate} if isinstance(policy, AgingPolicy) else {})
    if not isinstance(policy, str):
        raise TypeError(f"policy must be one of {', '.join(_REPLAY_POLICIES)} or a Policy object, got {policy!r}")
    if policy not in _REPLAY_POLICIES:
        hint = (" (real jobs run to completion; preemptive policies do not apply to them)"
                if policy in ("rr", "stcf", "mlfq") else "")
        raise ValueError(f"replay cannot use policy {policy!r}{hint}; choose one of {', '.join(_REPLAY_POLICIES)}")
    if rate is not None and policy != "aging":
        raise TypeError(f"rate goes with policy='aging', not with {policy!r}")
    if policy == "aging":
        r = 1.0 if rate is None else rate
        return AgingPolicy(r), "aging", {"rate": r}
    if policy == "sjf":
        return "sjf", "sjf", {}
    return (FifoPolicy() if policy == "fifo" else PriorityPolicy()), policy, {}


def _lanes(starts: list[float], ends: list[float]) -> list[int]:
    """Give each real run a worker lane (the lowest one free when it started), for the chart."""
    lane_free: list[float] = []
    lanes = [0] * len(starts)
    for i in sorted(range(len(starts)), key=lambda i: (starts[i], i)):
        k = next((k for k, free_at in enumerate(lane_free) if free_at <= starts[i]), len(lane_free))
        if k == len(lane_free):
            lane_free.append(0.0)
        lane_free[k] = ends[i]
        lanes[i] = k
    return lanes


def replay(pool_or_jobs: Any, policy: str | Policy | None = None, *, max_workers: int | None = None,
           rate: float | None = None, arrivals: str = "submitted") -> ReplayResult:
    """Replay finished real jobs under `policy` on `max_workers` virtual workers.

    `pool_or_jobs` is a `ProcessPool` or an iterable of its jobs (anything with `submitted_at`,
    `started_at`, `finished_at`, `priority`, `name`). `policy` defaults to the pool's own (or
    ``"priority"``, the pool's default); ``"sjf"`` is an oracle that knows every duration.
    `max_workers` defaults to the pool's, or to the most jobs that really ran at once.
    `arrivals="together"` treats every job as arriving with the first one (a sweep submitted in
    one go, perhaps while the pool was paused): with the default ``"submitted"`` the first job,
    submitted microseconds before the others, finds a free worker and starts alone.
    """
    if arrivals not in ("submitted", "together"):
        raise ValueError(f"arrivals must be 'submitted' (the measured submission times) or 'together' "
                         f"(all at the first submission), got {arrivals!r}")
    pool_workers = getattr(pool_or_jobs, "max_workers", None)
    pool_policy = getattr(pool_or_jobs, "policy", None)
    if hasattr(pool_or_jobs, "jobs") and not isinstance(pool_or_jobs, (list, tuple)):
        all_jobs = list(pool_or_jobs.jobs)
    elif isinstance(pool_or_jobs, Iterable) and not isinstance(pool_or_jobs, (str, bytes)):
        all_jobs = list(pool_or_jobs)
    else:
        raise TypeError(f"replay takes a ProcessPool or a list of its jobs, got {pool_or_jobs!r}")
    if policy is None:
        policy = pool_policy if isinstance(pool_policy, Policy) else "priority"
    core_policy, name, params = _policy(policy, rate)
    for job in all_jobs:
        for attr in ("submitted_at", "started_at", "finished_at", "priority"):
            if not hasattr(job, attr):
                raise TypeError(f"{job!r} has no {attr}; replay takes the jobs of a ProcessPool")
    ran = [j for j in all_jobs if j.started_at is not None and j.finished_at is not None]
    ran_ids = {id(j) for j in ran}
    skipped = [j for j in all_jobs if id(j) not in ran_ids]
    if not ran:
        raise ValueError(f"nothing to replay: none of the {len(all_jobs)} jobs has finished a run yet; "
                         f"wait for them (pool.wait()) first")
    ran.sort(key=lambda j: (j.submitted_at, getattr(j, "id", 0)))
    t0 = min(j.submitted_at for j in ran)
    sim_jobs = tuple(SimJob(length=max(0.0, j.finished_at - j.started_at),
                            arrival=j.submitted_at - t0 if arrivals == "submitted" else 0.0,
                            priority=j.priority, name=getattr(j, "name", None)) for j in ran)
    starts = [j.started_at - t0 for j in ran]
    ends = [j.finished_at - t0 for j in ran]
    lanes = _lanes(starts, ends)
    if max_workers is None:
        max_workers = pool_workers if isinstance(pool_workers, int) else max(lanes) + 1
    workers = check_whole("max_workers", max_workers, minimum=1)
    per_job, averages = stats_from_times(sim_jobs, starts, ends)
    timeline = sorted(CpuSlice(starts[i], ends[i], i, lanes[i]) for i in range(len(ran)) if ends[i] > starts[i])
    real = SimResult(policy="real", params={}, jobs=sim_jobs, per_job=per_job, averages=averages,
                     timeline=timeline, dispatches=len(ran), extra={"workers": max(lanes) + 1})
    timeline_s, first, end, dispatches = run_to_completion(sim_jobs, core_policy, workers)
    if workers == 1:  # keep one shape (CpuSlice) on both sides, so the two charts line up
        timeline_s = [CpuSlice(s.start, s.end, s.job, 0) for s in timeline_s if s.job is not None]
    per_job_s, averages_s = stats_from_times(sim_jobs, first, end)
    simulated = SimResult(policy=name, params={**params, "workers": workers}, jobs=sim_jobs, per_job=per_job_s,
                          averages=averages_s, timeline=timeline_s, dispatches=dispatches,
                          extra={"workers": workers})
    return ReplayResult(real=real, simulated=simulated, jobs=ran, workers=workers, skipped=skipped)
