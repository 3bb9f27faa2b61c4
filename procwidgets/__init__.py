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
from .core.store import StoreError

__version__ = "0.1.0"

__all__ = [
    "AgingPolicy",
    "Backend",
    "Event",
    "FifoPolicy",
    "InvalidTransition",
    "Job",
    "JobEvent",
    "JobSpec",
    "JobState",
    "LocalBackend",
    "Policy",
    "PoolEvent",
    "PriorityPolicy",
    "ProcessPool",
    "Scheduler",
    "SpawnError",
    "StoreError",
    "run",
    "sim",
]
