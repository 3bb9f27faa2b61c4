"""Jobs that resist or lose their stop signal, close their output, or are signalled from outside the pool.

Each case says what the job shows (state, returncode, error) and checks that it is the truth.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
import time

import psutil
import pytest
from faultkit import alive, assert_all_gone, assert_every_job_recorded, assert_no_leak, kill_all
from helpers import wait_for

from procwidgets import JobState

IGNORE_TERM = ("import signal, time; signal.signal(signal.SIGTERM, signal.SIG_IGN); "
               "print('ready', flush=True); time.sleep(300)")


# -- a job that ignores SIGTERM -----------------------------------------------------------------

@pytest.mark.parametrize("how", ["cancel", "timeout", "shutdown"])
def test_a_job_that_ignores_sigterm_is_killed_after_the_grace(make_pool, py, how):
    pool = make_pool(max_workers=1, kill_grace=0.5)
    job = pool.submit(py(IGNORE_TERM), timeout=1.0 if how == "timeout" else None)
    wait_for(lambda: job.tail() == ["ready"], timeout=10)
    pid = job.pid
    t0 = time.monotonic()
    if how == "cancel":
        job.cancel()
        assert job.wait(10) is JobState.CANCELLED
        assert job.error == "cancelled while running, KILLed after ignoring SIGTERM for 0.5 s"
        assert 0.45 <= time.monotonic() - t0 < 5
    elif how == "timeout":
        assert job.wait(10) is JobState.TIMED_OUT
        assert job.error == "timed out after 1 s, KILLed after ignoring SIGTERM for 0.5 s"
    else:
        pool.shutdown(kill=True)
        assert job.state is JobState.CANCELLED
        assert job.error == "pool shut down, KILLed after ignoring SIGTERM for 0.5 s"
        assert 0.45 <= time.monotonic() - t0 < 5
    assert job.returncode == -9
    assert not alive(pid)
    assert_every_job_recorded(pool, [job])
    pool.shutdown()
    assert_no_leak()


def test_a_child_that_ignores_sigterm_is_killed_after_its_leader_exits(make_pool, py):
    # The leader goes on TERM at once; its child ignores TERM and must still be gone before the end.
    code = textwrap.dedent(f"""
        import subprocess, sys, time
        child = subprocess.Popen([sys.executable, '-c', {IGNORE_TERM!r}])
        time.sleep(300)
    """)
    pool = make_pool(max_workers=1, kill_grace=0.5)
    job = pool.submit(py(code))
    wait_for(lambda: job.tail() == ["ready"], timeout=10)
    (child,) = psutil.Process(job.pid).children()
    try:
        job.cancel()
        assert job.wait(10) is JobState.CANCELLED and job.returncode == -15
        assert job.error == "cancelled while running, KILLed after ignoring SIGTERM for 0.5 s"  # the child did
        assert not alive(child.pid)  # gone before the job was reported finished
        assert_every_job_recorded(pool, [job])
        pool.shutdown()
        assert_no_leak()
    finally:
        kill_all([child.pid])


# Run in a child that is a subreaper, so orphaned zombies of the job's group stay zombies (as under
# a PID 1 that does not reap, which the core's group_alive() docstring names), making the race
# below deterministic. Every process of the tree obeys SIGTERM; the child only takes 0.2 s to exit.
SUBREAPER_OWNER = textwrap.dedent("""
    import ctypes, json, sys, time
    import procwidgets as pw
    assert ctypes.CDLL(None, use_errno=True).prctl(36, 1, 0, 0, 0) == 0  # PR_SET_CHILD_SUBREAPER
    slow = ("import signal, sys, time\\n"
            "signal.signal(signal.SIGTERM, lambda *a: (time.sleep(0.2), sys.exit(0)))\\n"
            "print('ready', flush=True)\\ntime.sleep(300)")
    leader = f"import subprocess, sys, time; subprocess.Popen([sys.executable, '-c', {slow!r}]); time.sleep(300)"
    with pw.ProcessPool(max_workers=1, kill_grace=2.0, store=None) as pool:
        job = pool.submit([sys.executable, "-c", leader])
        while job.tail() != ["ready"]:
            time.sleep(0.01)
        job.cancel()
        job.wait(10)
    print(json.dumps([job.state.name, job.returncode, job.error]), flush=True)
