"""The job model: the transitions table, the one state-changing method, reprs and errors."""

from __future__ import annotations

import pytest

import procwidgets as pw
from procwidgets.core.job import TRANSITIONS, InvalidTransition, Job, JobSpec, JobState


class _NoPool:
    """A seam: Job only needs its pool for control calls, which these tests do not make."""


def make_job(job_id: int = 7, name: str = "train.py") -> Job:
    return Job(_NoPool(), job_id, JobSpec(argv=("python", "train.py"), name=name), tail_lines=5)  # type: ignore[arg-type]


def test_finished_states_are_exactly_the_terminal_ones():
    finished = {s for s in JobState if s.is_finished}
    assert finished == {JobState.SUCCEEDED, JobState.FAILED, JobState.TIMED_OUT, JobState.CANCELLED,
                        JobState.INTERRUPTED}
    for state in JobState:
        assert (TRANSITIONS[state] == frozenset()) == state.is_finished


def test_legal_path_records_history_and_resolves_future():
    job = make_job()
    assert job.state is JobState.QUEUED and not job._done.done()
    job._transition(JobState.RUNNING, "attempt 1")
    job._transition(JobState.PAUSED, "SIGSTOP")
    job._transition(JobState.RUNNING, "SIGCONT")
    old = job._transition(JobState.SUCCEEDED, "exit code 0")
    assert old is JobState.RUNNING
    assert [s for _, s, _ in job.history] == [JobState.QUEUED, JobState.RUNNING, JobState.PAUSED,
                                              JobState.RUNNING, JobState.SUCCEEDED]
    assert job._done.result(0) is JobState.SUCCEEDED
    assert job.finished_at == job.history[-1][0]


@pytest.mark.parametrize("start", list(JobState))
def test_every_illegal_move_raises_with_the_story(start):
    for target in JobState:
        if target in TRANSITIONS[start]:
            continue
        job = make_job()
        job.state = start
        job.history.append((job.submitted_at, start, "forced for the test"))
        with pytest.raises(InvalidTransition) as info:
            job._transition(target, "why not")
        text = str(info.value)
        assert f"from {start.name} to {target.name}" in text
        assert "forced for the test" in text and "submitted" in text  # the story
        assert info.value.start is start and info.value.finish is target
        assert job.state is start  # nothing changed


def test_repr_shows_id_name_state_pid():
    job = make_job(7, "train.py")
    assert repr(job) == "<Job 7 'train.py' QUEUED>"
    job._transition(JobState.RUNNING)
    job.pid = 4121
    assert repr(job) == "<Job 7 'train.py' RUNNING pid=4121>"
    job.returncode = 0
    job._transition(JobState.SUCCEEDED)
    assert repr(job) == "<Job 7 'train.py' SUCCEEDED rc=0>"


def test_tail_is_bounded_and_checks_its_argument():
    job = make_job()
    for i in range(20):
        job._tail.append(("stdout" if i % 2 else "stderr", f"line {i}"))
    assert job.tail(3) == ["line 17", "line 18", "line 19"]
    assert job.tail(100) == [f"line {i}" for i in range(15, 20)]  # tail_lines=5
    assert job.tail(2, streams=True) == [("stderr", "line 18"), ("stdout", "line 19")]
    assert job.tail(0) == []
    with pytest.raises(TypeError, match="int"):
        job.tail("3")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match=">= 0"):
        job.tail(-1)


def test_duration_is_none_before_start():
    job = make_job()
    assert job.duration is None
    job._transition(JobState.RUNNING, now=100.0)
    job.started_at = 100.0
    job._transition(JobState.FAILED, now=102.5)
    assert job.duration == pytest.approx(2.5)


def test_public_names_are_sorted_and_complete():
    assert pw.__all__ == sorted(pw.__all__)
    public = {n for n in dir(pw) if not n.startswith("_")}
    modules = {n for n in public if type(getattr(pw, n)).__name__ == "module"}
    assert set(pw.__all__) <= public
    assert public - modules <= set(pw.__all__)  # every public class and function is exported
    assert modules & set(pw.__all__) <= {"sim", "widgets"}  # subpackages meant for users


def test_core_imports_no_widget_libraries():
    import subprocess
    import sys
    code = ("import sys, procwidgets.core; bad = [m for m in ('ipywidgets', 'plotly', 'IPython') "
            "if m in sys.modules]; print(bad); sys.exit(1 if bad else 0)")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stdout + result.stderr
