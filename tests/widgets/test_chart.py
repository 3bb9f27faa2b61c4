"""ResourceChart against a real Monitor: points appear, one refresh is one update message, none when unchanged."""

from __future__ import annotations

import time
from types import SimpleNamespace

import numpy as np
import pytest
from widget_helpers import cmd, wait_for

import procwidgets as pw
from procwidgets.core.monitor import Monitor
from procwidgets.widgets import ResourceChart

BUSY = "import time\nt = time.time()\nwhile time.time() - t < 30: pass"


@pytest.fixture
def monitor(pool: pw.ProcessPool):
    mon = Monitor(pool, interval=0.05, window=30)
    try:
        yield mon
    finally:
        mon.stop()


def updates(spy, fig) -> list[dict]:
    """The Plotly.update payloads sent to `fig` (what one batch_update sends)."""
    return [m["state"]["_py2js_update"] for m in spy.to(fig) if m["state"].get("_py2js_update")]


def test_charts_have_points_after_the_monitor_samples(pool: pw.ProcessPool, monitor: Monitor, closer) -> None:
    chart = closer(ResourceChart(monitor, interval=0.05))
    job = pool.submit(cmd(BUSY), name="busy-job")
    fig = chart.figure
    wait_for(lambda: len(fig.data[0].x) >= 5, what="machine CPU points")
    n = chart._n_system
    wait_for(lambda: fig.data[n].visible is True and len(fig.data[n].x) >= 3, what="the job's CPU line")
    assert fig.data[n].name == f"#{job.id} busy-job" and fig.data[n + 1].name == fig.data[n].name
    wait_for(lambda: max(fig.data[n].y) > 20, what="the busy loop to show up as CPU")
    assert max(fig.data[n + 1].y) > 1  # RSS in MiB (a first sample may catch the process before exec)
    assert fig.data[n].x[-1] > fig.data[n].x[0]
    job.cancel()
    job.wait(10)


def test_one_refresh_is_one_update_message_and_nothing_when_unchanged(
        pool: pw.ProcessPool, monitor: Monitor, closer, spy) -> None:
    job = pool.submit(cmd(BUSY))
    wait_for(lambda: len(monitor.job_history(job.id)) >= 3, what="job samples")
    chart = closer(ResourceChart(monitor, interval=3600))  # its own refresher stays out of the way
    monitor.next_sample(timeout=5)
    monitor.stop()  # no new sample can arrive: the test controls what changed
    spy.clear()
    assert chart.refresh() is True
    fig_messages = spy.to(chart.figure)
    assert len(updates(spy, chart.figure)) == 1
    # The only other messages are plotly's edit-id bookkeeping and the reset of the update slot.
    others = [m["state"] for m in fig_messages if "_py2js_update" not in m["state"]]
    assert all(set(s) <= {"_last_trace_edit_id", "_last_layout_edit_id"} for s in others), others
    assert len(fig_messages) == 4
    assert all(w is chart.figure for w in spy.widgets())
    payload = updates(spy, chart.figure)[0]["style_data"]
    assert len(payload["x"]) == chart._n_system + 2  # the machine's lines and the one job's pair
    spy.clear()
    assert chart.refresh() is False
    assert len(spy) == 0
    job.cancel()
    job.wait(10)


class FakeMonitor:
    """The Monitor's reading API with hand-made samples: exact sizes for the payload test."""

    def __init__(self) -> None:
        self.system: list[SimpleNamespace] = []
        self.jobs: dict[int, list[SimpleNamespace]] = {}
        self.pool = None
        self._latest: SimpleNamespace | None = None

    def add(self, t: float, job_ids: range) -> None:
        system = SimpleNamespace(time=t, cpu_percent=t % 100, per_cpu=(40.0, 60.0), memory_used=2**31, swap_used=0)
        jobs = {j: SimpleNamespace(time=t, cpu_percent=t % 100 + j, rss=2**24 + t % 100, name=f"j{j}") for j in job_ids}
        for j, s in jobs.items():
            self.jobs.setdefault(j, []).append(s)
        self.system.append(system)
        self._latest = SimpleNamespace(time=t, system=system, jobs=jobs, index=len(self.system) - 1)

    def latest(self) -> SimpleNamespace | None:
        return self._latest

    def system_history(self) -> list[SimpleNamespace]:
        return self.system[-600:]

    def job_history(self, job_id: int) -> list[SimpleNamespace]:
        return self.jobs.get(job_id, [])


def test_ten_traces_of_300_points_go_as_binary_buffers_within_50_kb(closer, spy) -> None:
    mon = FakeMonitor()
    t0 = time.time() - 400
    for i in range(400):
        mon.add(t0 + i, range(1, 5))
    chart = closer(ResourceChart(mon, interval=3600, window=299.5, per_core=False, max_jobs=4))
    assert chart._n_system + 2 * 4 == 10
    mon.add(t0 + 400, range(1, 5))
    spy.clear()
    assert chart.refresh()
    [i] = [i for i, m in enumerate(spy.messages) if m[1]["state"].get("_py2js_update")]
    payload, buffers = spy.messages[i][1]["state"]["_py2js_update"]["style_data"], spy.buffers[i]
    assert len(payload["x"]) == len(payload["y"]) == 10
    assert all(len(chart.figure.data[i].x) == 300 for i in range(10))
    # x and y of 10 traces: 20 binary buffers, not JSON lists: x as float64 (epoch ms), y as float32.
    assert len(buffers) == 20 and sorted(b.nbytes for b in buffers) == [300 * 4] * 10 + [300 * 8] * 10
    total = sum(size for _, _, size in spy.messages)
    data = sum(b.nbytes for b in buffers)
    assert data == 36_000 and total - data < 2_500, total  # the rest is JSON framing
    assert total <= 50_000
    shown = chart.figure.data[2]
    assert shown.name == "#4 j4"  # the first job slot goes to the busiest job
    assert shown.y[-1] == pytest.approx(mon.jobs[4][-1].cpu_percent, rel=1e-6) and isinstance(shown.y, np.ndarray)


def test_close_stops_refreshing_and_sends_nothing(pool: pw.ProcessPool, monitor: Monitor, spy) -> None:
    chart = ResourceChart(monitor, interval=0.02)
    wait_for(lambda: chart._refresher.runs >= 2, what="the chart to refresh on its own")
    chart.close()
    assert not chart._refresher.alive
    spy.clear()
    monitor.next_sample(timeout=5)
    monitor.next_sample(timeout=5)
    assert len(spy) == 0 and chart.refresh() is False
