"""`make_reader`: picks the process reader a monitor samples with, by name.

Separate from monitor.py because the choice is about the platform (is there a readable /proc?),
not about sampling; procfs and psutil are imported only when a reader is made.
"""

from __future__ import annotations

from .sampler import Reader

__all__ = ["make_reader"]


def make_reader(reader: str = "auto") -> Reader:
    """"procfs" (Linux, direct /proc reads), "psutil" (portable), or "auto" (procfs where it works)."""
    from . import procfs, psreader

    if reader == "auto":
        return procfs.ProcfsReader() if procfs.available() else psreader.PsutilReader()
    if reader == "procfs":
        if not procfs.available():
            raise ValueError("reader='procfs' needs Linux with a readable /proc; use reader='psutil'")
        return procfs.ProcfsReader()
    if reader == "psutil":
        return psreader.PsutilReader()
    raise ValueError(f"reader must be 'auto', 'procfs' or 'psutil', got {reader!r}")
