"""The scheduler alone: order, policies, re-prioritising, cancelling, dependencies. No loop, no processes."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from procwidgets.core.scheduler import AgingPolicy, FifoPolicy, Scheduler, make_policy


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def drain(s: Scheduler) -> list[int]:
    out = []
    while (job := s.pop()) is not None:
        out.append(job)
    return out


def test_higher_priority_first_fifo_among_equals():
    s = Scheduler()
    for job_id, prio in [(1, 0), (2, 5), (3, 0), (4, 5), (5, 9), (6, 0)]:
        s.push(job_id, prio)
    assert list(s.order()) == [5, 2, 4, 1, 3, 6]
    assert drain(s) == [5, 2, 4, 1, 3, 6]
    assert s.pop() is None and len(s) == 0


def test_fifo_policy_ignores_priority():
    s = Scheduler("fifo")
    for job_id, prio in [(1, 0), (2, 5), (3, -4), (4, 9)]:
        s.push(job_id, prio)
    assert drain(s) == [1, 2, 3, 4]


def test_reprioritise_moves_a_job_and_keeps_its_place_among_equals():
    s = Scheduler()
    for job_id in (1, 2, 3):
        s.push(job_id, 0)
    s.push(4, 5)
    s.reprioritise(3, 9)
    assert s.pop() == 3
    s.reprioritise(1, 5)  # now equal to job 4, but submitted before it
    assert drain(s) == [1, 4, 2]


def test_remove_is_lazy_and_compacts():
    s = Scheduler()
    for job_id in range(1000):
        s.push(job_id, job_id % 7)
    for job_id in range(1000):
        if job_id % 4:
            s.remove(job_id)
    assert len(s) == 250
    assert len(s._heap) <= 2 * 250 + 1  # compacted once dead entries outnumbered live ones
    popped = drain(s)
    assert sorted(popped) == list(range(0, 1000, 4))
    assert popped == sorted(popped, key=lambda j: (-(j % 7), j))


def test_aging_lets_a_low_job_through_a_stream_of_high_ones():
    clock = FakeClock()
    s = Scheduler(AgingPolicy(rate=1.0), clock=clock)
    s.push(0, 0)  # the low job, waiting since t=1000
    started = []
    next_id = 1
    for _ in range(20):  # every second a priority-5 job arrives and one job runs
        clock.now += 1
        s.push(next_id, 5)
        next_id += 1
        started.append(s.pop())
    assert 0 in started, "the low job starved"
    # it overtakes once its wait exceeds the 5-point gap plus the newcomer's own wait
    assert started.index(0) <= 7
    # without aging it would starve
    s2 = Scheduler("priority")
    s2.push(0, 0)
    starved = []
    for i in range(1, 21):
        s2.push(i, 5)
        starved.append(s2.pop())
    assert 0 not in starved


def test_aging_effective_priority_grows_with_wait():
    clock = FakeClock()
    s = Scheduler("aging", clock=clock, rate=0.5)
    s.push(1, 2)
    clock.now += 10
    assert s.effective_priority(1) == pytest.approx(7.0)


def test_dependencies_ready_when_all_succeed():
    s = Scheduler()
    s.push(3, 0, after=[1, 2])
    assert s.pop() is None and s.is_waiting(3)
    assert s.finished(1, True) == ([], [])
    assert s.finished(2, True) == ([3], [])
    assert s.pop() == 3


def test_dependency_failure_dooms_dependents():
    s = Scheduler()
    s.push(3, 0, after=[1, 2])
    s.push(4, 0, after=[1])
    ready, doomed = s.finished(1, False)
    assert ready == [] and sorted(doomed) == [3, 4]
    assert 3 not in s and 4 not in s
    assert s.finished(2, True) == ([], [])  # job 3 is gone, nothing left to release


def test_bad_policies_are_clear():
    with pytest.raises(ValueError, match="unknown policy 'lottery'; choose one of aging, fifo, priority"):
        Scheduler("lottery")
    with pytest.raises(TypeError, match="policy must be one of"):
        Scheduler(3)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="positive"):
        AgingPolicy(rate=0)
    with pytest.raises(TypeError, match="number"):
        AgingPolicy(rate="fast")  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="go with a policy name"):
        make_policy(FifoPolicy(), rate=2)
    s = Scheduler()
    s.push(1)
    with pytest.raises(ValueError, match="already queued"):
        s.push(1)


@given(st.lists(st.tuples(st.integers(-5, 5), st.booleans()), max_size=200))
def test_pop_order_matches_a_sorted_reference(ops):
    """Any mix of pushes and removals pops in (priority desc, submission asc) order."""
    s = Scheduler()
    live = {}
    for job_id, (prio, remove_previous) in enumerate(ops):
        s.push(job_id, prio)
        live[job_id] = prio
        if remove_previous and job_id > 0 and job_id - 1 in live:
            s.remove(job_id - 1)
            del live[job_id - 1]
    assert drain(s) == sorted(live, key=lambda j: (-live[j], j))
