"""Timeline against a real pool: attempts on worker slots, never two at once in a slot, coloured by outcome."""

from __future__ import annotations

from widget_helpers import cmd, wait_for

import procwidgets as pw
from procwidgets.widgets import Timeline

S = pw.JobState


def overlaps(bars) -> list:
    by_slot: dict[int, list] = {}
    for b in bars:
        by_slot.setdefault(b.slot, []).append(b)
    bad = []
    for slot_bars in by_slot.values():
        slot_bars.sort(key=lambda b: b.start)
        for a, b in zip(slot_bars, slot_bars[1:]):
            if a.end is None or a.end > b.start:
                bad.append((a, b))
    return bad


def test_attempts_fill_worker_slots_and_end_coloured(pool: pw.ProcessPool, closer) -> None:
    timeline = closer(Timeline(pool, min_interval=0.05))
    jobs = [pool.submit(cmd(f"import time, sys; time.sleep(0.2); sys.exit({i % 2})"), name=f"t{i}") for i in range(6)]
    pool.wait(30)
    wait_for(lambda: len(timeline.bars) == 6 and all(b.end for b in timeline.bars), what="six finished bars")
    assert {b.slot for b in timeline.bars} == {0, 1}  # max_workers=2: two lanes
    assert overlaps(timeline.bars) == []
    outcomes = {b.job_id: b.outcome for b in timeline.bars}
    assert outcomes == {j.id: j.state for j in jobs}
    wait_for(lambda: timeline.svg.value.count("pw-bar-failed") == 3 == timeline.svg.value.count("pw-bar-succeeded"),
             what="the render of all six ends")
    assert "#2 t1: failed" in timeline.svg.value


def test_running_and_retried_attempts(pool: pw.ProcessPool, closer) -> None:
    timeline = closer(Timeline(pool, min_interval=0.05))
    flaky = pool.submit(cmd("import sys; sys.exit(1)"), retries=1, name="flaky")
    slow = pool.submit(cmd("import time; time.sleep(60)"), name="slow")
    assert flaky.wait(10) is S.FAILED
    wait_for(lambda: slow.state is S.RUNNING, what="slow to run")
    wait_for(lambda: "pw-bar-running" in timeline.svg.value and "pw-bar-retried" in timeline.svg.value,
             what="a running bar and a retried attempt")
    assert [b.outcome for b in timeline.bars if b.job_id == flaky.id] == [S.QUEUED, S.FAILED]
    slow.cancel()
    slow.wait(10)


def test_a_timeline_made_later_lays_out_earlier_attempts(pool: pw.ProcessPool, closer) -> None:
    for i in range(4):
        pool.submit(cmd("import time; time.sleep(0.1)"), name=f"early{i}")
    pool.wait(30)
    timeline = closer(Timeline(pool))
    assert len(timeline.bars) == 4 and overlaps(timeline.bars) == []
    assert {b.outcome for b in timeline.bars} == {S.SUCCEEDED}
    assert timeline.svg.value.count("pw-bar-succeeded") == 4
    pool.submit(cmd("pass")).wait(10)
    wait_for(lambda: len(timeline.bars) == 5 and timeline.bars[-1].end, what="the new attempt")


def test_close_unsubscribes(pool: pw.ProcessPool, spy) -> None:
    before = len(pool._bus)
    timeline = Timeline(pool, min_interval=0.01)
    timeline.close()
    assert len(pool._bus) == before and not timeline._refresher.alive
    spy.clear()
    pool.submit(cmd("pass")).wait(10)
    assert len(spy) == 0 and timeline.bars == []
