"""procwidgets: run, schedule and watch processes from a Jupyter notebook.

    import procwidgets as pw
    with pw.ProcessPool(max_workers=2) as pool:
        job = pool.submit("python train.py --lr 0.1", priority=5, timeout=600)
        pool.wait()
"""

from . import sim  # the simulator's engine imports no widget library
from .backends import Backend, LocalBackend, SpawnError
from .core import (
    AgingPolicy,
    Event,
    FifoPolicy,
    InvalidTransition,
    Job,
    JobEvent,
    JobSpec,
    JobState,
    Policy,
    PoolEvent,
    PriorityPolicy,
    ProcessPool,
    Scheduler,
    run,
)
from .core.monitor import Monitor
from .core.store import StoreError

__version__ = "0.1.0"

# The widgets pull in ipywidgets and plotly (about a second of imports); a script that only
# runs jobs does not pay for them. `pw.Dashboard` etc. import them on first use.
_WIDGETS = frozenset({"Dashboard", "LogView", "QueueTable", "ResourceChart", "SubmitForm", "Timeline"})


def __getattr__(name: str) -> object:
    if name in _WIDGETS:
        from . import widgets
        return getattr(widgets, name)
    if name == "DaskBackend":  # needs the optional `distributed` package, so not in __all__
        from .backends import dask
        return dask.DaskBackend
    raise AttributeError(f"module 'procwidgets' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted(set(globals()) | _WIDGETS)


__all__ = [
    "AgingPolicy",
    "Backend",
    "Dashboard",
    "Event",
    "FifoPolicy",
    "InvalidTransition",
    "Job",
    "JobEvent",
    "JobSpec",
    "JobState",
    "LocalBackend",
    "LogView",
    "Monitor",
    "Policy",
    "PoolEvent",
    "PriorityPolicy",
    "ProcessPool",
    "QueueTable",
    "ResourceChart",
    "Scheduler",
    "SpawnError",
    "StoreError",
    "SubmitForm",
    "Timeline",
    "run",
    "sim",
]
