"""Views of simulations: a Plotly Gantt chart, a side-by-side comparison, and a playground widget.

This is the only module of `procwidgets.sim` that imports plotly and ipywidgets. Each chart is a
single Bar trace (one bar per slice, coloured per job), so updating it is one message, and a
comparison draws all policies in ONE figure with subplots: every `FigureWidget` ships ~5 MB of
JavaScript to the browser.
"""

from __future__ import annotations

import html
from collections.abc import Mapping, Sequence
from typing import Any

import ipywidgets as widgets
import plotly.graph_objects as go
from plotly.colors import qualitative
from plotly.subplots import make_subplots

from .jobs import SimJob
from .result import CpuSlice, LevelSlice, SimResult
from .simulate import POLICIES, simulate

__all__ = ["Comparison", "Playground", "averages_table", "compare", "gantt", "parse_workload"]

_COLOURS = qualitative.Plotly + qualitative.Dark24


def job_colour(job: int) -> str:
    """The colour of job `job`, the same in every chart, so a job is recognised across policies."""
    return _COLOURS[job % len(_COLOURS)]


def _job_label(jobs: Sequence[SimJob], j: int) -> str:
    name = jobs[j].name
    return f"J{j}" if not name else f"J{j} {name}"


def _lanes(result: SimResult, lanes: str) -> str:
    if lanes not in ("auto", "job", "level", "cpu"):
        raise ValueError(f"lanes must be 'auto', 'job', 'level' or 'cpu', got {lanes!r}")
    kinds = {type(s) for s in result.timeline}
    if lanes == "auto":
        return "level" if LevelSlice in kinds else "cpu" if CpuSlice in kinds else "job"
    if lanes == "level" and LevelSlice not in kinds:
        raise ValueError(f"lanes='level' needs an MLFQ result; {result.label()!r} has no queue levels")
    if lanes == "cpu" and CpuSlice not in kinds:
        raise ValueError(f"lanes='cpu' needs a result with workers; {result.label()!r} ran on one CPU")
    return lanes


def _bars(result: SimResult, lanes: str = "auto") -> tuple[dict[str, Any], list[str]]:
    """The Bar trace's data for a result, and the lane names from bottom to top."""
    mode = _lanes(result, lanes)
    slices = [s for s in result.timeline if s.job is not None]
    if mode == "level":
        n = result.extra.get("queues", 1 + max(s.level for s in slices))
        order = [f"Q{q}" + (" (top)" if q == n - 1 else "") for q in range(n)]
        y = [order[s.level] for s in slices]
    elif mode == "cpu":
        count = 1 + max((s.cpu for s in slices), default=0)
        order = [f"worker {c}" for c in reversed(range(count))]
        y = [f"worker {s.cpu}" for s in slices]
    else:
        order = [_job_label(result.jobs, j) for j in reversed(range(len(result.jobs)))]
        y = [_job_label(result.jobs, s.job) for s in slices]
    hover = []
    for s in slices:
        where = ""
        if isinstance(s, LevelSlice):
            where = f" at Q{s.level}"
        elif isinstance(s, CpuSlice):
            where = f" on worker {s.cpu}"
        hover.append(f"{_job_label(result.jobs, s.job)}{where}: {_num(s.start)} to {_num(s.end)}")
    data = {"x": [s.end - s.start for s in slices], "base": [s.start for s in slices], "y": y,
            "text": [f"J{s.job}" for s in slices], "hovertext": hover,
            "marker": {"color": [job_colour(s.job) for s in slices], "line": {"width": 1, "color": "white"}}}
    return data, order


def _num(v: float) -> str:
    return f"{v:g}" if isinstance(v, float) else str(v)


def _bar_trace(result: SimResult, lanes: str = "auto") -> tuple[go.Bar, list[str]]:
    data, order = _bars(result, lanes)
    return go.Bar(orientation="h", textposition="inside", insidetextanchor="middle", hoverinfo="text",
                  showlegend=False, name=result.label(), **data), order


