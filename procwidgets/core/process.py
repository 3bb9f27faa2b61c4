"""Spawning a job in its own session, signalling its process group, and reading its output.

Only the pool calls these; it is the one owner of process lifetimes.

* `spawn` starts the command with `subprocess.Popen(start_new_session=True)`: the job leads a new
  session and process group, so one `killpg` reaches every descendant that stays in the group.
  No `preexec_fn`, so CPython can use vfork, the fast path.
* `watch_exit` resolves a future when the process exits, through a pidfd on Linux (the kernel
  wakes the loop; no thread per child, no polling), else through a waiting thread.
* `LineReader` reads a pipe as data arrives, decodes with replacement, and hands complete lines
  on. Memory stays bounded: a line longer than `max_line` characters is cut, and a carriage
  return (progress bars) restarts the current line as a terminal would.
"""

from __future__ import annotations

import asyncio
import codecs
import errno
import os
import shutil
import subprocess
from collections.abc import Callable, Mapping, Sequence

from .watchdog import MARKER_VAR, proc_pids, read_stat, scan_marked

__all__ = ["MARKER_VAR", "LineReader", "describe_spawn_error", "group_alive", "scan_descendants", "scan_marked",
           "signal_group", "signal_known", "spawn", "watch_exit"]

READ_SIZE = 65536


def spawn(argv: Sequence[str], *, cwd: str | None, env: Mapping[str, str] | None,
          marker: str | None = None) -> subprocess.Popen[bytes]:
    """Start `argv` as the leader of a new session; stdin is /dev/null, stdout and stderr are pipes.

    `env` entries are laid over the current environment. Python children get PYTHONUNBUFFERED=1
    unless it is set, so `print` output arrives as it happens instead of at exit. `marker` goes
    into the environment as PROCWIDGETS_JOB: every descendant inherits it from the first
    instruction on, even one that leaves the group, so a kill (or the watchdog) can find them all.
    """
    child_env = dict(os.environ)
    child_env.setdefault("PYTHONUNBUFFERED", "1")
    if env:
        child_env.update(env)
    if marker is not None:
        child_env[MARKER_VAR] = marker
    return subprocess.Popen(
        list(argv), stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
        cwd=cwd, env=child_env, start_new_session=True, close_fds=True, bufsize=0,
    )


def describe_spawn_error(exc: OSError, argv: Sequence[str], cwd: str | None) -> str:
    """A spawn failure in words, with what to do about it."""
    program = argv[0]
    if cwd is not None and exc.filename == cwd:
        if exc.errno == errno.ENOENT:
            return f"working directory {cwd!r} does not exist: create it or pass another cwd="
        if exc.errno == errno.ENOTDIR:
            return f"working directory {cwd!r} is not a directory: pass a directory as cwd="
        if exc.errno == errno.EACCES:
            return f"working directory {cwd!r} is not accessible (permission denied)"
    if exc.errno == errno.ENOENT:
        if os.sep in program:
            return f"no such program: {program!r} does not exist; check the path"
        return (f"no such program: {program!r} was not found on PATH; check the spelling, "
                f"install it, or give its full path")
    if exc.errno == errno.EACCES:
        where = program if os.sep in program else (shutil.which(program) or program)
        return f"permission denied running {where!r}: is it executable (chmod +x) and not a directory?"
    if exc.errno == errno.ENOEXEC:
        return f"{program!r} is not an executable format; a script needs a #! line, or run it with its interpreter"
    return f"could not start {program!r}: {exc.strerror or exc}"


def signal_group(pgid: int, sig: int) -> bool:
    """Send `sig` to the whole process group; False if the group no longer exists."""
    try:
        os.killpg(pgid, sig)
        return True
    except ProcessLookupError:
        return False
    except PermissionError:  # the pgid was reused by someone else's process: not ours to touch
        return False


def group_alive(pgid: int) -> bool:
    """True while a live (not zombie) process is in the group.

    `killpg(pgid, 0)` alone also succeeds for zombies, and orphaned zombies linger where PID 1
    does not reap (some containers and micro-VMs); they run nothing and hold no pipe, so on
    Linux the group's members are read from /proc to skip them. Only called after a job's
    leader has exited, so the scan is off the hot path.
    """
    if not signal_group(pgid, 0):
        return False
    pids = proc_pids()
    if not pids:  # no /proc to tell zombies apart: trust killpg
        return True
    return any((stat := read_stat(pid)) is not None and stat[1] == pgid for pid in pids)


def scan_descendants(root: int) -> dict[int, int]:
    """Every live descendant of `root` now, as {pid: starttime}, from one pass over /proc.

    Follows parent links, so it finds a descendant that left the job's process group or session
    (setsid) as long as the chain of parents up to `root` is alive. Linux only; {} elsewhere.
    """
    children: dict[int, list[tuple[int, int]]] = {}
    for pid in proc_pids():
        stat = read_stat(pid)
        if stat is not None:
            children.setdefault(stat[0], []).append((pid, stat[2]))
    found: dict[int, int] = {}
    stack = [root]
    while stack:
        for pid, started in children.get(stack.pop(), ()):
            if pid not in found:
                found[pid] = started
                stack.append(pid)
    return found


