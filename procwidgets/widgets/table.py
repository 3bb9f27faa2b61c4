"""`QueueTable`: a live row per job, paged, sending only the rows that changed.

Why it stays cheap with 10,000 jobs: the table keeps, per state, a sorted list of job ids,
updated in O(log n) from each event on the engine thread; only one page of rows (`page_size`,
default 20) exists as widgets, each row one small `HTML` widget whose `.value` is re-rendered
only when its job changed (or runs, for its clock and CPU) and sent only when the text differs.
A state change off the page sends one message (the counts); on the page, two (counts + its row).
Renders are throttled by a `Refresher`, so a burst of 1,000 changes costs a few renders.

Row controls are per-row buttons that never change (so no button messages on state changes);
they act through the pool's public API, and the core's error message shows in `.message`.

CSS classes: the table `pw-table`; `pw-table-counts`, `pw-table-filter`, `pw-table-workers`,
`pw-table-pause`, `pw-table-header`, `pw-table-row` (each row box), `pw-row-html` (its HTML),
buttons `pw-row-cancel`, `pw-row-toggle` (pause/resume), `pw-row-up`, `pw-row-down`,
`pw-row-retry`; pager `pw-table-prev`, `pw-table-page`, `pw-table-next`; `pw-table-message`.
Inside the HTML: `.pw-row`, `.pw-state-<state>`, `.pw-badge`, `.pw-spark`, `.pw-count-<state>`.
"""

from __future__ import annotations

import bisect
import threading
from collections.abc import Callable, Sequence
from typing import Any

import ipywidgets as widgets

from ..core import Event, Job, JobEvent, JobState, ProcessPool
from ..core.engine import EngineStopped
from ._live import LiveWidget, Refresher, esc
from ._rows import counts_html, header_html, row_html, sparkline_svg

__all__ = ["FILTERS", "QueueTable"]

_LIVE = (JobState.RUNNING, JobState.PAUSED)
_CONTROLS = "136px"  # the row buttons' box; the header keeps a spacer as wide, so columns line up
FILTERS: dict[str, tuple[JobState, ...] | None] = {
    "all": None,
    "active": (JobState.QUEUED, JobState.RUNNING, JobState.PAUSED),
    "finished": tuple(s for s in JobState if s.is_finished),
    **{s.name.lower(): (s,) for s in JobState},
}


_BUTTONS = (("cancel", "times", "cancel"), ("toggle", "pause", "pause / resume"),
            ("up", "arrow-up", "raise priority"), ("down", "arrow-down", "lower priority"),
            ("retry", "repeat", "re-submit the same command"))


class _Row:
    """One visible row: an HTML widget plus static buttons; `job_id` says which job it shows."""

    def __init__(self, act: Callable[[_Row, str], None], button_layout: widgets.Layout,
                 read_only: bool = False) -> None:
        self.job_id: int | None = None
        self.html = widgets.HTML()
        self.html.add_class("pw-row-html")
        self.html.layout.flex = "1 1 0"  # shrink, so the buttons stay in view
        self.html.layout.min_width = "0"
        self.buttons = {}
        # Read-only rows have no buttons at all: a hidden button could still be clicked by a
        # crafted message to the kernel.
        for action, icon, tip in () if read_only else _BUTTONS:
            b = widgets.Button(description="", icon=icon, tooltip=tip, layout=button_layout)
            b.add_class(f"pw-row-{action}")
            b.on_click(lambda _b, a=action: act(self, a))
            self.buttons[action] = b
        controls = widgets.HBox(list(self.buttons.values()), layout=widgets.Layout(flex="0 0 auto", width=_CONTROLS))
        controls.add_class("pw-row-buttons")
        self.box = widgets.HBox([self.html, controls], layout=widgets.Layout(display="none"))
        self.box.add_class("pw-table-row")

    def close(self) -> None:
        for w in (*self.buttons.values(), self.html, self.box.children[1], self.box):
            w.close()