def gantt(result: SimResult, *, lanes: str = "auto", widget: bool = False, title: str | None = None,
          height: int | None = None) -> go.Figure:
    """A Gantt chart of who ran when: one bar per slice, coloured per job.

    Lanes are the MLFQ queue levels for an MLFQ result (top queue on top), the workers for a
    result with several, otherwise one lane per job. `widget=True` returns a `FigureWidget`.
    """
    if not isinstance(result, SimResult):
        raise TypeError(f"gantt draws a SimResult (what simulate() returns), got {type(result).__name__}")
    trace, order = _bar_trace(result, lanes)
    fig = go.Figure(trace)
    fig.update_layout(title={"text": title if title is not None else _title(result)}, bargap=0.2,
                      height=height or 120 + 32 * len(order), margin={"l": 10, "r": 10, "t": 50, "b": 40},
                      xaxis_title="time")
    fig.update_yaxes(categoryorder="array", categoryarray=order)
    return go.FigureWidget(fig) if widget else fig


def _averages_text(result: SimResult) -> str:
    return "average " + ", ".join(f"{k} {v:.2f}" for k, v in result.averages.items())


def _title(result: SimResult, label: str | None = None) -> str:
    return f"{label or result.label()}: {_averages_text(result)}"


def _as_results(results: Mapping[str, SimResult] | Sequence[SimResult]) -> dict[str, SimResult]:
    if isinstance(results, Mapping):
        out = dict(results)
    else:
        out = {}
        for r in results:
            out[r.label() if r.label() not in out else f"{r.label()} #{len(out)}"] = r
    if not out:
        raise ValueError("compare needs at least one result")
    for label, r in out.items():
        if not isinstance(r, SimResult):
            raise TypeError(f"{label!r}: compare takes SimResults, got {type(r).__name__}")
    return out


def compare(results: Mapping[str, SimResult] | Sequence[SimResult], *, widget: bool = False,
            height: int | None = None) -> go.Figure:
    """Several results' Gantt charts in ONE figure, one row each, on a shared time axis."""
    res = _as_results(results)
    fig = make_subplots(rows=len(res), cols=1, shared_xaxes=True, vertical_spacing=0.08,
                        subplot_titles=[_title(r, lbl) for lbl, r in res.items()])
    lanes_total = 0
    for row, r in enumerate(res.values(), start=1):
        trace, order = _bar_trace(r)
        lanes_total += len(order)
        fig.add_trace(trace, row=row, col=1)
        fig.update_yaxes(categoryorder="array", categoryarray=order, row=row, col=1)
    fig.update_layout(height=height or 90 * len(res) + 28 * lanes_total + 60, bargap=0.2,
                      margin={"l": 10, "r": 10, "t": 40, "b": 40})
    fig.update_xaxes(title_text="time", row=len(res), col=1)
    return go.FigureWidget(fig) if widget else fig


def averages_table(results: Mapping[str, SimResult] | Sequence[SimResult]) -> str:
    """An HTML table of each result's averages and dispatches, the best of each column in bold."""
    res = _as_results(results)
    cols = ["response", "turnaround", "wait"]
    best = {c: min((r.averages[c] for r in res.values() if c in r.averages), default=None) for c in cols}
    head = "".join(f"<th>{c}</th>" for c in ["policy", *cols, "dispatches"])
    rows = []
    for label, r in res.items():
        cells = [f"<td>{html.escape(label)}</td>"]
        for c in cols:
            v = r.averages.get(c)
            text = "n/a" if v is None else f"{v:.2f}"
            cells.append(f"<td><b>{text}</b></td>" if v is not None and v == best[c] else f"<td>{text}</td>")
        cells.append(f"<td>{r.dispatches}</td>")
        rows.append("<tr>" + "".join(cells) + "</tr>")
    return f"<table class='pw-sim-averages'><tr>{head}</tr>{''.join(rows)}</table>"


