"""Load: 10,000 jobs queued at once, and 100 jobs printing 10 MB each at the same time.

Figures are printed, not asserted (targets are shown beside them).

1. Queue: a memory-only pool with max_workers=8 is paused, 10,000 `true` jobs are submitted
   (timed: target < 1 s), the owner's RSS growth is read (engine memory per 1,000 queued jobs),
   then the pool is resumed and every job must finish SUCCEEDED. The owner's RSS is sampled every
   20 ms throughout; its peak is reported against the baseline taken before the pool existed.
2. Flood: a pool with a store runs 100 jobs at once (max_workers=100), each printing 10 MB of
   numbered lines. Every job's log is read back with `read_log` and its lines counted and checked
   in order (no line lost, none duplicated); the owner's RSS is sampled throughout ("flat": its
   peak growth stays far below the output's size, which only goes to disk).

    .venv/bin/python bench/load.py            # 10,000 jobs; 100 x 10 MB
    .venv/bin/python bench/load.py --quick    # 2,000 jobs; 20 x 2 MB
"""

from __future__ import annotations

import argparse
import gc
import os
import shutil
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager

import psutil

from procwidgets.core.job import JobState
from procwidgets.core.logfile import read_log
from procwidgets.core.pool import ProcessPool

TRUE = shutil.which("true") or "/bin/true"
LINE_BYTES = 100  # "%09d " + payload + "\n"
PRINTER = (
    "import sys\n"
    "n = int(sys.argv[1])\n"
    "pad = 'x' * (int(sys.argv[2]) - 11)\n"
    "out = sys.stdout.buffer\n"
    "for start in range(0, n, 1000):\n"
    "    out.write(''.join(f'{i:09d} {pad}\\n' for i in range(start, min(n, start + 1000))).encode())\n"
)

ME = psutil.Process()
MB = 1024 * 1024


class RssSampler:
    """Samples this process's RSS every `interval` s in a thread; `peak` is the largest seen."""

    def __init__(self, interval: float = 0.02) -> None:
        self.interval = interval
        self.peak = ME.memory_info().rss
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        while not self._stop.wait(self.interval):
            self.peak = max(self.peak, ME.memory_info().rss)

    def __enter__(self) -> RssSampler:
        self._thread.start()
        return self

    def __exit__(self, *_: object) -> None:
        self._stop.set()
        self._thread.join()
        self.peak = max(self.peak, ME.memory_info().rss)


def rss() -> int:
    gc.collect()
    return ME.memory_info().rss


@contextmanager
def scratch_dir() -> Iterator[str]:
    path = tempfile.mkdtemp(prefix="procwidgets-load-")
    try:
        yield path
    finally:
        shutil.rmtree(path, ignore_errors=True)


def queue_load(n: int, workers: int) -> dict[str, float]:
    base = rss()
    with RssSampler() as sampler:
        pool = ProcessPool(max_workers=workers, store=None)
        try:
            pool.pause()
            empty = rss()
            t0 = time.perf_counter()
            jobs = [pool.submit([TRUE]) for _ in range(n)]
            submit_s = time.perf_counter() - t0
            queued = rss()
            t1 = time.perf_counter()
            pool.resume()
            pool.wait(timeout=max(600.0, n / 5))
            run_s = time.perf_counter() - t1
            finished = rss()
        finally:
            pool.shutdown()
    succeeded = sum(j.state is JobState.SUCCEEDED for j in jobs)
    return {"n": n, "workers": workers, "submit_s": submit_s, "run_s": run_s, "succeeded": succeeded,
            "base_mb": base / MB, "empty_pool_mb": (empty - base) / MB,
            "per_1000_queued_mb": (queued - empty) / MB / (n / 1000), "peak_mb": (sampler.peak - base) / MB,
            "after_mb": (finished - base) / MB}


def submit_while_running(n: int, workers: int) -> tuple[float, float, int]:
    """(seconds to submit n jobs into a running pool, seconds until all finished, how many SUCCEEDED)."""
    pool = ProcessPool(max_workers=workers, store=None)
    try:
        t0 = time.perf_counter()
        jobs = [pool.submit([TRUE]) for _ in range(n)]
        submit_s = time.perf_counter() - t0
        pool.wait(timeout=max(600.0, n / 5))
        total_s = time.perf_counter() - t0
    finally:
        pool.shutdown()
    return submit_s, total_s, sum(j.state is JobState.SUCCEEDED for j in jobs)


