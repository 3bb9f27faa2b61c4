"""Benchmark: what the monitor costs, against a bare psutil loop reading the same fields, in the same run.

    .venv/bin/python bench/monitor.py [seconds per 1 Hz phase, default 20]

Setup: a real ProcessPool runs 100 jobs, each a small tree (`sh` with two `sleep` children:
300 processes). Then:

1. The cost of one sample of 1, 10 and 100 jobs (tree discovery included), for the monitor's
   sampler with the procfs reader and with the psutil reader, against:
   * bare psutil: a pass over the same processes, already known (Process objects kept, no
     discovery), reading cpu_percent, rss, threads, io counters and fds: the floor for psutil;
   * psutil + discovery: the same plus `children(recursive=True)` per job, as a naive monitor does.
   Consecutive samples are fed 1 s apart, so PSS/USS refreshes happen as at 1 Hz.
2. CPU used at 1 Hz with 100 jobs, as % of one core: a real `Monitor(pool, interval=1.0)` (its
   reader thread's CPU, and the whole process's CPU beyond an idle phase of the same length),
   against the bare psutil pass running at 1 Hz in a thread. Also the pool engine's loop lag
   (how late a 10 ms timer fires) with and without the monitor: sampling must not stall it.
"""

from __future__ import annotations

import asyncio
import os
import resource
import sys
import threading
import time

import psutil

from procwidgets.core.engine import Engine
from procwidgets.core.monitor import Monitor
from procwidgets.core.pool import ProcessPool
from procwidgets.core.procfs import ProcfsReader
from procwidgets.core.psreader import PsutilReader
from procwidgets.core.sampler import Root, Sampler

JOBS = 100
TREE = "sleep 600 & sleep 600 & wait"


def process_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def read_fields(p: psutil.Process) -> tuple:
    return p.cpu_percent(), p.memory_info().rss, p.num_threads(), p.io_counters(), p.num_fds()


class BarePsutil:
    """The baseline: psutil.Process objects kept between passes, the same fields read."""

    def __init__(self, pids: list[int]) -> None:
        self.procs = [psutil.Process(pid) for pid in pids]
        self.one_pass()

    def one_pass(self) -> None:
        for p in self.procs:
            try:
                read_fields(p)
            except psutil.Error:
                pass


def naive_pass(leaders: list[psutil.Process]) -> None:
    for leader in leaders:
        try:
            tree = [leader, *leader.children(recursive=True)]
        except psutil.Error:
            continue
        for p in tree:
            try:
                read_fields(p)
            except psutil.Error:
                pass


def per_call_ms(fn, repeats: int) -> float:
    """Mean CPU ms per call (the mean, not the median: the occasional PSS refresh is part of the cost)."""
    fn()  # warm up (and a baseline for the rates)
    t0 = time.thread_time()
    for _ in range(repeats):
        fn()
    return (time.thread_time() - t0) / repeats * 1000


def sampler_call(reader_cls, roots: list[Root], memory_every: float | None):
    sampler = Sampler(reader_cls(), memory_every=memory_every)
    clock = [0.0]

    def call() -> None:
        clock[0] += 1.0  # as if 1 s apart: PSS refreshes come at their 1 Hz rate
        sampler.jobs(roots, clock[0], time.time())

    return call


async def lag_probe(stop: asyncio.Event, lags: list[float]) -> None:
    loop = asyncio.get_running_loop()
    while not stop.is_set():
        t0 = loop.time()
        await asyncio.sleep(0.01)
        lags.append(loop.time() - t0 - 0.01)


def measure_lag(engine: Engine, seconds: float) -> tuple[float, float]:
    lags: list[float] = []
    stop = engine.call(asyncio.Event)
    engine.call(lambda: engine.spawn(lag_probe(stop, lags)))
    time.sleep(seconds)  # a measurement window, not a wait for a condition
    engine.call(stop.set)
    lags.sort()
    return lags[int(len(lags) * 0.99)] * 1000, lags[-1] * 1000