""")


def test_a_tree_that_obeys_sigterm_is_not_reported_as_killed():
    owner = subprocess.run([sys.executable, "-c", SUBREAPER_OWNER], capture_output=True, text=True, timeout=60)
    assert owner.returncode == 0, owner.stderr
    state, returncode, error = json.loads(owner.stdout)
    assert (state, returncode) == ("CANCELLED", -15)
    assert error == "cancelled while running"  # everything went on TERM, within the 2 s grace


# -- a job that closes stdout and keeps running ---------------------------------------------------

def test_a_job_that_closes_stdout_keeps_running_and_is_heard_on_stderr(make_pool, py, tmp_path):
    go = tmp_path / "go"
    code = textwrap.dedent(f"""
        import os, pathlib, sys, time
        print('before', flush=True)
        os.close(1)
        sys.stderr.write('stdout closed\\n')
        while not pathlib.Path({str(go)!r}).exists():
            time.sleep(0.01)
        sys.stderr.write('after\\n')
        sys.exit(3)
    """)
    pool = make_pool(max_workers=1)
    job = pool.submit(py(code))
    wait_for(lambda: "stdout closed" in job.tail(), timeout=10)
    assert job.state is JobState.RUNNING and alive(job.pid)  # an EOF on stdout is not the end of the job
    go.touch()
    assert job.wait(10) is JobState.FAILED and job.returncode == 3 and job.error == "exit code 3"
    assert job.tail(streams=True) == [("stdout", "before"), ("stderr", "stdout closed"), ("stderr", "after")]
    assert_every_job_recorded(pool, [job])


def test_a_job_that_closes_both_pipes_can_still_be_cancelled(make_pool, py):
    code = "import os, time\nprint('bye', flush=True)\nos.close(1); os.close(2)\ntime.sleep(300)"
    pool = make_pool(max_workers=1, kill_grace=0.5)
    job = pool.submit(py(code))
    wait_for(lambda: job.tail() == ["bye"], timeout=10)
    pid = job.pid
    assert job.state is JobState.RUNNING
    job.cancel()
    assert job.wait(10) is JobState.CANCELLED and job.returncode == -15
    assert job.error == "cancelled while running"
    assert not alive(pid)
    assert_every_job_recorded(pool, [job])
    pool.shutdown()
    assert_no_leak()


def test_a_child_holding_stdout_after_its_leader_exits_does_not_hold_the_job(make_pool, py):
    # The leader exits 0 while a daemon-like child (same group) keeps the pipe open: the job ends
    # SUCCEEDED within the grace, and the child is gone.
    code = "import subprocess, sys\nsubprocess.Popen(['sleep', '300'])\nprint('leader done', flush=True)"
    pool = make_pool(max_workers=1, kill_grace=1.0)
    job = pool.submit(py(code))
    assert job.wait(10) is JobState.SUCCEEDED and job.error is None and job.tail() == ["leader done"]
    assert job.duration < 4
    assert_every_job_recorded(pool, [job])
    pool.shutdown()
    assert_no_leak()


# -- stopped from outside (SIGSTOP by pid) --------------------------------------------------------

LOOP = "import time\nprint('up', flush=True)\nwhile True: time.sleep(0.01)"


def stopped(pid: int) -> bool:
    return psutil.Process(pid).status() == psutil.STATUS_STOPPED


def test_a_job_stopped_from_outside_is_not_reported_running(make_pool, py):
    pool = make_pool(max_workers=1)
    job = pool.submit(py(LOOP))
    wait_for(lambda: job.tail() == ["up"], timeout=10)
    os.kill(job.pid, signal.SIGSTOP)
    wait_for(lambda: stopped(job.pid), timeout=5)
    try:
        wait_for(lambda: job.state is JobState.PAUSED, timeout=8, message="the job shows PAUSED")
        assert "SIGSTOP" in job.history[-1][2]  # and says why
        os.kill(job.pid, signal.SIGCONT)
        wait_for(lambda: job.state is JobState.RUNNING, timeout=8, message="the job shows RUNNING again")
    finally:
        os.kill(job.pid, signal.SIGCONT)


def test_a_job_stopped_from_outside_can_still_be_cancelled(make_pool, py):
    pool = make_pool(max_workers=1, kill_grace=0.5)
    job = pool.submit(py(LOOP))
    wait_for(lambda: job.tail() == ["up"], timeout=10)
    pid = job.pid
    os.kill(pid, signal.SIGSTOP)
    wait_for(lambda: stopped(pid), timeout=5)
    job.cancel()  # TERM + CONT: the stopped process acts on TERM
    assert job.wait(10) is JobState.CANCELLED
    assert job.returncode == -15 and job.error == "cancelled while running"
    assert not alive(pid)
    assert_every_job_recorded(pool, [job])
    pool.shutdown()
    assert_no_leak()


def test_a_job_stopped_from_outside_still_times_out(make_pool, py):
    pool = make_pool(max_workers=1, kill_grace=0.5)
    job = pool.submit(py(LOOP), timeout=1.0)
    wait_for(lambda: job.tail() == ["up"], timeout=10)
    pid = job.pid
    os.kill(pid, signal.SIGSTOP)
    assert job.wait(10) is JobState.TIMED_OUT and job.returncode == -15
    assert job.error == "timed out after 1 s"
    assert not alive(pid)
    pool.shutdown()
    assert_no_leak()


# -- killed from outside (kill by pid) -------------------------------------------------------------

@pytest.mark.parametrize("sig", [signal.SIGKILL, signal.SIGTERM])
def test_a_job_killed_from_outside_is_failed_and_says_by_what(make_pool, py, sig):
    pool = make_pool(max_workers=1)
    job = pool.submit(py(LOOP))
    after = pool.submit(py("print('next')"))
    wait_for(lambda: job.tail() == ["up"], timeout=10)
    os.kill(job.pid, sig)
    assert job.wait(10) is JobState.FAILED
    assert job.returncode == -sig
    assert job.error == f"killed by {signal.Signals(sig).name} from outside the pool"
    assert after.wait(10) is JobState.SUCCEEDED  # the pool goes on
    assert_every_job_recorded(pool, [job, after])
    pool.shutdown()
    assert_no_leak()


def test_a_paused_job_killed_from_outside_is_failed(make_pool, py):
    pool = make_pool(max_workers=1)
    job = pool.submit(py(LOOP))
    wait_for(lambda: job.tail() == ["up"], timeout=10)
    job.pause()
    wait_for(lambda: stopped(job.pid), timeout=5)
    os.kill(job.pid, signal.SIGKILL)
    assert job.wait(10) is JobState.FAILED
    assert job.returncode == -9 and job.error == "killed by SIGKILL from outside the pool"
    assert [s for _, s, _ in job.history] == [JobState.QUEUED, JobState.RUNNING, JobState.PAUSED, JobState.FAILED]
    pool.shutdown()
    assert_no_leak()


def test_a_leader_killed_from_outside_takes_its_children_with_it(make_pool, py):
    code = "import subprocess, time\nkids = [subprocess.Popen(['sleep', '300']) for _ in range(3)]\n" + LOOP
    pool = make_pool(max_workers=1, kill_grace=0.5)
    job = pool.submit(py(code))
    wait_for(lambda: job.tail() == ["up"], timeout=10)
    kids = [p.pid for p in psutil.Process(job.pid).children()]
    assert len(kids) == 3
    try:
        os.kill(job.pid, signal.SIGKILL)
        assert job.wait(10) is JobState.FAILED
        assert job.returncode == -9 and job.error == "killed by SIGKILL from outside the pool"
        assert_all_gone(kids, timeout=1, what="children of the killed leader")  # already, at the job's end
        pool.shutdown()
        assert_no_leak()
    finally:
        kill_all(kids)
