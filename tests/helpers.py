"""Small helpers shared by the test suites (importable: tests/ is on sys.path via conftest)."""

from __future__ import annotations

import os
import time
import uuid
from collections.abc import Callable
from typing import Any


def wait_for(condition: Callable[[], Any], timeout: float = 10.0, interval: float = 0.01, message: str = "") -> Any:
    """Poll `condition()` until it returns a truthy value or the deadline passes (then fail)."""
    deadline = time.monotonic() + timeout
    while True:
        value = condition()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"condition not met within {timeout} s: {message or condition}")
        time.sleep(interval)


MARK = f"PROCWIDGETS_TEST_MARK={uuid.uuid4().hex}".encode()
os.environ["PROCWIDGETS_TEST_MARK"] = MARK.split(b"=", 1)[1].decode()
# Pools created without store= keep history in memory during tests; store tests pass a tmp dir.
os.environ["PROCWIDGETS_STORE"] = ""


def marked_processes(mark: str | bytes = MARK) -> list[int]:
    """Live (not zombie) processes, other than this one, whose environment carries the mark."""
    mark = mark.encode() if isinstance(mark, str) else mark
    found = []
    me = os.getpid()
    for entry in os.listdir("/proc"):
        if not entry.isdigit() or int(entry) == me:
            continue
        try:
            with open(f"/proc/{entry}/stat", "rb") as f:
                stat = f.read()
            if stat[stat.rfind(b")") + 2:][:1] in (b"Z", b"X"):
                continue
            with open(f"/proc/{entry}/environ", "rb") as f:
                if mark in f.read().split(b"\0"):
                    found.append(int(entry))
        except OSError:
            continue
    return found
