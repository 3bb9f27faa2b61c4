"""The engine room: jobs, scheduling, the process pool. Pure Python, asyncio and psutil.

Nothing here imports ipywidgets, plotly or IPython; the widgets observe this layer through events.
"""

from .engine import Engine, EngineStopped, run
from .events import Event, EventBus, JobEvent, PoolEvent
from .job import InvalidTransition, Job, JobSpec, JobState
from .monitor import Monitor, MonitorStats
from .pool import ProcessPool
from .samples import JobSample, Sample, SystemSample
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
    "JobSample",
    "JobSpec",
    "JobState",
    "Monitor",
    "MonitorStats",
    "Policy",
    "PoolEvent",
    "PriorityPolicy",
    "ProcessPool",
    "Sample",
    "Scheduler",
    "SystemSample",
    "make_policy",
    "run",
]
