"""`Timeline`: a live Gantt chart of job attempts over worker slots, like Dask's task stream.

Why SVG in an HTML widget and not Plotly: every `FigureWidget` ships ~5 MB of JavaScript to the
browser, and a Gantt is rectangles. Each bar is one attempt of a job on a worker slot, coloured
by how that attempt ended (blue while it runs; a retried attempt is drawn with a dashed border),
with a tooltip. Slots are assigned here, from the pool's events on the engine thread: the
lowest free slot when an attempt starts, freed when it ends, so a slot never holds two bars at
once. Attempts seen before the widget existed are laid out from the jobs' histories. Rendering
is throttled and bounded (`max_bars` most recent attempts within `window` seconds).

CSS classes: the box `pw-timeline`; the HTML `pw-timeline-svg`; in the SVG `.pw-bar`,
`.pw-bar-<state>` (e.g. `.pw-bar-succeeded`, `.pw-bar-running`).
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass, field
from typing import Any

import ipywidgets as widgets

from ..core import Event, JobEvent, JobState, ProcessPool
from ._live import LiveWidget, Refresher, esc, fmt_seconds
from ._rows import STATE_COLORS

__all__ = ["Timeline"]

_SLOT = (JobState.RUNNING, JobState.PAUSED)


@dataclass
class Bar:
    """One attempt: job `job_id` held `slot` from `start` to `end` (None while it holds it)."""

    job_id: int
    slot: int
    start: float
    end: float | None = None
    outcome: JobState = JobState.RUNNING
    """The state the attempt ended in (QUEUED means it failed and was retried)."""
    pauses: list[list[float]] = field(default_factory=list)


class Timeline(LiveWidget, widgets.VBox):
    """Attempts of `pool`'s jobs as bars on worker-slot lanes over the last `window` seconds."""

    def __init__(self, pool: ProcessPool, *, window: float = 600.0, max_bars: int = 1500, width: int = 820,
                 min_interval: float = 0.5, period: float = 1.0, **kwargs: Any) -> None:
        if not isinstance(pool, ProcessPool):
            raise TypeError(f"Timeline(pool) takes a ProcessPool, got {pool!r} ({type(pool).__name__})")
        self.pool, self.window, self.max_bars, self.width = pool, float(window), max_bars, width
        self._closed = False
        self._lock = threading.Lock()
        self._render_lock = threading.Lock()
        self.bars: list[Bar] = []
        """Every attempt recorded (bounded to 4 x max_bars), oldest first."""
        self._open: dict[int, Bar] = {}  # job id -> its attempt holding a slot
        self._busy: set[int] = set()
        self._seen: dict[int, float] = {}  # job id -> time of the last history entry laid out from a snapshot
        self._changed = True
        self._ready = False  # until the snapshot is laid out, events wait in _early
        self._early: list[JobEvent] = []
        self.svg = widgets.HTML()
        self.svg.add_class("pw-timeline-svg")
        super().__init__([self.svg], **kwargs)
        self.add_class("pw-timeline")
        self._refresher = Refresher(self.refresh, min_interval=min_interval, period=period,
                                    name="procwidgets-timeline")  # before the first event can poke it
        self._unsubscribe = pool.subscribe(self._on_event)
        try:
            self._snapshot()
            self.refresh()
        except BaseException:  # no thread or subscription outlives a failed constructor
            self.close()
            raise

    # -- slots (engine thread; O(slots) per event) --------------------------------------------

    def _free_slot(self) -> int:
        slot = 0
        while slot in self._busy:
            slot += 1
        self._busy.add(slot)
        return slot

    def _record(self, job_id: int, old: JobState | None, new: JobState, when: float) -> None:
        bar = self._open.get(job_id)
        if new in _SLOT and bar is None:
            bar = self._open[job_id] = Bar(job_id, self._free_slot(), when)
            self.bars.append(bar)
            if len(self.bars) > 4 * self.max_bars:
                del self.bars[: len(self.bars) - 4 * self.max_bars]
        elif bar is not None and new is JobState.PAUSED:
            bar.pauses.append([when, when])
        elif bar is not None and new is JobState.RUNNING and bar.pauses:
            bar.pauses[-1][1] = when
        elif bar is not None and new not in _SLOT:
            bar.end, bar.outcome = when, new
            if bar.pauses and bar.pauses[-1][0] == bar.pauses[-1][1]:
                bar.pauses[-1][1] = when
            del self._open[job_id]
            self._busy.discard(bar.slot)

    def _snapshot(self) -> None:
        """Lay out attempts that happened before this widget subscribed, from the jobs' histories."""
        with self._lock:
            entries = []
            for job in self.pool.jobs:
                history = list(job.history)
                self._seen[job.id] = history[-1][0]
                entries += [(t, job.id, s) for t, s, _ in history]
            entries.sort(key=lambda e: e[0])
            last: dict[int, JobState] = {}
            for t, job_id, state in entries:
                self._record(job_id, last.get(job_id), state, t)
                last[job_id] = state
            for event in self._early:  # what happened while the snapshot was taken, not yet in it
                if event.time > self._seen.get(event.job.id, float("-inf")):
                    self._record(event.job.id, event.old, event.new, event.time)
            self._early.clear()
            self._ready = True
            self._changed = True

    def _on_event(self, event: Event) -> None:
        if self._closed:
            return
        if isinstance(event, JobEvent) and event.kind == "state":
            with self._lock:
                if not self._ready:
                    self._early.append(event)
                    return
                seen = self._seen.get(event.job.id)
                if seen is not None and event.time <= seen:
                    return  # already laid out from the snapshot
                self._record(event.job.id, event.old, event.new, event.time)
                self._changed = True
        elif not isinstance(event, JobEvent):
            self._changed = True
        self._refresher.poke()

    # -- rendering ----------------------------------------------------------------------------

    def refresh(self) -> None:
        """Redraw if something changed or an attempt is running (its bar grows); else send nothing."""
        with self._render_lock:
            if self._closed:
                return
            with self._lock:
                if not self._changed and not self._open:
                    return
                self._changed = False
                bars = [Bar(b.job_id, b.slot, b.start, b.end, b.outcome, [list(p) for p in b.pauses])
                        for b in self.bars[-self.max_bars:]]
            self.svg.value = self._render(bars, time.time())

    def _render(self, bars: list[Bar], now: float) -> str:
        bars = [b for b in bars if b.end is None or b.end >= now - self.window]
        lanes = max([self.pool.max_workers] + [b.slot + 1 for b in bars])
        t0 = min([b.start for b in bars], default=now - 60)
        t0 = max(t0, now - self.window)
        span = max(now - t0, 1.0)
        left, lane_h, width = 56, 18, self.width
        plot_w = width - left - 8
        height = lanes * lane_h + 22

        def x(t: float) -> float:
            return left + (max(t, t0) - t0) / span * plot_w

        parts = [f'<svg class="pw-timeline-chart" width="{width}" height="{height}" viewBox="0 0 {width} {height}" '
                 f'style="font:11px sans-serif">']
        for lane in range(lanes):
            y = lane * lane_h
            parts.append(f'<rect x="{left}" y="{y}" width="{plot_w}" height="{lane_h - 2}" fill="#f5f5f5"/>'
                         f'<text x="{left - 4}" y="{y + 12}" text-anchor="end">slot {lane}</text>')
        for b in bars:
            end = now if b.end is None else b.end
            state = "retried" if b.outcome is JobState.QUEUED else b.outcome.value
            color = STATE_COLORS.get(b.outcome, "#c62828") if b.outcome is not JobState.QUEUED else "#e57373"
            x0, x1 = x(b.start), x(end)
            try:
                name = self.pool.get(b.job_id).name
            except KeyError:
                name = ""
            tip = f"#{b.job_id} {name}: {state}, {fmt_seconds(end - b.start)}"
            retried = b.outcome is JobState.QUEUED  # a white edge parts back-to-back bars in a slot
            dash = ' stroke="#b71c1c" stroke-dasharray="3,2"' if retried else ' stroke="#fff" stroke-width="0.5"'
            parts.append(f'<rect class="pw-bar pw-bar-{state}" x="{x0:.1f}" y="{b.slot * lane_h}" '
                         f'width="{max(x1 - x0, 1.0):.1f}" height="{lane_h - 2}" fill="{color}"{dash}>'
                         f"<title>{esc(tip)}</title></rect>")
            for p0, p1 in b.pauses:
                parts.append(f'<rect x="{x(p0):.1f}" y="{b.slot * lane_h + 4}" width="{max(x(p1) - x(p0), 1.0):.1f}" '
                             f'height="{lane_h - 10}" fill="#fff" opacity="0.6"/>')
        axis_y = lanes * lane_h + 14
        for k in range(5):
            t = t0 + span * k / 4
            anchor = "start" if k == 0 else ("end" if k == 4 else "middle")
            parts.append(f'<text x="{x(t):.0f}" y="{axis_y}" text-anchor="{anchor}">'
                         f'{time.strftime("%H:%M:%S", time.localtime(t))}</text>')
        parts.append("</svg>")
        return "".join(parts)

    # -- lifetime -----------------------------------------------------------------------------

    def _parts(self) -> tuple[widgets.Widget, ...]:
        return (self.svg,)
