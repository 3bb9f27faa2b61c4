"""process_run against the OSTEP process-run.py homework answers, worked by hand (SCHEDULING-SEMANTICS.md §3)."""

import pytest

from procwidgets.sim import process_run, random_programs


def stats(r):
    return r.total_time, r.cpu_busy, r.io_busy


def test_cpu_then_io_homework_q2():
    # -l 4:100,1:0: four cpu ticks, then the I/O (blocked ticks 6-10), io_done at 11.
    r = process_run(["c4", "i"])
    assert stats(r) == (11, 6, 5)
    assert [t.states for t in r.trace][4] == ("DONE", "RUN:io")
    assert r.trace[10].io_done and r.trace[10].states == ("DONE", "RUN:io_done")


def test_io_first_overlaps_homework_q3():
    r = process_run(["i", "c4"])
    assert stats(r) == (7, 6, 5)
    assert [t.states[1] for t in r.trace[:6]] == ["READY", "RUN:cpu", "RUN:cpu", "RUN:cpu", "RUN:cpu", "DONE"]
    assert not r.trace[5].cpu_busy  # tick 6: the CPU idles while process 0 is still blocked


def test_switch_on_end_wastes_the_io_time():
    r = process_run("i:c4", switch="SWITCH_ON_END")
    assert stats(r) == (11, 6, 5)
    assert [t.states[1] for t in r.trace[:7]] == ["READY"] * 7


def test_io_run_immediate_takes_the_cpu_back():
    immediate = process_run(["i", "c5"], io_length=2, io_done="immediate")
    later = process_run(["i", "c5"], io_length=2, io_done="later")
    assert stats(immediate) == stats(later) == (7, 7, 2)
    assert immediate.trace[3].states == ("RUN:io_done", "READY")
    assert later.trace[3].states == ("READY", "RUN:cpu")
    assert later.trace[6].states == ("RUN:io_done", "DONE")


def test_io_length_zero_counts_no_io_time():
    r = process_run(["i"], io_length=0)
    assert stats(r) == (2, 2, 0)


def test_table_has_the_tool_layout():
    text = process_run(["c4", "i"]).table()
    assert "Stats: Total Time 11" in text
    assert "Stats: CPU Busy 6 (54.55%)" in text
    assert " 11*" in text


def test_random_programs_draw_like_the_tool():
    # seed 0's first draws are 0.844, 0.758, 0.421, 0.259, 0.511: with 50% cpu -> io, io, cpu, cpu, io.
    assert random_programs(0, [(5, 50)]) == [["io", "io_done", "io", "io_done", "cpu", "cpu", "io", "io_done"]]
    assert random_programs(0, [(3, 100), (2, 0)]) == [["cpu"] * 3, ["io", "io_done", "io", "io_done"]]


@pytest.mark.parametrize("bad, error", [("c3,x", ValueError), ([], TypeError), ([""], ValueError),
                                        ([["cpu", "jump"]], ValueError), ([5], TypeError)])
def test_bad_programs(bad, error):
    with pytest.raises(error):
        process_run(bad)


def test_bad_options_name_the_choices():
    with pytest.raises(ValueError, match="on_io"):
        process_run(["c1"], switch="sometimes")
    with pytest.raises(ValueError, match="immediate"):
        process_run(["c1"], io_done="soon")
    with pytest.raises(ValueError, match="io_length"):
        process_run(["c1"], io_length=-1)