def parse_workload(text: str) -> list[Any]:
    """A workload from text: ``"200,100,300"`` (lengths) or ``"0,100,0:50,20,1"`` (mlfq.py's -l triples)."""
    if not isinstance(text, str):
        raise TypeError(f"workload text must be a str, got {type(text).__name__}")

    def number(tok: str) -> float:
        tok = tok.strip()
        try:
            return int(tok)
        except ValueError:
            try:
                return float(tok)
            except ValueError:
                raise ValueError(f"{tok!r} is not a number; write lengths like 200,100,300 or "
                                 f"start,run,io triples like 0,100,0:50,20,1") from None

    text = text.strip()
    if not text:
        raise ValueError("the workload is empty; write lengths like 200,100,300")
    if ":" in text:
        return [tuple(number(t) for t in part.split(",")) for part in text.split(":")]
    return [number(t) for t in text.split(",")]


def _policy_specs(policies: Any) -> dict[str, tuple[str, dict[str, Any]]]:
    specs: dict[str, tuple[str, dict[str, Any]]] = {}
    items = policies.items() if isinstance(policies, Mapping) else [(None, p) for p in policies]
    for label, p in items:
        if isinstance(p, str):
            name, params = p, {}
        elif isinstance(p, (tuple, list)) and len(p) == 2 and isinstance(p[0], str) and isinstance(p[1], Mapping):
            name, params = p
        else:
            raise TypeError(f"each policy is a name or a (name, params) pair like ('rr', {{'quantum': 10}}), "
                            f"got {p!r}")
        if label is None:
            label = name + "".join(f" {k}={v}" for k, v in params.items())
        specs[label] = (name, dict(params))
    if not specs:
        raise ValueError("give at least one policy, e.g. ['fifo', 'sjf', ('rr', {'quantum': 10})]")
    return specs


def _replace_bars(fig: go.FigureWidget, index: int, result: SimResult, axis: str) -> None:
    data, order = _bars(result)
    trace = fig.data[index]
    trace.x, trace.base, trace.y, trace.text, trace.hovertext = (data["x"], data["base"], data["y"], data["text"],
                                                                 data["hovertext"])
    trace.marker.color = data["marker"]["color"]
    fig.layout[axis].categoryarray = order


class Comparison(widgets.VBox):
    """One workload, several policies: their Gantt charts (one figure) and a table of averages.

    Edit `workload` (text like ``100,10,10``) or call `set_jobs`; the charts update in place.
    """

    def __init__(self, jobs: Any, policies: Any = ("fifo", "sjf", ("rr", {"quantum": 10})),
                 height: int | None = None) -> None:
        self.policies = _policy_specs(policies)
        self.results = self._run(jobs)
        self.figure = compare(self.results, widget=True, height=height)
        self.table = widgets.HTML(averages_table(self.results))
        self.message = widgets.HTML("")
        text = jobs if isinstance(jobs, str) else _workload_text(jobs)
        self.workload = widgets.Text(value=text, description="workload", continuous_update=False)
        self.workload.observe(self._on_text, names="value")
        super().__init__([self.workload, self.message, self.figure, self.table])

    def _run(self, jobs: Any) -> dict[str, SimResult]:
        if isinstance(jobs, str):
            jobs = parse_workload(jobs)
        return {label: simulate(jobs, name, **params) for label, (name, params) in self.policies.items()}

    def set_jobs(self, jobs: Any) -> None:
        """Simulate a new workload under every policy and redraw (one batched figure update)."""
        self.results = self._run(jobs)
        with self.figure.batch_update():
            for i, r in enumerate(self.results.values()):
                _replace_bars(self.figure, i, r, "yaxis" if i == 0 else f"yaxis{i + 1}")
                self.figure.layout.annotations[i].text = _title(r, list(self.results)[i])
        self.table.value = averages_table(self.results)

    def _on_text(self, change: dict[str, Any]) -> None:
        try:
            self.set_jobs(change["new"])
        except (TypeError, ValueError) as exc:
            self.message.value = f"<span style='color:#b00'>{html.escape(str(exc), quote=False)}</span>"
        else:
            self.message.value = ""


