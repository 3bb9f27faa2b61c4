"""The pool with real child processes: order, limits, dependencies, retries, timeouts, output."""

from __future__ import annotations

import os
import sys
import threading
import time

import pytest
from helpers import wait_for

import procwidgets as pw
from procwidgets import JobState


def start_order(jobs):
    return [j.id for j in sorted(jobs, key=lambda j: j.history[1][0])]


def test_the_issue_example(make_pool, py, tmp_path):
    pool = make_pool(max_workers=2)
    a = pool.submit(py("print('training'); print('done')"), name="lr=0.1", priority=5, timeout=600)
    b = pool.submit(py("import sys; sys.exit(1)"), after=[a], retries=1)
    pool.wait(timeout=30)
    assert a.state is JobState.SUCCEEDED and a.returncode == 0
    assert a.tail(5) == ["training", "done"]
    assert 0 <= a.duration < 30
    assert b.state is JobState.FAILED and b.attempts == 2 and b.error == "exit code 1"
    assert b.started_at >= a.finished_at


def test_priority_then_fifo_order(make_pool, py):
    pool = make_pool(max_workers=1)
    pool.pause()
    prios = [0, 5, 0, 9, 5, 0]
    jobs = [pool.submit(py("pass"), priority=p, name=f"p{p}") for p in prios]
    time.sleep(0)  # submission posts to the engine; resume below is ordered after it
    pool.resume()
    pool.wait(timeout=60)
    by_id = {j.id: j for j in jobs}
    expected = sorted(by_id, key=lambda i: (-by_id[i].priority, i))
    assert start_order(jobs) == expected


def test_concurrency_never_exceeds_and_reaches_the_limit(make_pool, py):
    pool = make_pool(max_workers=3)
    running = 0
    peak = 0
    lock = threading.Lock()

    def track(event):
        nonlocal running, peak
        if event.kind != "state" or event.old is None:
            return
        with lock:
            was = event.old in (JobState.RUNNING, JobState.PAUSED)
            now = event.new in (JobState.RUNNING, JobState.PAUSED)
            running += now - was
            peak = max(peak, running)

    pool.subscribe(track)
    jobs = [pool.submit(py("import time; time.sleep(0.2)")) for _ in range(12)]
    pool.wait(timeout=60)
    assert all(j.state is JobState.SUCCEEDED for j in jobs)
    assert peak == 3
    # cross-check from the timestamps: at no instant did more than 3 run
    spans = [(j.history[1][0], j.finished_at) for j in jobs]
    for start, _ in spans:
        assert sum(s <= start < e for s, e in spans) <= 3


def test_max_workers_changes_live(make_pool, py):
    pool = make_pool(max_workers=1)
    jobs = [pool.submit(py("import time; time.sleep(30)")) for _ in range(3)]
    wait_for(lambda: jobs[0].state is JobState.RUNNING)
    assert jobs[1].state is JobState.QUEUED
    pool.max_workers = 3
    wait_for(lambda: all(j.state is JobState.RUNNING for j in jobs), message="raising the limit starts jobs")
    pool.max_workers = 1  # lowering kills nothing
    assert all(j.state is JobState.RUNNING for j in jobs)


def test_aging_lets_a_low_priority_job_through(make_pool, py):
    pool = make_pool(max_workers=1, policy=pw.AgingPolicy(rate=50.0))
    blocker = pool.submit(py("import time; time.sleep(0.3)"))
    low = pool.submit(py("pass"), priority=0, name="low")
    wait_for(lambda: blocker.state is JobState.RUNNING)
    # A real wait is the subject here: the low job ages 12.5 points before the high ones arrive.
    time.sleep(0.25)
    highs = [pool.submit(py("pass"), priority=10) for _ in range(5)]
    pool.wait(timeout=60)
    assert start_order([low, *highs])[0] == low.id
    # the same stream without aging leaves the low job for last
    pool2 = make_pool(max_workers=1)
    blocker2 = pool2.submit(py("import time; time.sleep(0.3)"))
    low2 = pool2.submit(py("pass"), priority=0)
    wait_for(lambda: blocker2.state is JobState.RUNNING)
    highs2 = [pool2.submit(py("pass"), priority=10) for _ in range(5)]
    pool2.wait(timeout=60)
    assert start_order([low2, *highs2])[-1] == low2.id


