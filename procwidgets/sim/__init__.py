"""The teaching simulator: scheduling policies on a virtual clock, with the textbook's numbers.

    from procwidgets import sim
    r = sim.simulate([300, 100, 200, 100], "sjf")
    r.averages            # {'response': 175.0, 'turnaround': 350.0, 'wait': 175.0}
    sim.gantt(r)          # a Plotly figure (the views need plotly/ipywidgets; the engine does not)

FIFO/SJF/RR follow OSTEP's scheduler.py, MLFQ its mlfq.py, `process_run` its process-run.py,
rule for rule (see SCHEDULING-SEMANTICS.md); ``"priority"`` and ``"aging"`` use the real pool's
scheduler. The views (`gantt`, `Comparison`, `Playground`, `compare`) are imported lazily, so
this package imports without ipywidgets or plotly.
"""

from __future__ import annotations

from typing import Any

from .jobs import SimJob
from .process_run import ProcessRunResult, Tick, process_run
from .replay import ReplayResult, replay
from .result import CpuSlice, JobStats, LevelSlice, SimResult, Slice
from .simulate import POLICIES, simulate
from .workloads import mlfq_random_jobs, random_jobs, random_programs

__all__ = [
    "Comparison",
    "CpuSlice",
    "JobStats",
    "LevelSlice",
    "POLICIES",
    "Playground",
    "ProcessRunResult",
    "ReplayResult",
    "SimJob",
    "SimResult",
    "Slice",
    "Tick",
    "compare",
    "gantt",
    "mlfq_random_jobs",
    "process_run",
    "random_jobs",
    "random_programs",
    "replay",
    "simulate",
]

_VIEWS = frozenset({"Comparison", "Playground", "compare", "gantt"})


def __getattr__(name: str) -> Any:
    # The views pull in plotly and ipywidgets (heavy, and absent in a plain engine install).
    if name in _VIEWS:
        from . import views

        return getattr(views, name)
    raise AttributeError(f"module 'procwidgets.sim' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted(set(globals()) | _VIEWS)
