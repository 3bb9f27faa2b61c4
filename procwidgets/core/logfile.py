"""A job's full output on disk: stdout and stderr interleaved in arrival order, one record per line.

Format (plain text, greppable; one record per line of the file):

* ``1 <bytes>`` a complete stdout line, ``2 <bytes>`` a complete stderr line;
* ``1+<bytes>`` / ``2+<bytes>`` a piece of a line that goes on in the next record of the same
  stream (a line longer than 64 KiB, or one still open when the other stream wrote);
* ``# <text>`` a note from procwidgets (an attempt started, a write error).

Bytes are written as they arrive with `os.write` (no user-space buffer), so everything a job
printed is in the kernel's page cache even if the owner is SIGKILLed a moment later. Memory is
bounded by one partial line per stream.
"""

from __future__ import annotations

import os
from collections.abc import Iterator

__all__ = ["LogWriter", "read_log"]

MAX_PIECE = 65536
_TAG = {"stdout": b"1", "stderr": b"2"}
_STREAM = {b"1": "stdout", b"2": "stderr"}


class LogWriter:
    """Appends one job's output to its log file. Engine thread only."""

    def __init__(self, path: str) -> None:
        self.path = path
        self.error: str | None = None
        # The file is opened at the first byte to write: a job that prints nothing costs no file
        # (thousands of silent jobs would otherwise each create, write and close one).
        self._fd: int | None = None
        self._opened = False
        self._header = b""  # lazy notes, written before the first output
        self._complete = 0  # end of the last whole record on disk
        self._open_line: dict[str, bytes] = {"stdout": b"", "stderr": b""}

    def note(self, text: str, *, lazy: bool = False) -> None:
        """A `# text` record; with `lazy=True` only if the job writes something after it."""
        record = b"# " + text.encode("utf-8", "replace").replace(b"\n", b" ") + b"\n"
        if lazy and not self._opened:
            self._header += record
        else:
            self._write(record)

    def write(self, stream: str, data: bytes) -> None:
        tag = _TAG[stream]
        other = "stderr" if stream == "stdout" else "stdout"
        if self._open_line[other]:  # keep arrival order: the other stream's open line goes first
            self._flush_partial(other)
        pending = self._open_line[stream] + data
        *lines, rest = pending.split(b"\n")
        out = [tag + b" " + line + b"\n" for line in lines]
        while len(rest) > MAX_PIECE:
            out.append(tag + b"+" + rest[:MAX_PIECE] + b"\n")
            rest = rest[MAX_PIECE:]
        self._open_line[stream] = rest
        if out:
            self._write(b"".join(out))

    def _flush_partial(self, stream: str) -> None:
        piece, self._open_line[stream] = self._open_line[stream], b""
        self._write(_TAG[stream] + b"+" + piece + b"\n")

    def close(self) -> None:
        """Write any open line as complete and close the file. Idempotent."""
        for stream in ("stdout", "stderr"):
            if self._open_line[stream]:
                piece, self._open_line[stream] = self._open_line[stream], b""
                self._write(_TAG[stream] + b" " + piece + b"\n")
        if self._fd is not None:
            os.close(self._fd)
            self._fd = None

    def _write(self, data: bytes) -> None:
        if not self._opened:
            self._opened = True
            try:
                self._fd = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT | os.O_CLOEXEC, 0o644)
                self._complete = os.fstat(self._fd).st_size
            except OSError as exc:
                self.error = f"log writing stopped: {exc.strerror or exc} ({self.path})"
                return
            data, self._header = self._header + data, b""
        if self._fd is None:
            return
        try:
            view = memoryview(data)
            while view:
                view = view[os.write(self._fd, view):]
            self._complete += len(data)
        except OSError as exc:  # disk full, quota, I/O error: the job goes on, the log stops
            self.error = f"log writing stopped: {exc.strerror or exc} ({self.path})"
            try:  # a short write left half a record: cut back to whole ones, so no line is invented
                os.ftruncate(self._fd, self._complete)
            except OSError:
                pass
            os.close(self._fd)
            self._fd = None


def read_log(path: str, *, notes: bool = False) -> Iterator[tuple[str, str]]:
    """Yield `(stream, text)` per output line, in order; with `notes=True` also `("note", text)`."""
    pending = {"stdout": b"", "stderr": b""}
    with open(path, "rb") as f:
        for record in f:
            record = record[:-1] if record.endswith(b"\n") else record
            head = record[:1]
            if head == b"#":
                if notes:
                    yield "note", record[2:].decode("utf-8", "replace")
                continue
            stream = _STREAM.get(head)
            if stream is None:
                continue
            if record[1:2] == b"+":
                pending[stream] += record[2:]
            else:
                line, pending[stream] = pending[stream] + record[2:], b""
                yield stream, line.decode("utf-8", "replace")
    for stream, rest in pending.items():
        if rest:
            yield stream, rest.decode("utf-8", "replace")
