"""`ResourceChart`: live Plotly charts of the machine and of each job, in ONE `FigureWidget`.

Why one figure: each `FigureWidget` ships its own ~5 MB JavaScript bundle to the browser, so the
four panels (machine CPU total and per core, memory, per-job CPU %, per-job RSS) are subplots of
one figure. Why one update per refresh: plotly's FigureWidget has no `extendTraces` (its front
end only takes whole arrays), so each refresh sends the windowed arrays of the traces that
changed, as float64 numpy arrays (binary buffers, not JSON lists), in ONE Plotly.update message:
the message `batch_update()` sends on exit, built with `plotly_update()` directly, which skips
plotly's per-property validation (1.4x faster; see bench/widgets.py). Plotly adds its small
edit-id bookkeeping messages. Nothing is sent when the monitor has no new sample. Job traces
are preallocated slots (`max_jobs`), so a job appearing never adds a trace (another message);
a job's CPU and RSS lines share its colour and legend entry. For a pool whose jobs run on remote
workers (Dask), the machine panels also get a dashed line per worker (its process and its jobs:
CPU as % of its host's cores, memory in GiB), from `max_remote_workers` preallocated slots.

Only the chart's refresher thread writes the figure after construction (one writer per figure).

CSS classes: the box `pw-chart`; the figure `pw-chart-figure` (on the `.js-plotly-plot`
element in the browser); the status line `pw-chart-status`.
"""

from __future__ import annotations

import datetime
import threading
from typing import Any

import ipywidgets as widgets
import numpy as np
import plotly.graph_objects as go
from plotly.colors import qualitative
from plotly.subplots import make_subplots

from ._live import Refresher

__all__ = ["ResourceChart"]

_GIB, _MIB = 1024.0**3, 1024.0**2
_PALETTE = qualitative.D3


def _utc_offset_ms(t: float) -> float:
    """Plotly reads numeric dates as UTC; shift them so the axis shows the notebook's local time."""
    offset = datetime.datetime.fromtimestamp(t).astimezone().utcoffset()
    return offset.total_seconds() * 1000.0 if offset else 0.0


_DATE_AXES = {f"xaxis{i if i > 1 else ''}.type": "date" for i in range(1, 5)}


class _Figure(go.FigureWidget):
    """A FigureWidget whose update messages keep its x axes as dates.

    Why: plotly.js resets an axis's type to "auto" when an update restyles a trace's x, unless
    the same update names the type; it then guesses "linear" for epoch milliseconds (seen in
    JupyterLab: tick labels like 1.79T). Python's layout already says "date", so plotly.py would
    not resend it; this adds it (~90 bytes) to each update message.
    """

    def _send_update_msg(self, restyle_data: Any, relayout_data: Any, trace_indexes: Any = None,
                         source_view_id: Any = None) -> None:
        super()._send_update_msg(restyle_data, {**_DATE_AXES, **(relayout_data or {})}, trace_indexes,
                                 source_view_id)


def _system(sample: Any) -> Any:
    return getattr(sample, "system", sample)


