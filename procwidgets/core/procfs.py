"""A direct `/proc` reader for Linux: the monitor's fast path.

Why not psutil here: for the fields a monitor needs, psutil reads `/proc/PID/stat` once per
call (CPU times, RSS, threads and the parent each cost a read and a parse), builds named
tuples, and checks pid reuse with yet another read. One `/proc/PID/stat` read already has the
parent, group, session, start time, CPU times (own and reaped children's), threads and RSS,
so the scan that finds the trees also samples them; only `io`, `fd/` and (now and then)
`smaps_rollup` are extra. `bench/monitor.py` measures the difference against psutil.

Files are read with `os.open`/`os.read` (no buffered file object) because the cost per file
is the point. A process that vanishes between the directory listing and a read, or whose
files deny access (another user's process), is skipped or leaves that field None.
"""

from __future__ import annotations

import os
import sys

from .psreader import system_reading
from .sampler import Proc, SystemReading, Wants

__all__ = ["ProcfsReader", "available"]

_PROC = "/proc"
# Fields of /proc/PID/stat after "pid (comm) ", counted from 0 (proc(5) numbers minus 3).
_STATE, _PPID, _PGRP, _SESSION = 0, 1, 2, 3
_UTIME, _STIME, _CUTIME, _CSTIME = 11, 12, 13, 14
_THREADS, _STARTTIME, _RSS = 17, 19, 21


def available() -> bool:
    """True on Linux with a readable /proc (not in every sandbox)."""
    return sys.platform.startswith("linux") and _read(f"{_PROC}/self/stat") is not None


def _read(path: str) -> bytes | None:
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError:
        return None
    try:
        return os.read(fd, 8192)
    except OSError:
        return None
    finally:
        os.close(fd)


def _stat_fields(pid: int | str) -> list[bytes] | None:
    data = _read(f"{_PROC}/{pid}/stat")
    if not data:
        return None
    fields = data[data.rfind(b")") + 2:].split()  # comm may hold spaces and parentheses
    return fields if len(fields) > _RSS else None


class ProcfsReader:
    """Reads processes straight from /proc. See `sampler.Reader` for the contract."""

    name = "procfs"

    def __init__(self) -> None:
        self._tick = os.sysconf("SC_CLK_TCK")
        self._page = os.sysconf("SC_PAGE_SIZE")

    def ident(self, pid: int) -> int | None:
        fields = _stat_fields(pid)
        return int(fields[_STARTTIME]) if fields is not None else None

    def scan(self) -> dict[int, Proc]:
        procs: dict[int, Proc] = {}
        try:
            names = os.listdir(_PROC)
        except OSError:
            return procs
        for name in names:
            if not name.isdigit():
                continue
            fields = _stat_fields(name)
            if fields is None:  # gone since the listing
                continue
            pid = int(name)
            procs[pid] = Proc(pid, int(fields[_STARTTIME]), int(fields[_PPID]), fields)
        return procs

    def session(self, proc: Proc) -> tuple[int | None, int | None]:
        fields: list[bytes] = proc.raw  # type: ignore[assignment]
        return int(fields[_PGRP]), int(fields[_SESSION])

    def read(self, proc: Proc, wants: Wants) -> bool:
        fields: list[bytes] = proc.raw  # type: ignore[assignment]
        # The scan's stat read is this tick's CPU/RSS/threads reading: no second read.
        proc.child_cpu = (int(fields[_CUTIME]) + int(fields[_CSTIME])) / self._tick
        proc.cpu = (int(fields[_UTIME]) + int(fields[_STIME])) / self._tick + proc.child_cpu
        proc.zombie = fields[_STATE] in (b"Z", b"X")
        proc.threads = int(fields[_THREADS])
        proc.rss = int(fields[_RSS]) * self._page
        base = f"{_PROC}/{proc.pid}"
        if wants.details(proc):  # else it has not run since the last tick: they cannot have changed
            io = _read(f"{base}/io")
            if io is not None:
                # "rchar: N\nwchar: N\nsyscr: N\nsyscw: N\nread_bytes: N\nwrite_bytes: N\n..."
                words = io.split()
                try:
                    proc.read_bytes, proc.write_bytes = int(words[9]), int(words[11])
                except (IndexError, ValueError):
                    pass
            if not proc.zombie:
                try:
                    proc.fds = len(os.listdir(f"{base}/fd"))
                except FileNotFoundError:
                    return False  # exited since the scan
                except OSError:
                    pass  # permission denied: fds stays None
        if wants.memory(proc):
            proc.pss, proc.uss = _smaps_rollup(base)
        return True

    def system(self) -> SystemReading:
        return system_reading()


def _smaps_rollup(base: str) -> tuple[int | None, int | None]:
    """(PSS, USS) in bytes from /proc/PID/smaps_rollup (Linux 4.14+); None where unreadable."""
    data = _read(f"{base}/smaps_rollup")
    if not data:
        return None, None
    pss = uss = 0
    found = False
    for line in data.split(b"\n"):
        if line.startswith(b"Pss:"):
            pss = int(line.split()[1]) * 1024
            found = True
        elif line.startswith((b"Private_Clean:", b"Private_Dirty:")):
            uss += int(line.split()[1]) * 1024
    return (pss, uss) if found else (None, None)
