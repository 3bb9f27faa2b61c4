"""The job model: what to run (`JobSpec`), where it stands (`JobState`), and the `Job` handle.

All state changes go through `Job._transition`, checked against the one table `TRANSITIONS`.
An illegal move raises `InvalidTransition` carrying the job's story, so a bug shows its cause.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import enum
import time
from collections import deque
from collections.abc import Generator, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .pool import ProcessPool

__all__ = ["InvalidTransition", "Job", "JobSpec", "JobState", "TRANSITIONS"]


class JobState(enum.Enum):
    """Where a job stands. The finished states never change again."""

    QUEUED = "queued"
    """Waiting for a free slot, for its dependencies, or for a retry."""
    RUNNING = "running"
    """Its process group is alive and not stopped."""
    PAUSED = "paused"
    """Its process group is stopped (`job.pause()`, or SIGSTOP from outside, seen within ~2 s);
    it still holds its slot."""
    SUCCEEDED = "succeeded"
    """The process exited with code 0."""
    FAILED = "failed"
    """Non-zero exit, killed by a signal, or it could not be spawned (see `job.error`)."""
    TIMED_OUT = "timed_out"
    """It ran longer than its timeout and was terminated."""
    CANCELLED = "cancelled"
    """Cancelled by the user, by shutdown, or because a dependency did not succeed."""
    INTERRUPTED = "interrupted"
    """Found in a store: it was queued or running when its owning process died."""

    @property
    def is_finished(self) -> bool:
        return self in _FINISHED

    def __repr__(self) -> str:
        return f"JobState.{self.name}"


_FINISHED = frozenset(
    {JobState.SUCCEEDED, JobState.FAILED, JobState.TIMED_OUT, JobState.CANCELLED, JobState.INTERRUPTED}
)

_Q, _R, _P = JobState.QUEUED, JobState.RUNNING, JobState.PAUSED
_S, _F, _T, _C, _I = (JobState.SUCCEEDED, JobState.FAILED, JobState.TIMED_OUT,
                      JobState.CANCELLED, JobState.INTERRUPTED)

TRANSITIONS: Mapping[JobState, frozenset[JobState]] = {
    # QUEUED -> FAILED is a spawn error; QUEUED -> CANCELLED covers failed dependencies.
    _Q: frozenset({_R, _F, _C, _I}),
    # RUNNING -> QUEUED is a retry after a failure or a timeout.
    _R: frozenset({_P, _S, _F, _T, _C, _I, _Q}),
    # A paused job can still be cancelled, killed from outside, or time out.
    _P: frozenset({_R, _S, _F, _T, _C, _I, _Q}),
    _S: frozenset(), _F: frozenset(), _T: frozenset(), _C: frozenset(), _I: frozenset(),
}


class InvalidTransition(RuntimeError):
    """An illegal state change: a bug in procwidgets, reported with the job's story."""

    def __init__(self, job: Job, new: JobState, reason: str) -> None:
        story = "\n".join(
            f"  {time.strftime('%H:%M:%S', time.localtime(t))}.{int(t % 1 * 1000):03d} "
            f"{s.name}{' (' + r + ')' if r else ''}"
            for t, s, r in job.history
        )
        super().__init__(
            f"{job!r} cannot go from {job.state.name} to {new.name} ({reason or 'no reason'}); "
            f"legal moves from {job.state.name}: "
            f"{', '.join(sorted(s.name for s in TRANSITIONS[job.state])) or 'none'}.\n"
            f"Its story so far:\n{story}"
        )
        self.job, self.start, self.finish = job, job.state, new


@dataclass(frozen=True)
class JobSpec:
    """What to run, validated and immutable. Built by `ProcessPool.submit`."""

    argv: tuple[str, ...]
    name: str
    priority: int = 0
    timeout: float | None = None
    cwd: str | None = None
    env: Mapping[str, str] | None = None
    retries: int = 0
    after: tuple[int, ...] = ()
    shell: bool = False
    command: str = field(default="", compare=False)
    """The command as the user wrote it (the string, or the argv joined), for display."""
    resources: Mapping[str, float] | None = None
    """Abstract resources the job needs where it runs (`{"GPU": 1}`), for backends that have them."""


