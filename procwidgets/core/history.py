"""Jobs as plain records: rows for the store, jobs restored from it, and exports for the user."""

from __future__ import annotations

import csv
import json
import os
from typing import TYPE_CHECKING, Any

from .job import Job, JobSpec, JobState

if TYPE_CHECKING:
    from .pool import ProcessPool

__all__ = ["export_records", "job_record", "job_row", "restore_job"]

RECORD_FIELDS = ("id", "name", "command", "state", "priority", "returncode", "error", "pid", "worker",
                 "submitted_at", "started_at", "finished_at", "duration", "attempts", "peak_rss",
                 "cpu_seconds", "log_path", "retry_of")


def spec_to_json(spec: JobSpec) -> str:
    return json.dumps({"argv": list(spec.argv), "name": spec.name, "priority": spec.priority,
                       "timeout": spec.timeout, "cwd": spec.cwd, "env": dict(spec.env) if spec.env else None,
                       "retries": spec.retries, "after": list(spec.after), "shell": spec.shell,
                       "command": spec.command, "resources": dict(spec.resources) if spec.resources else None})


def spec_from_json(text: str) -> JobSpec:
    data = json.loads(text)
    return JobSpec(argv=tuple(data["argv"]), name=data["name"], priority=data["priority"],
                   timeout=data["timeout"], cwd=data["cwd"], env=data["env"], retries=data["retries"],
                   after=tuple(data["after"]), shell=data["shell"], command=data["command"],
                   resources=data.get("resources"))


def job_row(job: Job, owner: str) -> dict[str, Any]:
    """The job as a row of the store's `jobs` table (its spec, which never changes, encoded once)."""
    if job._spec_json is None:
        job._spec_json = spec_to_json(job.spec)
    return {"id": job.id, "owner": owner, "spec": job._spec_json, "name": job.name,
            "priority": job.priority, "state": job.state.value, "pid": job.pid, "worker": job.worker,
            "returncode": job.returncode, "error": job.error, "submitted_at": job.submitted_at,
            "started_at": job.started_at, "finished_at": job.finished_at, "attempts": job.attempts,
            "peak_rss": job.peak_rss,
            "cpu_seconds": job.cpu_seconds, "log_path": job.log_path, "retry_of": job.retry_of}


def restore_job(pool: ProcessPool, row: dict[str, Any], events: list[tuple[float, str, str]],
                tail_lines: int) -> Job:
    """A finished `Job` of `pool` rebuilt from its stored row; its tail is read from its log on demand."""
    job = Job(pool, row["id"], spec_from_json(row["spec"]), tail_lines)
    job.state = JobState(row["state"])
    job._priority = row["priority"]
    for field in ("pid", "worker", "returncode", "error", "submitted_at", "started_at", "finished_at", "attempts",
                  "peak_rss", "cpu_seconds", "log_path", "retry_of"):
        setattr(job, field, row[field])
    job.history = [(t, JobState(state), reason) for t, state, reason in events] or [
        (job.submitted_at, job.state, "restored")]
    job._tail_from_log = bool(job.log_path)
    job._done.set_result(job.state)
    return job


def job_record(job: Job) -> dict[str, Any]:
    """The job as a plain dict (what `pool.history()` returns)."""
    return {"id": job.id, "name": job.name, "command": job.spec.command, "state": job.state.name,
            "priority": job.priority, "returncode": job.returncode, "error": job.error, "pid": job.pid,
            "worker": job.worker, "submitted_at": job.submitted_at, "started_at": job.started_at,
            "finished_at": job.finished_at, "duration": job.duration, "attempts": job.attempts,
            "peak_rss": job.peak_rss, "cpu_seconds": job.cpu_seconds, "log_path": job.log_path,
            "retry_of": job.retry_of}


def export_records(records: list[dict[str, Any]], path: str | os.PathLike[str]) -> str:
    """Write records to `path` as CSV (.csv) or JSON (.json); returns the path written."""
    path = os.fspath(path)
    suffix = os.path.splitext(path)[1].lower()
    if suffix == ".json":
        with open(path, "w", encoding="utf-8") as f:
            json.dump(records, f, indent=1)
    elif suffix == ".csv":
        with open(path, "w", encoding="utf-8", newline="") as f:
            writer = csv.DictWriter(f, fieldnames=RECORD_FIELDS)
            writer.writeheader()
            writer.writerows(records)
    else:
        raise ValueError(f"export path {path!r} must end in .csv or .json")
    return path
