"""What the simulator runs: `SimJob` records, and the one place that turns user input into them.

Users write workloads the way the textbook does (``[200, 100, 300]``, or ``(start, run, io_freq)``
triples like mlfq.py's ``-l``), or as records with names and priorities. Everything is checked
here once, so every policy sees clean, numbered jobs and every mistake gets the same clear message.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

__all__ = ["SimJob", "as_jobs", "check_number", "check_whole"]


@dataclass(frozen=True)
class SimJob:
    """One job on the virtual clock: when it arrives, how much CPU it needs, and how it behaves.

    `io_freq` > 0 means "issue an I/O after every `io_freq` ticks of CPU" (MLFQ only, as in
    mlfq.py). `priority` is used by the ``"priority"`` and ``"aging"`` policies (higher first).
    """

    length: float
    arrival: float = 0
    priority: int = 0
    io_freq: int = 0
    name: str | None = None


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def check_number(name: str, value: Any, *, minimum: float = 0, strict: bool = False) -> float:
    """A finite real number >= minimum (> minimum when `strict`); TypeError/ValueError otherwise."""
    if not _is_number(value):
        raise TypeError(f"{name} must be a number, got {value!r} ({type(value).__name__})")
    if math.isnan(value) or math.isinf(value):
        raise ValueError(f"{name} must be a finite number, got {value!r}")
    if value < minimum or (strict and value == minimum):
        sign = ">" if strict else ">="
        raise ValueError(f"{name} must be {sign} {minimum}, got {value!r}")
    return value


def check_whole(name: str, value: Any, *, minimum: int = 0) -> int:
    """An int >= minimum (MLFQ and process-run count whole ticks)."""
    if isinstance(value, bool) or not isinstance(value, int):
        if isinstance(value, float) and value.is_integer():
            raise TypeError(f"{name} must be an int (whole ticks), got {value!r}; write {int(value)}")
        raise TypeError(f"{name} must be an int (whole ticks), got {value!r} ({type(value).__name__})")
    if value < minimum:
        raise ValueError(f"{name} must be >= {minimum}, got {value}")
    return value


_FIELDS = {"length": "length", "run": "length", "arrival": "arrival", "start": "arrival",
           "priority": "priority", "io_freq": "io_freq", "name": "name"}


def _from_mapping(i: int, item: Mapping[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in item.items():
        field = _FIELDS.get(key)
        if field is None:
            raise ValueError(f"job {i}: unknown field {key!r}; use {', '.join(sorted(_FIELDS))}")
        if field in out:
            raise ValueError(f"job {i}: {key!r} repeats another name of {field!r}; give it once")
        out[field] = value
    if "length" not in out:
        raise ValueError(f"job {i}: {dict(item)!r} has no 'length' (or 'run'): how much CPU does it need?")
    return out


def _one(i: int, item: Any) -> dict[str, Any]:
    if isinstance(item, SimJob):
        return {"length": item.length, "arrival": item.arrival, "priority": item.priority,
                "io_freq": item.io_freq, "name": item.name}
    if _is_number(item):
        return {"length": item}
    if isinstance(item, Mapping):
        return _from_mapping(i, item)
    if isinstance(item, (tuple, list)):
        if len(item) == 2:
            return {"arrival": item[0], "length": item[1]}
        if len(item) == 3:
            return {"arrival": item[0], "length": item[1], "io_freq": item[2]}
        raise ValueError(f"job {i}: {item!r} should be (start, run) or (start, run, io_freq), "
                         f"like mlfq.py's -l 0,100,5")
    raise TypeError(f"job {i}: {item!r} ({type(item).__name__}) is not a job; give a run length, a "
                    f"(start, run, io_freq) triple, a dict or a SimJob")


def as_jobs(jobs: Any, *, whole: bool = False) -> tuple[SimJob, ...]:
    """Check a workload and return it as SimJobs, numbered by position.

    `whole=True` (MLFQ) insists on int ticks and a length of at least 1, as mlfq.py does.
    """
    if isinstance(jobs, (str, bytes, Mapping)) or not isinstance(jobs, Iterable):
        hint = "; split the text first, e.g. [int(x) for x in '200,100'.split(',')]" if isinstance(jobs, str) else ""
        raise TypeError(f"jobs must be a list of jobs, got {jobs!r} ({type(jobs).__name__}){hint}")
    out = []
    for i, item in enumerate(jobs):
        fields = _one(i, item)
        if whole:
            length = check_whole(f"job {i} run length", fields["length"], minimum=1)
            arrival = check_whole(f"job {i} start time", fields.get("arrival", 0))
        else:
            length = check_number(f"job {i} length", fields["length"], strict=True)
            arrival = check_number(f"job {i} arrival", fields.get("arrival", 0))
        priority = fields.get("priority", 0)
        if not _is_number(priority):
            raise TypeError(f"job {i} priority must be a number, got {priority!r} ({type(priority).__name__})")
        io_freq = check_whole(f"job {i} io_freq", fields.get("io_freq", 0))
        name = fields.get("name")
        if name is not None and not isinstance(name, str):
            raise TypeError(f"job {i} name must be a str or None, got {name!r}")
        out.append(SimJob(length=length, arrival=arrival, priority=priority, io_freq=io_freq, name=name))
    if not out:
        raise ValueError("jobs is empty: give at least one job, e.g. [200, 100, 300]")
    return tuple(out)
