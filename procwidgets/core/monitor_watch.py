"""`MonitorWatch`: the `watch`/`unwatch` methods of `Monitor`, for processes that are not the pool's jobs.

A mixin, like `PoolHistory` for the pool, so that monitor.py keeps to sampling jobs and recording
ticks; it uses the monitor's `_engine`, `_roots`, `_reader`, `_tracks` and `capacity`. A watched
process that ends is dropped by the monitor's tick, which sees it missing.
"""

from __future__ import annotations

from typing import Any

from .sampler import Reader, Root
from .tracks import Tracks

__all__ = ["MonitorWatch"]


class MonitorWatch:
    """Sampling extra processes (a kernel, a server) by pid, next to the pool's jobs."""

    _engine: Any
    _roots: dict[int | str, Root]
    _reader: Reader
    _tracks: Tracks

    @property
    def capacity(self) -> int:  # provided by Monitor
        raise NotImplementedError

    def watch(self, pid: int, name: str | None = None) -> str:
        """Sample process `pid` and its descendants (not the pool's jobs among them) as `name`.

        Returns the key its samples appear under in `latest().jobs` and `job_history(key)`,
        `name` or "pid N". Watching stops by itself when the process ends.
        """
        if not isinstance(pid, int) or isinstance(pid, bool) or pid <= 0:
            raise TypeError(f"watch(pid) takes a positive int pid, not {pid!r}")
        key = name if name is not None else f"pid {pid}"
        if not isinstance(key, str) or not key:
            raise TypeError(f"watch(name=...) takes a non-empty str, not {name!r}")
        self._engine.call(self._watch, pid, key)
        return key

    def unwatch(self, key: str) -> None:
        """Stop sampling a watched process; its history stays like a finished job's."""
        self._engine.call(self._unwatch, key)

    def _watch(self, pid: int, key: str) -> None:
        root = self._roots.get(key)
        if root is not None:
            raise ValueError(f"{self!r} already watches {key!r} (pid {root.pid}); pass another name=")
        for other in self._roots.values():
            if other.pid == pid and other.is_job:
                raise ValueError(f"pid {pid} is the leader of job {other.key}, sampled already: "
                                 f"read monitor.latest().jobs[{other.key!r}]")
        ident = self._reader.ident(pid)
        if ident is None:
            raise ProcessLookupError(f"no process with pid {pid} to watch")
        self._roots[key] = Root(key, pid, ident, key, is_job=False)
        self._tracks.open(key, (pid, ident), self.capacity)

    def _unwatch(self, key: str) -> None:
        if key not in self._roots or self._roots[key].is_job:
            raise KeyError(f"{self!r} does not watch {key!r}; watched: "
                           f"{sorted(str(k) for k, r in self._roots.items() if not r.is_job)}")
        del self._roots[key]
        self._tracks.close(key)
