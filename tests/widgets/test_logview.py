"""LogView against real jobs: the tail follows live, stderr is marked, only changes are sent."""

from __future__ import annotations

import html

import pytest
from widget_helpers import cmd, wait_for

import procwidgets as pw
from procwidgets.widgets import LogView

CHATTY = """
import sys, time
for i in range(1, 6):
    print(f"out {i}", flush=True)
    time.sleep(0.1)
print("oops <b>", file=sys.stderr, flush=True)
time.sleep(60)
"""


def test_follows_a_running_jobs_output_with_stderr_marked(pool: pw.ProcessPool, closer) -> None:
    view = closer(LogView(pool, interval=0.05))
    assert view.follow.value is True
    job = pool.submit(cmd(CHATTY), name="chatty")
    wait_for(lambda: view.job is job, what="the view to follow the job that started")
    wait_for(lambda: "out 2" in view.output.value, what="live output")
    wait_for(lambda: "oops" in view.output.value, what="stderr output")
    body = view.output.value
    assert '<span class="pw-stderr" style=color:#c62828>oops &lt;b&gt;</span>' in body  # escaped, and red
    assert '<span class="pw-stdout">out 5</span>' in body
    assert body.index("out 1") < body.index("out 5") < body.index("oops")
    assert "RUNNING" in view.header.value and view.picker.value == job.id
    job.cancel()
    wait_for(lambda: "CANCELLED" in view.header.value, what="the header to show the end")


def test_pick_a_job_and_send_nothing_while_it_is_quiet(pool: pw.ProcessPool, closer, spy) -> None:
    a = pool.submit(cmd("print('from a')"), name="a")
    b = pool.submit(cmd("print('from b')"), name="b")
    assert a.wait(10) is b.wait(10) is pw.JobState.SUCCEEDED
    view = closer(LogView(pool, a, interval=0.02))
    assert view.follow.value is False
    assert "from a" in view.output.value and "SUCCEEDED" in view.header.value
    view.picker.value = b.id
    assert "from b" in view.output.value and view.job is b
    runs = view._refresher.runs
    wait_for(lambda: view._refresher.runs >= runs + 5, what="a few polls")
    spy.clear()
    wait_for(lambda: view._refresher.runs >= runs + 10, what="more polls")
    assert len(spy) == 0  # a finished job's tail does not change: nothing is sent
    assert [label for label, _ in view.picker.options] == ["#2 b", "#1 a"]
    with pytest.raises(KeyError, match="has no job 42"):
        view.select(42)


def test_tail_is_bounded_to_lines(pool: pw.ProcessPool, closer) -> None:
    job = pool.submit(cmd("for i in range(500): print(i)"))
    job.wait(10)
    view = closer(LogView(pool, job, lines=50))
    text = html.unescape(view.output.value)
    assert ">499<" in text and ">450<" in text and ">449<" not in text


def test_close_unsubscribes(pool: pw.ProcessPool, spy) -> None:
    before = len(pool._bus)
    view = LogView(pool, interval=0.01)
    view.close()
    assert len(pool._bus) == before and not view._refresher.alive
    spy.clear()
    pool.submit(cmd("print(1)")).wait(10)
    assert len(spy) == 0


def test_an_unknown_job_fails_the_constructor_and_leaves_nothing_running(pool: pw.ProcessPool) -> None:
    before = len(pool._bus)
    with pytest.raises(KeyError, match="has no job 7"):
        LogView(pool, 7)
    assert len(pool._bus) == before  # and the autouse fixture checks that no thread is left
