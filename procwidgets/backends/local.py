"""`LocalBackend`: jobs as process groups on this machine, watched by a watchdog (the default)."""

from __future__ import annotations

import os
import secrets
from collections.abc import Callable
from typing import TYPE_CHECKING

from ..core.attempt import Attempt, LocalAttempt
from ..core.process import describe_spawn_error, spawn
from ..core.watchdog import Watchdog
from .base import Backend, SpawnError

if TYPE_CHECKING:
    from ..core.job import Job

__all__ = ["LocalBackend"]


class LocalBackend(Backend):
    """Each job leads its own session here; a watchdog kills every group if the owner dies."""

    name = "local"

    def bind(self, loop, *, kill_grace: float, max_line: int) -> None:  # type: ignore[no-untyped-def]
        super().bind(loop, kill_grace=kill_grace, max_line=max_line)
        self.token = f"{os.getpid()}-{secrets.token_hex(6)}"  # marks this pool's jobs (see Watchdog)
        self._watchdog = Watchdog(kill_grace, self.token)

    def start(self, job: Job, *, on_line: Callable[[str, str], None],
              on_data: Callable[[str, bytes], None] | None, on_timeout: Callable[[], None],
              after: Attempt | None = None) -> Attempt:
        if after is not None:
            raise ValueError("LocalBackend starts jobs now only; it does not take jobs handed ahead (after=)")
        spec = job.spec
        try:
            marker = f"{self.token}:{job.id}"
            proc = spawn(spec.argv, cwd=spec.cwd, env=spec.env, marker=marker)
        except OSError as exc:
            raise SpawnError(describe_spawn_error(exc, spec.argv, spec.cwd)) from None
        self._watchdog.add(proc.pid)
        return LocalAttempt(self.loop, proc, on_line=on_line, on_data=on_data, max_line=self.max_line,
                            kill_grace=self.kill_grace, timeout=spec.timeout, on_timeout=on_timeout, marker=marker)

    async def finish(self, attempt: Attempt) -> tuple[int, os.struct_rusage | None]:
        result = await attempt.finish()
        self._watchdog.remove(attempt.pid)  # type: ignore[arg-type]
        return result

    def close(self) -> None:
        if hasattr(self, "_watchdog"):
            self._watchdog.close()
