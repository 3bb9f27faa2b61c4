"""Dispatch throughput and start latency of `ProcessPool`, each against a raw asyncio baseline.

Throughput: N `/bin/true` jobs at max_workers 2 and 8 through `ProcessPool` (output captured, as
users get it) against `asyncio.create_subprocess_exec` + `asyncio.Semaphore` with stdout and
stderr piped and read to EOF. Pool and baseline runs are interleaved (the order alternates each
round) and every figure is the median over the rounds; the ratio is the median of the per-round
ratios pool / baseline. Target: >= 0.9x. The pool runs with its default durable store (SQLite
history, a log file per job) in a fresh temporary directory, so no run reads or grows a shared
history; a second pool row with `store=None` (memory only) shows what the store costs. The
`asyncio+pidfd` rows use `PidfdChildWatcher` (Python < 3.12 only; later versions use it by
default): a stricter baseline, for information.

Start latency: single submissions to an idle pool, from just before `submit()` is called to the
moment a subscriber sees the job's RUNNING event (`time.perf_counter()` on both sides). The
baseline does the same hop by hand: post to an asyncio loop in another thread, spawn there with
`create_subprocess_exec`, stamp when the process object exists. Samples alternate between the
two. Target: p50 < 5 ms, p99 < 20 ms.

    .venv/bin/python bench/dispatch.py            # 2,000 jobs x 5 rounds, 300 latency samples
    .venv/bin/python bench/dispatch.py --quick    # 300 jobs x 3 rounds, 100 latency samples
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import gc
import os
import statistics
import sys
import tempfile
import threading
import time
from collections.abc import Iterator

from procwidgets.core.events import JobEvent
from procwidgets.core.job import JobState
from procwidgets.core.pool import ProcessPool

TRUE = "/bin/true"
WORKERS = (2, 8)


# -- throughput -------------------------------------------------------------------------------

@contextlib.contextmanager
def fresh_pool(workers: int, durable: bool) -> Iterator[ProcessPool]:
    """A new pool; durable=True gives it the default durable store (job history in SQLite, a log
    file per job), but in a fresh temporary directory, so runs neither read nor grow a shared
    history; durable=False is store=None (memory only). Shut down and cleaned up afterwards."""
    with tempfile.TemporaryDirectory(prefix="procwidgets-bench-") as tmp:
        pool = ProcessPool(max_workers=workers, store=os.path.join(tmp, "store") if durable else None)
        try:
            yield pool
        finally:
            pool.shutdown()


def pool_throughput(n: int, workers: int, durable: bool = True) -> float:
    """Jobs/s for n /bin/true jobs through a fresh pool (pool start-up not timed)."""
    with fresh_pool(workers, durable) as pool:
        t0 = time.perf_counter()
        jobs = [pool.submit([TRUE]) for _ in range(n)]
        pool.wait()
        elapsed = time.perf_counter() - t0
        bad = [j for j in jobs if j.state is not JobState.SUCCEEDED]
        if bad:
            raise RuntimeError(f"{len(bad)} jobs did not succeed, first {bad[0]!r}: {bad[0].error}")
        return n / elapsed


def asyncio_throughput(n: int, workers: int, pidfd: bool = False) -> float:
    """Jobs/s for the raw asyncio baseline: create_subprocess_exec + Semaphore, pipes read to EOF.

    pidfd=True swaps Python < 3.12's default child watcher (a thread per child) for
    `PidfdChildWatcher`, which 3.12+ uses by default: a stricter baseline, for information.
    """

    async def main() -> float:
        if pidfd:
            watcher = asyncio.PidfdChildWatcher()
            watcher.attach_loop(asyncio.get_running_loop())
            asyncio.set_child_watcher(watcher)
        sem = asyncio.Semaphore(workers)

        async def one() -> int:
            async with sem:
                proc = await asyncio.create_subprocess_exec(
                    TRUE, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE)
                await proc.communicate()  # reads both pipes to EOF, then waits for the exit
                return proc.returncode

        t0 = time.perf_counter()
        codes = await asyncio.gather(*(one() for _ in range(n)))
        elapsed = time.perf_counter() - t0
        if any(codes):
            raise RuntimeError(f"{sum(1 for c in codes if c)} baseline processes failed")
        return n / elapsed

    try:
        return asyncio.run(main())
    finally:
        if pidfd:
            asyncio.set_child_watcher(None)  # back to the default for the next run


PIDFD_BASELINE = sys.version_info < (3, 12) and hasattr(asyncio, "PidfdChildWatcher")


def throughput(n: int, rounds: int) -> list[tuple[int, str, str, float, float, float]]:
    """Per worker count, pool kind and baseline: (workers, pool kind, baseline, median pool jobs/s,
    median baseline jobs/s, median per-round ratio pool / baseline)."""
    runners = {"pool": lambda w: pool_throughput(n, w), "asyncio": lambda w: asyncio_throughput(n, w)}
    if PIDFD_BASELINE:
        runners["asyncio+pidfd"] = lambda w: asyncio_throughput(n, w, pidfd=True)
    runners["pool store=None"] = lambda w: pool_throughput(n, w, durable=False)
    rates: dict[tuple[int, str], list[float]] = {(w, k): [] for w in WORKERS for k in runners}
    for r in range(rounds):
        for w in WORKERS:
            order = list(runners)
            k = r % len(order)  # rotate who goes first, so drifts in machine load hit each in turn
            for name in order[k:] + order[:k]:
                gc.collect()
                rates[w, name].append(runners[name](w))
            line = "  ".join(f"{name} {rates[w, name][-1]:6.0f}/s" for name in runners)
            print(f"  round {r + 1}/{rounds} workers={w}: {line}", file=sys.stderr)
    med = statistics.median
    rows = []
    for w in WORKERS:
        for pool_name in ("pool", "pool store=None"):
            for base in ("asyncio", "asyncio+pidfd"):
                if base not in runners:
                    continue
                ratio = med([p / b for p, b in zip(rates[w, pool_name], rates[w, base], strict=True)])
                rows.append((w, pool_name, base, med(rates[w, pool_name]), med(rates[w, base]), ratio))
    return rows


# -- start latency ----------------------------------------------------------------------------

class _LoopThread:
    """A bare asyncio loop in a daemon thread: the baseline for the pool's engine hop."""

    def __init__(self) -> None:
        self.loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self) -> None:
        asyncio.set_event_loop(self.loop)
        self.loop.run_forever()

    def close(self) -> None:
        self.loop.call_soon_threadsafe(self.loop.stop)
        self._thread.join(10)
        self.loop.close()


