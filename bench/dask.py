"""Per-job overhead of `ProcessPool(backend=DaskBackend(client))` against raw Dask, on one cluster.

Both sides run N `/bin/true` jobs on the same `LocalCluster` (2 worker processes, 1 thread each)
in the same run, and capture the output, as users get it:

* **pool**: `pool.submit(["/bin/true"])` N times, `pool.wait()`, with `max_workers` = the
  cluster's 2 threads. Jobs this short are handed ahead into busy slots (pipelining: see
  `procwidgets/backends/dask.py`); the pool streams output back.
* **pool, no pipelining**: `DaskBackend(client, pipeline_below=0)`: a job goes to Dask only when
  a slot is free, one scheduler round trip per job.
* **raw**: `client.submit(subprocess.run, ["/bin/true"], capture_output=True, pure=False)` N
  times, `client.gather(...)`: Dask alone, which may queue tasks on workers ahead of time.
* **raw gated**: raw Dask used with the pool's policy: at most `max_workers` tasks handed to Dask,
  the next submitted when one ends (what keeps priorities exact and the limit true).
* **raw window 8**: raw Dask with 8 tasks in flight, for scale: what windowed submission costs
  Dask itself on this machine.

Per-job cost = wall time / N. Rounds alternate which side goes first; every figure is the median
over the rounds and the ratio is the median of the per-round ratios pool / raw. Target: <= 1.5x.
The owner process's CPU time per job (client, and LocalCluster's in-process scheduler, and for the
pool its engine) is printed too: it is the pool's own cost, apart from the waits gating adds.
Then the latency of one job at a time (submit, wait for the end) on an idle cluster, where the
pool's extra hops (events to the engine thread) show unamortised; and what one monitor tick costs
on a Dask pool (`backend.sample_remote`: every worker read through one `client.run`, 2 jobs running).

    .venv/bin/python bench/dask.py            # 400 jobs x 5 rounds, 50 single-job samples
    .venv/bin/python bench/dask.py --quick    # 100 jobs x 3 rounds, 20 single-job samples
"""

from __future__ import annotations

import argparse
import os
import resource
import statistics
import subprocess
import sys
import time

# Run as a script, this file's directory comes first on sys.path, and this file is named like
# the `dask` package that distributed imports: drop the directory so `import dask` finds Dask.
if sys.path and os.path.abspath(sys.path[0] or ".") == os.path.dirname(os.path.abspath(__file__)):
    del sys.path[0]

from distributed import Client, LocalCluster, as_completed  # noqa: E402

from procwidgets.backends.dask import DaskBackend  # noqa: E402
from procwidgets.core.job import JobState  # noqa: E402
from procwidgets.core.pool import ProcessPool  # noqa: E402

TRUE = ["/bin/true"]
IDLE = 0.05
"""Pause before each single-job sample, so each finds the client's 10 ms send batch idle (the
previous sample's release of its key would otherwise hold the next submit back a whole batch)."""


def pool_run(pool: ProcessPool, n: int) -> float:
    """Seconds per job for n jobs through the pool."""
    t0 = time.perf_counter()
    jobs = [pool.submit(TRUE) for _ in range(n)]
    pool.wait()
    elapsed = time.perf_counter() - t0
    bad = [j for j in jobs if j.state is not JobState.SUCCEEDED]
    if bad:
        raise RuntimeError(f"{len(bad)} pool jobs did not succeed, first {bad[0]!r}: {bad[0].error}")
    return elapsed / n


def raw_run(client: Client, n: int) -> float:
    """Seconds per job for n `subprocess.run` tasks submitted straight to Dask."""
    t0 = time.perf_counter()
    futures = [client.submit(subprocess.run, TRUE, capture_output=True, pure=False) for _ in range(n)]
    results = client.gather(futures)
    elapsed = time.perf_counter() - t0
    bad = [r for r in results if r.returncode != 0]
    if bad:
        raise RuntimeError(f"{len(bad)} raw tasks failed, first {bad[0]!r}")
    del futures, results
    return elapsed / n


def raw_gated_run(client: Client, n: int, slots: int) -> float:
    """Seconds per job for raw Dask used with the pool's policy: at most `slots` tasks handed to
    Dask at a time, the next one submitted when one ends (what keeps order and limits ours)."""
    t0 = time.perf_counter()
    pending = as_completed()
    submitted = 0
    for _ in range(min(slots, n)):
        pending.add(client.submit(subprocess.run, TRUE, capture_output=True, pure=False))
        submitted += 1
    for future in pending:
        if future.result().returncode != 0:
            raise RuntimeError(f"a raw task failed: {future.result()!r}")
        if submitted < n:
            pending.add(client.submit(subprocess.run, TRUE, capture_output=True, pure=False))
            submitted += 1
    return (time.perf_counter() - t0) / n


