"""Jobs handed ahead into busy slots (DaskBackend pipelining), against a real `LocalCluster`.

While jobs are short, the pool hands queued jobs ahead to the worker of a busy slot; these tests
hold what must stay exact: the limit, priorities, cancel, pause, and a lost worker. A "blocker"
job holds its slot until the test creates a file, so jobs wait handed ahead behind it for as long
as a test needs (each ends within its deadline on its own if the test fails first).
"""

from __future__ import annotations

import os
import signal
import sys

import pytest

distributed = pytest.importorskip("distributed")

from helpers import wait_for  # noqa: E402

import procwidgets as pw  # noqa: E402
from procwidgets import JobState  # noqa: E402
from procwidgets.backends.dask import MAX_LOOKAHEAD, DaskBackend  # noqa: E402


def py(code: str) -> list[str]:
    return [sys.executable, "-u", "-c", code]


def warm(pool: pw.ProcessPool) -> None:
    """A few tiny jobs, so the backend knows jobs are short and starts handing ahead. The bar is
    raised from 0.1 s so that a loaded test machine still counts `true` as short, and jobs wait
    behind a blocker for 2.5 s (5 x the bar) before they are given back: time for each test's move."""
    pool.backend.pipeline_below = 0.5
    jobs = [pool.submit(["true"]) for _ in range(4)]
    assert all(job.wait(60) is JobState.SUCCEEDED for job in jobs)
    assert pool.backend.typical_seconds < pool.backend.pipeline_below


def blocker(pool: pw.ProcessPool, go: os.PathLike, **kwargs) -> pw.Job:
    code = (f"import os, time\nprint('up')\ndeadline = time.monotonic() + 20\n"
            f"while not os.path.exists({str(go)!r}) and time.monotonic() < deadline:\n    time.sleep(0.01)")
    job = pool.submit(py(code), name="blocker", **kwargs)
    wait_for(lambda: job.tail(1) == ["up"], timeout=30)
    return job


def writer(path: os.PathLike, text: str) -> list[str]:
    return py(f"open({str(path)!r}, 'a').write({text!r} + '\\n')")


def handed(pool: pw.ProcessPool) -> set[int]:
    return pool.engine.call(lambda: set(pool._handed))


def behind_blocker(pool: pw.ProcessPool, tmp_path, n: int) -> tuple[pw.Job, list[pw.Job], os.PathLike, os.PathLike]:
    """A blocker holding its slot until the file `go` exists, then `n` jobs "f0".."f{n-1}" that each
    append their name to the file `ran`: (blocker, followers, go, ran)."""
    go, ran = tmp_path / "go", tmp_path / "ran"
    head = blocker(pool, go)
    followers = [pool.submit(writer(ran, f"f{i}"), name=f"f{i}") for i in range(n)]
    return head, followers, go, ran


def test_jobs_handed_ahead_never_exceed_max_workers(tmp_path):
    # One worker with 4 threads and a limit of 2: Dask alone would run 4 at once.
    with distributed.LocalCluster(n_workers=1, threads_per_worker=4, processes=True, host="127.0.0.1",
                                  dashboard_address="127.0.0.1:0") as cluster, distributed.Client(cluster) as client:
        pool = pw.ProcessPool(max_workers=2, backend=DaskBackend(client), store=None)
        try:
            warm(pool)
            spans = tmp_path / "spans"
            code = (f"import time\nt = time.monotonic()\ntime.sleep(0.01)\n"
                    f"open({str(spans)!r}, 'a').write(f'{{t}} {{time.monotonic()}}\\n')")
            jobs = [pool.submit(py(code)) for _ in range(40)]
            pool.wait(timeout=120)
        finally:
            pool.shutdown()
    assert all(job.state is JobState.SUCCEEDED for job in jobs), [job.error for job in jobs]
    assert sum("handed ahead" in job.history[1][2] for job in jobs) >= 10  # pipelining was at work
    edges = sorted(e for line in spans.read_text().split("\n") if line
                   for e in ((float(line.split()[0]), 1), (float(line.split()[1]), -1)))
    running = peak = 0
    for _, step in edges:
        running += step
        peak = max(peak, running)
    assert peak == 2


def test_an_urgent_job_overtakes_all_but_the_jobs_already_handed_ahead(make_pool):
    pool = make_pool()
    warm(pool)
    jobs = [pool.submit(["true"]) for _ in range(400)]
    wait_for(lambda: handed(pool), timeout=30)
    urgent = pool.submit(["true"], priority=10, name="urgent")
    assert urgent.wait(60) is JobState.SUCCEEDED
    pool.wait(timeout=120)
    before = sum(job.started_at < urgent.started_at for job in jobs if job.started_at > urgent.submitted_at)
    # What was committed when it came (2 slots, each running one and holding MAX_LOOKAHEAD), and
    # what the other slot ran meanwhile: a bound, against 400 that were queued.
    assert before <= 2 * 2 * (MAX_LOOKAHEAD + 1)
    assert sum(job.started_at > urgent.started_at for job in jobs) >= 300


