"""Widget benchmarks: what one change costs to render and send, against naive baselines in the same run.

    .venv/bin/python bench/widgets.py [--jobs 10000] [--repeat 30]

1. Queue table with N jobs: one job's state change (time to render + bytes sent), against a
   naive full re-render (every row into one HTML value). Also a burst of 1,000 changes.
2. Resource chart, 10 traces x 300 points: one refresh (time + bytes), against plotly's
   `batch_update()` with property assignment (numpy arrays, then Python lists); and a refresh
   when nothing changed. The extendTraces-style delta is sized for comparison only: plotly's
   FigureWidget front end has no message that appends points, so it cannot be sent.

Bytes are what `Widget._send` hands to the comm: the JSON message plus its binary buffers.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import threading
import time
from collections.abc import Callable
from types import SimpleNamespace
from typing import Any

import ipywidgets
import numpy as np

import procwidgets as pw
from procwidgets.widgets import QueueTable, ResourceChart
from procwidgets.widgets._rows import row_html


class Meter:
    """Counts messages and bytes sent by every widget while installed."""

    def __init__(self) -> None:
        self.messages = self.bytes = 0
        self._lock = threading.Lock()
        self._orig = ipywidgets.Widget._send

    def __enter__(self) -> Meter:
        def send(widget: Any, msg: dict[str, Any], buffers: Any = None) -> None:
            size = len(json.dumps(msg, default=str)) + sum(memoryview(b).nbytes for b in buffers or [])
            with self._lock:
                self.messages += 1
                self.bytes += size

        ipywidgets.Widget._send = send
        return self

    def __exit__(self, *_: object) -> None:
        ipywidgets.Widget._send = self._orig

    def reset(self) -> None:
        self.messages = self.bytes = 0


def until(condition: Callable[[], Any], timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise TimeoutError("benchmark condition not reached")
        time.sleep(0.001)


def median_ms(samples: list[float]) -> float:
    return statistics.median(samples) * 1000


def bench_table(n_jobs: int, repeat: int) -> None:
    pool = pw.ProcessPool(max_workers=1, store=None)
    pool.pause()  # nothing runs: the jobs only change state when the benchmark cancels them
    try:
        jobs = [pool.submit([sys.executable, "-c", "pass"], name=f"job{i}") for i in range(n_jobs)]
        table = QueueTable(pool, page_size=20)
        until(lambda: len(table._states) == n_jobs)
        table._refresher.stop()  # the benchmark renders by hand, to time exactly one render
        table.refresh()
        naive = ipywidgets.HTML()
        with Meter() as meter:
            times, sizes, counts, where = [], [], [], []
            for k in range(repeat):
                on_page = k % 2 == 0
                job = jobs[k // 2 % table.page_size] if on_page else jobs[n_jobs // 2 + k]
                if job.state is not pw.JobState.QUEUED:
                    continue
                where.append(on_page)
                job.cancel()
                until(lambda j=job: table._states[j.id] is pw.JobState.CANCELLED)
                meter.reset()
                t = time.perf_counter()
                table.refresh()
                times.append(time.perf_counter() - t)
                sizes.append(meter.bytes)
                counts.append(meter.messages)
            naive_times, naive_sizes = [], []
            for _ in range(max(3, repeat // 5)):
                meter.reset()
                t = time.perf_counter()
                naive.value = "".join(row_html(j) for j in pool.jobs)  # a full re-render of every row
                naive_times.append(time.perf_counter() - t)
                naive_sizes.append(meter.bytes)
                naive.value = ""
            # A burst: 1,000 state changes with the table's own throttled refresher.
            burst_table = QueueTable(pool, page_size=20, min_interval=0.2)
            until(lambda: len(burst_table._states) == n_jobs)
            burst_table.refresh()
            time.sleep(0.3)
            meter.reset()
            runs = burst_table._refresher.runs
            queued = [j for j in jobs if j.state is pw.JobState.QUEUED][:1000]
            t = time.perf_counter()
            for job in queued:
                job.cancel()
            until(lambda: all(burst_table._states[j.id] is pw.JobState.CANCELLED for j in queued))
            until(lambda: not burst_table._dirty and burst_table._refresher.runs > runs)
            time.sleep(0.5)
            burst = (time.perf_counter() - t, burst_table._refresher.runs - runs, meter.messages, meter.bytes)
        table.close()
        burst_table.close()
        naive.close()
    finally:
        pool.shutdown()
    naive_t, naive_b = median_ms(naive_times), statistics.median(naive_sizes)
    print(f"\nQueue table, {n_jobs:,} jobs, one state change (medians; the row on the visible page or not):")
    for label, flag in (("on the page", True), ("off the page", False)):
        picked = [i for i, w in enumerate(where) if w is flag]
        t_ms = median_ms([times[i] for i in picked])
        size = statistics.median(sizes[i] for i in picked)
        n = statistics.median(counts[i] for i in picked)
        print(f"  table.refresh(), {label:12}: {t_ms:8.3f} ms  {size:10,.0f} B  {n:.0f} messages "
              f"(n={len(picked)}); naive / ours: {naive_t / t_ms:,.0f}x time, {naive_b / size:,.0f}x bytes")
    print(f"  naive full re-render:         {naive_t:8.3f} ms  {naive_b:10,.0f} B  1 message")
    print(f"  burst of {len(queued):,} cancels: {burst[1]} renders, {burst[2]} messages, {burst[3]:,} B "
          f"(throttle 0.2 s, {burst[0]:.2f} s wall)")


class FakeMonitor:
    """The Monitor's reading API with synthetic samples: sizes and timings without psutil noise."""

    def __init__(self, n_jobs: int) -> None:
        self.pool, self.n_jobs = None, n_jobs
        self.system: list[SimpleNamespace] = []
        self.jobs: dict[int, list[SimpleNamespace]] = {j: [] for j in range(1, n_jobs + 1)}
        self._latest: SimpleNamespace | None = None
        self._rng = np.random.default_rng(0)

    def add(self, t: float) -> None:
        r = self._rng.random(2 + self.n_jobs)
        system = SimpleNamespace(time=t, cpu_percent=100 * r[0], per_cpu=(), memory_used=2**31 * (1 + r[1]))
        jobs = {j: SimpleNamespace(time=t, cpu_percent=100 * r[1 + j], rss=2**27 * (1 + r[1 + j]), name=f"j{j}")
                for j in self.jobs}
        for j, s in jobs.items():
            self.jobs[j].append(s)
            del self.jobs[j][:-600]
        self.system.append(system)
        del self.system[:-600]
        self._latest = SimpleNamespace(time=t, system=system, jobs=jobs, index=len(self.system))

    def latest(self) -> SimpleNamespace | None:
        return self._latest

    def system_history(self) -> list[SimpleNamespace]:
        return list(self.system)

    def job_history(self, job_id: int) -> list[SimpleNamespace]:
        return list(self.jobs.get(job_id, []))


