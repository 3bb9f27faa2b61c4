"""The views in plain Python against real widget and figure models: change a value, see the figure change."""

import subprocess
import sys

import plotly.graph_objects as go
import pytest

from procwidgets import sim
from procwidgets.sim import views


def bars_by_job(trace):
    """Total bar length per job label, read back from the figure's data."""
    out = {}
    for width, label in zip(trace.x, trace.text):
        out[label] = out.get(label, 0) + width
    return out


def test_gantt_of_a_classic_result_has_a_lane_per_job():
    r = sim.simulate([300, 100, 200, 100], "sjf")
    fig = sim.gantt(r)
    assert isinstance(fig, go.Figure) and not isinstance(fig, go.FigureWidget)
    (trace,) = fig.data
    assert bars_by_job(trace) == {"J0": 300, "J1": 100, "J2": 200, "J3": 100}
    assert list(trace.base) == [0, 100, 200, 400]
    assert list(fig.layout.yaxis.categoryarray) == ["J3", "J2", "J1", "J0"]  # job 0 on top
    assert "175.00" in fig.layout.title.text
    colours = dict(zip(trace.text, trace.marker.color))
    assert len(set(colours.values())) == 4


def test_gantt_of_mlfq_uses_levels_as_lanes():
    r = sim.simulate([(0, 180, 0), (100, 20, 0)], "mlfq")
    fig = sim.gantt(r, widget=True)
    assert isinstance(fig, go.FigureWidget)
    trace = fig.data[0]
    assert list(trace.y) == ["Q2 (top)", "Q1", "Q0", "Q2 (top)", "Q1", "Q0"]
    assert list(fig.layout.yaxis.categoryarray) == ["Q0", "Q1", "Q2 (top)"]
    assert bars_by_job(trace) == {"J0": 180, "J1": 20}


def test_gantt_lane_choice_is_checked():
    r = sim.simulate([5, 5], "fifo")
    with pytest.raises(ValueError, match="MLFQ"):
        sim.gantt(r, lanes="level")
    with pytest.raises(TypeError, match="SimResult"):
        sim.gantt([1, 2])


def test_compare_draws_every_policy_in_one_figure():
    jobs = [100, 10, 10]
    results = {p: sim.simulate(jobs, p) for p in ("fifo", "sjf")}
    fig = sim.compare(results)
    assert len(fig.data) == 2
    assert {fig.data[0].yaxis, fig.data[1].yaxis} == {"y", "y2"}
    assert [a.text.split(":")[0] for a in fig.layout.annotations] == ["fifo", "sjf"]
    table = views.averages_table(results)
    assert "<b>50.00</b>" in table  # SJF's turnaround (10, 20, 120) is the best and in bold
    assert "<td>110.00</td>" in table  # FIFO's (100, 110, 120), not the best


def test_comparison_widget_updates_when_the_workload_changes():
    c = sim.Comparison("100,10,10", ["fifo", "sjf", ("rr", {"quantum": 5})])
    assert isinstance(c.figure, go.FigureWidget)
    before_x, before_table = list(c.figure.data[0].x), c.table.value
    assert before_x == [100, 10, 10]
    c.workload.value = "10,10,100,7"
    assert list(c.figure.data[0].x) == [10, 10, 100, 7]
    assert list(c.figure.data[1].base) == [0, 7, 17, 27]  # SJF: 3, 0, 1, 2
    assert c.table.value != before_table and "rr quantum=5" in c.table.value
    assert c.figure.layout.annotations[1].text.startswith("sjf")
    assert c.message.value == ""


def test_comparison_shows_the_simulators_message_on_bad_input_and_keeps_the_chart():
    c = sim.Comparison([5, 5], ["fifo"])
    c.workload.value = "5,-3"
    assert "job 1 length must be &gt; 0, got -3" in c.message.value
    assert list(c.figure.data[0].x) == [5, 5]
    c.workload.value = "4"
    assert c.message.value == "" and list(c.figure.data[0].x) == [4]


def test_playground_quantum_and_policy_drive_chart_and_metrics():
    p = sim.Playground("30,20", policy="rr", quantum=10)
    assert list(p.figure.data[0].x) == [10, 10, 10, 10, 10]
    metrics = p.metrics.value
    p.quantum.value = 25
    assert list(p.figure.data[0].x) == [25, 20, 5]
    assert p.metrics.value != metrics and "<td>45</td>" in p.metrics.value  # job 1 ends at 45
    p.policy.value = "fifo"
    assert p.quantum.disabled and p.boost.disabled
    assert list(p.figure.data[0].x) == [30, 20]
    p.policy.value = "mlfq"
    assert not p.boost.disabled
    p.workload.value = "0,30,0:5,5,1"
    assert set(p.figure.data[0].y) <= {"Q0", "Q1", "Q2 (top)"}
    assert p.result.policy == "mlfq" and p.result.params["quantum"] == 25


def test_playground_bad_input_message():
    p = sim.Playground("30,20", policy="rr")
    p.workload.value = "30,abc"
    assert "'abc' is not a number" in p.message.value
    assert list(p.figure.data[0].x)  # the last good chart stays
    with pytest.raises(ValueError, match="policy"):
        sim.Playground(policy="aging")


def test_a_change_sends_one_figure_message():
    p = sim.Playground("30,20", policy="rr", quantum=10)
    sent = []
    p.figure.observe(lambda change: sent.append(change["name"]) if change["new"] is not None else None,
                     names=["_py2js_update", "_py2js_restyle", "_py2js_relayout"])
    p.quantum.value = 7
    assert sent == ["_py2js_update"]  # trace data and title together, in one batched message


def test_replay_results_compare_side_by_side():
    from types import SimpleNamespace

    jobs = [SimpleNamespace(submitted_at=0.0, started_at=0.0, finished_at=2.0, priority=0, name="a", id=1),
            SimpleNamespace(submitted_at=0.0, started_at=2.0, finished_at=3.0, priority=0, name="b", id=2)]
    fig = sim.compare(sim.replay(jobs, "sjf", max_workers=1).results())
    assert len(fig.data) == 2 and set(fig.data[0].y) == {"worker 0"}


def test_every_public_name_resolves():
    assert sim.__all__ == sorted(sim.__all__)
    for name in sim.__all__:
        assert getattr(sim, name) is not None
    with pytest.raises(AttributeError, match="no attribute 'gnatt'"):
        sim.gnatt  # noqa: B018


def test_engine_imports_without_plotly_or_ipywidgets():
    code = ("import sys; import procwidgets.sim as s; s.simulate([1, 2], 'rr');"
            "bad = [m for m in ('plotly', 'ipywidgets', 'IPython') if m in sys.modules]; print(bad)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=True)
    assert out.stdout.strip() == "[]"


def test_comparison_policy_specs_are_checked():
    with pytest.raises(TypeError, match="name or a \\(name, params\\) pair"):
        sim.Comparison([5], ["fifo", 5])
    with pytest.raises(ValueError, match="unknown policy 'lottery'"):
        sim.Comparison([5], ["lottery"])
    c = sim.Comparison([5, 1], {"round robin": ("rr", {"quantum": 2}), "shortest": "sjf"})
    assert [a.text.split(":")[0] for a in c.figure.layout.annotations] == ["round robin", "shortest"]