def flood_load(jobs_n: int, mb_each: float) -> dict[str, float]:
    lines_each = int(mb_each * MB) // LINE_BYTES
    with scratch_dir() as store:
        base = rss()
        with RssSampler() as sampler:
            pool = ProcessPool(max_workers=jobs_n, store=store, tail_lines=100)
            try:
                t0 = time.perf_counter()
                argv = [sys.executable, "-c", PRINTER, str(lines_each), str(LINE_BYTES)]
                jobs = [pool.submit(argv, name=f"flood {i}") for i in range(jobs_n)]
                pool.wait(timeout=1800)
                run_s = time.perf_counter() - t0
            finally:
                pool.shutdown()
        after = rss()
        lost = duplicated = disordered = 0
        log_bytes = 0
        pad = "x" * (LINE_BYTES - 11)
        for job in jobs:
            expected = 0
            for stream, text in read_log(job.log_path):
                number, _, rest = text.partition(" ")
                if stream != "stdout" or rest != pad or int(number) != expected:
                    if int(number) < expected:
                        duplicated += 1
                    else:
                        disordered += 1
                    expected = max(expected, int(number) + 1)
                    continue
                expected += 1
            lost += lines_each - expected
            log_bytes += os.path.getsize(job.log_path)
        states = {s.name: sum(j.state is s for j in jobs) for s in JobState if any(j.state is s for j in jobs)}
        seen = sum(j.output_seq for j in jobs)
    return {"jobs": jobs_n, "mb_each": mb_each, "lines_each": lines_each, "run_s": run_s, "states": states,
            "lines_read": seen, "lines_expected": lines_each * jobs_n, "lost": lost, "duplicated": duplicated,
            "disordered": disordered, "log_mb": log_bytes / MB, "base_mb": base / MB,
            "peak_mb": (sampler.peak - base) / MB, "after_mb": (after - base) / MB}


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="2,000 queued jobs; 20 jobs x 2 MB")
    ap.add_argument("--skip-flood", action="store_true", help="run the queue part only")
    args = ap.parse_args()
    n, flood_jobs, flood_mb = (2000, 20, 2.0) if args.quick else (10_000, 100, 10.0)
    print(f"Python {sys.version.split()[0]}, {os.cpu_count()} CPUs, load average {os.getloadavg()[0]:.2f}")

    q = queue_load(n, 8)
    print(f"\nqueue: {q['n']:,} x {TRUE}, max_workers={q['workers']}, memory-only pool")
    print(f"  submit {q['n']:,} jobs (pool paused):   {q['submit_s']:.3f} s "
          f"({q['n'] / q['submit_s']:,.0f}/s)   target < 1 s for 10,000: "
          f"{'ok' if q['submit_s'] * 10_000 / q['n'] < 1 else 'MISSED'}")
    print(f"  run them all:                       {q['run_s']:.1f} s ({q['n'] / q['run_s']:,.0f} jobs/s)")
    print(f"  finished SUCCEEDED:                 {q['succeeded']:,} / {q['n']:,}")
    print(f"  owner RSS at start:                 {q['base_mb']:.1f} MB")
    print(f"  empty pool (engine + watchdog pipe): +{q['empty_pool_mb']:.2f} MB")
    print(f"  per 1,000 queued jobs:              +{q['per_1000_queued_mb']:.2f} MB")
    print(f"  peak during the run:                +{q['peak_mb']:.1f} MB over the start")
    print(f"  after shutdown:                     +{q['after_mb']:.1f} MB (jobs are still referenced)")
    live_submit, live_total, live_ok = submit_while_running(n, 8)
    print(f"  submit {n:,} into a running pool:  {live_submit:.3f} s (all {live_ok:,} SUCCEEDED "
          f"after {live_total:.1f} s)")

    if args.skip_flood:
        return 0 if q["succeeded"] == q["n"] == live_ok else 1
    f = flood_load(flood_jobs, flood_mb)
    total_mb = f["jobs"] * f["mb_each"]
    print(f"\nflood: {f['jobs']} jobs at once, each printing {f['mb_each']:g} MB "
          f"({f['lines_each']:,} lines of {LINE_BYTES} bytes), store on local disk")
    print(f"  wall time:                          {f['run_s']:.1f} s ({total_mb / f['run_s']:.0f} MB/s of output)")
    print(f"  states:                             {f['states']}")
    print(f"  lines read by the pool:             {f['lines_read']:,} / {f['lines_expected']:,}")
    print(f"  lines in the logs (read_log):       lost {f['lost']:,}, duplicated {f['duplicated']:,}, "
          f"out of order {f['disordered']:,}  ({f['log_mb']:.0f} MB of logs)")
    print(f"  owner RSS at start:                 {f['base_mb']:.1f} MB")
    print(f"  owner peak growth:                  +{f['peak_mb']:.1f} MB while {total_mb:.0f} MB went through "
          f"({100 * f['peak_mb'] / total_mb:.1f} % of the output)")
    print(f"  owner after:                        +{f['after_mb']:.1f} MB")
    ok = q["succeeded"] == q["n"] == live_ok and f["lost"] == f["duplicated"] == f["disordered"] == 0
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