def bench_chart(repeat: int) -> None:
    mon = FakeMonitor(n_jobs=4)  # CPU total + memory + 4 jobs x (CPU, RSS) = 10 traces
    t0 = time.time() - 400
    for i in range(400):
        mon.add(t0 + i)
    chart = ResourceChart(mon, interval=3600, window=299.5, per_core=False, max_jobs=4)
    fig = chart.figure
    assert len(fig.data) == 10
    clock = [t0 + 400]

    def tick() -> None:
        mon.add(clock[0])
        clock[0] += 1

    def measure(draw: Callable[[], Any]) -> tuple[float, float, float]:
        times, sizes, counts = [], [], []
        with Meter() as meter:
            for _ in range(repeat):
                tick()
                meter.reset()
                t = time.perf_counter()
                draw()
                times.append(time.perf_counter() - t)
                sizes.append(meter.bytes)
                counts.append(meter.messages)
        return median_ms(times), statistics.median(sizes), statistics.median(counts)

    def windowed() -> list[tuple[np.ndarray, np.ndarray]]:
        hist = mon.system_history()[-300:]
        x = np.array([s.time for s in hist]) * 1000.0
        return [(x, np.array([s.cpu_percent for s in hist]))] * 10

    def batch_numpy() -> None:
        arrays = windowed()
        with fig.batch_update():
            for trace, (x, y) in zip(fig.data, arrays):
                trace.x, trace.y = x, y

    def batch_lists() -> None:
        arrays = windowed()
        with fig.batch_update():
            for trace, (x, y) in zip(fig.data, arrays):
                trace.x, trace.y = x.tolist(), y.tolist()

    ours = measure(chart.refresh)
    with Meter() as meter:
        t = time.perf_counter()
        sent = chart.refresh()
        idle = (median_ms([time.perf_counter() - t]), meter.bytes, meter.messages, sent)
    numpy_batch = measure(batch_numpy)
    list_batch = measure(batch_lists)
    delta = len(json.dumps({"x": [[clock[0] * 1000.0]] * 10, "y": [[12.5]] * 10, "indices": list(range(10))}))
    chart.close()
    print(f"\nResource chart, 10 traces x 300 points, one refresh (median of {repeat}):")
    print(f"  chart.refresh() (one Plotly.update):   {ours[0]:7.3f} ms  {ours[1]:8,.0f} B  {ours[2]:.0f} messages")
    print(f"  batch_update, numpy float64 arrays:    {numpy_batch[0]:7.3f} ms  {numpy_batch[1]:8,.0f} B  "
          f"{numpy_batch[2]:.0f} messages")
    print(f"  batch_update, Python lists:            {list_batch[0]:7.3f} ms  {list_batch[1]:8,.0f} B  "
          f"{list_batch[2]:.0f} messages")
    print(f"  nothing new (refresh returned {idle[3]}):  {idle[0]:7.3f} ms  {idle[1]:8,.0f} B  {idle[2]} messages")
    print(f"  ratios: lists / ours {list_batch[0] / ours[0]:.1f}x time, {list_batch[1] / ours[1]:.2f}x bytes; "
          f"numpy batch_update / ours {numpy_batch[0] / ours[0]:.1f}x time")
    print(f"  extendTraces-style delta (not sendable to a FigureWidget): ~{delta} B, "
          f"{ours[1] / delta:.0f}x less than a refresh")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--jobs", type=int, default=10_000)
    parser.add_argument("--repeat", type=int, default=30)
    args = parser.parse_args()
    bench_table(args.jobs, args.repeat)
    bench_chart(args.repeat)


if __name__ == "__main__":
    main()
