"""replay: finished real jobs, re-run on the virtual clock under another policy or worker count."""

from types import SimpleNamespace

import pytest

import procwidgets as pw
from procwidgets.core.scheduler import FifoPolicy
from procwidgets.sim import CpuSlice, replay


def job(submitted, started, finished, priority=0, name=None, id=0):
    return SimpleNamespace(submitted_at=submitted, started_at=started, finished_at=finished, priority=priority,
                           name=name, id=id)


# One worker, FIFO: lengths 3, 1, 2 submitted together at t=100 ran 100-103, 103-104, 104-106.
FIFO_RUN = [job(100.0, 100.0, 103.0, id=1), job(100.0, 103.0, 104.0, id=2), job(100.0, 104.0, 106.0, id=3)]


def test_real_side_is_what_was_measured():
    r = replay(FIFO_RUN, "fifo", max_workers=1)
    assert [s.turnaround for s in r.real.per_job] == [3.0, 4.0, 6.0]
    assert [s.wait for s in r.real.per_job] == [0.0, 3.0, 4.0]
    assert r.real.timeline == [CpuSlice(0.0, 3.0, 0, 0), CpuSlice(3.0, 4.0, 1, 0), CpuSlice(4.0, 6.0, 2, 0)]
    # The same policy on the same worker count reproduces it exactly (no overheads in these records).
    assert r.simulated.per_job == r.real.per_job


def test_sjf_would_have_done_better():
    r = replay(FIFO_RUN, "sjf", max_workers=1)
    assert [(s.start, s.end, s.job) for s in r.simulated.timeline] == [(0.0, 1.0, 1), (1.0, 3.0, 2), (3.0, 6.0, 0)]
    assert r.simulated.averages["turnaround"] == pytest.approx(10 / 3)
    assert r.real.averages["turnaround"] == pytest.approx(13 / 3)


def test_more_workers():
    r = replay(FIFO_RUN, "fifo", max_workers=3)
    assert [s.turnaround for s in r.simulated.per_job] == [3.0, 1.0, 2.0]
    assert r.workers == 3 and r.simulated.params["workers"] == 3


def test_workers_default_to_the_most_that_really_ran_at_once():
    overlapping = [job(0.0, 0.0, 2.0), job(0.0, 0.0, 1.0), job(0.5, 1.0, 3.0)]
    r = replay(overlapping, "fifo")
    assert r.workers == 2
    assert sorted({s.cpu for s in r.real.timeline}) == [0, 1]


def test_a_pool_like_object_gives_its_workers_and_policy():
    pool = SimpleNamespace(jobs=FIFO_RUN, max_workers=2, policy=FifoPolicy())
    r = replay(pool)
    assert r.workers == 2 and r.simulated.policy == "fifo"


def test_priorities_and_aging_replayed_with_the_core_policies():
    # Job 0 holds the only worker; at 3 the priority-5 job beats the earlier priority-0 one.
    run = [job(0.0, 0.0, 3.0), job(1.0, 6.0, 7.0, priority=0), job(2.0, 3.0, 6.0, priority=5)]
    assert [s.first_run for s in replay(run, "priority", max_workers=1).simulated.per_job] == [0.0, 6.0, 3.0]
    # Aging at 10 points/s: at 3 job 1 has 0 + 20, job 2 has 5 + 10: the old one goes first.
    aged = replay(run, "aging", rate=10.0, max_workers=1).simulated
    assert [s.first_run for s in aged.per_job] == [0.0, 3.0, 4.0]


def test_arrivals_together_treats_the_sweep_as_one_batch():
    staggered = [job(0.0, 0.0, 3.0), job(0.001, 3.0, 4.0)]
    assert [s.job for s in replay(staggered, "sjf", max_workers=1).simulated.timeline] == [0, 1]
    batch = replay(staggered, "sjf", max_workers=1, arrivals="together")
    assert [s.job for s in batch.simulated.timeline] == [1, 0]
    assert batch.real.per_job[1].arrival == 0.0


def test_jobs_that_never_ran_are_skipped():
    r = replay([*FIFO_RUN, job(100.0, None, 101.0)], "fifo", max_workers=1)
    assert len(r.jobs) == 3 and len(r.skipped) == 1


@pytest.mark.parametrize("args, kwargs, error, word", [
    ((FIFO_RUN, "rr"), {}, ValueError, "preemptive"),
    ((FIFO_RUN, "lottery"), {}, ValueError, "lottery"),
    ((FIFO_RUN, "fifo"), {"rate": 2.0}, TypeError, "aging"),
    ((FIFO_RUN, "fifo"), {"max_workers": 0}, ValueError, "max_workers"),
    (([job(0.0, None, None)], "fifo"), {}, ValueError, "pool.wait()"),
    (([object()], "fifo"), {}, TypeError, "submitted_at"),
    ((42, "fifo"), {}, TypeError, "ProcessPool"),
    ((FIFO_RUN, "fifo"), {"arrivals": "now"}, ValueError, "together"),
])
def test_bad_replay_input(args, kwargs, error, word):
    with pytest.raises(error, match=word.replace("(", r"\(").replace(")", r"\)")):
        replay(*args, **kwargs)


def test_replay_a_real_pool(py):
    pool = pw.ProcessPool(max_workers=1)
    try:
        pool.pause()  # submit everything first, so the order is the pool's choice, not a race
        for seconds in (0.6, 0.1, 0.3):
            pool.submit(py(f"import time; time.sleep({seconds})"), name=f"sleep {seconds}")
        pool.resume()
        pool.wait(timeout=60)
        jobs = pool.jobs
        assert all(j.state is pw.JobState.SUCCEEDED for j in jobs)
        r = replay(pool, "sjf")
        assert r.workers == 1
        t0 = min(j.submitted_at for j in jobs)
        assert [s.end for s in r.real.per_job] == pytest.approx([j.finished_at - t0 for j in jobs])
        assert [s.length for s in r.real.per_job] == pytest.approx([j.duration for j in jobs])
        # The pool (priority, all equal: FIFO) ran them in order; the SJF oracle runs the shortest first.
        assert [s.job for s in r.real.timeline] == [0, 1, 2]
        # Job 0 was submitted first: on the measured arrivals it finds the worker free and starts.
        assert [s.job for s in r.simulated.timeline] == [0, 1, 2]
        batch = replay(pool, "sjf", arrivals="together")  # the sweep as one batch, as it was held
        assert [s.job for s in batch.simulated.timeline] == [1, 2, 0]
        assert batch.simulated.averages["turnaround"] < batch.real.averages["turnaround"]
        same = replay(pool)  # the pool's own policy and workers: the same order, minus the overheads
        assert [s.job for s in same.simulated.timeline] == [0, 1, 2]
        assert same.simulated.end_time <= same.real.end_time
    finally:
        pool.shutdown(kill=True)