def test_dependencies_wait_for_success(make_pool, py, tmp_path):
    pool = make_pool(max_workers=4)
    marker = tmp_path / "a-done"
    a = pool.submit(py(f"import time, pathlib; time.sleep(0.3); pathlib.Path({str(marker)!r}).touch()"))
    b = pool.submit(py(f"import pathlib, sys; sys.exit(0 if pathlib.Path({str(marker)!r}).exists() else 3)"),
                    after=[a])
    c = pool.submit(py("pass"), after=[a, b])
    pool.wait(timeout=30)
    assert (a.state, b.state, c.state) == (JobState.SUCCEEDED,) * 3
    assert b.started_at >= a.finished_at and c.started_at >= b.finished_at


def test_dependency_failure_cancels_the_chain(make_pool, py):
    pool = make_pool(max_workers=2)
    a = pool.submit(py("import sys; sys.exit(2)"), name="prep")
    b = pool.submit(py("pass"), after=a)
    c = pool.submit(py("pass"), after=[b])
    pool.wait(timeout=30)
    assert a.state is JobState.FAILED
    assert b.state is JobState.CANCELLED and "dependency job 1 ('prep') ended FAILED" in b.error
    assert c.state is JobState.CANCELLED and f"dependency job {b.id}" in c.error
    assert b.pid is None and c.pid is None  # never started
    late = pool.submit(py("pass"), after=[a])  # depending on an already failed job
    assert late.wait(10) is JobState.CANCELLED and "ended FAILED" in late.error


def test_cancel_queued_and_running(make_pool, py):
    pool = make_pool(max_workers=1)
    running = pool.submit(py("import time; print('up'); time.sleep(60)"))
    queued = pool.submit(py("pass"))
    wait_for(lambda: running.tail())
    assert queued.cancel() is True
    assert queued.state is JobState.CANCELLED and queued.pid is None
    assert running.cancel() is True
    assert running.wait(10) is JobState.CANCELLED
    assert running.returncode == -15 and "cancelled while running" in running.error
    assert running.cancel() is False  # already finished: nothing to do


def test_cancel_reaches_grandchildren(make_pool):
    import psutil
    pool = make_pool(max_workers=1)
    job = pool.submit(["sh", "-c", "sleep 300 & sleep 300 & wait"])
    wait_for(lambda: job.pid is not None)  # psutil.Process(None) would be this process
    kids = wait_for(lambda: len(psutil.Process(job.pid).children(recursive=True)) == 2
                    and psutil.Process(job.pid).children(recursive=True))
    job.cancel()
    assert job.wait(10) is JobState.CANCELLED
    for kid in kids:
        wait_for(lambda kid=kid: not kid.is_running() or kid.status() == psutil.STATUS_ZOMBIE)


def test_leftover_children_do_not_outlive_a_finished_job(make_pool):
    import psutil
    pool = make_pool(max_workers=1)
    job = pool.submit(["sh", "-c", "sleep 300 & echo started"])
    assert job.wait(10) is JobState.SUCCEEDED and job.tail() == ["started"]
    assert job.duration < 4  # not held to the kill grace: the sleeper went on TERM

    def in_the_job_group(p: psutil.Process) -> bool:
        try:
            return os.getpgid(p.pid) == job.pid and p.status() != psutil.STATUS_ZOMBIE
        except (OSError, psutil.Error):
            return False
    assert [p for p in psutil.process_iter() if in_the_job_group(p)] == []


def test_a_job_that_ignores_term_is_killed_after_the_grace(make_pool, py):
    pool = make_pool(max_workers=1, kill_grace=0.5)
    code = "import signal, time; signal.signal(signal.SIGTERM, signal.SIG_IGN); print('ready'); time.sleep(60)"
    job = pool.submit(py(code))
    wait_for(lambda: job.tail() == ["ready"])
    t0 = time.monotonic()
    job.cancel()
    assert job.wait(10) is JobState.CANCELLED
    assert 0.45 <= time.monotonic() - t0 < 5
    assert job.returncode == -9 and "KILLed after ignoring SIGTERM for 0.5 s" in job.error


def test_timeout(make_pool, py):
    pool = make_pool(max_workers=1)
    job = pool.submit(py("import time; time.sleep(60)"), timeout=0.3)
    assert job.wait(10) is JobState.TIMED_OUT
    assert 0.3 <= job.duration < 3 and job.error == "timed out after 0.3 s"


