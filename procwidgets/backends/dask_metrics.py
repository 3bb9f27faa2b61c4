"""Cluster views for `DaskBackend`: every worker's load and the jobs it runs, read on the workers.

Separate from `dask.py` because none of it touches the engine thread: these are blocking
`client.run(sample_worker)` round trips, called from a monitor's reader thread (or a user's), that
only read the backend's table of running attempts to key the readings by this pool's job ids.
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from ..core.samples import JobSample, WorkerSample
from . import dask_worker
from .base import RemoteReading

if TYPE_CHECKING:
    import distributed

    from .dask_attempt import DaskAttempt

__all__ = ["read_remote", "worker_metrics", "worker_metrics_by_job"]


def worker_metrics(client: distributed.Client) -> dict[str, dict[str, Any]]:
    """Each worker's host CPU and memory, and the jobs it runs, read on the workers themselves.

    Returns `{address: {"time", "cpu_percent" (host, None on the first call), "cpu_count",
    "memory_used", "memory_total", "worker_rss", "jobs": {task key: {"pid", "cpu_percent", "rss",
    "processes"}}}}`; a worker that could not answer gets `{"error": "..."}`. Blocks for one round
    trip to every worker: call it from a thread such as a monitor's reader, not the engine loop.
    (Dask's own heartbeat metrics count the worker process only, not the jobs it spawned.)
    """
    results = client.run(dask_worker.sample_worker, on_error="return")
    return {address: (r if isinstance(r, dict) else {"error": f"{type(r).__name__}: {r}"})
            for address, r in results.items()}


def worker_metrics_by_job(client: distributed.Client,
                          attempts: Mapping[str, DaskAttempt]) -> dict[str, dict[str, Any]]:
    """`worker_metrics(client)`, with each worker's "jobs" keyed by the job ids of `attempts`
    (a backend's running attempts, by task key); other pools' jobs are left out. Blocks."""
    metrics = worker_metrics(client)
    for sample in metrics.values():
        jobs = sample.get("jobs")
        if jobs is not None:
            sample["jobs"] = {attempts[k].job.id: v for k, v in jobs.items() if k in attempts}
    return metrics


def read_remote(client: distributed.Client, attempts: Mapping[str, DaskAttempt], wall: float,
                timeout: float) -> RemoteReading:
    """Every worker's load and the jobs of `attempts` (by task key) on it, read on the workers
    (one `client.run`); `DaskBackend.sample_remote` says what the samples hold. Blocks."""
    started = time.monotonic()
    raw = client.run(dask_worker.sample_worker, on_error="return", callback_timeout=timeout)
    wall += time.monotonic() - started  # when the readings were taken, about
    workers: dict[str, WorkerSample] = {}
    jobs: dict[int, JobSample] = {}
    for address, reading in raw.items():
        if not isinstance(reading, dict):
            workers[address] = WorkerSample(wall, address, 0.0, 0, 0,
                                            error=f"{type(reading).__name__}: {reading}")
            continue
        cpu, rss, mine = float(reading.get("worker_cpu_percent") or 0.0), int(reading["worker_rss"]), 0
        for key, j in reading["jobs"].items():
            cpu, rss = cpu + j["cpu_percent"], rss + j["rss"]
            attempt = attempts.get(key)  # a plain dict read: safe from this thread
            if attempt is None:
                continue  # another pool's job on a shared worker, or one just ended
            mine += 1
            job = attempt.job
            jobs[job.id] = JobSample(
                time=wall, job_id=job.id, cpu_percent=float(j["cpu_percent"]), rss=int(j["rss"]),
                num_procs=int(j["processes"]), num_threads=int(j.get("threads", 0)), num_fds=None,
                read_bps=0.0, write_bps=0.0, cpu_seconds=float(j.get("cpu_seconds", 0.0)), name=job.name)
        workers[address] = WorkerSample(
            wall, address, cpu, rss, mine, host_cpu_percent=reading["cpu_percent"],
            host_memory_used=int(reading["memory_used"]), host_memory_total=int(reading["memory_total"]),
            cpu_count=int(reading.get("cpu_count") or 0))
    return RemoteReading(workers, jobs)
