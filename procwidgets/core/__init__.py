"""The engine room: jobs, scheduling, the process pool. Pure Python, asyncio and psutil.

Nothing here imports ipywidgets, plotly or IPython; the widgets observe this layer through events.
"""

from .engine import Engine, EngineStopped, run
from .events import Event, EventBus, JobEvent, PoolEvent
from .job import InvalidTransition, Job, JobSpec, JobState
from .pool import ProcessPool
from .scheduler import AgingPolicy, FifoPolicy, Policy, PriorityPolicy, Scheduler, make_policy

__all__ = [
    "AgingPolicy",
    "Engine",
    "EngineStopped",
    "Event",
    "EventBus",
    "FifoPolicy",
    "InvalidTransition",
    "Job",
    "JobEvent",
    "JobSpec",
    "JobState",
    "Policy",
    "PoolEvent",
    "PriorityPolicy",
    "ProcessPool",
    "Scheduler",
    "make_policy",
    "run",
]
