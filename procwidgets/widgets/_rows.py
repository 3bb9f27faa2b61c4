"""HTML for the queue table: the shared stylesheet, one row per job, inline-SVG sparklines.

Rows are plain strings so the table can compare a row's new HTML with what the browser already
has and send nothing when they are equal. Sparklines are inline SVG (a few hundred bytes), never
a Plotly figure: each `FigureWidget` ships ~5 MB of JavaScript to the browser.
"""

from __future__ import annotations

import time
from collections.abc import Mapping, Sequence
from typing import Any

from ..core import Job, JobState
from ..core.guard import mask_argv
from ._live import esc, fmt_bytes, fmt_seconds

__all__ = ["STATE_COLORS", "counts_html", "header_html", "row_html", "sparkline_svg"]

STATE_COLORS: Mapping[JobState, str] = {
    JobState.QUEUED: "#757575",
    JobState.RUNNING: "#1565c0",
    JobState.PAUSED: "#f9a825",
    JobState.SUCCEEDED: "#2e7d32",
    JobState.FAILED: "#c62828",
    JobState.TIMED_OUT: "#ef6c00",
    JobState.CANCELLED: "#8d6e63",
    JobState.INTERRUPTED: "#6a1b9a",
}

COLUMNS = ("id", "name", "command", "prio", "state", "pid", "started", "duration", "exit / error",
           "cpu", "rss", "cpu · rss")

# One stylesheet, shipped once in the header, so each row message carries only its data.
STYLE = """<style>
.pw-table .pw-row{display:grid;grid-template-columns:2.6em 6.5em minmax(3em,1fr) 2.2em 6.4em 3.6em 5.2em 4em
 6.5em 3em 3.4em 64px;column-gap:4px;align-items:center;font:12px/20px var(--jp-code-font-family,monospace);
 white-space:nowrap;min-width:0}
.pw-table .pw-row>span{overflow:hidden;text-overflow:ellipsis}
.pw-table .pw-head{font-weight:bold;border-bottom:1px solid var(--jp-border-color1,#ccc)}
.pw-table .pw-badge{color:#fff;border-radius:3px;padding:0 3px;font-size:10px}
.pw-table .pw-err{color:#c62828}
.pw-table .pw-count{display:inline-block;margin-right:8px;font:12px var(--jp-ui-font-family,sans-serif)}
.pw-table .pw-row-buttons button{width:24px;min-width:24px;padding:0;margin:0 1px;height:20px;line-height:18px}
.pw-table .pw-table-row{margin:0;align-items:center}
</style>"""


def header_html() -> str:
    cells = "".join(f"<span>{esc(c)}</span>" for c in COLUMNS)
    return f'{STYLE}<div class="pw-row pw-head">{cells}</div>'


def counts_html(counts: Mapping[JobState, int], total: int) -> str:
    parts = [f'<span class="pw-count"><b>{total}</b> jobs</span>']
    for state, n in counts.items():
        if n:
            parts.append(f'<span class="pw-count pw-count-{state.value}" style="color:{STATE_COLORS[state]}">'
                         f'{state.name.lower()} <b>{n}</b></span>')
    return "".join(parts)


def sparkline_svg(samples: Sequence[Any], width: int = 64, height: int = 18, points: int = 48) -> str:
    """CPU % (blue, 0..max(100, peak)) and RSS (orange, 0..peak) of the last `points` samples."""
    samples = samples[-points:]
    if len(samples) < 2:
        return ""
    cpu = [float(getattr(s, "cpu_percent", 0.0) or 0.0) for s in samples]
    rss = [float(getattr(s, "rss", 0) or 0) for s in samples]
    step = width / (len(samples) - 1)

    def line(values: list[float], top: float, color: str) -> str:
        scale = (height - 2) / top if top > 0 else 0.0
        pts = " ".join(f"{i * step:.0f},{height - 1 - v * scale:.0f}" for i, v in enumerate(values))
        return f'<polyline points="{pts}" fill="none" stroke="{color}" stroke-width="1"/>'

    return (f'<svg class="pw-spark" width="{width}" height="{height}" viewBox="0 0 {width} {height}">'
            f"{line(rss, max(rss), '#ef6c00')}{line(cpu, max(100.0, max(cpu)), '#1565c0')}</svg>")


def _outcome(job: Job) -> tuple[str, str]:
    """(text, tooltip) for the exit / error column."""
    if job.error:
        return job.error, job.error
    if job.returncode is not None and job.state.is_finished:
        return f"exit {job.returncode}", ""
    return "", ""


def row_html(job: Job, sample: Any = None, spark: str = "") -> str:
    """One job as one grid row. `sample` is the monitor's latest sample for it (live CPU / RSS)."""
    state = job.state
    live = state in (JobState.RUNNING, JobState.PAUSED)
    started = time.strftime("%H:%M:%S", time.localtime(job.started_at)) if job.started_at else ""
    duration = fmt_seconds(job.duration)
    if live and sample is not None:
        cpu = f"{float(sample.cpu_percent):.0f}%"
        rss = fmt_bytes(sample.rss)
    elif state.is_finished:  # the totals the pool measured over the whole tree
        cpu = f"{job.cpu_seconds:.1f}s" if job.cpu_seconds is not None else ""
        rss = fmt_bytes(job.peak_rss)
    else:
        cpu = rss = ""
    outcome, tip = _outcome(job)
    pid = job.pid if job.pid is not None and job.started_at else ""
    where = f' title="pid on worker {esc(job.worker)}"' if job.worker and pid != "" else ""
    if pid == "" and state is JobState.RUNNING and job.pool.backend.name != "local":
        # Handed to a remote backend that has not started it yet (Dask may queue it for a thread).
        pid, where = "…", f' title="handed to the {esc(job.pool.backend.name)} backend; no worker has started it yet"'
    command = job.spec.command if job.spec.shell else mask_argv(job.argv)  # no secrets on a shared screen
    return (
        f'<div class="pw-row pw-state-{state.value}">'
        f"<span>{job.id}</span>"
        f'<span title="{esc(job.name)}">{esc(job.name)}</span>'
        f'<span title="{esc(command)}">{esc(command)}</span>'
        f"<span>{job.priority}</span>"
        f'<span><span class="pw-badge" style="background:{STATE_COLORS[state]}">{state.name}</span></span>'
        f"<span{where}>{pid}</span><span>{started}</span><span>{duration}</span>"
        f'<span class="{"pw-err" if job.error else "pw-exit"}" title="{esc(tip)}">{esc(outcome)}</span>'
        f"<span>{cpu}</span><span>{rss}</span><span>{spark}</span></div>"
    )
