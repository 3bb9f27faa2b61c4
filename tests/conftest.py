"""Suite-wide guard: no test may leave a process behind.

Every process the suite starts inherits PROCWIDGETS_TEST_MARK from the environment, including
grandchildren and ones that escaped their process group. After each test, any live process
that carries the mark (other than this one) fails the test, and is killed so the next test
starts clean.
"""

from __future__ import annotations

import os
import signal
import sys
import uuid

import pytest
from helpers import wait_for

MARK = f"PROCWIDGETS_TEST_MARK={uuid.uuid4().hex}".encode()
os.environ["PROCWIDGETS_TEST_MARK"] = MARK.split(b"=", 1)[1].decode()
# Pools created without store= keep history in memory during tests; store tests pass a tmp dir.
os.environ["PROCWIDGETS_STORE"] = ""


def marked_processes() -> list[int]:
    """Live (not zombie) processes, other than this one, whose environment carries the mark."""
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
                if MARK in f.read().split(b"\0"):
                    found.append(int(entry))
        except OSError:
            continue
    return found


@pytest.fixture(autouse=True)
def no_leftover_processes():
    yield
    try:
        # Children of a pool being shut down may take a moment to be gone: wait, with a deadline.
        wait_for(lambda: not marked_processes(), timeout=8.0, interval=0.05)
    except AssertionError:
        left = marked_processes()
        details = []
        for pid in left:
            try:
                with open(f"/proc/{pid}/cmdline", "rb") as f:
                    command = f.read().replace(b"\0", b" ").decode(errors="replace")
                details.append(f"{pid}: {command}")
            except OSError:
                pass
            try:
                os.kill(pid, signal.SIGKILL)
            except OSError:
                pass
        pytest.fail(f"test left {len(left)} process(es) behind:\n" + "\n".join(details))


@pytest.fixture
def py():
    """argv for a real Python child running `code` unbuffered."""
    return lambda code: [sys.executable, "-u", "-c", code]
