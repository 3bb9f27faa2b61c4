"""One attempt at running a job: its process group, output readers, timeout and kill sequence.

The pool decides (which job, when, what the ending means); an `Attempt` acts on one process
group and reports how it ended. Everything here runs on the engine thread.
"""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import time
from collections.abc import Callable
from typing import Any

from .process import LineReader, group_alive, signal_group, watch_exit

__all__ = ["Attempt"]

DRAIN_SECONDS = 1.0
"""How long to wait for output after the group is gone (only a process that left it holds pipes)."""


class Attempt:
    """A started process group. `finish()` resolves once it is gone, with (returncode, rusage)."""

    def __init__(self, loop: asyncio.AbstractEventLoop, proc: subprocess.Popen[bytes], *,
                 on_line: Callable[[str, str], None], max_line: int, kill_grace: float,
                 timeout: float | None, on_timeout: Callable[[], None],
                 on_data: Callable[[str, bytes], None] | None = None) -> None:
        self.loop = loop
        self.proc = proc
        self.pgid: int = proc.pid  # the job leads its own session, so its pgid is its pid
        self.kill_grace = kill_grace
        self.kill_reason: str | None = None  # "cancel", "timeout" or "shutdown" once a kill began
        self.killed_hard = False  # SIGKILL had to be sent: something ignored SIGTERM
        self._kill_started = 0.0
        self._kill_timer: asyncio.TimerHandle | None = None
        self._on_timeout = on_timeout
        self._timer = loop.call_later(timeout, self._timed_out) if timeout is not None else None
        self._time_left: float | None = None
        self.log: Any = None  # the pool's LogWriter for this attempt, if it keeps one
        self._readers = [LineReader(loop, pipe, name, on_line, max_line=max_line, on_data=on_data)
                         for pipe, name in ((proc.stdout, "stdout"), (proc.stderr, "stderr"))]
        self._exit = watch_exit(loop, proc)

    # -- signals ----------------------------------------------------------------------------

    def terminate(self, reason: str) -> None:
        """TERM the whole group now (CONT too, so a stopped group can act on it), KILL after the grace."""
        if self.kill_reason is not None:
            return
        self.kill_reason, self._kill_started = reason, time.monotonic()
        signal_group(self.pgid, signal.SIGTERM)
        signal_group(self.pgid, signal.SIGCONT)
        self._kill_timer = self.loop.call_later(self.kill_grace, self._kill_hard)

    def stop(self) -> None:
        """SIGSTOP the group; the timeout clock stops too (it counts running time only)."""
        signal_group(self.pgid, signal.SIGSTOP)
        if self._timer is not None:
            self._time_left = max(0.0, self._timer.when() - self.loop.time())
            self._timer.cancel()
            self._timer = None

    def cont(self) -> None:
        """SIGCONT the group and restart the timeout clock where it stopped."""
        signal_group(self.pgid, signal.SIGCONT)
        if self._time_left is not None:
            self._timer = self.loop.call_later(self._time_left, self._timed_out)
            self._time_left = None

    def _timed_out(self) -> None:
        self._timer = None
        self._on_timeout()

    def _kill_hard(self) -> None:
        self.killed_hard = signal_group(self.pgid, signal.SIGKILL) or self.killed_hard

    # -- the end ----------------------------------------------------------------------------

    async def finish(self) -> tuple[int, os.struct_rusage | None]:
        """Wait for the leader to exit, clear the rest of its group, drain its output."""
        returncode, usage = await self._exit
        if self._timer is not None:
            self._timer.cancel()
        await self._clear_group()
        if self._kill_timer is not None:
            self._kill_timer.cancel()
        try:
            await asyncio.wait_for(asyncio.gather(*(r.eof for r in self._readers)), timeout=DRAIN_SECONDS)
        except asyncio.TimeoutError:
            for reader in self._readers:
                reader.close()
        return returncode, usage

    async def _clear_group(self) -> None:
        """After the leader exits, the job's other processes do not outlive it: TERM, grace, KILL."""
        if not group_alive(self.pgid):
            return
        if self.kill_reason is None:
            self._kill_started = time.monotonic()
            signal_group(self.pgid, signal.SIGTERM)
            signal_group(self.pgid, signal.SIGCONT)
        deadline = self._kill_started + self.kill_grace
        while group_alive(self.pgid) and time.monotonic() < deadline:
            await asyncio.sleep(0.02)  # a bounded wait for stragglers, not a dispatch loop
        self._kill_hard()
