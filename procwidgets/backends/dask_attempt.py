"""`DaskAttempt`: one job handed to Dask, as the pool sees it, on the pool's engine thread.

It learns what happens on the worker from the events `DaskBackend` routes to it ("start", "out",
"exit"), or from the backend when the worker was lost or the task failed, and it resolves
`finish()` once. Its signals go to the one worker that runs the job, through the backend.
"""

from __future__ import annotations

import asyncio
import os
import resource
import signal
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from ..core.attempt import Attempt
from ..core.job import JobState
from .dask_worker import DRAIN_SECONDS

if TYPE_CHECKING:
    import distributed

    from ..core.job import Job
    from .dask import DaskBackend

__all__ = ["LOST_RETURNCODE", "SPAWN_FAILED_RETURNCODE", "TASK_FAILED_RETURNCODE", "DaskAttempt"]

LOST_RETURNCODE = -signal.SIGKILL
"""What a job on a lost worker reports: its worker's watchdog killed its group."""
TASK_FAILED_RETURNCODE = 1
"""What a job reports when its Dask task failed before or around the command (see `error`)."""
SPAWN_FAILED_RETURNCODE = 127
"""What a job reports when its command could not start on the worker (as a shell would)."""
STREAMS = ("stdout", "stderr")


class DaskAttempt(Attempt):
    """One job as a Dask task. Known once the worker reports it: `worker` (address) and `pid` there.

    `error` is set when the backend knows better than the return code why the attempt failed: the
    command could not start on the worker, the worker was lost, the task itself failed.

    Pipelining: `chain` names the pool slot the attempt runs in (its first job's key); a job
    handed ahead into a busy slot shares its chain and waits on the chain's `home` worker until
    the job before it has ended there. `withdrawn` is True once the owner knows it never started.
    """

    def __init__(self, backend: DaskBackend, job: Job, key: str, *, on_line: Callable[[str, str], None],
                 on_data: Callable[[str, bytes], None] | None, on_timeout: Callable[[], None]) -> None:
        super().__init__(backend.loop, pid=None, kill_grace=backend.kill_grace, timeout=job.spec.timeout,
                         on_timeout=on_timeout)
        self.job, self.key = job, key
        self.worker: str | None = None
        self.error: str | None = None
        self.peak_rss: int | None = None
        self.future: distributed.Future | None = None
        self.chain = key
        self.home: str | None = None  # the worker its chain runs on, once known
        self.withdrawn = False
        self.started_mono: float | None = None  # loop time of the "start" event
        self.started_wall: float | None = None  # and its wall-clock time, for `job.started_at`
        self.ended_mono: float | None = None
        self._backend = backend
        self._on_line, self._on_data = on_line, on_data
        self._pending: list[int] = []  # signals sent before the worker reported the start
        self._seq = 0  # the last output message delivered
        self._early_exit: dict[str, Any] | None = None  # an exit record that overtook output
        self._result: asyncio.Future[tuple[int, os.struct_rusage | None]] = backend.loop.create_future()

    @property
    def done(self) -> bool:
        return self._result.done()

    def __repr__(self) -> str:
        where = f" on {self.worker} pid={self.pid}" if self.worker else " (not started on a worker yet)"
        return f"<DaskAttempt {self.key}{where}{' ended' if self.done else ''}>"

    def send_signal(self, sig: int) -> bool:
        """Ask the worker that runs the job to signal its group; before it started, hold the signal
        (and for TERM/KILL let Dask drop the task, if it has not started it yet)."""
        if self.done:
            return False
        if self.worker is None:
            self._pending.append(sig)
            if sig in (signal.SIGTERM, signal.SIGKILL):
                self._backend._cancel_future(self)
            return True
        self._backend._signal(self.worker, self.key, sig)
        return True

    def outcome(self, returncode: int, timeout: float | None) -> tuple[JobState, str]:
        """As for a local attempt, except that what the backend learnt (a command that could not
        start on the worker, a lost worker, a failed task) is the reason, naming the worker."""
        if self.kill_reason is None and self.error:
            return JobState.FAILED, self.error
        return super().outcome(returncode, timeout)

    async def finish(self) -> tuple[int, os.struct_rusage | None]:
        """Wait for the worker's exit record (or a lost worker, or a failed task)."""
        result = await self._result
        self._ended()
        return result

    # -- what the backend delivers (engine thread) ----------------------------------------------

    def _output(self, msg: dict[str, Any]) -> None:
        self._seq = max(self._seq, msg.get("s", 0))
        if self._on_data is not None:
            for code, data in msg.get("b", ()):
                self._on_data(STREAMS[code], data)
        for code, text in msg.get("l", ()):
            self._on_line(STREAMS[code], text)
        if self._early_exit is not None and self._seq >= self._early_exit.get("seq", 0):
            self._exit(self._early_exit)

    def _exit(self, msg: dict[str, Any]) -> None:
        if self.done:
            return
        if self._seq < msg.get("seq", 0):  # output still on its way: wait for it, a little
            if self._early_exit is None:
                self._early_exit = msg
                self.loop.call_later(DRAIN_SECONDS, self._exit, {**msg, "seq": 0})
            return
        if msg.get("withdrawn"):  # handed ahead, and the owner withdrew it before it could start
            self.withdrawn = True
            self._resolve(TASK_FAILED_RETURNCODE, error="withdrawn before it started")
            return
        self.killed_hard = bool(msg.get("hard")) or self.killed_hard
        self.peak_rss = msg.get("peak_rss")
        if msg.get("error"):
            self._resolve(SPAWN_FAILED_RETURNCODE, error=msg["error"])
            return
        usage = msg.get("usage")
        self._resolve(int(msg["rc"]), resource.struct_rusage(tuple(usage)) if usage else None)

    def _resolve(self, returncode: int, usage: os.struct_rusage | None = None, *, error: str | None = None) -> None:
        if not self.done:
            self.error = error
            self.ended_mono = self.loop.time()
            self._result.set_result((returncode, usage))

    def on_resolved(self, callback: Callable[[], None]) -> None:
        """Call `callback()` on the engine thread once the attempt's end is known."""
        self._result.add_done_callback(lambda _: callback())