def test_a_cancelled_job_handed_ahead_never_runs(make_pool, tmp_path):
    pool = make_pool(max_workers=1)
    warm(pool)
    head, followers, go, ran = behind_blocker(pool, tmp_path, 4)
    wait_for(lambda: len(handed(pool)) >= 2, timeout=30)
    victim = next(job for job in followers if job.id in handed(pool))
    assert victim.cancel()
    wait_for(lambda: victim.state is JobState.CANCELLED, timeout=30)
    go.touch()
    pool.wait(timeout=60)
    assert head.state is JobState.SUCCEEDED
    assert victim.attempts == 0 and victim.pid is None and victim.error == "cancelled while queued"
    assert sorted(ran.read_text().split()) == sorted(job.name for job in followers if job is not victim)


def test_pausing_takes_back_what_was_handed_ahead_and_keeps_the_order(make_pool, tmp_path):
    pool = make_pool(max_workers=1)
    warm(pool)
    head, followers, go, ran = behind_blocker(pool, tmp_path, 5)
    wait_for(lambda: handed(pool), timeout=30)
    pool.pause()
    wait_for(lambda: not handed(pool), timeout=30)  # each withdrawn: it will never start where it was
    go.touch()
    assert head.wait(30) is JobState.SUCCEEDED
    assert all(job.state is JobState.QUEUED and job.attempts == 0 for job in followers)
    assert not ran.exists()
    pool.resume()
    pool.wait(timeout=60)
    assert ran.read_text().split() == [f"f{i}" for i in range(5)]  # back in their places


def test_lowering_a_handed_jobs_priority_sends_it_back_behind_the_others(make_pool, tmp_path):
    pool = make_pool(max_workers=1)
    warm(pool)
    _, followers, go, ran = behind_blocker(pool, tmp_path, 4)
    wait_for(lambda: followers[0].id in handed(pool), timeout=30)
    pool.set_priority(followers[0], -5)
    wait_for(lambda: followers[0].id not in handed(pool), timeout=30)
    go.touch()
    pool.wait(timeout=60)
    assert ran.read_text().split() == ["f1", "f2", "f3", "f0"]


def test_a_job_that_runs_long_gives_back_the_jobs_waiting_behind_it(make_pool, tmp_path):
    pool = make_pool()  # 2 slots
    warm(pool)
    head, followers, go, ran = behind_blocker(pool, tmp_path, 12)
    # Those handed behind the blocker go back to the queue after withdraw_after and run in the
    # other slot: all end while the blocker still runs.
    wait_for(lambda: all(job.state is JobState.SUCCEEDED for job in followers), timeout=60)
    assert head.state is JobState.RUNNING
    go.touch()
    assert head.wait(30) is JobState.SUCCEEDED
    assert all(job.attempts == 1 for job in followers)


def test_jobs_handed_ahead_to_a_lost_worker_run_elsewhere(make_pool, client, tmp_path):
    pool = make_pool(max_workers=1)
    warm(pool)
    head, followers, go, ran = behind_blocker(pool, tmp_path, 4)
    wait_for(lambda: handed(pool), timeout=30)
    os.kill(client.run(os.getpid)[head.worker], signal.SIGKILL)
    assert head.wait(60) is JobState.FAILED and head.worker in head.error
    pool.wait(timeout=120)
    assert all(job.state is JobState.SUCCEEDED and job.attempts == 1 for job in followers), \
        [(job.state, job.error) for job in followers]
    assert sorted(ran.read_text().split()) == [f"f{i}" for i in range(4)]


def test_shutdown_cancels_the_jobs_handed_ahead_and_none_of_them_runs(client, tmp_path):
    pool = pw.ProcessPool(max_workers=1, backend=DaskBackend(client), store=None)
    warm(pool)
    head, followers, go, ran = behind_blocker(pool, tmp_path, 4)
    wait_for(lambda: len(handed(pool)) == 4, timeout=30)
    pool.shutdown(kill=True)
    assert head.state is JobState.CANCELLED
    assert [(job.state, job.error) for job in followers] == [(JobState.CANCELLED, "pool shut down")] * 4
    assert not ran.exists()


def test_a_handed_jobs_timeout_counts_from_when_its_slot_is_its_own_and_retries_still_apply(make_pool, tmp_path):
    pool = make_pool(max_workers=1)
    warm(pool)
    go, ran = tmp_path / "go", tmp_path / "ran"
    blocker(pool, go)
    timed = pool.submit(py("import time; time.sleep(0.2)"), timeout=1.0, name="timed")
    flaky = pool.submit(py(f"open({str(ran)!r}, 'a').write('try\\n'); raise SystemExit(3)"), retries=1, name="flaky")
    wait_for(lambda: {timed.id, flaky.id} <= handed(pool), timeout=30)
    clock = pool.engine.call(lambda: (pool._handed[timed.id].attempt._timer, pool._handed[timed.id].attempt._time_left))
    assert clock[0] is None and clock[1] > 0.99  # stopped at hand-over: waiting does not count toward it
    go.touch()
    assert timed.wait(30) is JobState.SUCCEEDED
    assert flaky.wait(30) is JobState.FAILED and flaky.attempts == 2 and flaky.returncode == 3
    assert ran.read_text().split() == ["try", "try"]