def _workload_text(jobs: Any) -> str:
    parts = []
    for j in jobs:
        if isinstance(j, (tuple, list)):
            parts.append(",".join(str(v) for v in j))
        elif isinstance(j, SimJob):
            parts.append(f"{j.arrival},{j.length},{j.io_freq}")
        else:
            parts.append(str(j))
    return (":" if any(isinstance(j, (tuple, list, SimJob)) for j in jobs) else ",").join(parts)


class Playground(widgets.VBox):
    """Edit a workload, pick a policy and a quantum, and watch the chart and the metrics change.

    Bad input shows the simulator's own message and leaves the last good chart in place.
    """

    def __init__(self, jobs: Any = "300,100,200,100", policy: str = "rr", quantum: int = 10, boost: int = 0) -> None:
        names = [p for p in POLICIES if p not in ("priority", "aging")]
        if policy not in names:
            raise ValueError(f"Playground policy must be one of {', '.join(names)}, got {policy!r}")
        self.workload = widgets.Text(value=jobs if isinstance(jobs, str) else _workload_text(jobs),
                                     description="workload", continuous_update=False)
        self.policy = widgets.Dropdown(options=names, value=policy, description="policy")
        self.quantum = widgets.BoundedIntText(value=quantum, min=1, max=10_000, description="quantum")
        self.boost = widgets.BoundedIntText(value=boost, min=0, max=100_000, description="MLFQ boost")
        self.message = widgets.HTML("")
        self.metrics = widgets.HTML("")
        self.result = self._simulate()
        self.figure = gantt(self.result, widget=True)
        self.metrics.value = self._metrics_html(self.result)
        self._sync_enabled()
        for w in (self.workload, self.policy, self.quantum, self.boost):
            w.observe(self._on_change, names="value")
        controls = widgets.HBox([self.policy, self.quantum, self.boost])
        super().__init__([self.workload, controls, self.message, self.figure, self.metrics])

    def _simulate(self) -> SimResult:
        policy = self.policy.value
        params: dict[str, Any] = {}
        if policy in ("rr", "mlfq"):
            params["quantum"] = self.quantum.value
        if policy == "mlfq":
            params["boost"] = self.boost.value
        return simulate(parse_workload(self.workload.value), policy, **params)

    def _sync_enabled(self) -> None:
        self.quantum.disabled = self.policy.value not in ("rr", "mlfq")
        self.boost.disabled = self.policy.value != "mlfq"

    @staticmethod
    def _metrics_html(result: SimResult) -> str:
        rows = "".join(f"<tr><td>J{s.job}</td><td>{_num(s.response)}</td><td>{_num(s.turnaround)}</td>"
                       f"<td>{'n/a' if s.wait is None else _num(s.wait)}</td></tr>" for s in result.per_job)
        return (f"<table class='pw-sim-metrics'><tr><th>job</th><th>response</th><th>turnaround</th>"
                f"<th>wait</th></tr>{rows}</table>" + averages_table({result.label(): result}))

    def _on_change(self, change: dict[str, Any]) -> None:
        self._sync_enabled()
        try:
            result = self._simulate()
        except (TypeError, ValueError) as exc:
            self.message.value = f"<span style='color:#b00'>{html.escape(str(exc), quote=False)}</span>"
            return
        self.message.value = ""
        self.result = result
        with self.figure.batch_update():
            _replace_bars(self.figure, 0, result, "yaxis")
            self.figure.layout.title.text = _title(result)
        self.metrics.value = self._metrics_html(result)
