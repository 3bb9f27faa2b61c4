"""The owner is SIGKILLed while 8 jobs run and 100 wait: no job process lives on, no record is lost."""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import subprocess
import sys
import textwrap

import pytest
from faultkit import alive, assert_all_gone, assert_no_leak, kill_all
from helpers import marked_processes

import procwidgets as pw
from procwidgets import JobState
from procwidgets.core.logfile import read_log

OWNER = textwrap.dedent("""
    import json, sys, time
    import procwidgets as pw
    pool = pw.ProcessPool(max_workers=8, store=sys.argv[1], kill_grace=1)
    code = "import itertools, time\\nfor i in itertools.count():\\n    print(f'line {i}', flush=True); time.sleep(0.01)"
    jobs = [pool.submit([sys.executable, "-u", "-c", code], name=f"job {i}") for i in range(108)]
    while sum(j.output_seq >= 5 for j in jobs) < 8:
        time.sleep(0.01)
    running = [j for j in jobs if j.state is pw.JobState.RUNNING]
    print(json.dumps({"running": {j.name: j.pid for j in running}, "ids": [j.id for j in jobs]}), flush=True)
    time.sleep(300)
""")


def test_owner_sigkilled_with_8_running_and_100_queued(tmp_path):
    store = tmp_path / "store"
    owner = subprocess.Popen([sys.executable, "-c", OWNER, str(store)], stdout=subprocess.PIPE, text=True)
    try:
        seen = json.loads(owner.stdout.readline())
        running, ids = seen["running"], seen["ids"]
        assert len(running) == 8 and len(ids) == 108
        assert all(alive(pid) for pid in running.values())
        os.kill(owner.pid, signal.SIGKILL)
        owner.wait(10)
        # the watchdog TERMs every running job's group
        assert_all_gone(running.values(), timeout=10, what="running jobs of the killed owner")
        assert_no_leak()  # the watchdog itself is gone too
    finally:
        if owner.poll() is None:
            owner.kill()
            owner.wait()
    with pw.ProcessPool(max_workers=1, store=store) as pool:
        jobs = {j.id: j for j in pool.jobs}
        assert sorted(jobs) == sorted(ids)  # all 108, none lost
        assert {j.state for j in jobs.values()} == {JobState.INTERRUPTED}  # none running, none queued
        was_running = {j.name for j in jobs.values() if "it was RUNNING" in j.error}
        was_queued = {j.name for j in jobs.values() if "it was QUEUED" in j.error}
        assert was_running == set(running) and len(was_queued) == 100
        for job in jobs.values():
            assert f"when its owner (pid {owner.pid}) died" in job.error
            if job.name in running:  # each line its owner read is on disk, in order
                lines = [text for _, text in read_log(job.log_path)]
                assert len(lines) >= 5 and lines == [f"line {n}" for n in range(len(lines))]
    with sqlite3.connect(store / "jobs.sqlite3") as db:  # and the database agrees
        assert db.execute("SELECT state, count(*) FROM jobs GROUP BY state").fetchall() == [("interrupted", 108)]


SUBMIT_AND_DIE = textwrap.dedent("""
    import os, signal, sys
    import procwidgets as pw
    pool = pw.ProcessPool(max_workers=8, store=sys.argv[1], kill_grace=1)
    jobs = [pool.submit(["sleep", "300"], name=f"sleeper {i}") for i in range(int(sys.argv[2]))]
    print(" ".join(str(j.id) for j in jobs), flush=True)
    if sys.argv[3] == "flushed":  # the documented way to make sure the records are on disk
        pool.flush()
    if sys.argv[3] == "mid-spawn":  # the engine spawns the 8 first jobs back to back: die among them
        while jobs[3].pid is None:
            pass
    os.kill(os.getpid(), signal.SIGKILL)
""")


def command_line(pid: int) -> str:
    try:
        with open(f"/proc/{pid}/cmdline", "rb") as f:
            return f.read().replace(b"\0", b" ").decode(errors="replace")
    except OSError:
        return "?"


def submit_and_die(store, n: int, when: str) -> list[int]:
    """Run an owner that submits n jobs and is SIGKILLed right after submit() returned ("at-once") or
    once the 4th job has started ("mid-spawn"); the ids it got."""
    owner = subprocess.run([sys.executable, "-c", SUBMIT_AND_DIE, str(store), str(n), when],
                           capture_output=True, text=True, timeout=60)
    assert owner.returncode == -signal.SIGKILL, owner.stderr
    return [int(i) for i in owner.stdout.split()]


def test_an_owner_killed_while_spawning_leaves_no_job_running(tmp_path):
    leaked: list[str] = []
    try:
        for run in range(10):
            submit_and_die(tmp_path / f"store{run}", 8, "mid-spawn")
            try:  # the watchdog TERMs what it knows at once, and KILLs after the 1 s grace
                assert_no_leak(timeout=3)
            except AssertionError:
                leaked += [f"{pid}: {command_line(pid)}" for pid in marked_processes()]
                kill_all(marked_processes())
                break  # one leak is enough
        assert leaked == [], f"in run {run + 1} of 10, job processes outlived their SIGKILLed owner"
    finally:
        kill_all(marked_processes())


def test_jobs_are_in_the_store_after_flush_when_the_owner_dies(tmp_path):
    ids = submit_and_die(tmp_path, 50, "flushed")
    kill_all(marked_processes())
    with pw.ProcessPool(max_workers=1, store=tmp_path) as pool:
        stored = sorted(j.id for j in pool.jobs)
    assert stored == sorted(ids)


@pytest.mark.xfail(strict=True, reason=(
    "a documented limit, not a bug to fix here: submit() returns before its record is on disk "
    "(records are batched off the caller's thread, ~50 ms; pool.flush() waits for them), so jobs "
    "submitted in the instant before the owner is SIGKILLed can be missing from the store"))
def test_a_job_submit_returned_is_in_the_store_when_the_owner_dies_at_once(tmp_path):
    ids = submit_and_die(tmp_path, 50, "at-once")
    kill_all(marked_processes())  # (the spawning race above is not this test's subject)
    with pw.ProcessPool(max_workers=1, store=tmp_path) as pool:
        stored = sorted(j.id for j in pool.jobs)
    assert stored == sorted(ids), f"{len(ids) - len(stored)} of {len(ids)} submitted jobs are not in the store"
