"""`simulate(jobs, policy, **params)`: one entry point for every policy, with its parameters checked.

Each policy states the parameters it takes and their defaults in `POLICIES`, so a typo
(``quantom=5``) or a parameter the policy ignores (``simulate(jobs, "fifo", quantum=5)``) is an
error naming what the policy does take, rather than a silent default.
"""

from __future__ import annotations

from typing import Any

from ..core.scheduler import AgingPolicy, Policy, PriorityPolicy
from . import classic
from .jobs import SimJob, as_jobs, check_number, check_whole
from .mlfq import mlfq, mlfq_levels
from .priority import run_to_completion
from .result import SimResult, stats_from_times

__all__ = ["POLICIES", "simulate"]

POLICIES: dict[str, dict[str, Any]] = {
    "fifo": {},
    "sjf": {},
    "stcf": {},
    "rr": {"quantum": 1},
    "mlfq": {"queues": None, "quantum": 10, "allotment": 1, "boost": 0, "io_time": 5, "stay": False,
             "io_bump": False},
    "priority": {"workers": 1},
    "aging": {"rate": 1.0, "workers": 1},
}
"""Policy names and the parameters each takes, with their defaults (OSTEP's where OSTEP has one)."""


def _check_params(policy: str, params: dict[str, Any]) -> dict[str, Any]:
    allowed = POLICIES[policy]
    unknown = sorted(set(params) - set(allowed))
    if unknown:
        takes = ", ".join(f"{k}={v!r}" for k, v in allowed.items()) or "no parameters"
        raise TypeError(f"policy {policy!r} does not take {', '.join(unknown)}; it takes {takes}")
    return {**allowed, **params}


def _check_bool(name: str, value: Any) -> bool:
    if not isinstance(value, bool):
        raise TypeError(f"{name} must be True or False, got {value!r} ({type(value).__name__})")
    return value


def _no_io(policy: str, jobs: tuple[SimJob, ...]) -> None:
    for i, job in enumerate(jobs):
        if job.io_freq:
            raise ValueError(f"job {i} does I/O (io_freq={job.io_freq}), but {policy!r} models no I/O, like "
                             f"scheduler.py; use policy='mlfq' for jobs that do I/O, or set io_freq=0")


def simulate(jobs: Any, policy: str | Policy = "fifo", **params: Any) -> SimResult:
    """Run a workload under a policy on the virtual clock and return the textbook's numbers.

    `jobs`: run lengths (all arrive at 0, numbered in order), ``(start, run, io_freq)`` triples,
    dicts or `SimJob`s. `policy`: ``"fifo"``, ``"sjf"``, ``"stcf"``, ``"rr"`` (`quantum`),
    ``"mlfq"`` (`queues`, `quantum`, `allotment`, `boost`, `io_time`, `stay`, `io_bump`),
    ``"priority"`` / ``"aging"`` (`rate`) with `workers`, or a core `Policy` object. See
    SCHEDULING-SEMANTICS.md for the exact rules each follows.
    """
    if isinstance(policy, Policy):
        if isinstance(policy, AgingPolicy):
            params = {"rate": policy.rate, **params}
            name = "aging"
        elif isinstance(policy, PriorityPolicy):
            name = "priority"
        else:
            name = policy.name
            if name not in POLICIES:
                raise ValueError(f"cannot simulate {policy!r}; pass a policy name: {', '.join(POLICIES)}")
    elif isinstance(policy, str):
        name = policy
        if name not in POLICIES:
            lower = f" (names are lower case: {policy.lower()!r})" if policy.lower() in POLICIES else ""
            raise ValueError(f"unknown policy {policy!r}{lower}; choose one of {', '.join(POLICIES)}")
    else:
        raise TypeError(f"policy must be a name ({', '.join(POLICIES)}) or a Policy object, "
                        f"got {policy!r} ({type(policy).__name__})")
    p = _check_params(name, params)
    if name == "mlfq":
        return _simulate_mlfq(as_jobs(jobs, whole=True), p)
    sim_jobs = as_jobs(jobs)
    _no_io(name, sim_jobs)
    if name == "rr":
        check_number("quantum", p["quantum"], strict=True)
        run = classic.rr(sim_jobs, p["quantum"])
    elif name in ("priority", "aging"):
        workers = check_whole("workers", p["workers"], minimum=1)
        core_policy = PriorityPolicy() if name == "priority" else AgingPolicy(p["rate"])
        run = run_to_completion(sim_jobs, core_policy, workers)
    else:
        run = getattr(classic, name)(sim_jobs)
    timeline, first, end, dispatches = run
    per_job, averages = stats_from_times(sim_jobs, first, end)
    return SimResult(policy=name, params=p, jobs=sim_jobs, per_job=per_job,
                     averages=averages, timeline=timeline, dispatches=dispatches)


def _simulate_mlfq(jobs: tuple[SimJob, ...], p: dict[str, Any]) -> SimResult:
    queues, quantum, allotment = mlfq_levels(p["queues"], p["quantum"], p["allotment"])
    boost = check_whole("boost", p["boost"])
    io_time = check_whole("io_time", p["io_time"])
    stay = _check_bool("stay", p["stay"])
    io_bump = _check_bool("io_bump", p["io_bump"])
    timeline, first, end, dispatches, boosts = mlfq(jobs, queues=queues, quantum=quantum, allotment=allotment,
                                                     boost=boost, io_time=io_time, stay=stay, io_bump=io_bump)
    per_job, averages = stats_from_times(jobs, first, end, with_wait=False)
    params = {k: v for k, v in p.items() if v != POLICIES["mlfq"][k]}
    return SimResult(policy="mlfq", params=params, jobs=jobs, per_job=per_job, averages=averages,
                     timeline=timeline, dispatches=dispatches,
                     extra={"queues": queues, "quantum": quantum, "allotment": allotment, "boosts": boosts})