class QueueTable(LiveWidget, widgets.VBox):
    """A paged, filterable live table of `pool`'s jobs, with row controls and a pool strip.

    `monitor` (optional) supplies live CPU % / RSS and the sparklines. `refresh()` renders now;
    otherwise renders happen on the table's own thread, at most every `min_interval` s after a
    change, and every `period` s while a visible job runs. `close()` unsubscribes and stops it.
    """

    def __init__(self, pool: ProcessPool, monitor: Any = None, *, page_size: int = 20,
                 min_interval: float = 0.2, period: float = 1.0, read_only: bool = False, **kwargs: Any) -> None:
        if not isinstance(pool, ProcessPool):
            raise TypeError(f"QueueTable(pool) takes a ProcessPool, got {pool!r} ({type(pool).__name__})")
        if isinstance(page_size, bool) or not isinstance(page_size, int) or page_size < 1:
            raise ValueError(f"page_size must be an int >= 1, got {page_size!r}")
        self.pool, self.monitor, self.page_size = pool, monitor, page_size
        self.read_only = bool(read_only)  # shows everything, changes nothing (no controls)
        self._lock = threading.Lock()  # guards the id lists (engine thread writes, renderer reads)
        self._render_lock = threading.RLock()  # one writer of the row widgets at a time
        self._closed = False
        self._states: dict[int, JobState] = {}
        self._all: list[int] = []
        self._by_state: dict[JobState, list[int]] = {s: [] for s in JobState}
        self._dirty: set[int] = set()
        self._pool_dirty = True
        self._version = 0
        self._group_cache: tuple[int, str, list[int]] | None = None
        self._frozen_sparks: dict[int, str] = {}
        self._filter, self._page = "all", 0
        self._syncing = False

        self.counts = widgets.HTML()
        self.filter = widgets.Dropdown(options=list(FILTERS), value="all", description="Show",
                                       layout=widgets.Layout(width="180px"), style={"description_width": "40px"})
        self.workers = widgets.IntText(value=pool.max_workers, description="Workers",
                                       layout=widgets.Layout(width="150px"), style={"description_width": "60px"})
        self.pause_button = widgets.ToggleButton(value=pool.paused, description="Pause dispatch", icon="pause",
                                                 tooltip="Stop starting queued jobs (running ones go on)")
        self.header = widgets.HTML(header_html(), layout=widgets.Layout(flex="1 1 0", min_width="0"))
        button_layout = widgets.Layout(width="24px", height="20px", padding="0")
        self.rows = [_Row(self._act, button_layout, self.read_only) for _ in range(page_size)]
        self.workers.disabled = self.pause_button.disabled = self.read_only
        self.prev_button = widgets.Button(description="◀", layout=widgets.Layout(width="36px"), tooltip="previous page")
        self.next_button = widgets.Button(description="▶", layout=widgets.Layout(width="36px"), tooltip="next page")
        self.page_label = widgets.HTML()
        self.message = widgets.HTML()
        for w, cls in ((self.counts, "counts"), (self.filter, "filter"), (self.workers, "workers"),
                       (self.pause_button, "pause"), (self.header, "header"), (self.prev_button, "prev"),
                       (self.next_button, "next"), (self.page_label, "page"), (self.message, "message")):
            w.add_class(f"pw-table-{cls}")
        self.filter.observe(lambda ch: self.set_filter(ch["new"]), "value")
        self.workers.observe(self._on_workers, "value")
        self.pause_button.observe(self._on_pause, "value")
        self.prev_button.on_click(lambda _b: self.set_page(self._page - 1))
        self.next_button.on_click(lambda _b: self.set_page(self._page + 1))
        strip = widgets.HBox([self.filter, self.workers, self.pause_button])
        spacer = widgets.Box(layout=widgets.Layout(flex="0 0 auto", width=_CONTROLS))
        self._boxes = [strip, widgets.HBox([self.prev_button, self.page_label, self.next_button]),
                       widgets.HBox([self.header, spacer]), spacer]
        super().__init__([self.counts, strip, self._boxes[2], *(r.box for r in self.rows), self._boxes[1],
                          self.message], **kwargs)
        self.add_class("pw-table")

        # The refresher exists before the first event can poke it; subscribing before reading
        # pool.jobs means no job is missed (the event path and the snapshot dedupe).
        self._refresher = Refresher(self.refresh, min_interval=min_interval, period=period,
                                    name="procwidgets-table")
        self._unsubscribe = pool.subscribe(self._on_event)
        try:
            for job in pool.jobs:
                self._apply(job.id, job.state, only_if_new=True)
            self.refresh()
        except BaseException:  # no thread or subscription outlives a failed constructor
            self.close()
            raise

    # -- the engine thread's side: record and poke, nothing more ----------------------------

    def _on_event(self, event: Event) -> None:
        if self._closed:
            return
        if isinstance(event, JobEvent):
            self._apply(event.job.id, event.new)
        else:
            self._pool_dirty = True
        self._refresher.poke()

    def _apply(self, job_id: int, new: JobState, only_if_new: bool = False) -> None:
        with self._lock:
            old = self._states.get(job_id)
            if only_if_new and old is not None:
                return
            self._dirty.add(job_id)
            if old is new:
                return
            if old is None:
                bisect.insort(self._all, job_id)
            else:
                ids = self._by_state[old]
                del ids[bisect.bisect_left(ids, job_id)]
            bisect.insort(self._by_state[new], job_id)
            self._states[job_id] = new
            self._version += 1

    # -- views ------------------------------------------------------------------------------

    def _view(self) -> Sequence[int]:
        """The ids the current filter shows, sorted (call with `_lock` held)."""
        states = FILTERS[self._filter]
        if states is None:
            return self._all
        if len(states) == 1:
            return self._by_state[states[0]]
        cache = self._group_cache
        if cache is None or cache[0] != self._version or cache[1] != self._filter:
            merged = sorted(i for s in states for i in self._by_state[s])
            self._group_cache = cache = (self._version, self._filter, merged)
        return cache[2]

    @property
    def page(self) -> int:
        return self._page

    @property
    def visible_ids(self) -> list[int]:
        """The job ids on the current page, top to bottom."""
        return [r.job_id for r in self.rows if r.job_id is not None]

    def row_for(self, job_id: int) -> _Row | None:
        """The visible row showing `job_id`, or None if it is not on this page."""
        return next((r for r in self.rows if r.job_id == job_id), None)

    def set_filter(self, name: str) -> None:
        if name not in FILTERS:
            raise ValueError(f"filter must be one of {', '.join(FILTERS)}; got {name!r}")
        self._filter, self._page = name, 0
        if self.filter.value != name:
            self.filter.value = name
        self.refresh()

    def set_page(self, page: int) -> None:
        self._page = page
        self.refresh()

    def show_job(self, job_id: int) -> None:
        """Turn to the page that holds `job_id` (under the current filter, if it matches)."""
        with self._lock:
            view = self._view()
            i = bisect.bisect_left(view, job_id)
        if i < len(view) and view[i] == job_id:
            self.set_page(i // self.page_size)

    # -- rendering (the refresher's thread, or the caller of refresh()) -----------------------

    def refresh(self) -> None:
        """Render what changed now: counts, pool strip, and the rows of the current page."""
        with self._render_lock:
            if self._closed:
                return
            with self._lock:
                dirty, self._dirty = self._dirty, set()
                view = self._view()
                pages = max(1, -(-len(view) // self.page_size))
                self._page = min(max(0, self._page), pages - 1)
                start = self._page * self.page_size
                page_ids = list(view[start:start + self.page_size])
                total, shown = len(self._all), len(view)
                counts = {s: len(ids) for s, ids in self._by_state.items()}
            self.counts.value = counts_html(counts, total)
            self.page_label.value = (f'<span style="font-size:12px">page {self._page + 1} / {pages} · '
                                     f"{start + 1 if shown else 0}–{start + len(page_ids)} of {shown}</span>")
            if self._pool_dirty:
                self._pool_dirty = False
                self._sync_strip()
            latest = self._latest_jobs()
            for i, row in enumerate(self.rows):
                job_id = page_ids[i] if i < len(page_ids) else None
                rebound = job_id != row.job_id
                row.job_id = job_id
                if job_id is None:
                    row.box.layout.display = "none"
                    continue
                job = self.pool.get(job_id)
                if rebound or job_id in dirty or job.state in _LIVE:
                    row.html.value = row_html(job, latest.get(job_id), self._spark(job))
                row.box.layout.display = None

    def _latest_jobs(self) -> dict[int, Any]:
        if self.monitor is None:
            return {}
        sample = self.monitor.latest()
        return dict(getattr(sample, "jobs", None) or {}) if sample is not None else {}

    def _spark(self, job: Job) -> str:
        if self.monitor is None:
            return ""
        if job.id in self._frozen_sparks:
            return self._frozen_sparks[job.id]
        try:
            svg = sparkline_svg(self.monitor.job_history(job.id))
        except (KeyError, LookupError):
            svg = ""
        if job.state.is_finished:  # a finished job's curve no longer changes: draw it once
            if len(self._frozen_sparks) >= 4 * self.page_size:
                self._frozen_sparks.pop(next(iter(self._frozen_sparks)))
            self._frozen_sparks[job.id] = svg
        return svg

    def _sync_strip(self) -> None:
        self._syncing = True
        try:
            self.workers.value = self.pool.max_workers
            paused = self.pool.paused
            self.pause_button.value = paused
            self.pause_button.description = "Resume dispatch" if paused else "Pause dispatch"
            self.pause_button.icon = "play" if paused else "pause"
        finally:
            self._syncing = False

    # -- user actions (the kernel's thread) -------------------------------------------------

    def _say(self, text: str, error: bool = True) -> None:
        cls, color = ("pw-error", "#c62828") if error else ("pw-ok", "#2e7d32")
        self.message.value = f'<span class="{cls}" style="color:{color}">{esc(text)}</span>'

    def _on_workers(self, change: dict[str, Any]) -> None:
        if self._syncing or change["new"] == self.pool.max_workers:
            return
        if self.read_only:  # a disabled input can still receive a crafted change: undo it
            self._pool_dirty = True
            self._refresher.poke()
            return
        try:
            self.pool.max_workers = change["new"]
        except (TypeError, ValueError, EngineStopped) as exc:
            self._say(str(exc))
            self._pool_dirty = True
            self._refresher.poke()

    def _on_pause(self, change: dict[str, Any]) -> None:
        if self._syncing or change["new"] == self.pool.paused:
            return
        if self.read_only:
            self._pool_dirty = True
            self._refresher.poke()
            return
        try:
            self.pool.pause() if change["new"] else self.pool.resume()
        except EngineStopped as exc:
            self._say(str(exc))

    def _act(self, row: _Row, action: str) -> None:
        if row.job_id is None or self.read_only:
            return
        job = self.pool.get(row.job_id)
        try:
            if action == "cancel":
                if not job.cancel():
                    self._say(f"job {job.id} is already {job.state.name}; nothing to cancel")
            elif action == "toggle":
                job.pause() if job.state is JobState.RUNNING else job.resume()
            elif action in ("up", "down"):
                job.priority = job.priority + (1 if action == "up" else -1)
            elif action == "retry":
                if not job.state.is_finished:
                    self._say(f"job {job.id} is {job.state.name}; retry re-submits a finished job (cancel it first)")
                    return
                new = self.pool.retry(job)
                self._say(f"re-submitted job {job.id} as job {new.id}", error=False)
        except (TypeError, ValueError, KeyError, RuntimeError, PermissionError) as exc:
            self._say(str(exc))

    # -- lifetime ---------------------------------------------------------------------------

    def _parts(self) -> tuple[Any, ...]:
        return (*self.rows, self.counts, self.filter, self.workers, self.pause_button, self.header,
                self.prev_button, self.next_button, self.page_label, self.message, *self._boxes)