def _baseline_start(lt: _LoopThread) -> float:
    """Seconds from posting a spawn to another thread's loop until the process object exists."""
    started: list[float] = []

    async def spawn_and_reap() -> None:
        proc = await asyncio.create_subprocess_exec(TRUE, stdout=asyncio.subprocess.PIPE,
                                                    stderr=asyncio.subprocess.PIPE)
        started.append(time.perf_counter())
        await proc.communicate()

    t0 = time.perf_counter()
    asyncio.run_coroutine_threadsafe(spawn_and_reap(), lt.loop).result(30)
    return started[0] - t0


def latency(samples: int) -> tuple[list[float], list[float], list[float]]:
    """Per-sample seconds: pool submit -> RUNNING (subscriber), the same from job.history, and baseline."""
    stack = contextlib.ExitStack()
    pool = stack.enter_context(fresh_pool(2, durable=True))
    lt = _LoopThread()
    running_at: dict[int, float] = {}

    def on_event(ev: object) -> None:
        if isinstance(ev, JobEvent) and ev.kind == "state" and ev.new is JobState.RUNNING:
            running_at[ev.job.id] = time.perf_counter()

    pool.subscribe(on_event)
    via_sub: list[float] = []
    via_hist: list[float] = []
    base: list[float] = []
    try:
        for _ in range(5):  # first spawns pay for imports and page faults
            pool.submit([TRUE]).wait()
            _baseline_start(lt)
        for i in range(samples):
            for which in ((0, 1) if i % 2 == 0 else (1, 0)):
                if which == 0:
                    t0 = time.perf_counter()
                    job = pool.submit([TRUE])
                    job.wait()
                    via_sub.append(running_at[job.id] - t0)
                    t_run = next(t for t, s, _ in job.history if s is JobState.RUNNING)
                    via_hist.append(t_run - job.submitted_at)
                else:
                    base.append(_baseline_start(lt))
    finally:
        stack.close()
        lt.close()
    return via_sub, via_hist, base


