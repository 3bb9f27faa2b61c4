"""Faults in a job's process tree: deep trees, a child that escapes with setsid(), 200 forked children."""

from __future__ import annotations

import os
import sys
import textwrap

import psutil
import pytest
from faultkit import alive, assert_all_gone, assert_every_job_recorded, assert_no_leak, kill_all
from helpers import wait_for

from procwidgets import JobState

# Level 1 (the job) starts level 2, which starts two level-3 sleepers; with escape=True the second
# calls setsid() first, leaving the job's session and process group while its parent lives on.
# Every process writes "pid <level> <pid>" on the job's stdout, in one write() so lines never mix.
LEVEL3 = "import os, sys, time\nSETSIDos.write(1, f'pid {sys.argv[1]} {os.getpid()}\\n'.encode())\ntime.sleep(300)"
LEVEL2 = textwrap.dedent("""
    import os, subprocess, sys, time
    os.write(1, f'pid 2 {os.getpid()}\\n'.encode())
    kids = [subprocess.Popen([sys.executable, '-c', sys.argv[1], '3a']),
            subprocess.Popen([sys.executable, '-c', sys.argv[2], '3b'])]
    time.sleep(300)
""")
LEVEL1 = textwrap.dedent("""
    import os, subprocess, sys, time
    os.write(1, f'pid 1 {os.getpid()}\\n'.encode())
    child = subprocess.Popen([sys.executable, '-c', sys.argv[1], sys.argv[2], sys.argv[3]])
    time.sleep(300)
""")


def tree_job(escape: bool) -> list[str]:
    plain = LEVEL3.replace("SETSID", "")
    second = LEVEL3.replace("SETSID", "os.setsid()\n" if escape else "")
    return [sys.executable, "-c", LEVEL1, LEVEL2, plain, second]


def tree_pids(job) -> dict[str, int]:
    """The four pids the tree printed, once all four have printed."""
    def seen() -> dict[str, int] | None:
        pids = {}
        for line in job.tail(50):
            word, level, pid = line.split()
            assert word == "pid"
            pids[level] = int(pid)
        return pids if len(pids) == 4 else None
    return wait_for(seen, timeout=15, message="all four levels of the tree started")


def test_cancel_kills_a_three_level_tree(make_pool):
    pool = make_pool(max_workers=1, kill_grace=0.5)
    job = pool.submit(tree_job(escape=False))
    pids = tree_pids(job)
    try:
        assert psutil.Process(pids["3a"]).ppid() == pids["2"] and psutil.Process(pids["2"]).ppid() == pids["1"]
        assert {os.getpgid(p) for p in pids.values()} == {job.pid}
        assert job.cancel() is True
        assert job.wait(10) is JobState.CANCELLED
        # (the exact error is checked in test_fault_signals: it can wrongly claim a SIGKILL)
        assert job.returncode == -15 and job.error.startswith("cancelled while running")
        assert_all_gone(pids.values(), what="tree processes")
        assert_every_job_recorded(pool, [job])
        pool.shutdown()
        assert_no_leak()
    finally:
        kill_all(p for p in pids.values() if alive(p))


@pytest.mark.parametrize("how", ["cancel", "timeout", "shutdown"])
def test_every_descendant_dies_including_one_that_called_setsid(make_pool, how):
    """Documented: cancel (and timeout, shutdown) kills every descendant, including one that called
    setsid() while its parent still lives. Found by a /proc scan of the job's descendants at kill time
    plus the descendants seen earlier (the core's mechanism, being added)."""
    pool = make_pool(max_workers=1, kill_grace=0.5)
    job = pool.submit(tree_job(escape=True), timeout=3.0 if how == "timeout" else None)
    pids = tree_pids(job)
    try:
        escapee = psutil.Process(pids["3b"])
        assert escapee.ppid() == pids["2"]  # its parent still lives
        assert os.getsid(escapee.pid) == escapee.pid != job.pid  # it really left the job's session
        if how == "cancel":
            job.cancel()
            assert job.wait(10) is JobState.CANCELLED and job.error.startswith("cancelled while running")
        elif how == "timeout":
            assert job.wait(15) is JobState.TIMED_OUT
        else:
            pool.shutdown(kill=True)
            assert job.state is JobState.CANCELLED and job.error.startswith("pool shut down")
        assert_all_gone([pids["1"], pids["2"], pids["3a"]], what="processes in the job's group")
        assert_all_gone([pids["3b"]], timeout=5, what="setsid() escapees")
        assert_every_job_recorded(pool, [job])
        pool.shutdown()
        assert_no_leak()
    finally:
        kill_all(p for p in pids.values() if alive(p))


