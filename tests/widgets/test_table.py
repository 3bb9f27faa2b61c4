"""QueueTable against a real pool: rows follow jobs, row controls act through the pool, only changed rows are sent."""

from __future__ import annotations

import html
import os

import psutil
import pytest
from widget_helpers import cmd, wait_for

import procwidgets as pw
from procwidgets.widgets import QueueTable

S = pw.JobState


def row_text(table: QueueTable, job: pw.Job) -> str:
    """The visible text of `job`'s row ('' while it is not on the page yet)."""
    row = table.row_for(job.id)
    return html.unescape(row.html.value) if row is not None else ""


def row(table: QueueTable, job: pw.Job):
    """`job`'s visible row, once the table has seen the job (events arrive on the engine thread)."""
    return wait_for(lambda: (table.refresh(), table.row_for(job.id))[1], what=f"job {job.id}'s row")


def test_rows_follow_real_jobs_to_their_final_states(pool: pw.ProcessPool, closer) -> None:
    table = closer(QueueTable(pool, min_interval=0.05))
    ok = pool.submit(cmd("print('hi')"), name="ok")
    bad = pool.submit(cmd("import sys; sys.exit(3)"), name="bad")
    slow = pool.submit(cmd("import time; time.sleep(60)"), name="slow")
    wait_for(lambda: "SUCCEEDED" in row_text(table, ok), what="ok's row to show SUCCEEDED")
    wait_for(lambda: "FAILED" in row_text(table, bad) and "exit code 3" in row_text(table, bad),
             what="bad's row to show FAILED with its exit code")
    wait_for(lambda: "RUNNING" in row_text(table, slow), what="slow's row to show RUNNING")
    slow.cancel()
    wait_for(lambda: "CANCELLED" in row_text(table, slow), what="slow's row to show CANCELLED")
    assert "pw-state-succeeded" in table.row_for(ok.id).html.value
    counts = html.unescape(table.counts.value)
    assert "succeeded <b>1</b>" in counts and "failed <b>1</b>" in counts and "cancelled <b>1</b>" in counts


def test_cancel_from_a_row_kills_the_job(pool: pw.ProcessPool, closer) -> None:
    table = closer(QueueTable(pool, min_interval=0.05))
    job = pool.submit(cmd("import time; print('up', flush=True); time.sleep(60)"), name="sleeper")
    wait_for(lambda: job.state is S.RUNNING and job.tail(1) == ["up"], what="the sleeper to run")
    pid = job.pid
    row(table, job).buttons["cancel"].click()
    assert job.wait(10) is S.CANCELLED
    assert not psutil.pid_exists(pid) or psutil.Process(pid).status() == psutil.STATUS_ZOMBIE
    wait_for(lambda: "CANCELLED" in row_text(table, job), what="the row to show CANCELLED")


def test_row_controls_pause_priority_retry(pool: pw.ProcessPool, closer) -> None:
    table = closer(QueueTable(pool, min_interval=0.05))
    runner = pool.submit(cmd("import time; time.sleep(60)"), name="runner")
    wait_for(lambda: runner.state is S.RUNNING, what="runner to start")
    pool.pause()
    queued = pool.submit(cmd("pass"), name="queued", priority=1)
    runner_row = row(table, runner)
    runner_row.buttons["toggle"].click()
    assert runner.state is S.PAUSED
    runner_row.buttons["toggle"].click()
    assert runner.state is S.RUNNING
    row(table, queued).buttons["up"].click()
    table.row_for(queued.id).buttons["up"].click()
    table.row_for(queued.id).buttons["down"].click()
    assert queued.priority == 2
    # The core's own message for an action that does not apply, shown as it is.
    table.row_for(queued.id).buttons["toggle"].click()
    assert "only a PAUSED job can be resumed" in html.unescape(table.message.value)
    table.row_for(queued.id).buttons["retry"].click()
    assert "retry re-submits a finished job" in html.unescape(table.message.value)
    assert len(pool.jobs) == 2
    runner.cancel()
    assert runner.wait(10) is S.CANCELLED
    row(table, runner).buttons["retry"].click()
    again = pool.jobs[-1]
    assert again.id == 3 and again.spec == runner.spec
    assert "re-submitted job 1 as job 3" in table.message.value
    table.row_for(runner.id).buttons["up"].click()
    assert "is finished; its priority can no longer matter" in html.unescape(table.message.value)


def test_retry_keeps_shell_env_and_dependencies(pool: pw.ProcessPool) -> None:
    first = pool.submit(cmd("pass"))
    job = pool.submit("echo $PW_Y", shell=True, env={"PW_Y": "7"}, after=[first], timeout=9, retries=1, name="n")
    assert job.wait(10) is S.SUCCEEDED
    again = pool.retry(job)  # what the row's retry button calls
    assert again.spec == job.spec and again.id != job.id and again.retry_of == job.id
    assert again.wait(10) is S.SUCCEEDED and again.tail(1) == ["7"]


