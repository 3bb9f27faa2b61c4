"""The data that passes between `Sampler` and the process readers, and what the monitor hands it.

`Proc`, `SystemReading` and `Wants` are what a `Reader` fills and is told; `Root` and `Reaped` are
what `Sampler.jobs` is given. Separate from sampler.py so that the readers (procfs.py, psreader.py)
and their contract can be read without the sampler's accounting; sampler.py re-exports all of it.
Only data and the rule of what to re-read: nothing here reads, signals or reaps a process.
"""

from __future__ import annotations

from collections.abc import Hashable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Protocol

if TYPE_CHECKING:
    from .sampler import _Seen

__all__ = ["Proc", "Reader", "Reaped", "Root", "SystemReading", "Wants"]

_MIB = 1 << 20


class Proc:
    """One process as a reader saw it in this tick. `ident` is its start time in the reader's units."""

    __slots__ = ("pid", "ident", "ppid", "raw", "cpu", "child_cpu", "rss", "threads", "zombie", "read_bytes",
                 "write_bytes", "fds", "pss", "uss")

    def __init__(self, pid: int, ident: Hashable, ppid: int, raw: object = None) -> None:
        self.pid, self.ident, self.ppid, self.raw = pid, ident, ppid, raw
        self.cpu = 0.0  # seconds: user + system, its own and its reaped children's
        self.child_cpu = 0.0  # the reaped children's part of `cpu` alone (cutime + cstime)
        self.rss = 0
        self.threads = 0
        self.zombie = False
        self.read_bytes: int | None = None
        self.write_bytes: int | None = None
        self.fds: int | None = None
        self.pss: int | None = None
        self.uss: int | None = None


class Reader(Protocol):
    """What a process reader offers. `scan` and `read` run on the monitor's worker thread only;
    `ident` may also be called from the engine thread, so it keeps no state."""

    name: str

    def ident(self, pid: int) -> Hashable | None:
        """The start time of process `pid` (None if there is no such process)."""

    def scan(self) -> dict[int, Proc]:
        """Every process on the machine with pid, ident and ppid (cheap fields only)."""

    def session(self, proc: Proc) -> tuple[int | None, int | None]:
        """(pgid, sid) of a scanned process, None where unknown."""

    def read(self, proc: Proc, wants: Wants) -> bool:
        """Fill cpu, child_cpu, rss, threads and zombie; then I/O and fds if `wants.details(proc)`
        (which otherwise fills them from the last reading); then PSS/USS if `wants.memory(proc)`.
        False if the process vanished; a field it may not read stays None."""

    def system(self) -> SystemReading:
        """The machine's counters now."""


@dataclass(frozen=True, slots=True)
class SystemReading:
    """Raw system counters; `Sampler` turns two of them into a `SystemSample`."""

    cpu_times: tuple[tuple[float, float], ...]  # per core: (total, idle) seconds
    memory_used: int
    memory_available: int
    memory_percent: float
    swap_used: int
    load_avg: tuple[float, float, float]
    disk_read: int
    disk_write: int
    net_sent: int
    net_recv: int


@dataclass(frozen=True, slots=True)
class Root:
    """A process whose tree is sampled as one entry: a job's leader, or a watched pid."""

    key: int | str
    pid: int
    ident: Hashable
    name: str
    is_job: bool
    fresh: bool = False
    """Started since the previous tick, so everything its tree did counts in the first sample."""


@dataclass(frozen=True, slots=True)
class Reaped:
    """A process that `parent` reaped, with the exact CPU seconds the kernel gave with it (a job's
    leader and `wait4`'s rusage): its own and its waited-for descendants', which is what the
    parent's children time grew by. Given to `Sampler.jobs` once, at the first tick after the reap."""

    pid: int
    ident: Hashable
    parent: tuple  # (pid, ident)
    cpu: float



class Wants:
    """Tells a reader which costly fields to read for a process in this tick.

    I/O counters and fds cannot change while a process does not run, so a process whose CPU time
    has not moved since the last tick keeps its last reading, re-read at least every
    `detail_every` seconds (CPU time is counted in scheduler ticks, so a very short burst may not
    move it; the re-read catches what it did). A process whose child vanished is always re-read:
    its counters may have taken in the child's. PSS/USS: see the `sampler` module docstring.
    """

    __slots__ = ("mono", "prev", "force", "detail_every", "memory_every", "memory_cache", "detailed", "fetched")

    def __init__(self, mono: float, prev: dict[tuple, _Seen] | None, force: set[tuple], detail_every: float,
                 memory_every: float | None, memory_cache: dict[tuple, tuple[float, int, int | None, int | None]]):
        self.mono, self.prev, self.force = mono, prev, force
        self.detail_every, self.memory_every, self.memory_cache = detail_every, memory_every, memory_cache
        self.detailed: set[tuple] = set()
        self.fetched: set[tuple] = set()

    def details(self, proc: Proc) -> bool:
        key = (proc.pid, proc.ident)
        old = self.prev.get(key) if self.prev is not None else None
        if (old is None or key in self.force or proc.cpu != old.cpu
                or self.mono - old.detail_mono >= self.detail_every):
            self.detailed.add(key)
            return True
        proc.read_bytes, proc.write_bytes, proc.fds = old.read, old.write, old.fds
        return False

    def memory(self, proc: Proc) -> bool:
        if self.memory_every is None or proc.zombie:
            return False
        key = (proc.pid, proc.ident)
        last = self.memory_cache.get(key)
        if (last is None or self.mono - last[0] >= self.memory_every
                or abs(proc.rss - last[1]) > max(last[1] // 10, _MIB)):
            self.fetched.add(key)
            return True
        proc.pss, proc.uss = last[2], last[3]  # still current enough: reuse
        return False