def main() -> None:
    phase = float(sys.argv[1]) if len(sys.argv) > 1 else 20.0
    print(f"machine: {os.cpu_count()} cores, {len(psutil.pids())} processes before the jobs, "
          f"psutil {psutil.__version__}, Python {sys.version.split()[0]}")
    pool = ProcessPool(max_workers=JOBS, kill_grace=1.0)
    try:
        jobs = [pool.submit(["sh", "-c", TREE], name=f"tree-{i}") for i in range(JOBS)]
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            trees = [len(psutil.Process(j.pid).children()) if j.pid else 0 for j in jobs]
            if all(n == 2 for n in trees):
                break
            time.sleep(0.05)
        else:
            raise SystemExit("the 100 job trees did not come up within 60 s")
        leaders = [psutil.Process(j.pid) for j in jobs]
        print(f"{JOBS} jobs running, {sum(1 + len(p.children()) for p in leaders)} processes in their trees, "
              f"{len(psutil.pids())} on the machine\n")

        print("1. one sample of N job trees (mean CPU ms over 30 samples, back to back)")
        print(f"{'N':>5} {'procfs':>8} {'psutil':>8} {'procfs-noPSS':>13} {'bare psutil':>12} "
              f"{'+discovery':>11} {'bare/procfs':>12} {'disc/procfs':>12}")
        procfs_reader = ProcfsReader()
        for n in (1, 10, 100):
            chosen = jobs[:n]
            roots = [Root(j.id, j.pid, procfs_reader.ident(j.pid), j.name, True) for j in chosen]
            ps_reader = PsutilReader()
            ps_roots = [Root(j.id, j.pid, ps_reader.ident(j.pid), j.name, True) for j in chosen]
            pids = [p.pid for j in chosen for p in [psutil.Process(j.pid), *psutil.Process(j.pid).children()]]
            fast = per_call_ms(sampler_call(ProcfsReader, roots, 30.0), 30)
            fast_nopss = per_call_ms(sampler_call(ProcfsReader, roots, None), 30)
            slow = per_call_ms(sampler_call(PsutilReader, ps_roots, 30.0), 30)
            bare = BarePsutil(pids)
            bare_ms = per_call_ms(bare.one_pass, 30)
            naive_ms = per_call_ms(lambda chosen=chosen: naive_pass([psutil.Process(j.pid) for j in chosen]), 30)
            print(f"{n:>5} {fast:8.2f} {slow:8.2f} {fast_nopss:13.2f} {bare_ms:12.2f} {naive_ms:11.2f} "
                  f"{bare_ms / fast:11.1f}x {naive_ms / fast:11.1f}x")
        sys_sampler = Sampler(ProcfsReader())
        sys_ms = per_call_ms(lambda: sys_sampler.system(time.monotonic(), time.time()), 30)
        print(f"system sample (cpu, memory, swap, load, disk, net): {sys_ms:.2f} ms\n")

        print(f"2. CPU at 1 Hz with {JOBS} jobs, {phase:g} s per phase (% of one core)")
        # Every phase runs the same loop-lag probe on the pool's engine, so its own cost cancels out.
        cpu0, t0 = process_cpu(), time.monotonic()
        lag_idle = measure_lag(pool._engine, phase)  # the idle phase: the pool without any sampling
        idle = (process_cpu() - cpu0) / (time.monotonic() - t0)

        mon = Monitor(pool, interval=1.0)
        try:
            mon.next_sample(10)
            stats0, cpu0, t0 = mon.stats(), process_cpu(), time.monotonic()
            lag_mon = measure_lag(pool._engine, phase)
            elapsed = time.monotonic() - t0
            stats1 = mon.stats()
            whole = (process_cpu() - cpu0) / elapsed - idle
            reader_cpu = (stats1.cpu_seconds - stats0.cpu_seconds) / elapsed
            per_sample = (stats1.cpu_seconds - stats0.cpu_seconds) / max(1, stats1.samples - stats0.samples)
            latest = mon.latest()
            assert latest is not None and len(latest.jobs) == JOBS, "the monitor did not see every job"
            assert all(s.num_procs == 3 for s in latest.jobs.values()), "a job tree was not found whole"
        finally:
            mon.stop()

        pids = [p.pid for leader in leaders for p in [leader, *leader.children()]]
        bare = BarePsutil(pids)
        stop = threading.Event()
        spent: list[float] = []

        def loop() -> None:
            while not stop.wait(1.0):
                c = time.thread_time()
                bare.one_pass()
                spent.append(time.thread_time() - c)

        thread = threading.Thread(target=loop, daemon=True)
        cpu0, t0 = process_cpu(), time.monotonic()
        thread.start()
        lag_bare = measure_lag(pool._engine, phase)
        stop.set()
        thread.join()
        elapsed = time.monotonic() - t0
        bare_whole = (process_cpu() - cpu0) / elapsed - idle
        bare_thread = sum(spent) / elapsed

        print(f"  monitor, reader thread:             {100 * reader_cpu:6.3f} %  "
              f"({1000 * per_sample:.2f} ms per sample, {stats1.samples - stats0.samples} samples, "
              f"reader={stats1.reader})")
        print(f"  monitor, whole process minus idle:  {100 * whole:6.3f} %")
        print(f"  bare psutil pass at 1 Hz, thread:   {100 * bare_thread:6.3f} %  (no discovery)")
        print(f"  bare psutil, whole minus idle:      {100 * bare_whole:6.3f} %")
        print(f"  ratio bare psutil / monitor (thread CPU): {bare_thread / reader_cpu:.1f}x")
        print(f"  idle phase, whole process:          {100 * idle:6.3f} %  (pool + the lag probe)")
        print(f"  engine loop lag p99 / max (ms): idle {lag_idle[0]:.2f} / {lag_idle[1]:.2f}, "
              f"monitor {lag_mon[0]:.2f} / {lag_mon[1]:.2f}, bare psutil thread {lag_bare[0]:.2f} / {lag_bare[1]:.2f}")
        verdict = "PASS" if 100 * reader_cpu < 1.0 else "FAIL"
        print(f"\n  target < 1 % of one core: {verdict} ({100 * reader_cpu:.3f} %)")
    finally:
        pool.shutdown(kill=True)


if __name__ == "__main__":
    main()
