"""`Dashboard`: the form, the queue table, the resource charts, the timeline and the logs in one cell.

Layout, for the default JupyterLab width: tabs for the HTML-only parts (Queue = form + table,
Timeline, Logs) and the Plotly chart below them, always visible. Why not a tab for the chart: a
Plotly figure that is drawn while hidden gets a wrong size, and the chart is what people watch.
There is exactly one `FigureWidget` (~5 MB of JavaScript in the browser), whatever the job count.

Without a `monitor`, the dashboard creates one on the pool and stops it on `close()`; a monitor
that was passed in belongs to the caller and is left running.

CSS classes: the dashboard `pw-dashboard`, its tabs `pw-dashboard-tabs`, plus each part's own
(`pw-submit`, `pw-table`, `pw-chart`, `pw-timeline`, `pw-log`).
"""

from __future__ import annotations

from typing import Any

import ipywidgets as widgets

from ..core import ProcessPool
from .chart import ResourceChart
from .form import SubmitForm
from .logview import LogView
from .table import QueueTable
from .timeline import Timeline

__all__ = ["Dashboard"]


class Dashboard(widgets.VBox):
    """Everything about `pool` in one widget; `.form`, `.table`, `.chart`, `.timeline`, `.logs`
    are the parts, each usable alone. `interval` is the chart's refresh period in seconds.

    For a dashboard shown to others: `read_only=True` shows everything and accepts no command
    (no form, no row or pool controls); `allowed_commands=[...]` restricts what may be submitted
    (it calls `pool.restrict`, so the pool itself checks every submission) and drops the form's
    shell, environment and working-directory fields.
    """

    def __init__(self, pool: ProcessPool, monitor: Any = None, *, interval: float = 1.0, read_only: bool = False,
                 allowed_commands: Any = None, **kwargs: Any) -> None:
        if not isinstance(pool, ProcessPool):
            raise TypeError(f"Dashboard(pool) takes a ProcessPool, got {pool!r} ({type(pool).__name__})")
        if allowed_commands is not None:
            pool.restrict(allowed_commands)  # checked in the pool, for every submission, not here
        self.read_only = bool(read_only)
        self._owns_monitor = monitor is None
        if monitor is None:
            from ..core.monitor import Monitor  # the core's sampler; imported late, like any optional part

            monitor = Monitor(pool, interval=interval)
        self.pool, self.monitor = pool, monitor
        self._closed = False
        parts: list[widgets.Widget] = []
        try:
            self.form = None if self.read_only else SubmitForm(pool)  # read-only: no way to submit
            if self.form is not None:
                parts.append(self.form)
            self.table = QueueTable(pool, monitor, read_only=self.read_only)
            parts.append(self.table)
            self.timeline = Timeline(pool)
            parts.append(self.timeline)
            self.logs = LogView(pool)
            parts.append(self.logs)
            self.chart = ResourceChart(monitor, interval=interval, pool=pool)
            parts.append(self.chart)
        except BaseException:
            for part in parts:
                part.close()
            if self._owns_monitor:
                monitor.stop()
            raise
        queue = [self.table] if self.form is None else [self.form, self.table]
        self.tabs = widgets.Tab(children=[widgets.VBox(queue), self.timeline, self.logs],
                                titles=("Queue", "Timeline", "Logs"))
        self.tabs.add_class("pw-dashboard-tabs")
        super().__init__([self.tabs, self.chart], **kwargs)
        self.add_class("pw-dashboard")

    def close(self) -> None:
        """Close every part (each unsubscribes and joins its thread), and the monitor it created."""
        if getattr(self, "_closed", True):
            return super().close()
        self._closed = True
        for part in (self.chart, self.logs, self.timeline, self.table, self.form):
            if part is not None:
                part.close()
        self.tabs.children[0].close()
        self.tabs.close()
        if self._owns_monitor:
            self.monitor.stop()
        super().close()
