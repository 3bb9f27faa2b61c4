"""The history side of `ProcessPool`: retries, records, exports, and what goes to the store.

A mixin so that pool.py keeps to dispatch and control; it uses the pool's `_jobs`, `_store`,
`_add` and `_own`.
"""

from __future__ import annotations

import dataclasses
import os
from typing import Any

from .guard import mask_argv
from .history import export_records, job_record, job_row
from .job import Job, JobState
from .logfile import LogWriter

__all__ = ["PoolHistory"]


class PoolHistory:
    """Retry, history and export methods of `ProcessPool`."""

    _jobs: dict[int, Job]
    _store: Any
    _engine: Any

    @property
    def jobs(self) -> list[Job]:  # provided by ProcessPool
        raise NotImplementedError

    def _add(self, spec: Any, retry_of: int | None = None) -> Job:  # provided by ProcessPool
        raise NotImplementedError

    def _own(self, job: Job) -> Job:  # provided by ProcessPool
        raise NotImplementedError

    def retry(self, job: Job) -> Job:
        """Submit a finished job's command again, as a new job (its `retry_of` names the old one)."""
        self._own(job)
        if not job.state.is_finished:
            raise ValueError(f"{job!r} is {job.state.name}; only a finished job can be retried (cancel it first)")
        spec = job.spec
        if spec.after:
            spec = dataclasses.replace(spec, after=tuple(i for i in spec.after if i in self._jobs))
        return self._add(dataclasses.replace(spec, priority=job.priority), retry_of=job.id)

    def retry_interrupted(self) -> list[Job]:
        """Queue again every INTERRUPTED job not retried yet; returns the new jobs."""
        retried = {j.retry_of for j in self.jobs}
        return [self.retry(j) for j in self.jobs if j.state is JobState.INTERRUPTED and j.id not in retried]

    def history(self) -> list[dict[str, Any]]:
        """Every job of this pool (restored ones too) as a plain dict, in id order."""
        return [job_record(j) for j in sorted(self.jobs, key=lambda j: j.id)]

    def to_dataframe(self) -> Any:
        """`history()` as a pandas DataFrame (needs pandas installed)."""
        try:
            import pandas as pd
        except ImportError:
            raise ImportError("to_dataframe() needs pandas: pip install pandas "
                              "(or use pool.history(), plain dicts)") from None
        return pd.DataFrame.from_records(self.history())

    def flush(self, timeout: float = 10.0) -> None:
        """Wait until every record of what happened so far is on disk in the store (no-op without one).

        `submit()` returns before its record is written (writes are batched, ~50 ms, off the
        caller's thread); call this before something that might kill the process.
        """
        if self._store is None:
            return
        self._engine.call(lambda: None)  # records the engine has still to queue (submissions) go first
        self._store.flush(timeout)

    def export(self, path: str | os.PathLike[str]) -> str:
        """Write `history()` to a .csv or .json file; returns the path."""
        return export_records(self.history(), path)

    def _persist(self, job: Job, event_time: float | None = None, reason: str = "") -> None:
        """Queue the job's row (and a state event) for the store's writer; never blocks dispatch."""
        if self._store is not None:
            self._store.put_job(job_row(job, self._store.owner))
            if event_time is not None:
                self._store.put_event(job.id, event_time, job.state.value, reason)

    def _open_log(self, job: Job) -> LogWriter | None:
        if job.log_path is None:
            return None
        log = LogWriter(job.log_path)  # opens its file at the first byte; errors end up in log.error
        log.note(f"attempt {job.attempts}: {mask_argv(job.argv)}", lazy=True)
        return log
