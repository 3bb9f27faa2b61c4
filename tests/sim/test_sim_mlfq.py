"""MLFQ against the book's figures and the quirks of mlfq.py, all worked by hand (SCHEDULING-SEMANTICS.md §2)."""

from procwidgets.sim import LevelSlice, simulate


def slices(result, job=None):
    return [(s.start, s.end, s.job, s.level) for s in result.timeline if job is None or s.job == job]


def times(result):
    return [(s.response, s.turnaround) for s in result.per_job]


def test_long_job_alone_sinks_one_level_per_quantum():  # OSTEP figure 8.2
    r = simulate([(0, 200, 0)], "mlfq")
    assert r.timeline == [LevelSlice(0, 10, 0, 2), LevelSlice(10, 20, 0, 1), LevelSlice(20, 200, 0, 0)]
    assert times(r) == [(0, 200)]
    assert r.per_job[0].wait is None and r.per_job[0].first_run == 0 and r.per_job[0].end == 200
    assert set(r.averages) == {"response", "turnaround"}
    assert r.dispatches == 20  # 1 at Q2, 1 at Q1, 18 quanta at Q0


def test_short_job_arriving_preempts_at_top():  # OSTEP figure 8.3
    r = simulate([(0, 180, 0), (100, 20, 0)], "mlfq")
    assert slices(r) == [(0, 10, 0, 2), (10, 20, 0, 1), (20, 100, 0, 0), (100, 110, 1, 2), (110, 120, 1, 1),
                         (120, 200, 0, 0)]
    assert times(r) == [(0, 200), (0, 20)]
    assert r.report().splitlines() == ["  Job  0: startTime   0 - response   0 - turnaround 200",
                                       "  Job  1: startTime 100 - response   0 - turnaround  20", "",
                                       "  Avg  1: startTime n/a - response 0.00 - turnaround 110.00"]


def test_io_job_keeps_priority_and_preempts():  # OSTEP figure 8.4, small
    # B does one tick of CPU then 2 ticks of I/O; its quantum is used cumulatively (no -S).
    r = simulate([(0, 30, 0), (0, 3, 1)], "mlfq", io_time=2)
    assert slices(r) == [(0, 10, 0, 2), (10, 11, 1, 2), (11, 13, 0, 1), (13, 14, 1, 2), (14, 16, 0, 1),
                         (16, 17, 1, 2), (17, 23, 0, 1), (23, 33, 0, 0)]
    assert times(r) == [(0, 33), (10, 17)]


def test_starvation_without_boost():  # OSTEP figure 8.5, left
    # Two interactive jobs (1 tick CPU, 1 tick I/O, resetting with -S) alternate forever at the top.
    r = simulate([(0, 100, 0), (0, 50, 1), (0, 50, 1)], "mlfq", io_time=1, stay=True)
    assert slices(r, 0) == [(0, 10, 0, 2), (110, 120, 0, 1), (120, 200, 0, 0)]
    assert times(r) == [(0, 200), (10, 109), (11, 110)]


def test_boost_ends_starvation():  # OSTEP figure 8.5, right
    r = simulate([(0, 100, 0), (0, 50, 1), (0, 50, 1)], "mlfq", io_time=1, stay=True, boost=50)
    assert slices(r, 0) == [(0, 10, 0, 2), (50, 60, 0, 2), (100, 110, 0, 2), (130, 140, 0, 1), (140, 150, 0, 0),
                            (150, 160, 0, 2), (160, 170, 0, 1), (170, 200, 0, 0)]
    assert times(r) == [(0, 200), (10, 129), (11, 130)]
    assert r.extra["boosts"] == 3  # at 50, 100 and 150; the last job ends at 200, before that tick


def test_gaming_with_stay_keeps_the_gamer_on_top():  # OSTEP figure 8.6, left
    # B issues an I/O after 9 of its 10 ticks; with -S its quantum resets each time.
    r = simulate([(0, 100, 0), (0, 50, 9)], "mlfq", io_time=1, stay=True)
    assert {s.level for s in r.timeline if s.job == 1} == {2}
    assert slices(r, 1) == [(10, 19, 1, 2), (20, 29, 1, 2), (30, 39, 1, 2), (40, 49, 1, 2), (50, 59, 1, 2),
                            (60, 65, 1, 2)]
    assert times(r) == [(0, 150), (10, 65)]