def pct(xs: list[float], q: float) -> float:
    """The q-quantile (0..1), nearest rank."""
    s = sorted(xs)
    return s[min(len(s) - 1, max(0, round(q * len(s) + 0.5) - 1))]


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="a smaller run (300 jobs, 3 rounds, 100 samples)")
    ap.add_argument("--jobs", type=int, help="jobs per throughput run (default 2000, quick 300)")
    ap.add_argument("--rounds", type=int, help="interleaved rounds per worker count (default 5, quick 3)")
    ap.add_argument("--samples", type=int, help="latency samples of each kind (default 300, quick 100)")
    args = ap.parse_args()
    load_before = f"{os.getloadavg()[0]:.2f}"
    n = args.jobs or (300 if args.quick else 2000)
    rounds = args.rounds or (3 if args.quick else 5)
    samples = args.samples or (100 if args.quick else 300)

    print(f"Python {sys.version.split()[0]}, {n} x {TRUE} per run, {rounds} interleaved rounds "
          f"(medians), {samples} latency samples", file=sys.stderr)
    rows = throughput(n, rounds)
    via_sub, via_hist, base = latency(samples)

    print()
    print(f"{'throughput':<16}{'pool':<17}{'baseline':<15}{'pool jobs/s':>12}{'base jobs/s':>12}{'ratio':>8}"
          f"  target >= 0.90 (default pool vs asyncio)")
    for w, pool_name, base_name, p, b, ratio in rows:
        headline = pool_name == "pool" and base_name == "asyncio"
        verdict = ("ok" if ratio >= 0.9 else "MISSED") if headline else "(information)"
        label = "default store" if pool_name == "pool" else "store=None"
        print(f"{'max_workers=' + str(w):<16}{label:<17}{base_name:<15}{p:>12.0f}{b:>12.0f}{ratio:>8.2f}  {verdict}")
    print()
    print(f"{'start latency (idle pool)':<28}{'p50 ms':>12}{'p99 ms':>16}")
    ms = 1000.0
    lat_rows = [
        ("pool submit->RUNNING (sub)", via_sub),
        ("pool, from job.history", via_hist),
        ("asyncio hop + spawn", base),
    ]
    for label, xs in lat_rows:
        print(f"{label:<28}{pct(xs, 0.5) * ms:>12.2f}{pct(xs, 0.99) * ms:>16.2f}")
    p50, p99 = pct(via_sub, 0.5), pct(via_sub, 0.99)
    print(f"{'ratio pool / asyncio':<28}{p50 / pct(base, 0.5):>12.2f}{p99 / pct(base, 0.99):>16.2f}")
    print(f"target p50 < 5 ms: {'ok' if p50 < 0.005 else 'MISSED'}; p99 < 20 ms: {'ok' if p99 < 0.020 else 'MISSED'}")
    print(f"load average before/after: {load_before} / {os.getloadavg()[0]:.2f} on {os.cpu_count()} CPUs "
          "(a busy machine lowers every figure; the ratios are what compares)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