def test_pool_strip_changes_workers_and_pauses_dispatch(pool: pw.ProcessPool, closer) -> None:
    table = closer(QueueTable(pool, min_interval=0.05))
    table.workers.value = 3
    assert pool.max_workers == 3
    table.workers.value = 0
    assert "max_workers must be &gt;= 1, got 0" in table.message.value
    assert pool.max_workers == 3
    wait_for(lambda: table.workers.value == 3, what="the strip to show the pool's value again")
    table.pause_button.value = True
    assert pool.paused
    pool.resume()
    wait_for(lambda: table.pause_button.value is False and table.pause_button.description == "Pause dispatch",
             what="the strip to follow pool.resume()")
    pool.max_workers = 5
    wait_for(lambda: table.workers.value == 5, what="the strip to follow pool.max_workers")


def test_pages_and_filters(pool: pw.ProcessPool, closer) -> None:
    pool.pause()
    jobs = [pool.submit(cmd("pass"), name=f"j{i}") for i in range(45)]
    table = closer(QueueTable(pool, page_size=20))
    wait_for(lambda: len(table._states) == 45, what="the table to know every job")
    table.refresh()
    assert table.visible_ids == list(range(1, 21))
    table.next_button.click()
    assert table.visible_ids == list(range(21, 41))
    table.next_button.click()
    table.next_button.click()  # past the end stays on the last page
    assert table.visible_ids == [41, 42, 43, 44, 45]
    assert "page 3 / 3" in table.page_label.value
    assert sum(r.box.layout.display == "none" for r in table.rows) == 15
    for job in jobs[10:15]:
        job.cancel()
    wait_for(lambda: len(table._by_state[S.CANCELLED]) == 5, what="the cancels to reach the table")
    table.filter.value = "cancelled"
    assert table.visible_ids == [11, 12, 13, 14, 15] and table.page == 0
    table.set_filter("active")
    assert table.visible_ids[:3] == [1, 2, 3] and len(table.visible_ids) == 20
    table.show_job(44)
    assert 44 in table.visible_ids
    with pytest.raises(ValueError, match="filter must be one of"):
        table.set_filter("nope")


def test_a_state_change_in_a_10000_job_table_sends_only_that_row(pool: pw.ProcessPool, closer, spy) -> None:
    pool.pause()
    jobs = [pool.submit(cmd("pass"), name=f"j{i}") for i in range(10_000)]
    table = closer(QueueTable(pool, page_size=20))
    wait_for(lambda: len(table._states) == 10_000, what="the table to know every job")
    table._refresher.stop()  # render only when this test says so
    table.refresh()
    spy.clear()
    jobs[4].cancel()  # on the page
    wait_for(lambda: table._states[5] is S.CANCELLED, what="the event to reach the table")
    table.refresh()
    assert sorted(spy.widgets(), key=id) == sorted([table.counts, table.row_for(5).html], key=id)
    assert "CANCELLED" in spy.to(table.row_for(5).html)[0]["state"]["value"]
    assert sum(size for _, _, size in spy.messages) < 2000
    spy.clear()
    jobs[9_000].cancel()  # off the page: only the counts change
    wait_for(lambda: table._states[9_001] is S.CANCELLED, what="the event to reach the table")
    table.refresh()
    assert spy.widgets() == [table.counts]
    spy.clear()
    table.refresh()  # nothing changed: nothing sent
    assert len(spy) == 0


def test_a_burst_of_1000_state_changes_costs_a_handful_of_renders(pool: pw.ProcessPool, closer, spy) -> None:
    pool.pause()
    jobs = [pool.submit(cmd("pass")) for _ in range(1000)]
    table = closer(QueueTable(pool, page_size=20, min_interval=0.2, period=60))
    wait_for(lambda: len(table._states) == 1000, what="the table to know every job")
    table.refresh()
    runs = table._refresher.runs
    spy.clear()
    for job in jobs:
        job.cancel()
    wait_for(lambda: len(table._by_state[S.CANCELLED]) == 1000, what="the cancels to reach the table")
    wait_for(lambda: table.counts.value.count("cancelled <b>1000</b>"), what="the last render")
    renders = table._refresher.runs - runs
    counts_messages = len(spy.to(table.counts))
    assert renders <= 10 and counts_messages <= renders
    # Each visible row is sent at most once per render, whatever the number of changes.
    assert len(spy) <= renders * (table.page_size + 1)
    assert len(spy) < 100


def test_live_cpu_and_sparkline_from_a_real_monitor(pool: pw.ProcessPool, closer) -> None:
    from procwidgets.core.monitor import Monitor

    mon = Monitor(pool, interval=0.05)
    try:
        table = closer(QueueTable(pool, mon, min_interval=0.05, period=0.1))
        job = pool.submit(cmd("import time\nt = time.time()\nwhile time.time() - t < 30: pass"), name="busy")
        wait_for(lambda: "<svg" in (table.row_for(job.id).html.value if table.row_for(job.id) else ""),
                 what="the busy job's sparkline")
        wait_for(lambda: "%" in row_text(table, job).split("RUNNING")[1], what="a live CPU % in the row")
        job.cancel()
        job.wait(10)
    finally:
        mon.stop()


def test_close_unsubscribes_and_nothing_is_sent_after(pool: pw.ProcessPool, spy) -> None:
    before = len(pool._bus)
    table = QueueTable(pool, min_interval=0.01)
    assert len(pool._bus) == before + 1
    table.close()
    assert len(pool._bus) == before and not table._refresher.alive
    spy.clear()
    job = pool.submit(cmd("pass"))
    job.wait(10)
    pool.max_workers = 4
    assert len(spy) == 0
    assert os.getpid()  # the pool still works after the table is gone