def signal_known(processes: dict[int, int], sig: int) -> bool:
    """Signal each {pid: starttime} still alive as the same process (a reused pid is left alone)."""
    sent = False
    for pid, started in processes.items():
        stat = read_stat(pid)
        if stat is None or stat[2] != started:
            continue
        try:
            os.kill(pid, sig)
            sent = True
        except OSError:
            pass
    return sent


def watch_exit(loop: asyncio.AbstractEventLoop,
               proc: subprocess.Popen[bytes]) -> asyncio.Future[tuple[int, os.struct_rusage | None]]:
    """A future for `(returncode, rusage)` when the process exits.

    The child is reaped with `wait4`, so its resource usage comes with it: CPU time of the
    leader and of every descendant it waited for (exact, from the kernel), and the largest
    single-process peak RSS among them. The return code is negative -N when killed by signal N.
    """
    future: asyncio.Future[tuple[int, os.struct_rusage | None]] = loop.create_future()

    def reap(blocking: bool) -> tuple[int, os.struct_rusage | None]:
        try:
            pid, status, usage = os.wait4(proc.pid, 0 if blocking else os.WNOHANG)
        except ChildProcessError:  # reaped elsewhere already
            return proc.wait(), None
        if pid == 0:
            return proc.wait(), None
        proc.returncode = os.waitstatus_to_exitcode(status)
        return proc.returncode, usage

    def settle(result: tuple[int, os.struct_rusage | None]) -> None:
        if not future.done():
            future.set_result(result)

    try:
        pidfd = os.pidfd_open(proc.pid)
    except (AttributeError, OSError):  # not Linux >= 5.3: one waiting thread for this child
        loop.run_in_executor(None, reap, True).add_done_callback(lambda f: settle(f.result()))
        return future

    def exited() -> None:
        loop.remove_reader(pidfd)
        os.close(pidfd)
        settle(reap(False))

    loop.add_reader(pidfd, exited)
    return future


class LineReader:
    """Reads one pipe on the loop: `on_line(stream, text)` per complete line, `on_data(stream, bytes)` per chunk."""

    def __init__(self, loop: asyncio.AbstractEventLoop, pipe: object, stream: str,
                 on_line: Callable[[str, str], None], *, max_line: int = 4096,
                 on_data: Callable[[str, bytes], None] | None = None) -> None:
        self.loop = loop
        self.stream = stream
        self._pipe = pipe  # keep the file object alive: closing it closes the fd
        self._fd: int = pipe.fileno()  # type: ignore[attr-defined]
        self._on_line = on_line
        self._on_data = on_data
        self._max_line = max_line
        self._decoder = codecs.getincrementaldecoder("utf-8")(errors="replace")
        self._partial = ""
        self._cut = 0  # characters dropped from the current over-long line
        self.bytes_read = 0
        self.eof: asyncio.Future[None] = loop.create_future()
        os.set_blocking(self._fd, False)
        loop.add_reader(self._fd, self._readable)

    def _readable(self) -> None:
        try:
            data = os.read(self._fd, READ_SIZE)
        except BlockingIOError:
            return
        except OSError:
            data = b""
        if not data:
            self._feed(self._decoder.decode(b"", final=True))
            if self._partial or self._cut:
                self._emit(self._partial)
            self.close()
            return
        self.bytes_read += len(data)
        if self._on_data is not None:
            self._on_data(self.stream, data)
        self._feed(self._decoder.decode(data))

    def _feed(self, text: str) -> None:
        if not text:
            return
        pieces = text.split("\n")
        for piece in pieces[:-1]:
            self._append(piece)
            self._emit(self._partial)
        self._append(pieces[-1])

    def _append(self, piece: str) -> None:
        # A carriage return (not the \r of a \r\n ending) redraws the line, as on a terminal:
        # keep only what follows it, so a progress bar costs one line, not megabytes.
        if "\r" in piece or self._partial.endswith("\r"):
            combined = self._partial + piece  # the partial is bounded, the piece one read at most
            body = combined.rstrip("\r")
            if "\r" in body:
                combined = body.rsplit("\r", 1)[1] + combined[len(body):]
                self._cut = 0
            self._partial, piece = "", combined
        room = self._max_line - len(self._partial)
        if len(piece) > room:
            self._cut += len(piece) - max(room, 0)
            piece = piece[:max(room, 0)]
        self._partial += piece

    def _emit(self, line: str) -> None:
        line = line.rstrip("\r")
        if self._cut:
            line += f" …[{self._cut} more characters cut]"
        self._partial, self._cut = "", 0
        self._on_line(self.stream, line)

    def close(self) -> None:
        """Stop reading and close the pipe; resolves `eof`. Idempotent."""
        if self.eof.done():
            return
        self.loop.remove_reader(self._fd)
        self._pipe.close()  # type: ignore[attr-defined]
        self.eof.set_result(None)
