"""SubmitForm against a real pool: clicks create jobs; bad input shows the core's message and submits nothing."""

from __future__ import annotations

import html

import pytest
from widget_helpers import PY, wait_for

import procwidgets as pw
from procwidgets.widgets import SubmitForm


@pytest.fixture
def form(pool: pw.ProcessPool, closer) -> SubmitForm:
    return closer(SubmitForm(pool))


def test_click_creates_the_job_with_the_forms_fields(pool: pw.ProcessPool, form: SubmitForm) -> None:
    form.command.value = f"{PY} -u -c 'import os; print(os.environ[\"PW_X\"])'"
    form.name.value = "the-name"
    form.priority.value = 7
    form.timeout.value = "30"
    form.retries.value = 2
    form.env.value = "# a comment\nPW_X=hello=world\n"
    form.submit_button.click()
    [job] = pool.jobs
    assert (job.name, job.priority, job.spec.timeout, job.spec.retries) == ("the-name", 7, 30.0, 2)
    assert job.spec.env == {"PW_X": "hello=world"}
    assert "Submitted job 1" in form.message.value and "pw-ok" in form.message.value
    assert job.wait(10) is pw.JobState.SUCCEEDED
    assert job.tail(1) == ["hello=world"]
    assert form.last_job is job


def test_shell_mode_and_depends_on(pool: pw.ProcessPool, form: SubmitForm) -> None:
    first = pool.submit([PY, "-c", "pass"])
    form.command.value = "echo $((40 + 2))"
    form.shell.value = True
    form.after.value = f"#{first.id}"
    form.submit_button.click()
    job = pool.jobs[-1]
    assert job.spec.shell and job.spec.after == (first.id,)
    assert job.wait(10) is pw.JobState.SUCCEEDED
    assert job.tail(1) == ["42"]


@pytest.mark.parametrize("field, text, expected", [
    ("command", "", "command is empty"),
    ("command", "   ", "command is empty"),
    ("timeout", "soon", "timeout must be a number of seconds or None, got 'soon' (str)"),
    ("timeout", "-5", "timeout must be a positive, finite number of seconds"),
    ("env", "PW_X=1\nNOEQUALS", "environment line 2 'NOEQUALS' is not KEY=VALUE"),
    ("env", "=value", "env key '' is not a valid variable name"),
    ("after", "99", "has no job 99"),
    ("after", "three", "depends-on takes job ids"),
    ("retries", -1, "retries must be >= 0, got -1"),
])
def test_bad_input_shows_a_message_submits_nothing_and_keeps_the_input(
        pool: pw.ProcessPool, form: SubmitForm, field: str, text: object, expected: str) -> None:
    form.command.value = f"{PY} -c pass"
    getattr(form, field).value = text
    typed = {name: getattr(form, name).value for name in ("command", "name", "timeout", "env", "after", "retries")}
    form.submit_button.click()
    assert pool.jobs == []
    assert "pw-error" in form.message.value
    assert expected in html.unescape(form.message.value)
    assert {name: getattr(form, name).value for name in typed} == typed
    assert form.last_job is None


def test_a_good_click_after_a_bad_one_clears_the_error(pool: pw.ProcessPool, form: SubmitForm) -> None:
    form.command.value = f"{PY} -c pass"
    form.timeout.value = "x"
    form.submit_button.click()
    assert "pw-error" in form.message.value
    form.timeout.value = ""
    form.submit_button.click()
    assert len(pool.jobs) == 1 and "pw-error" not in form.message.value
    wait_for(lambda: pool.jobs[0].state.is_finished, what="the job to finish")


def test_form_rejects_a_non_pool() -> None:
    with pytest.raises(TypeError, match="takes a ProcessPool"):
        SubmitForm("pool")  # type: ignore[arg-type]


def test_css_classes(form: SubmitForm) -> None:
    assert "pw-submit" in form._dom_classes
    assert "pw-submit-button" in form.submit_button._dom_classes
    assert "pw-submit-message" in form.message._dom_classes
