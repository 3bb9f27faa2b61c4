"""One attempt at running a job: its timeout, its kill sequence, and (locally) its process group.

The pool decides (which job, when, what the ending means); an `Attempt` acts on one running
command and reports how it ended. `Attempt` holds what every backend shares (the timeout clock
that stops while paused; TERM, a grace period, then KILL); `LocalAttempt` is a process group on
this machine. Everything here runs on the engine thread.
"""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import time
from collections.abc import Callable
from typing import Any

from .job import JobState
from .process import LineReader, group_alive, scan_descendants, scan_marked, signal_group, signal_known, watch_exit

__all__ = ["Attempt", "LocalAttempt"]


def _pgid(pid: int) -> int | None:
    try:
        return os.getpgid(pid)
    except OSError:
        return None

DRAIN_SECONDS = 1.0
"""How long to wait for output after the group is gone (only a process that left it holds pipes)."""


class Attempt:
    """A started command. Subclasses say how to signal it and how to wait for its end."""

    def __init__(self, loop: asyncio.AbstractEventLoop, *, pid: int | None, kill_grace: float,
                 timeout: float | None, on_timeout: Callable[[], None]) -> None:
        self.loop = loop
        self.pid = pid
        self.kill_grace = kill_grace
        self.kill_reason: str | None = None  # "cancel", "timeout" or "shutdown" once a kill began
        self.killed_hard = False  # SIGKILL had to be sent: something ignored SIGTERM
        self.log: Any = None  # the pool's LogWriter for this attempt, if it keeps one
        self._kill_started = 0.0
        self._kill_timer: asyncio.TimerHandle | None = None
        self._on_timeout = on_timeout
        self._timer = loop.call_later(timeout, self._timed_out) if timeout is not None else None
        self._time_left: float | None = None
        self.signalled_at = 0.0  # monotonic time of our last STOP/CONT (its effect takes a moment)

    def send_signal(self, sig: int) -> bool:
        """Signal every process of the attempt; False if none is left."""
        raise NotImplementedError

    async def finish(self) -> tuple[int, os.struct_rusage | None]:
        """Wait until nothing of the attempt runs any more: (returncode, rusage or None)."""
        raise NotImplementedError

    def outcome(self, returncode: int, timeout: float | None) -> tuple[JobState, str]:
        """How the attempt ended, as a state and a reason in words."""
        hard = f", KILLed after ignoring SIGTERM for {self.kill_grace:g} s" if self.killed_hard else ""
        if self.kill_reason == "timeout":
            return JobState.TIMED_OUT, f"timed out after {timeout:g} s{hard}"
        if self.kill_reason == "cancel":
            return JobState.CANCELLED, f"cancelled while running{hard}"
        if self.kill_reason == "shutdown":
            return JobState.CANCELLED, f"pool shut down{hard}"
        if returncode == 0:
            return JobState.SUCCEEDED, "exit code 0"
        if returncode < 0:
            try:
                name = signal.Signals(-returncode).name
            except ValueError:
                name = f"signal {-returncode}"
            return JobState.FAILED, f"killed by {name} from outside the pool"
        return JobState.FAILED, f"exit code {returncode}"

    # -- the shared sequences ---------------------------------------------------------------

    def terminate(self, reason: str) -> None:
        """TERM everything now (CONT too, so a stopped group can act on it), KILL after the grace."""
        if self.kill_reason is not None:
            return
        self.kill_reason, self._kill_started = reason, time.monotonic()
        self.send_signal(signal.SIGTERM)
        self.send_signal(signal.SIGCONT)
        self._kill_timer = self.loop.call_later(self.kill_grace, self._kill_hard)

    def stop(self) -> None:
        """SIGSTOP; the timeout clock stops too (it counts running time only)."""
        self.send_signal(signal.SIGSTOP)
        self.signalled_at = time.monotonic()
        self.pause_clock()

    def cont(self) -> None:
        """SIGCONT, and restart the timeout clock where it stopped."""
        self.send_signal(signal.SIGCONT)
        self.signalled_at = time.monotonic()
        self.resume_clock()

    def pause_clock(self) -> None:
        """Stop the timeout clock (a pause asked through the pool)."""
        if self._timer is not None:
            self._time_left = max(0.0, self._timer.when() - self.loop.time())
            self._timer.cancel()
            self._timer = None

    def resume_clock(self) -> None:
        """Restart the timeout clock where `pause_clock` left it (no-op if it runs)."""
        if self._time_left is not None:
            self._timer = self.loop.call_later(self._time_left, self._timed_out)
            self._time_left = None

    def is_stopped(self) -> bool | None:
        """Whether the command is stopped now (by anyone); None where it cannot be seen."""
        return None

    def _timed_out(self) -> None:
        self._timer = None
        self._on_timeout()

    def _kill_hard(self) -> None:
        self.killed_hard = self.send_signal(signal.SIGKILL) or self.killed_hard

    def _ended(self) -> None:
        """Stop the clocks once the command is gone."""
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        if self._kill_timer is not None:
            self._kill_timer.cancel()


