"""Property tests over `pool.submit()`: any input gives a job that finishes, or a clear TypeError or
ValueError that leaves the pool unchanged; never another exception, a hang, or a half-created job.

Fuzzed commands never run as given: the "paused" properties hold the pool, check the queued job,
and cancel it; the "run" property only appends fuzzed arguments to `python -c pass`.

The holes this suite found (lone surrogates, priorities too big for a float under aging or for
SQLite, timeouts too big for a float) have regression tests at the end; the core now refuses them.
"""

from __future__ import annotations

import contextlib
import math
import pathlib
import shlex
import sqlite3
import sys

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import procwidgets as pw
from procwidgets import JobState

pytestmark = pytest.mark.filterwarnings("ignore:Generating overly large repr")  # the 100 kB strings, reprs only

CLEAR_ERRORS = (TypeError, ValueError)
FUZZ = settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
PASS = [sys.executable, "-c", "pass"]
MARK_KEY = "PROCWIDGETS_TEST_MARK"  # a job must keep it, or the suite's leak guard could not see it

# Any code point, lone surrogates, NUL and controls included. st.characters() never draws lone
# surrogates (category Cs), so they come from a strategy of their own, mixed into the text.
chars = st.characters()
surrogates = st.text(st.characters(min_codepoint=0xD800, max_codepoint=0xDFFF, exclude_categories=[]),
                     min_size=1, max_size=2)
odd_texts = st.sampled_from(["", " ", "\0", "a\0b", "'", '"', "\\", "\n", "\r\n", "$HOME", "; rm -rf /", "é",
                             "\u202e", "\U0001f600", "x" * 100_000, "-" * 5000, "=", "a=b", "\ud800", "a\udcff"])
plain_texts = st.one_of(st.text(chars, max_size=40), odd_texts)
texts = st.one_of(plain_texts, st.lists(st.one_of(plain_texts, surrogates), min_size=1, max_size=3).map("".join))
numbers = st.one_of(st.integers(), st.integers(min_value=-(2**2000), max_value=2**2000),
                    st.floats(allow_nan=True, allow_infinity=True), st.sampled_from([0, -0.0, 5e-324, 1e308]))
hashables = st.one_of(st.none(), st.booleans(), numbers, texts, st.binary(max_size=20), st.tuples(texts),
                      st.builds(object), st.builds(pathlib.PurePosixPath, texts))
anything = st.one_of(st.none(), st.booleans(), numbers, texts, st.binary(max_size=20),
                     st.lists(texts, max_size=3), st.tuples(texts), st.dictionaries(texts, texts, max_size=3),
                     st.builds(object), st.builds(pathlib.PurePosixPath, texts), st.sets(st.integers(), max_size=2))
# Mostly within the accepted range (|priority| <= 10**9), some far beyond it.
priorities = st.one_of(st.integers(min_value=-(10**9), max_value=10**9), st.integers(),
                       st.integers(min_value=-(2**2000), max_value=2**2000))


def env_dicts() -> st.SearchStrategy:
    keys = texts.filter(lambda k: k != MARK_KEY)
    return st.dictionaries(keys, texts, max_size=4)


def submit_or_refuse(pool: pw.ProcessPool, **kwargs: object) -> pw.Job | None:
    """Submit; a refusal must be a TypeError/ValueError that leaves `pool.jobs` as it was."""
    before = [j.id for j in pool.jobs]
    try:
        job = pool.submit(**kwargs)
    except CLEAR_ERRORS as exc:
        assert str(exc), f"{type(exc).__name__} without a message for {kwargs!r}"
        assert [j.id for j in pool.jobs] == before, f"a refused submit changed pool.jobs: {kwargs!r}"
        return None
    assert [j.id for j in pool.jobs] == [*before, job.id]
    assert isinstance(job.argv, tuple) and job.argv and all(isinstance(a, str) and "\0" not in a for a in job.argv)
    assert isinstance(job.name, str) and isinstance(job.priority, int)
    return job


def cancel_queued(job: pw.Job) -> None:
    assert job.state is JobState.QUEUED
    assert job.cancel() is True
    assert job.state is JobState.CANCELLED and job.pid is None


