"""Shared checks for the fault catalog: is a process gone, is nothing of the suite left, mounts."""

from __future__ import annotations

import os
import signal
import subprocess
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path

import psutil
import pytest
from helpers import marked_processes, wait_for

import procwidgets as pw


def alive(pid: int) -> bool:
    """True while `pid` runs (a zombie counts as gone: it runs nothing and holds nothing)."""
    try:
        return psutil.Process(pid).status() != psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return False


def assert_all_gone(pids: Iterable[int], timeout: float = 10.0, what: str = "processes") -> None:
    """Fail unless every pid is gone within `timeout` s."""
    pids = list(pids)
    try:
        wait_for(lambda: not any(alive(p) for p in pids), timeout=timeout, interval=0.02)
    except AssertionError:
        left = [p for p in pids if alive(p)]
        raise AssertionError(f"{len(left)} of {len(pids)} {what} still alive after {timeout} s: {left}") from None


def assert_no_leak(timeout: float = 10.0) -> None:
    """Fail unless no process started by this test session (it carries the suite's mark) is left.

    Call it after the pools are shut down: a live pool's watchdog carries the mark too."""
    try:
        wait_for(lambda: not marked_processes(), timeout=timeout, interval=0.05)
    except AssertionError:
        raise AssertionError(f"processes left behind: {marked_processes()}") from None


def kill_all(pids: Iterable[int]) -> None:
    """Last-resort cleanup so that one failing fault does not leak into the next test."""
    for pid in pids:
        try:
            os.kill(pid, signal.SIGKILL)
        except OSError:
            pass


def assert_every_job_recorded(pool: pw.ProcessPool, jobs: list[pw.Job]) -> None:
    """No lost record: every job is in the pool, finished, with a reason when it did not succeed."""
    by_id = {j.id: j for j in pool.jobs}
    assert [j.id for j in jobs if j.id not in by_id] == []
    unfinished = [j for j in jobs if not j.state.is_finished]
    assert unfinished == []
    assert [j for j in jobs if j.state is not pw.JobState.SUCCEEDED and not j.error] == []


@contextmanager
def mounted(target: Path, options: str, source: str = "tmpfs", fstype: str | None = "tmpfs") -> Iterator[Path]:
    """Mount `source` at `target` for the block (root only: skip the test otherwise); lazy unmount after."""
    target.mkdir(parents=True, exist_ok=True)
    argv = ["mount", *(["-t", fstype] if fstype else []), "-o", options, source, str(target)]
    done = subprocess.run(argv, capture_output=True)
    if done.returncode != 0:
        pytest.skip(f"cannot mount here (needs root): {done.stderr.decode().strip()}")
    try:
        yield target
    finally:
        subprocess.run(["umount", "-l", str(target)], check=True)
