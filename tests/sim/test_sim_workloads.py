"""Random workloads reproduce the OSTEP tools' draws for a seed."""

import pytest

from procwidgets.sim import mlfq_random_jobs, random_jobs, simulate


def test_scheduler_py_seed_0():
    # random.seed(0): 0.8444, 0.7580, 0.4206 -> int(10 * r) + 1
    assert random_jobs(0) == [9, 8, 5]
    assert random_jobs(0, n=5, max_len=100)[:3] == [85, 76, 43]


def test_mlfq_py_seed_0_matches_the_tool_listing():
    # mlfq.py -s 0 lists: Job 0 runTime 84 ioFreq 7, Job 1 runTime 42 ioFreq 3, Job 2 runTime 51 ioFreq 4.
    assert mlfq_random_jobs(0) == [(0, 84, 7), (0, 42, 3), (0, 51, 4)]


def test_random_workloads_simulate_directly():
    assert simulate(random_jobs(3), "sjf").jobs[0].length == random_jobs(3)[0]
    r = simulate(mlfq_random_jobs(1), "mlfq")
    assert sum(s.end - s.start for s in r.timeline if s.job is not None) == sum(j[1] for j in mlfq_random_jobs(1))


def test_same_seed_same_workload_and_no_global_state():
    import random

    random.seed(123)
    before = random.random()
    random.seed(123)
    random_jobs(7)
    assert random.random() == before  # our draws do not disturb the caller's random module
    assert random_jobs(7) == random_jobs(7)


@pytest.mark.parametrize("call", [lambda: random_jobs(0, n=0), lambda: random_jobs(0, max_len=0),
                                  lambda: random_jobs("x"), lambda: mlfq_random_jobs(0, max_io=0)])
def test_bad_workload_arguments(call):
    with pytest.raises((TypeError, ValueError)):
        call()