def owner_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def monitor_tick_cost(pool: ProcessPool, samples: int) -> tuple[list[float], float]:
    """Wall seconds of each remote reading a Monitor takes per tick, and owner CPU seconds per reading."""
    sleepers = [pool.submit(["sleep", "60"]) for _ in range(2)]
    deadline = time.monotonic() + 30
    while any(j.worker is None for j in sleepers) and time.monotonic() < deadline:
        time.sleep(0.01)  # a bounded wait until both run on a worker
    pool.backend.sample_remote(time.time(), 5.0)  # the first reading starts the workers' CPU intervals
    walls, before = [], owner_cpu()
    for _ in range(samples):
        t0 = time.perf_counter()
        reading = pool.backend.sample_remote(time.time(), 5.0)
        walls.append(time.perf_counter() - t0)
    cpu = (owner_cpu() - before) / samples
    if len(reading.jobs) != 2:
        raise RuntimeError(f"the remote reading saw {len(reading.jobs)} of 2 running jobs")
    for job in sleepers:
        job.cancel()
    pool.wait()
    return walls, cpu


def single_latency(pool: ProcessPool, client: Client, samples: int) -> tuple[list[float], list[float]]:
    """Seconds from submit to the end of one job on an idle cluster, alternating pool and raw."""
    pool_s, raw_s = [], []
    for _ in range(samples):
        time.sleep(IDLE)
        t0 = time.perf_counter()
        job = pool.submit(TRUE)
        if job.wait(60) is not JobState.SUCCEEDED:
            raise RuntimeError(f"{job!r}: {job.error}")
        pool_s.append(time.perf_counter() - t0)
        time.sleep(IDLE)
        t0 = time.perf_counter()
        client.submit(subprocess.run, TRUE, capture_output=True, pure=False).result()
        raw_s.append(time.perf_counter() - t0)
    return pool_s, raw_s


def ms(seconds: float) -> str:
    return f"{seconds * 1000:.2f} ms"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="fewer jobs and rounds")
    args = parser.parse_args()
    n, rounds, samples = (100, 3, 20) if args.quick else (400, 5, 50)
    with LocalCluster(n_workers=2, threads_per_worker=1, processes=True, host="127.0.0.1",
                      dashboard_address="127.0.0.1:0") as cluster, Client(cluster) as client:
        pool = ProcessPool(backend=DaskBackend(client), store=None)
        gated_pool = ProcessPool(backend=DaskBackend(client, pipeline_below=0), store=None)
        try:
            pool_run(pool, 20)  # warm up every path: imports on the workers, connections
            pool_run(gated_pool, 20)
            raw_run(client, 20)
            runs = {"pool": lambda: pool_run(pool, n), "unpiped": lambda: pool_run(gated_pool, n),
                    "raw": lambda: raw_run(client, n), "gated": lambda: raw_gated_run(client, n, pool.max_workers),
                    "window": lambda: raw_gated_run(client, n, 8)}
            times: dict[str, list[float]] = {name: [] for name in runs}
            cpu: dict[str, list[float]] = {name: [] for name in runs}
            names = list(runs)
            for r in range(rounds):
                shift = r % len(names)  # each side goes first in turn
                for name in names[shift:] + names[:shift]:
                    before = owner_cpu()
                    times[name].append(runs[name]())
                    cpu[name].append((owner_cpu() - before) / n)
                print(f"round {r + 1}: " + ", ".join(f"{name} {ms(times[name][-1])}/job" for name in names), flush=True)
            single_pool, single_raw = single_latency(pool, client, samples)
            tick_wall, tick_cpu = monitor_tick_cost(pool, samples)
        finally:
            pool.shutdown()
            gated_pool.shutdown()

    def median(name: str) -> str:
        return ms(statistics.median(times[name]))

    def ratio(name: str, base: str) -> float:
        return statistics.median(a / b for a, b in zip(times[name], times[base]))

    print(f"\n{n} x /bin/true on a LocalCluster of 2 workers x 1 thread, {rounds} rounds (medians):")
    rows = [(f"ProcessPool(DaskBackend), max_workers={pool.max_workers}", "pool"),
            ("same, no pipelining (pipeline_below=0)", "unpiped"),
            ("raw client.submit(subprocess.run), all at once", "raw"),
            (f"raw, gated like the pool ({pool.max_workers} in flight)", "gated"),
            ("raw, 8 in flight", "window")]
    for label, name in rows:
        print(f"  {label + ':':<58} {median(name)}/job")
    print("  owner-process CPU per job: " + ", ".join(f"{k} {ms(statistics.median(v))}" for k, v in cpu.items()))
    value = ratio("pool", "raw")
    print(f"  ratio pool / raw all at once: {value:.2f}x (target <= 1.5x) -> {'OK' if value <= 1.5 else 'MISSED'}")
    print(f"  for scale: pool without pipelining / raw {ratio('unpiped', 'raw'):.2f}x, "
          f"pool / raw gated {ratio('pool', 'gated'):.2f}x")
    print(f"  for scale, raw 8 in flight / raw all at once: {ratio('window', 'raw'):.2f}x "
          f"(what windowed submission costs Dask itself)")
    print(f"one job at a time on an idle cluster ({samples} samples, medians):")
    print(f"  pool {ms(statistics.median(single_pool))}, raw {ms(statistics.median(single_raw))}, "
          f"ratio {statistics.median(single_pool) / statistics.median(single_raw):.2f}x")
    print(f"one monitor tick on this Dask pool ({samples} readings of 2 workers): "
          f"median {ms(statistics.median(tick_wall))} on the monitor's reader thread, "
          f"owner CPU {ms(tick_cpu)} per tick ({tick_cpu * 100:.2f} % of one core at 1 Hz)")


if __name__ == "__main__":
    main()
