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
    are the parts, each usable alone. `interval` is the chart's refresh period in seconds."""

    def __init__(self, pool: ProcessPool, monitor: Any = None, *, interval: float = 1.0, **kwargs: Any) -> None:
        if not isinstance(pool, ProcessPool):
            raise TypeError(f"Dashboard(pool) takes a ProcessPool, got {pool!r} ({type(pool).__name__})")
        self._owns_monitor = monitor is None
        if monitor is None:
            from ..core.monitor import Monitor  # the core's sampler; imported late, like any optional part

            monitor = Monitor(pool, interval=interval)
        self.pool, self.monitor = pool, monitor
        self._closed = False
        parts: list[widgets.Widget] = []
        try:
            self.form = SubmitForm(pool)
            parts.append(self.form)
            self.table = QueueTable(pool, monitor)
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
        self.tabs = widgets.Tab(children=[widgets.VBox([self.form, self.table]), self.timeline, self.logs],
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
            part.close()
        self.tabs.children[0].close()
        self.tabs.close()
        if self._owns_monitor:
            self.monitor.stop()
        super().close()
