"""Properties every schedule must have, over many generated workloads (hypothesis)."""

from hypothesis import given, settings
from hypothesis import strategies as st

from procwidgets.sim import simulate

lengths = st.lists(st.integers(1, 60), min_size=1, max_size=8)
arrivals = st.lists(st.tuples(st.integers(0, 80), st.integers(1, 40)), min_size=1, max_size=7)
mlfq_jobs = st.lists(st.tuples(st.integers(0, 60), st.integers(1, 50), st.integers(0, 12)), min_size=1, max_size=6)
mlfq_params = st.fixed_dictionaries({}, optional={
    "queues": st.integers(1, 4), "quantum": st.integers(1, 12), "allotment": st.integers(1, 3),
    "boost": st.integers(0, 40), "io_time": st.integers(0, 7), "stay": st.booleans(), "io_bump": st.booleans()})
CLASSIC = [("fifo", {}), ("sjf", {}), ("stcf", {}), ("rr", {"quantum": 1}), ("rr", {"quantum": 7}),
           ("priority", {}), ("aging", {"rate": 0.5})]


def check_schedule(result):
    """Each job runs exactly its length, after arriving, and no two jobs run at once."""
    ran = [0] * len(result.jobs)
    busy = [s for s in result.timeline if s.job is not None]
    for s in busy:
        assert s.end > s.start
        assert s.start >= result.jobs[s.job].arrival
        ran[s.job] += s.end - s.start
    assert ran == [j.length for j in result.jobs]
    ordered = sorted(result.timeline)
    for a, b in zip(ordered, ordered[1:]):
        assert a.end <= b.start, (a, b)
    for stats in result.per_job:
        job_slices = [s for s in busy if s.job == stats.job]
        assert stats.first_run == min(s.start for s in job_slices)
        assert stats.end == max(s.end for s in job_slices)
        assert stats.response == stats.first_run - stats.arrival >= 0
        assert stats.turnaround == stats.end - stats.arrival >= stats.length
        if stats.wait is not None:
            assert stats.wait == stats.turnaround - stats.length


@settings(max_examples=150, deadline=None)
@given(arrivals)
def test_classic_policies_run_every_job_exactly_once_its_length(jobs):
    for policy, params in CLASSIC:
        check_schedule(simulate(jobs, policy, **params))


@settings(max_examples=150, deadline=None)
@given(mlfq_jobs, mlfq_params)
def test_mlfq_runs_every_job_exactly_its_length(jobs, params):
    r = simulate(jobs, "mlfq", **params)
    check_schedule(r)
    # Ticks are whole and the CPU idles only when nobody is runnable: the slices tile [0, end).
    ordered = sorted(r.timeline)
    assert ordered[0].start == 0 and ordered[-1].end == r.end_time
    assert all(a.end == b.start for a, b in zip(ordered, ordered[1:]))


@settings(max_examples=150, deadline=None)
@given(arrivals)
def test_rr_with_a_huge_quantum_is_fifo(jobs):
    rr, fifo = simulate(jobs, "rr", quantum=10**6), simulate(jobs, "fifo")
    assert rr.per_job == fifo.per_job
    assert rr.timeline == fifo.timeline


@settings(max_examples=150, deadline=None)
@given(lengths)
def test_stcf_with_all_arrivals_at_0_is_sjf(jobs):
    stcf, sjf = simulate(jobs, "stcf"), simulate(jobs, "sjf")
    assert stcf.per_job == sjf.per_job
    assert stcf.timeline == sjf.timeline


@settings(max_examples=150, deadline=None)
@given(arrivals)
def test_one_queue_mlfq_with_a_huge_quantum_is_fifo_by_arrival(jobs):
    mlfq = simulate([(a, n, 0) for a, n in jobs], "mlfq", queues=1, quantum=10**6)
    fifo = simulate(jobs, "fifo")
    assert [(s.response, s.turnaround) for s in mlfq.per_job] == [(s.response, s.turnaround) for s in fifo.per_job]
    assert [(s.start, s.end, s.job) for s in mlfq.timeline] == [tuple(s) for s in fifo.timeline]


@settings(max_examples=150, deadline=None)
@given(arrivals, st.integers(1, 15))
def test_one_queue_mlfq_without_io_is_rr(jobs, quantum):
    mlfq = simulate([(a, n, 0) for a, n in jobs], "mlfq", queues=1, quantum=quantum)
    rr = simulate(jobs, "rr", quantum=quantum)
    assert [(s.response, s.turnaround) for s in mlfq.per_job] == [(s.response, s.turnaround) for s in rr.per_job]


@settings(max_examples=100, deadline=None)
@given(lengths)
def test_sjf_minimises_average_turnaround_among_nonpreemptive_orders(jobs):
    sjf = simulate(jobs, "sjf").averages["turnaround"]
    assert sjf <= simulate(jobs, "fifo").averages["turnaround"]
    assert sjf <= simulate(list(reversed(jobs)), "fifo").averages["turnaround"]


@settings(max_examples=100, deadline=None)
@given(lengths, st.integers(1, 20))
def test_rr_response_is_at_most_fifo_response(jobs, quantum):
    rr, fifo = simulate(jobs, "rr", quantum=quantum), simulate(jobs, "fifo")
    assert rr.averages["response"] <= fifo.averages["response"]
    assert rr.dispatches >= len(jobs)


prioritised = st.lists(st.tuples(st.integers(0, 50), st.integers(1, 30), st.integers(0, 3)), min_size=1, max_size=8)


@settings(max_examples=100, deadline=None)
@given(prioritised, st.integers(1, 3), st.sampled_from(["priority", "aging"]))
def test_replaying_a_simulated_run_under_its_own_policy_reproduces_it(jobs, workers, policy):
    from types import SimpleNamespace

    from procwidgets.sim import replay

    records = [{"arrival": a, "length": n, "priority": p} for a, n, p in jobs]
    # Submitted times start at 0 so the replay's clock lines up with the simulation's.
    records.insert(0, {"arrival": 0, "length": 1, "priority": 0})
    params = {"rate": 0.5} if policy == "aging" else {}
    run = simulate(records, policy, workers=workers, **params)
    finished = [SimpleNamespace(submitted_at=s.arrival, started_at=s.first_run, finished_at=s.end,
                                priority=records[s.job]["priority"], name=None, id=s.job) for s in run.per_job]
    again = replay(finished, policy, max_workers=workers, **params)
    assert [s.job for s in again.simulated.per_job] == [s.job for s in again.real.per_job]
    assert [(s.first_run, s.end) for s in again.simulated.per_job] == [(s.first_run, s.end) for s in again.real.per_job]
