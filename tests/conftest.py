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

import pytest
from helpers import marked_processes, wait_for


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


@pytest.fixture
def make_pool():
    """Build pools (memory-only unless store= is given) that are always shut down (kill=True) after the test."""
    import procwidgets as pw

    pools: list[pw.ProcessPool] = []

    def make(**kwargs) -> pw.ProcessPool:
        pool = pw.ProcessPool(**kwargs)
        pools.append(pool)
        return pool

    yield make
    for pool in pools:
        pool.shutdown(kill=True)