def test_retries_rerun_a_failing_job(make_pool, py, tmp_path):
    counter = tmp_path / "count"
    code = (f"import pathlib, sys; p = pathlib.Path({str(counter)!r}); n = int(p.read_text()) + 1 "
            f"if p.exists() else 1; p.write_text(str(n)); print('attempt', n); sys.exit(0 if n == 3 else 1)")
    pool = make_pool(max_workers=1)
    flaky = pool.submit(py(code), retries=5)
    assert flaky.wait(30) is JobState.SUCCEEDED and flaky.attempts == 3
    reasons = [r for _, s, r in flaky.history if s is JobState.QUEUED]
    assert reasons == ["submitted", "retry 1/5 after exit code 1", "retry 2/5 after exit code 1"]
    hopeless = pool.submit(py("import sys; sys.exit(4)"), retries=2)
    assert hopeless.wait(30) is JobState.FAILED and hopeless.attempts == 3
    slow = pool.submit(py("import time; time.sleep(60)"), timeout=0.2, retries=1)
    assert slow.wait(30) is JobState.TIMED_OUT and slow.attempts == 2


def test_pause_and_resume_a_running_job(make_pool, py):
    import psutil
    pool = make_pool(max_workers=1)
    job = pool.submit(py("import time\nwhile True: time.sleep(0.01)"), timeout=30)
    wait_for(lambda: job.state is JobState.RUNNING)
    job.pause()
    assert job.state is JobState.PAUSED
    wait_for(lambda: psutil.Process(job.pid).status() == psutil.STATUS_STOPPED, message="status 'T'")
    job.resume()
    assert job.state is JobState.RUNNING
    wait_for(lambda: psutil.Process(job.pid).status() != psutil.STATUS_STOPPED)
    job.pause()
    job.cancel()  # cancel reaches a stopped group too (TERM + CONT)
    assert job.wait(10) is JobState.CANCELLED
    with pytest.raises(ValueError, match="only a RUNNING job can be paused"):
        job.pause()


def test_pool_pause_holds_queued_jobs(make_pool, py):
    pool = make_pool(max_workers=2)
    pool.pause()
    job = pool.submit(py("pass"))
    with pytest.raises(TimeoutError, match="pool is paused"):
        pool.wait(timeout=0.3)
    assert job.state is JobState.QUEUED and pool.paused
    pool.resume()
    assert job.wait(10) is JobState.SUCCEEDED


def test_large_output_and_invalid_utf8(make_pool, py):
    pool = make_pool(max_workers=2, tail_lines=100)
    big = pool.submit(py("import sys\nfor i in range(100_000): sys.stdout.write(f'{i:099d}\\n')"))
    bad = pool.submit(py("import sys; sys.stdout.buffer.write(b'ok \\xff\\xfe bytes\\n'); "
                         "sys.stderr.buffer.write(b'err \\xc3\\n')"))
    endless = pool.submit(py("import sys; sys.stdout.write('x' * 5_000_000)"))
    pool.wait(timeout=60)
    assert big.state is JobState.SUCCEEDED and big.output_seq == 100_000
    assert big.tail(1) == [f"{99_999:099d}"] and len(big.tail(1000)) == 100
    assert bad.tail(streams=True) == [("stdout", "ok \ufffd\ufffd bytes"), ("stderr", "err \ufffd")] or \
        sorted(bad.tail(streams=True)) == [("stderr", "err \ufffd"), ("stdout", "ok \ufffd\ufffd bytes")]
    (line,) = endless.tail()
    assert line.startswith("x" * 4096) and line.endswith("[4995904 more characters cut]")


def test_progress_bars_redraw_one_line(make_pool, py):
    pool = make_pool(max_workers=1)
    code = "import sys\nfor i in range(1000): sys.stderr.write(f'\\r{i}%')\nsys.stderr.write('\\ndone\\n')"
    job = pool.submit(py(code))
    job.wait(10)
    assert job.tail() == ["999%", "done"]


def test_spawn_errors_become_failed_jobs(make_pool, tmp_path):
    script = tmp_path / "not-executable.sh"
    script.write_text("#!/bin/sh\necho hi\n")
    pool = make_pool(max_workers=2)
    missing = pool.submit("no-such-program-xyz --flag")
    bad_cwd = pool.submit([sys.executable, "-c", "pass"], cwd=tmp_path / "nowhere")
    denied = pool.submit([str(script)])
    ok = pool.submit([sys.executable, "-c", "pass"], cwd=tmp_path)
    pool.wait(timeout=30)
    assert missing.state is JobState.FAILED and "no such program: 'no-such-program-xyz'" in missing.error
    assert bad_cwd.state is JobState.FAILED and "does not exist" in bad_cwd.error and "nowhere" in bad_cwd.error
    assert denied.state is JobState.FAILED and "permission denied" in denied.error
    assert ok.state is JobState.SUCCEEDED  # the pool carried on


