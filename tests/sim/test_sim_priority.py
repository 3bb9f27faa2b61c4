"""Priority and aging on the virtual clock, decided by the core scheduler's own policy objects."""

import pytest

from procwidgets.core.scheduler import AgingPolicy, PriorityPolicy
from procwidgets.sim import CpuSlice, SimJob, simulate


def order(result):
    return [s.job for s in result.timeline if s.job is not None]


JOBS = [SimJob(10, arrival=0, priority=0), SimJob(10, arrival=1, priority=0), SimJob(5, arrival=9, priority=3)]


def test_priority_runs_the_higher_job_first_without_preempting():
    r = simulate(JOBS, "priority")
    # Job 0 runs to 10 (no preemption); at 10 job 2 (priority 3) beats job 1 (priority 0).
    assert [(s.start, s.end, s.job) for s in r.timeline] == [(0, 10, 0), (10, 15, 2), (15, 25, 1)]
    assert [s.wait for s in r.per_job] == [0, 14, 1]


def test_aging_lets_the_long_waiter_go_first():
    # At 10, job 1 has waited 9: 0 + 1.0 * 9 = 9 beats job 2's 3 + 1.0 * 1 = 4.
    assert order(simulate(JOBS, "aging", rate=1.0)) == [0, 1, 2]
    # With slow aging job 1 reaches only 0.9 against 3.1: priority wins.
    assert order(simulate(JOBS, "aging", rate=0.1)) == [0, 2, 1]


def test_policy_objects_are_accepted_and_agree_with_names():
    assert simulate(JOBS, AgingPolicy(0.1)).per_job == simulate(JOBS, "aging", rate=0.1).per_job
    assert simulate(JOBS, PriorityPolicy()).per_job == simulate(JOBS, "priority").per_job


def test_equal_priorities_are_fifo_by_arrival_then_number():
    r = simulate([{"length": 3, "arrival": 2}, {"length": 3}, {"length": 3}], "priority")
    assert order(r) == [1, 2, 0]


def test_workers_run_side_by_side():
    r = simulate([4, 4, 2, 2], "priority", workers=2)
    assert r.timeline == [CpuSlice(0, 4, 0, 0), CpuSlice(0, 4, 1, 1), CpuSlice(4, 6, 2, 0), CpuSlice(4, 6, 3, 1)]
    assert r.averages["turnaround"] == pytest.approx((4 + 4 + 6 + 6) / 4)


def test_starvation_and_its_cure():
    # A stream of priority-5 jobs arriving every 2 ticks keeps a priority-0 job waiting.
    jobs = [SimJob(2, arrival=0, priority=5), SimJob(2, arrival=0, priority=0)]
    jobs += [SimJob(2, arrival=2 * k, priority=5) for k in range(1, 10)]
    starved = simulate(jobs, "priority")
    aged = simulate(jobs, "aging", rate=1.0)
    assert starved.per_job[1].first_run == 20  # after every high job
    assert aged.per_job[1].first_run == 6  # at 6 it has waited 6: 0 + 6 > 5 + 0 for the job arriving at 6