def test_a_setsid_escapee_seen_earlier_dies_even_after_its_parent_did(make_pool):
    from procwidgets.core.monitor import Monitor

    pool = make_pool(max_workers=1, kill_grace=0.5)
    job = pool.submit(tree_job(escape=True))
    pids = tree_pids(job)
    mon = Monitor(pool, interval=0.05, memory_every=None)
    try:
        # the monitor has seen the whole tree, the escapee included (its parent links it to the job)
        wait_for(lambda: (s := mon.latest()) is not None and job.id in s.jobs and s.jobs[job.id].num_procs == 4,
                 timeout=10, message="the monitor sampled all four processes")
        os.kill(pids["2"], 9)  # the escapee's parent dies: the escapee is orphaned, outside the job's group
        wait_for(lambda: psutil.Process(pids["3b"]).ppid() != pids["2"], timeout=10)
        job.cancel()
        assert job.wait(10) is JobState.CANCELLED
        assert_all_gone([pids["1"], pids["3a"]], what="processes in the job's group")
        assert_all_gone([pids["3b"]], timeout=5, what="setsid() escapees seen earlier")
    finally:
        mon.stop()
        kill_all(p for p in pids.values() if alive(p))


FORKER = textwrap.dedent("""
    import os, sys, time
    kids = []
    for _ in range(200):
        pid = os.fork()
        if pid == 0:
            try:
                time.sleep(300)
            finally:
                os._exit(0)
        kids.append(pid)
    print(' '.join(map(str, kids)), flush=True)
    if sys.argv[1] == 'stay':
        time.sleep(300)
""")


def forked_children(job) -> list[int]:
    line = wait_for(lambda: job.tail(1), timeout=30, message="200 children forked")[0]
    kids = [int(p) for p in line.split()]
    assert len(kids) == 200
    return kids


def test_cancel_a_job_that_forked_200_children(make_pool):
    pool = make_pool(max_workers=2, kill_grace=1.0)
    job = pool.submit([sys.executable, "-c", FORKER, "stay"])
    other = pool.submit([sys.executable, "-c", "print('unaffected')"])
    kids = forked_children(job)
    try:
        assert sum(alive(p) for p in kids) == 200
        job.cancel()
        assert job.wait(15) is JobState.CANCELLED and job.returncode == -15
        assert_all_gone(kids, what="forked children")
        assert other.wait(10) is JobState.SUCCEEDED and other.tail() == ["unaffected"]
        assert_every_job_recorded(pool, [job, other])
        pool.shutdown()
        assert_no_leak()
    finally:
        kill_all(p for p in kids if alive(p))


def test_200_children_left_behind_by_a_finished_job_do_not_outlive_it(make_pool):
    pool = make_pool(max_workers=1, kill_grace=1.0)
    job = pool.submit([sys.executable, "-c", FORKER, "leave"])
    kids = forked_children(job)
    try:
        assert job.wait(15) is JobState.SUCCEEDED and job.returncode == 0 and job.error is None
        # finished means finished: the leader's end cleared its group before the job was reported
        assert [p for p in kids if alive(p)] == []
        assert_every_job_recorded(pool, [job])
        pool.shutdown()
        assert_no_leak()
    finally:
        kill_all(p for p in kids if alive(p))