def test_fuzzed_commands_are_queued_or_refused(make_pool):
    pool = make_pool(max_workers=1)
    pool.pause()

    @FUZZ
    @given(command=st.one_of(texts, st.lists(st.one_of(texts, anything), max_size=5),
                             st.tuples(texts, texts), anything),
           shell=st.one_of(st.booleans(), anything))
    def check(command: object, shell: object) -> None:
        job = submit_or_refuse(pool, command=command, shell=shell)
        if job is not None:
            if job.spec.shell:
                assert job.argv == ("/bin/sh", "-c", command)
            cancel_queued(job)

    check()
    assert all(j.state is JobState.CANCELLED for j in pool.jobs)


def test_every_parameter_fuzzed_is_queued_or_refused(make_pool):
    pool = make_pool(max_workers=1)
    pool.pause()
    earlier: list[pw.Job] = []

    @FUZZ
    @given(data=st.data(),
           name=st.one_of(st.none(), texts, anything),
           priority=st.one_of(priorities, anything),
           timeout=st.one_of(st.none(), st.floats(min_value=5e-324), numbers, anything),
           cwd=st.one_of(st.none(), texts, st.builds(pathlib.PurePosixPath, texts), anything),
           env=st.one_of(st.none(), env_dicts(), st.dictionaries(hashables.filter(lambda k: k != MARK_KEY),
                                                                 anything, max_size=3), anything),
           retries=st.one_of(st.integers(min_value=0), numbers, anything))
    def check(data, name, priority, timeout, cwd, env, retries) -> None:
        after = data.draw(st.one_of(st.just(()), st.lists(st.sampled_from(earlier), max_size=3) if earlier
                                    else st.just([]), anything), label="after")
        job = submit_or_refuse(pool, command=PASS, name=name, priority=priority, timeout=timeout, cwd=cwd,
                               env=env, retries=retries, after=after)
        if job is None:
            return
        spec = job.spec
        assert spec.timeout is None or (isinstance(spec.timeout, float) and math.isfinite(spec.timeout)
                                        and spec.timeout > 0)
        assert isinstance(spec.retries, int) and spec.retries >= 0
        assert spec.env is None or all(isinstance(k, str) and isinstance(v, str) and k and "=" not in k
                                       for k, v in spec.env.items())
        assert spec.cwd is None or isinstance(spec.cwd, str)
        job.cancel()  # the pool is paused; a job after a cancelled one may be CANCELLED by the engine already
        assert job.wait(10) is JobState.CANCELLED and job.pid is None and job.error
        earlier.append(job)

    check()


def test_fuzzed_jobs_run_to_a_finished_state(make_pool, tmp_path):
    pool = make_pool(max_workers=4, kill_grace=0.5)
    done: list[pw.Job] = []

    @FUZZ
    # Mostly values that pass submit(), so that most examples run: refusals are the other properties' subject.
    @given(args=st.lists(plain_texts, max_size=5),
           name=st.one_of(st.none(), plain_texts),
           priority=st.integers(min_value=-(10**9), max_value=10**9),
           timeout=st.one_of(st.none(), st.floats(min_value=5e-324, max_value=1e308), st.integers(1, 10**300)),
           cwd=st.one_of(st.none(), plain_texts,
                         st.sampled_from(["/", ".", str(tmp_path), "/nonexistent", "/etc/passwd"])),
           env=st.one_of(st.none(), st.dictionaries(plain_texts.filter(lambda k: k != MARK_KEY), plain_texts,
                                                    max_size=4)),
           retries=st.integers(0, 2),
           shell=st.booleans())
    def check(args, name, priority, timeout, cwd, env, retries, shell) -> None:
        # with shell=True the same argv goes as one str, every word quoted: the shell runs only `python -c pass`
        command = shlex.join([*PASS, *args]) if shell else [*PASS, *args]
        job = submit_or_refuse(pool, command=command, name=name, priority=priority, timeout=timeout,
                               cwd=cwd, env=env, retries=retries, shell=shell)
        if job is None:
            return
        state = job.wait(60)  # never a hang
        assert state.is_finished and job.finished_at is not None
        if state is JobState.SUCCEEDED:
            assert job.returncode == 0 and job.error is None
        else:
            assert job.error  # a reason in words
        done.append(job)

    check()
    assert len(done) >= 60, f"only {len(done)} fuzzed jobs ran: the property proved little"
    assert any(j.state is JobState.SUCCEEDED for j in done) and any(j.state is JobState.FAILED for j in done)
    pool.wait(30)
    assert sum(pool.counts()[s] for s in JobState if not s.is_finished) == 0


