"""Jobs die with their owner, even when the owner is SIGKILLed.

Why a watchdog process rather than PR_SET_PDEATHSIG in each child: PDEATHSIG reaches only the
direct child (not the grandchildren in its group), fires when the *thread* that forked dies
rather than the process, and needs a `preexec_fn`, which stops CPython from using vfork.

So each pool starts one small watchdog (this file, run by path with `python -I -S`: stdlib only,
about 20 ms). The owner holds the write end of a pipe to the watchdog's stdin and tells it
`+PGID` when a job's group starts and `-PGID` when it is gone. When the owner dies, however it
dies, the kernel closes the pipe; the watchdog reads EOF, sends TERM (and CONT, for stopped
groups) to every group it still knows, waits the grace period, KILLs what is left and exits.
The owner closes the write end in forked children, so a fork does not keep the watchdog waiting.

Every job also carries PROCWIDGETS_JOB=<pool token>:<job id> in its environment, inherited by
all its descendants; after the groups, the watchdog kills every process that carries this pool's
token. That reaches a job spawned in the moment before its `+PGID` line was written, and
descendants that left their group (`setsid()`). Limit: a process that clears its environment and
leaves its group is out of reach.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
import weakref

__all__ = ["MARKER_VAR", "Watchdog", "scan_marked"]

MARKER_VAR = "PROCWIDGETS_JOB"
"""Each job's processes carry PROCWIDGETS_JOB=<pool token>:<job id> in their environment."""

BATCH_SECONDS = 0.05


class Watchdog:
    """The owner's side: start the watchdog process and tell it which groups are live."""

    def __init__(self, grace: float, token: str = "") -> None:
        read_end, self._write_end = os.pipe()
        try:
            self._proc = subprocess.Popen(
                [sys.executable, "-I", "-S", os.path.abspath(__file__), repr(float(grace)), token],
                stdin=read_end, stdout=subprocess.DEVNULL, start_new_session=True, close_fds=True)
        finally:
            os.close(read_end)
        self._lock = threading.Lock()
        self._closed = False
        me = weakref.ref(self)  # a weak reference, so the fork hook does not keep a closed watchdog alive
        os.register_at_fork(after_in_child=lambda: (w := me()) is not None and w._forget_in_child())

    @property
    def pid(self) -> int:
        return self._proc.pid

    def _forget_in_child(self) -> None:
        # A forked copy of the owner must not hold the pipe open, or the watchdog would wait
        # for the fork as well as the owner.
        if not self._closed:
            self._closed = True
            try:
                os.close(self._write_end)
            except OSError:
                pass

    def _send(self, line: str) -> None:
        with self._lock:
            if self._closed:
                return
            try:
                os.write(self._write_end, line.encode())
            except OSError:  # the watchdog died: jobs still end with the pool, only not with a crash
                pass

    def add(self, pgid: int) -> None:
        self._send(f"+{pgid}\n")

    def remove(self, pgid: int) -> None:
        self._send(f"-{pgid}\n")

    def close(self, timeout: float = 5.0) -> None:
        """Clean shutdown: the watchdog sees EOF with no group left, and exits. Idempotent."""
        with self._lock:
            if not self._closed:
                self._closed = True
                os.close(self._write_end)
        try:
            self._proc.wait(timeout)
        except subprocess.TimeoutExpired:
            self._proc.kill()
            self._proc.wait()


def proc_pids() -> list[int]:
    """Every pid in /proc now ([] where there is no /proc)."""
    try:
        return [int(e) for e in os.listdir("/proc") if e.isdigit()]
    except OSError:
        return []


def read_stat(pid: int) -> tuple[int, int, int] | None:
    """(ppid, pgrp, starttime) of a live, non-zombie process from /proc/PID/stat; None if gone."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as f:
            stat = f.read()
    except OSError:
        return None
    fields = stat[stat.rfind(b")") + 2:].split()  # after "pid (comm) ": state ppid pgrp session ...
    if len(fields) < 20 or fields[0] in (b"Z", b"X"):
        return None
    return int(fields[1]), int(fields[2]), int(fields[19])


def scan_marked(marker: str, *, prefix: bool = False) -> dict[int, int]:
    """Live processes whose PROCWIDGETS_JOB is `marker` ("<token>:<id>"), or with `prefix=True`
    starts with it ("<token>:", a whole pool), as {pid: starttime}, from /proc. Processes of
    other users (unreadable environ) are skipped."""
    needle = f"{MARKER_VAR}={marker}".encode()
    found: dict[int, int] = {}
    for pid in proc_pids():
        try:
            with open(f"/proc/{pid}/environ", "rb") as f:
                environ = f.read()
        except OSError:
            continue
        if needle not in environ:
            continue
        values = environ.split(b"\0")
        if not (any(v.startswith(needle) for v in values) if prefix else needle in values):
            continue
        stat = read_stat(pid)
        if stat is not None:
            found[pid] = stat[2]
    return found


def _kill_marked(token: str, grace: float) -> None:
    """TERM (and CONT), grace, KILL every process that carries this pool's marker."""
    if not token:
        return
    marked = scan_marked(f"{token}:", prefix=True)
    for sig in (signal.SIGTERM, signal.SIGCONT):
        for pid in marked:
            try:
                os.kill(pid, sig)
            except OSError:
                pass
    deadline = time.monotonic() + grace
    while marked and time.monotonic() < deadline:
        time.sleep(0.05)
        marked = {p: t for p, t in scan_marked(f"{token}:", prefix=True).items() if marked.get(p) == t}
    for pid in marked:
        try:
            os.kill(pid, signal.SIGKILL)
        except OSError:
            pass


def _kill_groups(groups: set[int], grace: float) -> None:
    for pgid in groups:
        for sig in (signal.SIGTERM, signal.SIGCONT):
            try:
                os.killpg(pgid, sig)
            except OSError:
                pass
    deadline = time.monotonic() + grace
    alive = set(groups)
    while alive and time.monotonic() < deadline:
        for pgid in list(alive):
            try:
                os.killpg(pgid, 0)
            except OSError:
                alive.discard(pgid)
        if alive:
            time.sleep(0.05)
    for pgid in alive:
        try:
            os.killpg(pgid, signal.SIGKILL)
        except OSError:
            pass


def _main(grace: float, token: str) -> None:
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # a Ctrl-C meant for the owner is not for us
    groups: set[int] = set()
    pending = b""
    while True:
        data = os.read(0, 65536)
        if not data:
            break
        *lines, pending = (pending + data).split(b"\n")
        for raw in lines:
            line = raw.strip()
            if line[:1] == b"+":
                groups.add(int(line[1:]))
            elif line[:1] == b"-":
                groups.discard(int(line[1:]))
        # Read in batches: while we sleep, the owner's writes land in the pipe without waking us
        # (one wake-up per batch instead of two per job). Owner death is seen at most this late.
        time.sleep(BATCH_SECONDS)
    if groups:  # EOF with live groups: the owner died without shutting its pool down
        _kill_groups(groups, grace)
    # Also what a group kill cannot reach: a job spawned in the instant before its group was
    # announced, and descendants that left their group (setsid). A clean shutdown leaves none.
    _kill_marked(token, grace)


if __name__ == "__main__":
    _main(float(sys.argv[1]) if len(sys.argv) > 1 else 5.0, sys.argv[2] if len(sys.argv) > 2 else "")
