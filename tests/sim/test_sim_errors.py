"""Bad input gets a TypeError (wrong kind) or ValueError (wrong value) that names the value and the fix."""

import pytest

from procwidgets.sim import simulate


@pytest.mark.parametrize("jobs, policy, params, error, words", [
    ([100, -5], "fifo", {}, ValueError, ["job 1 length", "-5", "> 0"]),
    ([100, 0], "sjf", {}, ValueError, ["job 1 length", "> 0"]),
    ([float("nan")], "fifo", {}, ValueError, ["finite"]),
    ([100, "50"], "fifo", {}, TypeError, ["job 1", "'50'"]),
    ([True], "fifo", {}, TypeError, ["job 0"]),
    ("200,100", "fifo", {}, TypeError, ["split"]),
    ([], "fifo", {}, ValueError, ["empty"]),
    ([(0, 10, 0, 9)], "fifo", {}, ValueError, ["(start, run, io_freq)"]),
    ([{"lenght": 3}], "fifo", {}, ValueError, ["'lenght'", "length"]),
    ([(-1, 10)], "fifo", {}, ValueError, ["job 0 arrival", ">= 0"]),
    ([100], "rr", {"quantum": 0}, ValueError, ["quantum", "> 0", "0"]),
    ([100], "rr", {"quantum": "2"}, TypeError, ["quantum", "'2'"]),
    ([100], "lottery", {}, ValueError, ["'lottery'", "fifo", "mlfq"]),
    ([100], "RR", {}, ValueError, ["'rr'"]),
    ([100], 3, {}, TypeError, ["policy"]),
    ([100], "fifo", {"quantum": 5}, TypeError, ["'fifo' does not take quantum", "no parameters"]),
    ([100], "rr", {"quantom": 5}, TypeError, ["quantom", "quantum=1"]),
    ([(0, 10, 2)], "rr", {}, ValueError, ["io_freq=2", "mlfq"]),
    ([(0, 10, 0)], "mlfq", {"quantum": [10, 10], "allotment": [1, 1, 1]}, ValueError,
     ["quantum list 2", "allotment list 3", "highest queue first"]),
    ([(0, 10, 0)], "mlfq", {"queues": 2, "quantum": [10, 5, 1]}, ValueError, ["queues 2", "quantum list 3"]),
    ([(0, 10, 0)], "mlfq", {"quantum": 0}, ValueError, ["quantum", ">= 1"]),
    ([(0, 10, 0)], "mlfq", {"quantum": [10, 0]}, ValueError, ["quantum[1]"]),
    ([(0, 10, 0)], "mlfq", {"allotment": 0}, ValueError, ["allotment"]),
    ([(0, 10.5, 0)], "mlfq", {}, TypeError, ["whole ticks"]),
    ([(0, 10.0, 0)], "mlfq", {}, TypeError, ["write 10"]),
    ([(0, 0, 0)], "mlfq", {}, ValueError, ["run length", ">= 1"]),
    ([(0, 10, -1)], "mlfq", {}, ValueError, ["io_freq"]),
    ([(0, 10, 0)], "mlfq", {"boost": -1}, ValueError, ["boost"]),
    ([(0, 10, 0)], "mlfq", {"stay": 1}, TypeError, ["stay", "True or False"]),
    ([10], "priority", {"workers": 0}, ValueError, ["workers", ">= 1"]),
    ([10], "aging", {"rate": -1}, ValueError, ["rate"]),
])
def test_bad_input(jobs, policy, params, error, words):
    with pytest.raises(error) as info:
        simulate(jobs, policy, **params)
    for word in words:
        assert word in str(info.value)
