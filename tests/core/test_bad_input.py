"""Bad input gets a clear error naming the value and the fix, and changes nothing."""

from __future__ import annotations

import sys

import pytest

import procwidgets as pw

OK = [sys.executable, "-c", "pass"]

BAD_SUBMITS = [
    (dict(command=""), ValueError, "command is empty"),
    (dict(command="   "), ValueError, "command is empty"),
    (dict(command=[]), ValueError, "empty list"),
    (dict(command=42), TypeError, r"command must be a str or a list of str, got 42 \(int\)"),
    (dict(command=None), TypeError, "command must be a str or a list"),
    (dict(command=["python", 3]), TypeError, r"command\[1\] must be a str, got 3 \(int\)"),
    (dict(command="echo 'unbalanced"), ValueError, "cannot be split into arguments"),
    (dict(command="echo a\0b"), ValueError, "NUL byte"),
    (dict(command=["echo hi"], shell=True), TypeError, "shell=True takes the command as one str"),
    (dict(command=OK, shell="yes"), TypeError, "shell must be True or False"),
    (dict(command=OK, priority="high"), TypeError, "priority must be an int, got 'high'"),
    (dict(command=OK, priority=1.5), TypeError, "priority must be an int"),
    (dict(command=OK, priority=True), TypeError, "priority must be an int"),
    (dict(command=OK, timeout=0), ValueError, "timeout must be a positive, finite number of seconds, got 0"),
    (dict(command=OK, timeout=-5), ValueError, r"got -5 \(use None for no limit\)"),
    (dict(command=OK, timeout=float("nan")), ValueError, "timeout must be a positive"),
    (dict(command=OK, timeout="10"), TypeError, "timeout must be a number of seconds or None"),
    (dict(command=OK, retries=-1), ValueError, "retries must be >= 0, got -1"),
    (dict(command=OK, retries=2.0), TypeError, "retries must be an int"),
    (dict(command=OK, env={"A": 1}), TypeError, r"env\['A'\] must be a str, got 1 \(int\)"),
    (dict(command=OK, env={"A=B": "x"}), ValueError, "not a valid variable name"),
    (dict(command=OK, env={3: "x"}), TypeError, "env keys must be str"),
    (dict(command=OK, env=["A=1"]), TypeError, "env must be a dict"),
    (dict(command=OK, env={"A": "x\0y"}), ValueError, "NUL byte"),
    (dict(command=OK, cwd=5), TypeError, "cwd must be a path"),
    (dict(command=OK, name=5), TypeError, "name must be a str or None"),
    (dict(command=OK, after=[5]), TypeError, r"after= takes Job objects .* got 5 \(int\)"),
    (dict(command=OK, after="job"), TypeError, "after must be a Job or a list of Jobs"),
    (dict(command=OK, resources={"GPU": 1}), ValueError, "needs a backend with resources.*DaskBackend"),
    (dict(command=OK, resources={"GPU": 0}), ValueError, r"resources\['GPU'\] must be a positive"),
    (dict(command=OK, resources=["GPU"]), TypeError, "resources must be a dict of str to number"),
]


@pytest.mark.parametrize(("kwargs", "error", "message"), BAD_SUBMITS,
                         ids=[f"{i}-{list(k.items())[-1][0]}" for i, (k, _, _) in enumerate(BAD_SUBMITS)])
def test_bad_submit_is_refused_and_changes_nothing(make_pool, kwargs, error, message):
    pool = make_pool(max_workers=1)
    with pytest.raises(error, match=message):
        pool.submit(**kwargs)
    assert pool.jobs == []
    assert pool.submit(OK).wait(10) is pw.JobState.SUCCEEDED  # the pool is fine


def test_after_a_job_of_another_pool(make_pool):
    one, two = make_pool(max_workers=1), make_pool(max_workers=1)
    other = one.submit(OK)
    with pytest.raises(ValueError, match="a job of another pool"):
        two.submit(OK, after=[other])
    assert two.jobs == []