class LocalAttempt(Attempt):
    """A process group on this machine, led by the job's process. `finish()` resolves once it is gone."""

    def __init__(self, loop: asyncio.AbstractEventLoop, proc: subprocess.Popen[bytes], *,
                 on_line: Callable[[str, str], None], max_line: int, kill_grace: float,
                 timeout: float | None, on_timeout: Callable[[], None],
                 on_data: Callable[[str, bytes], None] | None = None, marker: str | None = None) -> None:
        super().__init__(loop, pid=proc.pid, kill_grace=kill_grace, timeout=timeout, on_timeout=on_timeout)
        self.marker = marker  # PROCWIDGETS_JOB in the environment of every process of this job
        self.proc = proc
        self.pgid: int = proc.pid  # the job leads its own session, so its pgid is its pid
        self.escaped: dict[int, int] = {}  # descendants outside the group: {pid: starttime}
        self._readers = [LineReader(loop, pipe, name, on_line, max_line=max_line, on_data=on_data)
                         for pipe, name in ((proc.stdout, "stdout"), (proc.stderr, "stderr"))]
        self._exit = watch_exit(loop, proc)

    def is_stopped(self) -> bool | None:
        try:
            with open(f"/proc/{self.pgid}/stat", "rb") as f:
                stat = f.read()
        except OSError:
            return None
        return stat[stat.rfind(b")") + 2:][:1] in (b"T", b"t")

    def send_signal(self, sig: int) -> bool:
        sent = signal_group(self.pgid, sig)
        if sig in (signal.SIGTERM, signal.SIGKILL, signal.SIGCONT) and self.escaped:
            sent = signal_known(self.escaped, sig) or sent
        return sent

    def remember(self, descendants: dict[int, int]) -> None:
        """Note descendants seen outside the job's group ({pid: starttime}), e.g. by a monitor's
        scan, so a kill reaches them even after the chain of parents to the leader is broken."""
        self.escaped.update({pid: t for pid, t in descendants.items() if _pgid(pid) != self.pgid})

    def terminate(self, reason: str) -> None:
        # Before the group is signalled, find descendants that left it (setsid): while the
        # leader lives, parent links lead to them; the job's environment marker finds them even
        # after the chain of parents is broken.
        if self.kill_reason is None:
            self.remember(scan_descendants(self.pgid))
            if self.marker is not None:
                self.remember(scan_marked(self.marker))
        super().terminate(reason)

    async def finish(self) -> tuple[int, os.struct_rusage | None]:
        """Wait for the leader to exit, clear the rest of its group, drain its output."""
        returncode, usage = await self._exit
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        await self._clear_group()
        self._ended()
        try:
            await asyncio.wait_for(asyncio.gather(*(r.eof for r in self._readers)), timeout=DRAIN_SECONDS)
        except asyncio.TimeoutError:
            for reader in self._readers:
                reader.close()
        return returncode, usage

    async def _clear_group(self) -> None:
        """After the leader exits, the job's other processes do not outlive it: TERM, grace, KILL."""
        if not group_alive(self.pgid) and not self._escapees_alive():
            return
        if self.kill_reason is None:
            self._kill_started = time.monotonic()
            self.send_signal(signal.SIGTERM)
            self.send_signal(signal.SIGCONT)
        deadline = self._kill_started + self.kill_grace
        while (group_alive(self.pgid) or self._escapees_alive()) and time.monotonic() < deadline:
            await asyncio.sleep(0.02)  # a bounded wait for stragglers, not a dispatch loop
        self._kill_hard()

    def _kill_hard(self) -> None:
        # killpg succeeds on a group of zombies too: KILL (and say so) only if something lives.
        if group_alive(self.pgid) or self._escapees_alive():
            super()._kill_hard()

    def _escapees_alive(self) -> bool:
        return signal_known(self.escaped, 0) if self.escaped else False
