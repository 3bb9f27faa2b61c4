"""The frozen records a `Monitor` produces; notebooks, widgets and tests rely on these shapes.

Rates (``*_percent``, ``*_bps``) are averages over the interval since the previous sample.
Memory is in bytes. Times are epoch seconds (`time.time()`), so they line up with `job.started_at`.
"""

from __future__ import annotations

from dataclasses import dataclass, field

__all__ = ["JobSample", "Sample", "SystemSample", "WorkerSample"]


@dataclass(frozen=True, slots=True)
class SystemSample:
    """The whole machine at one moment."""

    time: float
    cpu_percent: float
    """All cores together, 0-100."""
    per_cpu: tuple[float, ...]
    """Each core, 0-100."""
    memory_used: int
    memory_available: int
    memory_percent: float
    swap_used: int
    load_avg: tuple[float, float, float]
    """1, 5 and 15 minute load averages."""
    disk_read_bps: float
    disk_write_bps: float
    net_sent_bps: float
    net_recv_bps: float


@dataclass(frozen=True, slots=True)
class JobSample:
    """One job (or watched process), summed over its whole process tree.

    `cpu_percent` can exceed 100 when the tree uses several cores. `rss` is the plain sum and
    overcounts pages that forked children share; `pss` shares each page among the processes
    that map it, so the tree's sum counts a page once (None where the platform or permissions
    do not give it). `uss` is the tree's private memory (a lower bound). `read_bps` and
    `write_bps` are bytes the tree caused to be read from / written to storage.
    `cpu_seconds` is the tree's CPU time so far as sampled (see `Monitor`).
    """

    time: float
    job_id: int | str
    cpu_percent: float
    rss: int
    num_procs: int
    num_threads: int
    num_fds: int | None
    """Open files of the tree's processes whose fd table could be read; None if none could."""
    read_bps: float
    write_bps: float
    pss: int | None = None
    uss: int | None = None
    cpu_seconds: float = 0.0
    name: str = ""


@dataclass(frozen=True, slots=True)
class WorkerSample:
    """One remote worker (a Dask worker process) at one moment, read on the worker itself.

    `cpu_percent` and `rss` cover the worker process and every job tree it runs (100 = one
    core), which is what it costs its host; `host_*` describe the host it runs on (several
    workers on one host report the same host figures). `error` says why a worker gave no
    reading this time (its other fields are then 0).
    """

    time: float
    worker: str
    """The worker's address, as the backend names it (`job.worker`)."""
    cpu_percent: float
    rss: int
    jobs: int
    """How many of the pool's jobs it runs."""
    host_cpu_percent: float | None = None
    """All the host's cores together, 0-100 (None on a worker's first reading)."""
    host_memory_used: int = 0
    host_memory_total: int = 0
    cpu_count: int = 0
    error: str | None = None


@dataclass(frozen=True, slots=True)
class Sample:
    """One tick: the machine and every sampled job, keyed by job id (or watch name)."""

    time: float
    system: SystemSample
    jobs: dict[int | str, JobSample] = field(default_factory=dict)
    index: int = 0
    """The tick's index in the system history (see `Monitor.system_since`)."""
    workers: dict[str, WorkerSample] = field(default_factory=dict)
    """Remote workers by address, for a pool whose backend has them (Dask); {} otherwise."""