def test_gaming_without_stay_is_caught():  # OSTEP figure 8.6, right
    r = simulate([(0, 100, 0), (0, 50, 9)], "mlfq", io_time=1)
    # 9 ticks, I/O, then 1 more tick uses up the quantum: down to Q1 at 21, later Q0.
    assert slices(r, 1)[:3] == [(10, 19, 1, 2), (20, 21, 1, 2), (30, 38, 1, 1)]
    assert {s.level for s in r.timeline if s.job == 1} == {0, 1, 2}
    assert r.per_job[1].turnaround > 65


def test_requeue_at_quantum_end_goes_before_a_simultaneous_arrival():
    r = simulate([(0, 4, 0), (2, 2, 0)], "mlfq", queues=1, quantum=2)
    assert slices(r) == [(0, 4, 0, 0), (4, 6, 1, 0)]


def test_io_bump_puts_a_returning_job_at_the_head():
    jobs = [(0, 6, 0), (0, 3, 1)]
    plain = simulate(jobs, "mlfq", queues=1, quantum=3, io_time=1)
    assert slices(plain) == [(0, 3, 0, 0), (3, 4, 1, 0), (4, 7, 0, 0), (7, 8, 1, 0), (8, 9, None, None),
                             (9, 10, 1, 0)]
    bumped = simulate(jobs, "mlfq", queues=1, quantum=3, io_time=1, io_bump=True)
    assert slices(bumped) == [(0, 3, 0, 0), (3, 4, 1, 0), (4, 5, 0, 0), (5, 6, 1, 0), (6, 7, 0, 0), (7, 8, 1, 0),
                              (8, 9, 0, 0)]
    assert bumped.per_job[1].turnaround == 8 and plain.per_job[1].turnaround == 10


def test_stay_still_demotes_when_io_and_quantum_end_coincide():  # quirk 5
    r = simulate([(0, 5, 2)], "mlfq", queues=2, quantum=2, stay=True, io_time=1)
    assert slices(r) == [(0, 2, 0, 1), (2, 3, None, None), (3, 5, 0, 0), (5, 6, None, None), (6, 7, 0, 0)]


def test_last_tick_on_io_boundary_finishes_without_io():
    r = simulate([(0, 4, 2)], "mlfq", io_time=5)
    assert slices(r) == [(0, 2, 0, 2), (2, 7, None, None), (7, 9, 0, 2)]
    assert r.per_job[0].end == 9


def test_boost_order_and_fresh_quanta():
    # Q0 holds [B, A] at 6 (A re-queued at 6 behind B); the boost keeps that order in Q1.
    r = simulate([(0, 10, 0), (0, 10, 0)], "mlfq", queues=2, quantum=2, boost=6)
    assert slices(r) == [(0, 2, 0, 1), (2, 4, 1, 1), (4, 6, 0, 0), (6, 8, 1, 1), (8, 10, 0, 1), (10, 12, 1, 0),
                         (12, 14, 0, 1), (14, 16, 1, 1), (16, 18, 0, 0), (18, 20, 1, 1)]


def test_boost_refreshes_the_running_top_job():
    # Every 3 ticks the running job gets a fresh 4-tick quantum, so it never sinks.
    assert slices(simulate([(0, 10, 0)], "mlfq", queues=2, quantum=4, boost=3)) == [(0, 10, 0, 1)]
    assert slices(simulate([(0, 10, 0)], "mlfq", queues=2, quantum=4)) == [(0, 4, 0, 1), (4, 10, 0, 0)]


def test_per_queue_lists_are_highest_first():
    r = simulate([(0, 30, 0)], "mlfq", quantum=[2, 4, 8], allotment=[1, 2, 1])
    # Q2: 2 ticks; Q1: allotment 2 quanta of 4; Q0 the rest.
    assert slices(r) == [(0, 2, 0, 2), (2, 10, 0, 1), (10, 30, 0, 0)]
    assert r.extra["quantum"] == [8, 4, 2]


def test_idle_ticks_and_response_from_start_time():
    r = simulate([(5, 3, 0)], "mlfq")
    assert slices(r) == [(0, 5, None, None), (5, 8, 0, 2)]
    assert times(r) == [(0, 3)]
