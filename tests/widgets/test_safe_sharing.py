"""A dashboard shown to others: read-only shows everything and accepts nothing; a restricted one
submits only allowed commands, checked by the pool; secrets never reach the table."""

from __future__ import annotations

import html
import sys

import pytest
from helpers import wait_for

import procwidgets as pw
from procwidgets.core.guard import CommandNotAllowed
from procwidgets.widgets import Dashboard


@pytest.fixture
def pool():
    pool = pw.ProcessPool(max_workers=1, store=None)
    yield pool
    pool.shutdown()


def test_read_only_dashboard_accepts_no_command(pool):
    job = pool.submit([sys.executable, "-c", "import time; time.sleep(30)"], name="long")
    wait_for(lambda: job.state is pw.JobState.RUNNING)
    board = Dashboard(pool, read_only=True)
    try:
        assert board.form is None
        assert not any(isinstance(w, pw.SubmitForm) for w in board.tabs.children[0].children)
        table = board.table
        assert all(row.buttons == {} for row in table.rows)  # no buttons to click, hidden or not
        assert table.workers.disabled and table.pause_button.disabled
        table.workers.value = 7  # what a crafted message from the browser would do
        table.pause_button.value = True
        assert pool.max_workers == 1 and not pool.paused
        table.refresh()
        assert any("long" in row.html.value for row in table.rows)  # it still shows everything
        assert job.state is pw.JobState.RUNNING
    finally:
        board.close()


def test_restricted_dashboard_checks_in_the_pool_and_drops_risky_fields(pool):
    board = Dashboard(pool, allowed_commands=["true"])
    try:
        form = board.form
        shown = {id(w) for box in form.children for w in getattr(box, "children", (box,))}
        assert id(form.shell) not in shown and id(form.env) not in shown and id(form.cwd) not in shown
        form.command.value = "rm -rf /tmp/nothing"
        assert form.submit() is None
        assert "is not allowed here; allowed: true" in html.unescape(form.message.value)
        assert pool.jobs == []
        with pytest.raises(CommandNotAllowed):  # the pool itself refuses, not only the widget
            pool.submit(["bash", "-c", "id"])
        form.command.value = "true"
        job = form.submit()
        assert job is not None and job.wait(10) is pw.JobState.SUCCEEDED
    finally:
        board.close()


def test_secrets_do_not_reach_the_table(pool):
    from procwidgets.widgets import QueueTable
    job = pool.submit(["true", "--api-key", "sk-very-secret", "--lr=0.1", "HF_TOKEN=abc123"],
                      env={"HF_TOKEN": "abc123"})
    job.wait(10)
    table = QueueTable(pool)
    try:
        table.refresh()
        text = "".join(row.html.value for row in table.rows) + table.counts.value
        assert "sk-very-secret" not in text and "abc123" not in text
        assert "****" in html.unescape(text) and "--lr=0.1" in text
        assert "sk-very-secret" not in job.name
    finally:
        table.close()