def test_env_is_laid_over_the_environment(make_pool, py):
    pool = make_pool(max_workers=1)
    job = pool.submit(py("import os; print(os.environ['LR'], 'PATH' in os.environ)"), env={"LR": "0.1"})
    job.wait(10)
    assert job.tail() == ["0.1 True"]


def test_shell_mode_is_explicit(make_pool):
    pool = make_pool(max_workers=1)
    plain = pool.submit("echo $HOME | cat")
    shell = pool.submit("echo hi | tr a-z A-Z", shell=True)
    pool.wait(timeout=10)
    assert plain.tail() == ["$HOME | cat"]  # no shell: the pipe is just an argument
    assert shell.tail() == ["HI"]


def test_events_for_every_state_change(make_pool, py):
    pool = make_pool(max_workers=1)
    seen = []
    unsubscribe = pool.subscribe(lambda e: seen.append((e.job_id, e.old, e.new)) if e.kind == "state" else None)
    job = pool.submit(py("import sys; sys.exit(1)"), retries=1)
    job.wait(10)
    wait_for(lambda: len(seen) == 5)
    assert seen == [(job.id, None, JobState.QUEUED), (job.id, JobState.QUEUED, JobState.RUNNING),
                    (job.id, JobState.RUNNING, JobState.QUEUED), (job.id, JobState.QUEUED, JobState.RUNNING),
                    (job.id, JobState.RUNNING, JobState.FAILED)]
    unsubscribe()
    pool.submit(py("pass")).wait(10)
    assert len(seen) == 5


def test_a_broken_subscriber_does_not_break_the_pool(make_pool, py):
    pool = make_pool(max_workers=1)
    unsubscribe = pool.subscribe(lambda e: 1 / 0)
    with pytest.warns(RuntimeWarning, match="ZeroDivisionError"):
        job = pool.submit(py("pass"))
        assert job.wait(10) is JobState.SUCCEEDED
    unsubscribe()


def test_blocking_calls_from_a_callback_are_refused(make_pool, py):
    pool = make_pool(max_workers=1)
    errors = []

    def callback(event):
        if event.kind == "state" and event.new is JobState.RUNNING:
            try:
                event.job.wait()
            except RuntimeError as exc:
                errors.append(str(exc))
    pool.subscribe(callback)
    pool.submit(py("pass")).wait(10)
    assert errors and "engine thread" in errors[0]


def test_await_job_and_run_helper(make_pool, py):
    pool = make_pool(max_workers=2)

    async def main():
        a = pool.submit(py("print(1)"))
        b = pool.submit(py("print(2)"))
        return await a, await b

    assert pw.run(main()) == (JobState.SUCCEEDED, JobState.SUCCEEDED)


def test_shutdown_kills_running_and_cancels_queued(py):
    pool = pw.ProcessPool(max_workers=1, kill_grace=1)
    running = pool.submit(py("import time; time.sleep(60)"))
    queued = pool.submit(py("pass"))
    wait_for(lambda: running.state is JobState.RUNNING)
    pool.shutdown()
    assert running.state is JobState.CANCELLED and running.error == "pool shut down"
    assert queued.state is JobState.CANCELLED
    with pytest.raises(RuntimeError, match="shut down"):
        pool.submit(py("pass"))
    pool.shutdown()  # idempotent
    assert not pool._engine.running


def test_context_manager_waits_for_the_work(py):
    with pw.ProcessPool(max_workers=2) as pool:
        jobs = [pool.submit(py("import time; time.sleep(0.1)")) for _ in range(4)]
    assert all(j.state is JobState.SUCCEEDED for j in jobs)


def test_a_thousand_short_jobs(make_pool):
    pool = make_pool(max_workers=4)
    jobs = [pool.submit(["true"]) for _ in range(1000)]
    pool.wait(timeout=120)
    assert all(j.state is JobState.SUCCEEDED for j in jobs)
    assert len({j.pid for j in jobs}) > 1
