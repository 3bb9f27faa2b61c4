"""Dashboard: every part in one widget, one FigureWidget, a monitor it owns, and a clean close."""

from __future__ import annotations

import subprocess
import sys

import ipywidgets
import plotly.graph_objects as go
from widget_helpers import cmd, wait_for

import procwidgets as pw
from procwidgets.widgets import Dashboard, LogView, QueueTable, ResourceChart, SubmitForm, Timeline


def descendants(widget: ipywidgets.Widget) -> list[ipywidgets.Widget]:
    out, todo = [], [widget]
    while todo:
        w = todo.pop()
        out.append(w)
        todo.extend(getattr(w, "children", ()))
    return out


def test_dashboard_shows_everything_with_one_figure(pool: pw.ProcessPool, spy) -> None:
    dash = Dashboard(pool, interval=0.05)
    try:
        assert isinstance(dash.form, SubmitForm) and isinstance(dash.table, QueueTable)
        assert isinstance(dash.chart, ResourceChart) and isinstance(dash.timeline, Timeline)
        assert isinstance(dash.logs, LogView) and dash.monitor.running
        parts = descendants(dash)
        assert sum(isinstance(w, go.FigureWidget) for w in parts) == 1
        classes = {c for w in parts for c in getattr(w, "_dom_classes", ())}
        assert {"pw-dashboard", "pw-submit", "pw-table", "pw-chart", "pw-timeline", "pw-log"} <= classes
        dash.form.command.value = f"{sys.executable} -u -c 'import time; print(\"hello\"); time.sleep(0.5)'"
        dash.form.submit_button.click()
        job = pool.jobs[0]
        wait_for(lambda: "hello" in dash.logs.output.value, what="the logs tab to follow the job")
        assert job.wait(10) is pw.JobState.SUCCEEDED
        wait_for(lambda: dash.table.row_for(job.id) and "SUCCEEDED" in dash.table.row_for(job.id).html.value,
                 what="the table row")
        wait_for(lambda: "pw-bar-succeeded" in dash.timeline.svg.value, what="the timeline bar")
        wait_for(lambda: len(dash.chart.figure.data[0].x) >= 3, what="chart points")
    finally:
        dash.close()
    assert not dash.monitor.running  # the monitor it created is stopped
    spy.clear()
    pool.submit(cmd("print(1)")).wait(10)
    assert len(spy) == 0


def test_a_given_monitor_is_left_running(pool: pw.ProcessPool) -> None:
    from procwidgets.core.monitor import Monitor

    mon = Monitor(pool, interval=0.05)
    try:
        dash = Dashboard(pool, mon)
        dash.close()
        assert mon.running
    finally:
        mon.stop()


def test_core_never_imports_widget_libraries() -> None:
    code = ("import sys, procwidgets.core, procwidgets.core.monitor; "
            "bad = [m for m in ('ipywidgets', 'plotly', 'IPython', 'anywidget') if m in sys.modules]; "
            "assert not bad, bad")
    subprocess.run([sys.executable, "-c", code], check=True)


def test_widgets_exports_and_plotly_only_on_demand() -> None:
    import procwidgets.widgets as widgets

    assert sorted(widgets.__all__) == widgets.__all__
    assert all(isinstance(getattr(widgets, name), type) for name in widgets.__all__)
    code = ("import sys; from procwidgets.widgets import QueueTable, SubmitForm, LogView, Timeline; "
            "assert 'plotly' not in sys.modules")
    subprocess.run([sys.executable, "-c", code], check=True)
