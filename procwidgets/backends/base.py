"""The backend seam: where jobs run. The pool decides what runs and when; a backend starts one
attempt of a job and reports how it ended. `LocalBackend` (subprocesses here) is the default;
`DaskBackend` runs the same jobs on a Dask distributed cluster.
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import Callable
from typing import TYPE_CHECKING, NamedTuple

from ..core.samples import JobSample, WorkerSample

if TYPE_CHECKING:
    from ..core.attempt import Attempt
    from ..core.job import Job

__all__ = ["Backend", "RemoteReading", "SpawnError"]


class SpawnError(Exception):
    """The job could not be started; the message says why and what to do (the job ends FAILED)."""


class RemoteReading(NamedTuple):
    """What a backend with remote workers read on them for a `Monitor` tick."""

    workers: dict[str, WorkerSample]
    """By worker address."""
    jobs: dict[int, JobSample]
    """The pool's running jobs, by job id, each sampled on the worker that runs it."""


class Backend:
    """Starts attempts of jobs. One backend serves one pool; all calls come on the pool's engine thread."""

    name = "backend"
    supports_resources = False
    """Whether `submit(resources=...)` means something here; the pool refuses it otherwise."""
    supports_successors = False
    """Whether jobs can be handed ahead into a busy slot (`start(after=...)`, `lookahead`, `withdraw`)."""
    withdraw_after = float("inf")
    """Seconds a job may run before the jobs handed ahead behind it are withdrawn."""
    on_progress: Callable[[], None] | None = None
    """Set by the pool: called (engine thread) when more jobs may be handed ahead than before."""

    def bind(self, loop: asyncio.AbstractEventLoop, *, kill_grace: float, max_line: int) -> None:
        """Called once by the pool that owns this backend, on creation."""
        self.loop, self.kill_grace, self.max_line = loop, kill_grace, max_line

    def default_workers(self) -> int:
        """The concurrency limit when the user gives none."""
        return os.cpu_count() or 1

    def start(self, job: Job, *, on_line: Callable[[str, str], None],
              on_data: Callable[[str, bytes], None] | None, on_timeout: Callable[[], None],
              after: Attempt | None = None) -> Attempt:
        """Start one attempt of `job` now; raise `SpawnError` if it cannot start. With `after`
        (only where `supports_successors`), the attempt is handed ahead into `after`'s slot: it
        starts where `after` runs, once `after` has ended."""
        raise NotImplementedError

    def lookahead(self, attempt: Attempt) -> int:
        """How many jobs may wait handed ahead behind the running `attempt` now."""
        return 0

    def withdraw(self, attempt: Attempt, then: Callable[[bool], object]) -> None:
        """Take back an attempt handed ahead; `then(True)` if it will never start, `then(False)` if it did."""
        then(False)

    async def finish(self, attempt: Attempt) -> tuple[int, os.struct_rusage | None]:
        """Wait for the attempt's end and release what the backend held for it."""
        return await attempt.finish()

    def close(self) -> None:
        """Release the backend's own resources (after every attempt has finished). Idempotent."""

    def sample_remote(self, wall: float, timeout: float) -> RemoteReading | None:
        """Read the remote workers and the jobs they run, stamped `wall`; None where jobs run on
        this machine (a `Monitor` reads them from /proc). Called on a monitor's reader thread,
        never the engine's; may block up to `timeout` seconds."""
        return None
