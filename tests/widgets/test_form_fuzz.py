"""Property tests over the form's fields: whatever a person types, a click gives a job or a clear
message in the form; never an exception, a half-created job, or lost input.

The pool is paused, so no fuzzed command ever runs: created jobs are checked and cancelled.
"""

from __future__ import annotations

import html

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import procwidgets as pw
from procwidgets.widgets import SubmitForm

FUZZ = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
texts = st.one_of(st.text(max_size=60), st.sampled_from(
    ["", " ", "\0", "python -c 'pass", "echo hi", "true", "a=b", "=x", "X=1\nY", "# c\nA=1", "3, 5", "#1",
     "-1", "1e400", "nan", "inf", "0", "1.5", "\ud800", "x" * 10_000, "$(reboot)", "; rm -rf /"]))


@pytest.fixture
def paused_pool():  # one pool for all of hypothesis's examples in the test, shut down after it
    pool = pw.ProcessPool(max_workers=1, store=None)
    pool.pause()
    yield pool
    pool.shutdown()


@FUZZ
@given(command=texts, name=texts, priority=st.integers(-(2**70), 2**70), timeout=texts, retries=st.integers(-5, 2**40),
       cwd=texts, env=texts, after=texts, shell=st.booleans())
def test_any_input_gives_a_job_or_a_message(paused_pool, command, name, priority, timeout, retries, cwd, env, after,
                                            shell):
    form = SubmitForm(paused_pool)
    try:
        typed = dict(command=command, name=name, priority=priority, timeout=timeout, retries=retries, cwd=cwd,
                     env=env, after=after, shell=shell)
        for field, value in typed.items():
            getattr(form, field).value = value
        before = len(paused_pool.jobs)
        job = form.submit()  # what a click does; must not raise
        message = html.unescape(form.message.value)
        if job is None:
            assert "pw-error" in form.message.value and len(message) > 20, message
            assert len(paused_pool.jobs) == before  # nothing half-created
        else:
            assert "Submitted job" in message and len(paused_pool.jobs) == before + 1
            assert job.state is pw.JobState.QUEUED and job.priority == priority
            assert job.cancel() and job.state is pw.JobState.CANCELLED
        assert {f: getattr(form, f).value for f in typed} == typed  # what was typed is kept
    finally:
        form.close()
