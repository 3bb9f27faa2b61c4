"""FIFO, SJF, STCF and RR against numbers worked by hand from the rules in SCHEDULING-SEMANTICS.md §1."""

import pytest

from procwidgets.sim import Slice, simulate


def numbers(result):
    return [(s.response, s.turnaround, s.wait) for s in result.per_job]


@pytest.mark.parametrize("policy", ["fifo", "sjf"])
def test_equal_jobs_fifo_and_sjf(policy):
    r = simulate([200, 200, 200], policy)
    assert numbers(r) == [(0, 200, 0), (200, 400, 200), (400, 600, 400)]
    assert r.averages == {"response": 200, "turnaround": 400, "wait": 200}
    assert r.timeline == [Slice(0, 200, 0), Slice(200, 400, 1), Slice(400, 600, 2)]
    assert r.dispatches == 3


def test_rr_equal_jobs_quantum_1():
    # Job i first runs at i; in the last round (the 200th) the jobs end at 598, 599, 600.
    r = simulate([200, 200, 200], "rr", quantum=1)
    assert numbers(r) == [(0, 598, 398), (1, 599, 399), (2, 600, 400)]
    assert r.averages == {"response": 1, "turnaround": 599, "wait": 399}
    assert r.dispatches == 600
    assert r.timeline[:4] == [Slice(0, 1, 0), Slice(1, 2, 1), Slice(2, 3, 2), Slice(3, 4, 0)]


def test_fifo_increasing_lengths():
    r = simulate([100, 200, 300], "fifo")
    assert numbers(r) == [(0, 100, 0), (100, 300, 100), (300, 600, 300)]
    assert r.averages["turnaround"] == pytest.approx(1000 / 3)
    assert f"{r.averages['response']:3.2f}" == "133.33"


def test_rr_increasing_lengths():
    # Rounds of three until job 0 is done (3*99+1 = 298), then 1 and 2 alternate from 300.
    r = simulate([100, 200, 300], "rr", quantum=1)
    assert [s.turnaround for s in r.per_job] == [298, 499, 600]
    assert [s.response for s in r.per_job] == [0, 1, 2]


def test_sjf_stable_sort_runs_1_3_2_0():
    r = simulate([300, 100, 200, 100], "sjf")
    assert [s.job for s in r.timeline] == [1, 3, 2, 0]
    assert numbers(r) == [(400, 700, 400), (0, 100, 0), (200, 400, 200), (100, 200, 100)]
    assert r.averages == {"response": 175, "turnaround": 350, "wait": 175}
    lines = r.report().splitlines()
    assert lines[-1] == "  Average -- Response: 175.00  Turnaround 350.00  Wait 175.00"
    # scheduler.py prints SJF's statistics in execution order.
    assert [line.split("--")[0].split()[1] for line in lines[:-1]] == ["1", "3", "2", "0"]
    assert lines[1] == "  Job   3 -- Response: 100.00  Turnaround 200.00  Wait 100.00"


def test_fifo_convoy_workload():
    r = simulate([300, 100, 200, 100], "fifo")
    assert [s.turnaround for s in r.per_job] == [300, 400, 600, 700]
    assert r.averages["turnaround"] == 500


def test_rr_quantum_100_remaining_equal_to_quantum_finishes_in_slice():
    # 0 runs 0-100 (200 left), 1 runs 100-200 and is done (remaining == quantum), 2 runs 200-300,
    # 3 is done at 400, 0 runs 400-500, 2 is done at 600, 0 at 700.
    r = simulate([300, 100, 200, 100], "rr", quantum=100)
    assert numbers(r) == [(0, 700, 400), (100, 200, 100), (200, 600, 400), (300, 400, 300)]
    assert r.dispatches == 7


def test_rr_short_last_slice_does_not_waste_the_quantum():
    r = simulate([5, 12], "rr", quantum=10)
    assert r.timeline == [Slice(0, 5, 0), Slice(5, 17, 1)]  # job 1's two slices merge; nobody else waits
    assert r.dispatches == 3  # job 1 is dispatched again for its second slice
    assert r.per_job[1].turnaround == 17


def test_float_lengths_like_scheduler_py():
    r = simulate([2.5, 1.5], "rr", quantum=1)
    assert [s.turnaround for s in r.per_job] == [4.0, 3.5]


def test_stcf_textbook_example_with_arrivals():
    # The classic SRTF exercise: (arrival, burst) = (0,8) (1,4) (2,9) (3,5).
    r = simulate([(0, 8), (1, 4), (2, 9), (3, 5)], "stcf")
    assert [(s.start, s.end, s.job) for s in r.timeline] == [(0, 1, 0), (1, 5, 1), (5, 10, 3), (10, 17, 0),
                                                             (17, 26, 2)]
    assert r.averages["wait"] == 6.5
    assert r.dispatches == 5


def test_stcf_no_preemption_on_a_tie():
    r = simulate([(0, 10), (5, 5)], "stcf")  # at 5 both have 5 left: the running job keeps the CPU
    assert [s.job for s in r.timeline] == [0, 1]


def test_idle_gap_before_a_late_arrival():
    r = simulate([(0, 2), (5, 3)], "fifo")
    assert r.timeline == [Slice(0, 2, 0), Slice(2, 5, None), Slice(5, 8, 1)]
    assert r.per_job[1].response == 0


def test_rr_requeue_before_a_job_arriving_as_the_slice_ends():
    # Job 0's slice ends at 2 just as job 1 arrives: job 0 goes first (mlfq.py's order).
    r = simulate([(0, 4), (2, 2)], "rr", quantum=2)
    assert [(s.start, s.end, s.job) for s in r.timeline] == [(0, 4, 0), (4, 6, 1)]
    # ...but a job that arrived during the slice is ahead of it.
    r = simulate([(0, 4), (1, 2)], "rr", quantum=2)
    assert [(s.start, s.end, s.job) for s in r.timeline] == [(0, 2, 0), (2, 4, 1), (4, 6, 0)]
