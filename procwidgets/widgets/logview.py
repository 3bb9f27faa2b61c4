"""`LogView`: one job's output tail, following live, stderr in red.

Why HTML and not `Output`: an `Output` widget appended from a thread resends its whole growing
output list on every append and must be trimmed by hand, and `print` from a thread lands in
whatever cell runs at that moment. The job's tail is already bounded by the pool, so the view
renders the last `lines` lines as escaped HTML, and sends it only when `job.output_seq` (or the
job's state) changed. The scroll box is pinned to the bottom with `flex-direction: column-reverse`.

CSS classes: the view `pw-log`; `pw-log-picker` (job dropdown), `pw-log-follow` (checkbox),
`pw-log-header`, `pw-log-output`; inside it `.pw-log-lines`, `.pw-stdout`, `.pw-stderr`.
"""

from __future__ import annotations

import threading
from typing import Any

import ipywidgets as widgets

from ..core import Event, Job, JobEvent, JobState, ProcessPool
from ._live import LiveWidget, Refresher, esc, fmt_seconds
from ._rows import STATE_COLORS

__all__ = ["LogView"]

_RECENT = 50


class LogView(LiveWidget, widgets.VBox):
    """Pick a job (`.picker`, or `select(job)`) and watch its output tail.

    With `.follow` checked (the default when no job is given) the view switches to each job that
    starts running. `lines` is how many lines are shown; the view polls the selected job every
    `interval` seconds and sends only when its output or state changed.
    """

    def __init__(self, pool: ProcessPool, job: Job | int | None = None, *, lines: int = 200,
                 interval: float = 0.5, height: str = "300px", **kwargs: Any) -> None:
        if not isinstance(pool, ProcessPool):
            raise TypeError(f"LogView(pool) takes a ProcessPool, got {pool!r} ({type(pool).__name__})")
        self.pool, self.lines = pool, lines
        self._closed = False
        self._render_lock = threading.RLock()
        self._syncing = False
        self._job_id: int | None = None
        self._shown: Any = None
        self._options_dirty = True
        self._follow_to: int | None = None
        self.picker = widgets.Dropdown(options=[("(no job)", None)], value=None, description="Job",
                                       layout=widgets.Layout(width="360px"), style={"description_width": "30px"})
        self.follow = widgets.Checkbox(value=job is None, description="follow newest running", indent=False)
        self.header = widgets.HTML(layout=widgets.Layout(flex="1 1 auto"))
        self.output = widgets.HTML(layout=widgets.Layout(width="100%"))
        self._height = height
        for w, cls in ((self.picker, "picker"), (self.follow, "follow"), (self.header, "header"),
                       (self.output, "output")):
            w.add_class(f"pw-log-{cls}")
        self.picker.observe(self._on_pick, "value")
        self._bar = widgets.HBox([self.picker, self.follow, self.header])
        super().__init__([self._bar, self.output], **kwargs)
        self.add_class("pw-log")
        self._refresher = Refresher(self.refresh, min_interval=min(interval, 0.25), period=interval,
                                    name="procwidgets-log")  # before the first event can poke it
        self._unsubscribe = pool.subscribe(self._on_event)
        try:
            if job is not None:
                self.select(job)
            self.refresh()
        except BaseException:  # e.g. an unknown job id: no thread or subscription outlives it
            self.close()
            raise

    @property
    def job(self) -> Job | None:
        return self.pool.get(self._job_id) if self._job_id is not None else None

    def select(self, job: Job | int | None) -> None:
        """Show `job` (a Job or its id; None for nothing)."""
        job_id = job.id if isinstance(job, Job) else job
        if job_id is not None:
            self.pool.get(job_id)  # an unknown id raises the pool's KeyError here, not later
        self._job_id = job_id
        self._options_dirty = True
        self.refresh()

    def _on_pick(self, change: dict[str, Any]) -> None:
        if not self._syncing and change["new"] != self._job_id:
            self.select(change["new"])

    def _on_event(self, event: Event) -> None:
        if self._closed or not isinstance(event, JobEvent):
            return
        if event.old is None:
            self._options_dirty = True
        if event.new is JobState.RUNNING and event.old is JobState.QUEUED and self.follow.value:
            self._follow_to = event.job.id
        if event.job.id in (self._job_id, self._follow_to) or event.old is None:
            self._refresher.poke()

    # -- rendering ----------------------------------------------------------------------------

    def refresh(self) -> None:
        """Render now if the selected job's output or state changed (otherwise send nothing)."""
        with self._render_lock:
            if self._closed:
                return
            follow_to, self._follow_to = self._follow_to, None
            if follow_to is not None and self.follow.value and follow_to != self._job_id:
                self._job_id, self._options_dirty = follow_to, True
            if self._options_dirty:
                self._options_dirty = False
                self._sync_picker()
            job = self.job
            key = None if job is None else (job.id, job.output_seq, job.state, job.returncode, job.pid)
            if key == self._shown:
                return
            self._shown = key
            self.header.value = self._header(job)
            self.output.value = self._body(job)

    def _sync_picker(self) -> None:
        jobs = self.pool.jobs
        recent = jobs[-_RECENT:][::-1]
        if self._job_id is not None and all(j.id != self._job_id for j in recent):
            recent.insert(0, self.pool.get(self._job_id))
        options = [(f"#{j.id} {j.name}"[:60], j.id) for j in recent] or [("(no job)", None)]
        self._syncing = True
        try:
            if list(self.picker.options) != options:
                self.picker.options = options
            self.picker.value = self._job_id if self._job_id is not None else options[0][1]
        finally:
            self._syncing = False

    @staticmethod
    def _header(job: Job | None) -> str:
        if job is None:
            return '<span style="color:#757575">no job selected</span>'
        where = f" on {job.worker}" if job.worker else ""
        detail = f"pid {job.pid}{where}" if job.pid and not job.state.is_finished else (job.error or "")
        if job.state is JobState.SUCCEEDED:
            detail = "exit code 0"
        return (f'<span class="pw-badge" style="background:{STATE_COLORS[job.state]};color:#fff;border-radius:3px;'
                f'padding:0 4px">{job.state.name}</span> <span>{esc(detail)} {fmt_seconds(job.duration)}</span>')

    def _body(self, job: Job | None) -> str:
        lines = job.tail(self.lines, streams=True) if job is not None else []
        text = "\n".join(f'<span class="pw-{stream}"{" style=color:#c62828" if stream == "stderr" else ""}>'
                         f"{esc(line)}</span>" for stream, line in lines)
        empty = '<span style="color:#757575">(no output yet)</span>' if job is not None and not lines else ""
        return (f'<div class="pw-log-lines" style="display:flex;flex-direction:column-reverse;overflow:auto;'
                f'max-height:{self._height};border:1px solid var(--jp-border-color2,#ddd)">'
                f'<pre style="margin:0;padding:4px;font-size:12px;line-height:1.3">{text}{empty}</pre></div>')

    # -- lifetime -----------------------------------------------------------------------------

    def _parts(self) -> tuple[widgets.Widget, ...]:
        return (self.picker, self.follow, self.header, self.output, self._bar)
