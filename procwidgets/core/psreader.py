"""The portable process reader, on psutil, and the machine's counters (psutil on every platform).

`psutil.Process` objects are kept between ticks, keyed by (pid, create time), so a pid taken
over by a new process gets a new object and never inherits the old one's history. CPU rates
are computed by the sampler from cumulative `cpu_times()` (own and reaped children's), not from
`Process.cpu_percent()`, whose first call on a new object returns a meaningless 0.0 and which
cannot see children that ended between two samples.

`psutil.process_iter()` is not used for the scan: its process cache trusts a pid until a
method happens to notice reuse, so a reused pid could come back with the old create time.
"""

from __future__ import annotations

import os
from collections.abc import Hashable

import psutil

from .sampler import Proc, SystemReading, Wants

__all__ = ["PsutilReader", "system_reading"]


class PsutilReader:
    """Reads processes through psutil. See `sampler.Reader` for the contract."""

    name = "psutil"

    def __init__(self) -> None:
        self._procs: dict[tuple[int, Hashable], psutil.Process] = {}

    def ident(self, pid: int) -> float | None:
        try:
            return psutil.Process(pid).create_time()
        except (psutil.NoSuchProcess, psutil.AccessDenied):
            return None

    def scan(self) -> dict[int, Proc]:
        procs: dict[int, Proc] = {}
        kept: dict[tuple[int, Hashable], psutil.Process] = {}
        for pid in psutil.pids():
            try:
                fresh = psutil.Process(pid)  # reads the create time now: the pid's identity
                key = (pid, fresh.create_time())
                proc = self._procs.get(key, fresh)
                ppid = proc.ppid()
            except (psutil.NoSuchProcess, psutil.AccessDenied):
                continue
            kept[key] = proc
            procs[pid] = Proc(pid, key[1], ppid, proc)
        self._procs = kept
        return procs

    def session(self, proc: Proc) -> tuple[int | None, int | None]:
        try:
            return os.getpgid(proc.pid), os.getsid(proc.pid)
        except (AttributeError, OSError):  # gone, or not POSIX
            return None, None

    def read(self, proc: Proc, wants: Wants) -> bool:
        p: psutil.Process = proc.raw  # type: ignore[assignment]
        try:
            with p.oneshot():
                times = p.cpu_times()
                proc.child_cpu = getattr(times, "children_user", 0.0) + getattr(times, "children_system", 0.0)
                proc.cpu = times.user + times.system + proc.child_cpu
                proc.zombie = p.status() == psutil.STATUS_ZOMBIE
                if proc.zombie:
                    return True
                proc.rss = p.memory_info().rss
                proc.threads = p.num_threads()
        except psutil.NoSuchProcess:
            return False
        except psutil.AccessDenied:
            return True
        if wants.details(proc):  # else it has not run since the last tick: they cannot have changed
            try:
                io = p.io_counters()
                proc.read_bytes, proc.write_bytes = io.read_bytes, io.write_bytes
            except (psutil.AccessDenied, AttributeError, NotImplementedError):
                pass  # not on macOS; not for another user's process
            except psutil.NoSuchProcess:
                return False
            try:
                proc.fds = p.num_fds() if hasattr(p, "num_fds") else p.num_handles()
            except (psutil.AccessDenied, NotImplementedError):
                pass
            except psutil.NoSuchProcess:
                return False
        if wants.memory(proc):
            try:
                full = p.memory_full_info()
                proc.pss, proc.uss = getattr(full, "pss", None), getattr(full, "uss", None)
            except (psutil.AccessDenied, NotImplementedError):
                pass
            except psutil.NoSuchProcess:
                return False
        return True

    def system(self) -> SystemReading:
        return system_reading()


def system_reading() -> SystemReading:
    """The machine's counters now (about 0.2 ms on Linux, so not worth a /proc path of its own).

    CPU comes from `cpu_times(percpu=True)` rather than `psutil.cpu_percent()`, whose baseline
    is global and would be reset by any other caller in the same process.
    """
    cores = []
    for t in psutil.cpu_times(percpu=True):
        # Linux counts guest time inside user time already; psutil does the same subtraction.
        total = sum(t) - getattr(t, "guest", 0.0) - getattr(t, "guest_nice", 0.0)
        cores.append((total, t.idle + getattr(t, "iowait", 0.0)))
    vm = psutil.virtual_memory()
    try:
        swap_used = psutil.swap_memory().used
    except (OSError, RuntimeError):
        swap_used = 0
    try:
        load = tuple(psutil.getloadavg())
    except (OSError, AttributeError):
        load = (0.0, 0.0, 0.0)
    try:
        disk = psutil.disk_io_counters()
    except (OSError, RuntimeError):
        disk = None
    try:
        net = psutil.net_io_counters()
    except (OSError, RuntimeError):
        net = None
    return SystemReading(
        cpu_times=tuple(cores), memory_used=vm.used, memory_available=vm.available,
        memory_percent=vm.percent, swap_used=swap_used, load_avg=load,  # type: ignore[arg-type]
        disk_read=disk.read_bytes if disk else 0, disk_write=disk.write_bytes if disk else 0,
        net_sent=net.bytes_sent if net else 0, net_recv=net.bytes_recv if net else 0)