@pytest.mark.parametrize(("kwargs", "error", "message"), [
    (dict(max_workers=0), ValueError, "max_workers must be >= 1, got 0"),
    (dict(max_workers="2"), TypeError, "max_workers must be an int, got '2'"),
    (dict(policy="lottery"), ValueError, "unknown policy 'lottery'"),
    (dict(policy=None), TypeError, "policy must be one of"),
    (dict(kill_grace=0), ValueError, "kill_grace must be a positive"),
])
def test_bad_pool_arguments(kwargs, error, message):
    with pytest.raises(error, match=message):
        pw.ProcessPool(**kwargs)


def test_bad_control_calls(make_pool):
    pool = make_pool(max_workers=1)
    pool.pause()
    job = pool.submit(OK)
    with pytest.raises(TypeError, match="priority must be an int"):
        job.priority = "9"
    with pytest.raises(ValueError, match="only a RUNNING job can be paused.*pool.pause"):
        job.pause()
    with pytest.raises(ValueError, match="only a PAUSED job can be resumed"):
        job.resume()
    with pytest.raises(ValueError, match="max_workers must be >= 1"):
        pool.max_workers = 0
    assert pool.max_workers == 1 and job.priority == 0
    job.priority = 9
    assert job.priority == 9
    pool.resume()
    job.wait(10)
    with pytest.raises(ValueError, match="is finished"):
        job.priority = 1


def test_submit_after_shutdown(py):
    pool = pw.ProcessPool(max_workers=1)
    pool.shutdown()
    with pytest.raises(RuntimeError, match="is shut down and takes no more jobs; create a new ProcessPool"):
        pool.submit(OK)
    assert pool.jobs == []


def test_allowed_commands_are_checked_in_the_core(make_pool):
    from procwidgets.core.guard import CommandNotAllowed
    pool = make_pool(max_workers=1, allowed_commands=["true", "python* -c *"])
    assert pool.submit(["true"]).wait(10) is pw.JobState.SUCCEEDED
    assert pool.submit(["/usr/bin/true"]).wait(10) is pw.JobState.SUCCEEDED
    assert pool.submit("python3 -c pass").wait(10) is pw.JobState.SUCCEEDED
    for bad in (["rm", "-rf", "/tmp/x"], "python3 evil.py", "bash -c true"):
        with pytest.raises(CommandNotAllowed, match="is not allowed here; allowed: true, python\\* -c \\*"):
            pool.submit(bad)
    with pytest.raises(CommandNotAllowed, match="shell commands are not allowed"):
        pool.submit("true", shell=True)
    retried = pool.jobs[0]
    assert pool.retry(retried).wait(10) is pw.JobState.SUCCEEDED  # retry passes the same check
    assert len(pool.jobs) == 4
    with pytest.raises(CommandNotAllowed, match="environment variables LD_PRELOAD are not allowed"):
        pool.submit(["true"], env={"LD_PRELOAD": "/tmp/evil.so"})
    with pytest.raises(CommandNotAllowed, match="working directory cannot be chosen"):
        pool.submit(["true"], cwd="/tmp")
    pool.restrict(["python*"])  # restrictions add up: now both lists must allow
    with pytest.raises(CommandNotAllowed, match="allowed: python\\*$"):
        pool.submit(["true"])
    assert pool.restricted and len(pool.jobs) == 4
    with pytest.raises(TypeError, match="not one str"):
        pw.ProcessPool(allowed_commands="python")
    with pytest.raises(ValueError, match="nothing could run"):
        pw.ProcessPool(allowed_commands=[])


def test_secrets_are_masked_for_display():
    from procwidgets.core.guard import mask_argv, mask_env
    assert mask_env({"API_KEY": "abc", "HF_TOKEN": "t", "DB_PASSWORD": "p", "LR": "0.1"}) == {
        "API_KEY": "****", "HF_TOKEN": "****", "DB_PASSWORD": "****", "LR": "0.1"}
    assert mask_argv(["train.py", "--token", "abc", "--lr", "0.1", "--password=hunter2", "AWS_SECRET=x"]) == (
        "train.py --token '****' --lr 0.1 '--password=****' 'AWS_SECRET=****'")