def test_fuzzed_submits_from_many_threads_keep_the_pool_whole(make_pool):
    """Refusals and jobs interleaved from threads: every job the pool lists is one a thread got back."""
    from concurrent.futures import ThreadPoolExecutor

    pool = make_pool(max_workers=2)
    pool.pause()
    inputs = [dict(command=PASS), dict(command=""), dict(command=PASS, priority="x"), dict(command=[*PASS, "a\0"]),
              dict(command=PASS, env={"A": 1}), dict(command="echo hi", shell=True), dict(command=PASS, retries=-1)]

    def one(i: int) -> int | None:
        try:
            return pool.submit(**inputs[i % len(inputs)]).id
        except CLEAR_ERRORS:
            return None

    with ThreadPoolExecutor(8) as ex:
        ids = [i for i in ex.map(one, range(700)) if i is not None]
    assert sorted(j.id for j in pool.jobs) == sorted(ids) and len(ids) == 200
    for job in pool.jobs:
        job.cancel()
    assert all(j.state is JobState.CANCELLED for j in pool.jobs)


# -- known holes, pinned ---------------------------------------------------------------------------

def stored_names(store: pathlib.Path) -> set[str]:
    """Job names committed in a store's database (read directly: a stuck writer may hold its lock)."""
    with contextlib.closing(sqlite3.connect(store / "jobs.sqlite3", timeout=1)) as db:
        return {name for (name,) in db.execute("SELECT name FROM jobs")}


# Found by test_every_parameter_fuzzed_is_queued_or_refused (an OverflowError from math.isnan); fixed in b78f0e3.
@pytest.mark.parametrize("where", ["submit(timeout=)", "ProcessPool(kill_grace=)"])
def test_seconds_beyond_a_float_are_a_clear_error(make_pool, where):
    with pytest.raises(ValueError, match="finite"):
        if where == "submit(timeout=)":
            pool = make_pool(max_workers=1)
            pool.submit(PASS, timeout=10**400)
        else:
            make_pool(max_workers=1, kill_grace=10**400)


SURROGATE = "\ud800"  # a lone surrogate: a valid Python str that no OS argument or variable can hold


@pytest.mark.parametrize("kwargs", [
    dict(command=[*PASS, SURROGATE]), dict(command=f"python3 {SURROGATE}"), dict(command=PASS, env={"A": SURROGATE}),
    dict(command=PASS, env={SURROGATE: "x"}), dict(command=PASS, cwd=f"/tmp/{SURROGATE}"),
], ids=["argv", "str-command", "env-value", "env-key", "cwd"])
def test_unencodable_text_is_refused_or_fails_clearly(make_pool, kwargs):
    pool = make_pool(max_workers=1)
    job = submit_or_refuse(pool, **kwargs)
    if job is not None:
        assert job.wait(5) is JobState.FAILED and job.error


@pytest.mark.parametrize(("policy", "store", "priority"), [
    ("aging", False, 10**400), ("aging", False, -(10**400)),
    ("priority", True, 2**63), ("priority", True, -(2**63) - 1),
], ids=["aging-10**400", "aging--10**400", "store-2**63", "store--2**63-1"])
def test_huge_priorities_are_refused_or_work(make_pool, tmp_path, policy, store, priority):
    pool = make_pool(max_workers=1, policy=policy, store=tmp_path if store else None)
    job = submit_or_refuse(pool, command=PASS, priority=priority)
    later = pool.submit(PASS, name="later")
    if job is not None:
        assert job.wait(5) is JobState.SUCCEEDED
    assert later.wait(5) is JobState.SUCCEEDED
    if store:
        pool.shutdown()
        assert "later" in stored_names(tmp_path)  # every record was written


def test_an_unencodable_name_with_a_store_loses_no_record(make_pool, tmp_path):
    pool = make_pool(max_workers=1, store=tmp_path)
    job = submit_or_refuse(pool, command=PASS, name=f"odd {SURROGATE}")
    later = pool.submit(PASS, name="later")
    assert later.wait(10) is JobState.SUCCEEDED
    if job is not None:
        job.wait(10)
    pool.shutdown()
    assert "later" in stored_names(tmp_path)