class Job:
    """A handle on one submitted command. Read its attributes from any thread.

    The pool changes a job only on its engine thread; the attributes are plain values, so a
    read from another thread sees either the old or the new value, never a torn one.
    """

    __slots__ = (
        "id", "spec", "state", "pid", "worker", "returncode", "error", "submitted_at", "started_at",
        "finished_at", "attempts", "history", "peak_rss", "cpu_seconds", "log_path",
        "output_seq", "retry_of", "_priority", "_pool", "_tail", "_tail_from_log", "_done", "_spec_json",
        "__weakref__",
    )

    def __init__(self, pool: ProcessPool, job_id: int, spec: JobSpec, tail_lines: int) -> None:
        self.id = job_id
        self.spec = spec
        self.state = JobState.QUEUED
        self.pid: int | None = None
        self.worker: str | None = None
        """Where the last attempt runs or ran, for a remote backend (a Dask worker's address; `pid` is
        a pid there); None on this machine."""
        self.returncode: int | None = None
        """Exit code; negative -N when killed by signal N (as `subprocess` reports it)."""
        self.error: str | None = None
        """Why the job did not succeed, in words; None while fine."""
        self.submitted_at = time.time()
        self.started_at: float | None = None
        self.finished_at: float | None = None
        self.attempts = 0
        """How many times a process was started for this job (retries add to it)."""
        self.history: list[tuple[float, JobState, str]] = [(self.submitted_at, JobState.QUEUED, "submitted")]
        self.peak_rss: int | None = None
        self.cpu_seconds: float | None = None
        self.log_path: str | None = None
        self.output_seq = 0
        """Counts output lines ever received; a view can tell whether `tail()` changed."""
        self.retry_of: int | None = None
        """The id of the job this one re-runs (`pool.retry`), if any."""
        self._tail_from_log = False  # a job restored from a store reads its tail from its log once
        self._spec_json: str | None = None  # the store's encoding of `spec`, made once
        self._priority = spec.priority
        self._pool = pool
        self._tail: deque[tuple[str, str]] = deque(maxlen=tail_lines)
        self._done: concurrent.futures.Future[JobState] = concurrent.futures.Future()

    # -- identity and display -------------------------------------------------------------

    @property
    def name(self) -> str:
        return self.spec.name

    @property
    def argv(self) -> tuple[str, ...]:
        return self.spec.argv

    @property
    def pool(self) -> ProcessPool:
        return self._pool

    def __repr__(self) -> str:
        pid = f" pid={self.pid}" if self.pid is not None and not self.state.is_finished else ""
        code = f" rc={self.returncode}" if self.state.is_finished and self.returncode is not None else ""
        return f"<Job {self.id} {self.name!r} {self.state.name}{pid}{code}>"

    # -- timing -----------------------------------------------------------------------------

    @property
    def duration(self) -> float | None:
        """Seconds from the last start to the end (or to now while it runs); None before it starts."""
        if self.started_at is None:
            return None
        end = self.finished_at if self.finished_at is not None else time.time()
        return max(0.0, end - self.started_at)

    # -- output -----------------------------------------------------------------------------

    def tail(self, n: int = 20, *, streams: bool = False) -> list[str] | list[tuple[str, str]]:
        """The last `n` output lines, stdout and stderr in the order they arrived.

        With `streams=True`, each line comes as `(stream, text)` where stream is "stdout" or
        "stderr", so a view can tell them apart.
        """
        if not isinstance(n, int) or isinstance(n, bool):
            raise TypeError(f"tail(n) takes an int number of lines, not {type(n).__name__}")
        if n < 0:
            raise ValueError(f"tail(n) needs n >= 0, got {n}")
        if self._tail_from_log:
            self._load_tail()
        lines = list(self._tail)[-n:] if n else []
        return lines if streams else [text for _, text in lines]

    def _load_tail(self) -> None:
        from .logfile import read_log
        self._tail_from_log = False
        try:
            for item in read_log(self.log_path):  # type: ignore[arg-type]
                self._tail.append(item)
        except OSError:
            pass

    # -- control (delegated to the pool, which owns the process) -------------------------

    @property
    def priority(self) -> int:
        return self._priority

    @priority.setter
    def priority(self, value: int) -> None:
        self._pool.set_priority(self, value)

    def cancel(self) -> bool:
        """Queued: CANCELLED at once. Running or paused: TERM the whole group, grace, then KILL.

        Returns False when the job had already finished (nothing to cancel).
        """
        return self._pool.cancel(self)

    def pause(self) -> None:
        """Stop a running job's whole process group with SIGSTOP (state PAUSED)."""
        self._pool.pause_job(self)

    def resume(self) -> None:
        """Continue a paused job's process group with SIGCONT (state RUNNING)."""
        self._pool.resume_job(self)

    def wait(self, timeout: float | None = None) -> JobState:
        """Block until the job is finished and return its state; raise TimeoutError after `timeout` s."""
        self._pool._engine.refuse_blocking_call("job.wait()")
        try:
            return self._done.result(timeout)
        except concurrent.futures.TimeoutError:
            raise TimeoutError(f"{self!r} did not finish within {timeout} s") from None

    def __await__(self) -> Generator[Any, None, JobState]:
        return asyncio.wrap_future(self._done).__await__()

    # -- the one method that changes state (called by the pool on its engine thread) -------

    def _transition(self, new: JobState, reason: str = "", now: float | None = None) -> JobState:
        old = self.state
        if new not in TRANSITIONS[old]:
            raise InvalidTransition(self, new, reason)
        now = time.time() if now is None else now
        self.state = new
        self.history.append((now, new, reason))
        if new.is_finished:
            self.finished_at = now
            self._done.set_result(new)
        return old