class ResourceChart(widgets.VBox):
    """Machine CPU % (total and per core), memory, and per-job CPU % / RSS over a sliding window.

    Refreshes itself every `interval` seconds (its own thread) from `monitor`; `refresh()` draws
    now and returns whether anything was sent. `window` is the span shown, in seconds.
    `max_jobs` bounds the job lines (the busiest jobs get them). `pool` names the jobs
    (default: `monitor.pool`). `close()` stops the refresher; nothing is sent after it.
    """

    def __init__(self, monitor: Any, *, interval: float = 1.0, window: float = 300.0, max_jobs: int = 8,
                 per_core: bool = True, pool: Any = None, height: int = 480, max_remote_workers: int = 8,
                 **kwargs: Any) -> None:
        if not hasattr(monitor, "latest") or not hasattr(monitor, "system_history"):
            raise TypeError(f"ResourceChart(monitor) takes a procwidgets Monitor, got {monitor!r}")
        if not (isinstance(window, (int, float)) and window > 0):
            raise ValueError(f"window must be a positive number of seconds, got {window!r}")
        self.monitor, self.window, self.max_jobs = monitor, float(window), max_jobs
        self.pool = pool if pool is not None else getattr(monitor, "pool", None)
        backend = getattr(getattr(self.pool, "backend", None), "name", "local")
        remote = hasattr(monitor, "workers") and backend != "local"
        self._n_remote = max_remote_workers if remote else 0
        self._worker_keys: dict[int, Any] = {}
        self._closed = False
        self._lock = threading.Lock()  # one writer: refresh() from the refresher or a caller, never both
        self._last_key: Any = None
        self._slots: list[int | str | None] = [None] * max_jobs
        self._job_keys: dict[int | str, Any] = {}
        latest = monitor.latest()
        ncores = len(_system(latest).per_cpu) if latest is not None else _cpu_count()
        self._ncores = ncores if per_core else 0
        self.figure = self._make_figure(height)
        self.figure.add_class("pw-chart-figure")
        self.status = widgets.HTML()
        self.status.add_class("pw-chart-status")
        super().__init__([self.figure, self.status], **kwargs)
        self.add_class("pw-chart")
        self.refresh()  # a monitor that fails here fails before any thread exists
        self._refresher = Refresher(self.refresh, min_interval=interval, period=interval, name="procwidgets-chart")

    def _make_figure(self, height: int) -> _Figure:
        fig = make_subplots(rows=2, cols=2, shared_xaxes=True, vertical_spacing=0.1, horizontal_spacing=0.08,
                            subplot_titles=("Machine CPU %", "Memory GiB", "Job CPU %", "Job RSS MiB"))
        empty = {"x": np.zeros(0), "y": np.zeros(0)}
        line = {"width": 2}
        fig.add_scatter(**empty, mode="lines", name="CPU total", line=line, row=1, col=1)
        for i in range(self._ncores):
            fig.add_scatter(**empty, mode="lines", name=f"core {i}", opacity=0.5, line={"width": 1},
                            legendgroup="cores", showlegend=i == 0, row=1, col=1)
        fig.add_scatter(**empty, mode="lines", name="memory used", line=line, row=1, col=2)
        self._n_system = 2 + self._ncores
        for k in range(self.max_jobs):
            color = _PALETTE[k % len(_PALETTE)]
            fig.add_scatter(**empty, mode="lines", name="", legendgroup=f"job{k}", line={"color": color, "width": 1.5},
                            visible=False, row=2, col=1)
            fig.add_scatter(**empty, mode="lines", name="", legendgroup=f"job{k}", line={"color": color, "width": 1.5},
                            visible=False, showlegend=False, row=2, col=2)
        for k in range(self._n_remote):
            color = _PALETTE[(k + 3) % len(_PALETTE)]
            style = {"color": color, "width": 1.5, "dash": "dash"}
            fig.add_scatter(**empty, mode="lines", name="", legendgroup=f"worker{k}", line=style, visible=False,
                            row=1, col=1)
            fig.add_scatter(**empty, mode="lines", name="", legendgroup=f"worker{k}", line=dict(style), visible=False,
                            showlegend=False, row=1, col=2)
        for r, c in ((1, 1), (2, 1)):
            fig.update_yaxes(rangemode="tozero", row=r, col=c)
        fig.update_xaxes(type="date", tickformat="%H:%M:%S", tickangle=0, nticks=4)
        fig.update_layout(height=height, margin={"l": 50, "r": 10, "t": 30, "b": 30},
                          legend={"font": {"size": 10}}, uirevision="keep")
        return _Figure(fig)

    # -- refreshing ---------------------------------------------------------------------------

    def refresh(self) -> bool:
        """Draw what the monitor sampled since the last refresh; False (and nothing sent) if nothing."""
        with self._lock:
            if self._closed:
                return False
            latest = self.monitor.latest()
            if latest is None:
                self.status.value = '<span style="color:#757575">waiting for the monitor\'s first sample</span>'
                return False
            key = (getattr(latest, "index", None), latest.time)
            if key == self._last_key:
                return False
            self._last_key = key
            updates = self._system_updates(latest.time) + self._job_updates(latest) + self._worker_updates(latest)
            if not updates:
                return False
            indexes = [index for index, _ in updates]
            # y values go as float32 (CPU % and MiB need no more than 7 digits), halving their bytes;
            # x stays float64, since epoch milliseconds need its precision.
            restyle = {key: [props[key].astype(np.float32) if key == "y" else props[key] for _, props in updates]
                       for key in ("x", "y", "name", "visible")}
            # One Plotly.update message, the one `batch_update()` would send (see the module docstring).
            self.figure.plotly_update(restyle_data=restyle, trace_indexes=indexes)
            self.status.value = ""
            return True

    def _system_updates(self, now: float) -> list[tuple[int, dict[str, Any]]]:
        history = [_system(s) for s in self.monitor.system_history()]
        history = [s for s in history if s.time >= now - self.window]
        if not history:
            return []
        x = np.fromiter((s.time for s in history), float, len(history)) * 1000.0 + _utc_offset_ms(now)
        ys = [np.fromiter((s.cpu_percent for s in history), float, len(history))]
        for core in range(self._ncores):
            ys.append(np.fromiter((s.per_cpu[core] if core < len(s.per_cpu) else np.nan for s in history),
                                  float, len(history)))
        ys.append(np.fromiter((s.memory_used for s in history), float, len(history)) / _GIB)
        return [(i, {"x": x, "y": y, "name": self.figure.data[i].name, "visible": True}) for i, y in enumerate(ys)]

    def _assign_slots(self, latest: Any) -> None:
        """Keep each job in its slot while it has data in the window; give free slots to the busiest."""
        live = dict(getattr(latest, "jobs", None) or {})
        horizon = latest.time - self.window
        for k, job_id in enumerate(self._slots):
            if job_id is not None and job_id not in live and self._last_time(job_id) < horizon:
                self._slots[k] = None
        waiting = sorted((j for j in live if j not in self._slots), key=lambda j: -float(live[j].cpu_percent))
        for job_id in waiting:
            if None not in self._slots:  # evict the job that stopped longest ago, if any stopped
                idle = [(self._last_time(j), k) for k, j in enumerate(self._slots) if j not in live]
                if not idle:
                    break
                self._slots[min(idle)[1]] = None
            self._slots[self._slots.index(None)] = job_id

    def _last_time(self, job_id: int | str) -> float:
        history = self._history(job_id)
        return history[-1].time if history else float("-inf")

    def _history(self, job_id: int | str) -> list[Any]:
        try:
            return list(self.monitor.job_history(job_id))
        except (KeyError, LookupError):
            return []

    def _job_updates(self, latest: Any) -> list[tuple[int, dict[str, Any]]]:
        self._assign_slots(latest)
        updates: list[tuple[int, dict[str, Any]]] = []
        offset = _utc_offset_ms(latest.time)
        for k, job_id in enumerate(self._slots):
            cpu_index, rss_index = self._n_system + 2 * k, self._n_system + 2 * k + 1
            if job_id is None:
                if self._job_keys.pop(k, None) is not None:
                    hide = {"x": np.zeros(0), "y": np.zeros(0), "visible": False, "name": ""}
                    updates += [(cpu_index, hide), (rss_index, dict(hide))]
                continue
            history = [s for s in self._history(job_id) if s.time >= latest.time - self.window]
            key = (job_id, history[-1].time if history else None, len(history))
            if self._job_keys.get(k) == key:
                continue  # this job has no new sample: its lines stay as they are
            self._job_keys[k] = key
            n = len(history)
            x = np.fromiter((s.time for s in history), float, n) * 1000.0 + offset
            cpu = np.fromiter((s.cpu_percent for s in history), float, n)
            rss = np.fromiter((s.rss for s in history), float, n) / _MIB
            name = self._job_name(job_id, history)
            updates.append((cpu_index, {"x": x, "y": cpu, "name": name, "visible": True}))
            updates.append((rss_index, {"x": x, "y": rss, "name": name, "visible": True}))
        return updates

    def _worker_updates(self, latest: Any) -> list[tuple[int, dict[str, Any]]]:
        """One dashed line per remote worker in each machine panel (the first `max_remote_workers` seen)."""
        updates: list[tuple[int, dict[str, Any]]] = []
        if not self._n_remote:
            return updates
        offset = _utc_offset_ms(latest.time)
        first = self._n_system + 2 * self.max_jobs
        for k, address in enumerate(self.monitor.workers()[: self._n_remote]):
            history = [s for s in self.monitor.worker_history(address) if s.time >= latest.time - self.window]
            key = (history[-1].time, len(history)) if history else None
            if self._worker_keys.get(k) == key or not history:
                continue
            self._worker_keys[k] = key
            n = len(history)
            x = np.fromiter((s.time for s in history), float, n) * 1000.0 + offset
            cpu = np.fromiter((s.cpu_percent / s.cpu_count if s.cpu_count and s.error is None else np.nan
                               for s in history), float, n)
            mem = np.fromiter((s.rss if s.error is None else np.nan for s in history), float, n) / _GIB
            name = f"worker {address.split('://')[-1]}"
            updates.append((first + 2 * k, {"x": x, "y": cpu, "name": name, "visible": True}))
            updates.append((first + 2 * k + 1, {"x": x, "y": mem, "name": name, "visible": True}))
        return updates

    def _job_name(self, job_id: int | str, history: list[Any]) -> str:
        if self.pool is not None and isinstance(job_id, int):
            try:
                return f"#{job_id} {self.pool.get(job_id).name}"[:40]
            except KeyError:
                pass
        name = getattr(history[-1], "name", "") if history else ""
        return f"#{job_id} {name}".strip()[:40] if isinstance(job_id, int) else str(job_id)[:40]

    # -- lifetime -----------------------------------------------------------------------------

    def close(self) -> None:
        """Stop refreshing (joined: nothing is sent after this returns) and close the figure."""
        if getattr(self, "_closed", True):
            return super().close()
        self._refresher.stop()
        with self._lock:
            self._closed = True
        self.figure.close()
        self.status.close()
        super().close()


def _cpu_count() -> int:
    import os

    return os.cpu_count() or 1
