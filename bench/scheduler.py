"""Scheduler throughput: N submits then N pops through `Scheduler` vs bare `heapq` in the same run.

The baseline is `heapq` with `(-priority, seq)` tuples, seq being the job id (the same order the
default "priority" policy promises: higher first, FIFO among equals). Priorities are drawn from
0..9, so ties are common. The two alternate (the order flips each round); each figure is the
median over the rounds, the ratio the median of the per-round ratios. Both pop orders are
checked to be identical. ops/s counts a submit and a pop as one operation each. Target: >= 0.5x.

    .venv/bin/python bench/scheduler.py            # 1,000,000 jobs x 5 rounds
    .venv/bin/python bench/scheduler.py --quick    # 100,000 jobs x 3 rounds
"""

from __future__ import annotations

import argparse
import gc
import heapq
import os
import random
import statistics
import sys
import time

from procwidgets.core.scheduler import Scheduler


def run_scheduler(priorities: list[int]) -> tuple[float, float, list[int]]:
    """Seconds for all pushes, seconds for all pops, and the pop order."""
    s = Scheduler("priority")
    push, pop = s.push, s.pop
    t0 = time.perf_counter()
    for job_id, p in enumerate(priorities):
        push(job_id, p)
    t1 = time.perf_counter()
    order = [pop() for _ in range(len(priorities))]
    t2 = time.perf_counter()
    if pop() is not None:
        raise RuntimeError("the scheduler holds more jobs than were pushed")
    return t1 - t0, t2 - t1, order


def run_heapq(priorities: list[int]) -> tuple[float, float, list[int]]:
    heap: list[tuple[int, int]] = []
    heappush, heappop = heapq.heappush, heapq.heappop
    t0 = time.perf_counter()
    for seq, p in enumerate(priorities):
        heappush(heap, (-p, seq))
    t1 = time.perf_counter()
    order = [heappop(heap)[1] for _ in range(len(priorities))]
    t2 = time.perf_counter()
    return t1 - t0, t2 - t1, order


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="a smaller run (100,000 jobs, 3 rounds)")
    ap.add_argument("--jobs", type=int, help="jobs per run (default 1,000,000, quick 100,000)")
    ap.add_argument("--rounds", type=int, help="interleaved rounds (default 5, quick 3)")
    args = ap.parse_args()
    load_before = f"{os.getloadavg()[0]:.2f}"
    n = args.jobs or (100_000 if args.quick else 1_000_000)
    rounds = args.rounds or (3 if args.quick else 5)
    priorities = _priorities(n)
    print(f"Python {sys.version.split()[0]}, {n:,} submits + {n:,} pops per run, {rounds} interleaved rounds",
          file=sys.stderr)

    results: dict[str, list[tuple[float, float]]] = {"Scheduler": [], "heapq": []}
    ratios: list[float] = []
    for r in range(rounds):
        runs = [("Scheduler", run_scheduler), ("heapq", run_heapq)]
        if r % 2:
            runs.reverse()
        orders = {}
        for name, fn in runs:
            gc.collect()
            push_s, pop_s, orders[name] = fn(priorities)
            results[name].append((push_s, pop_s))
        if orders["Scheduler"] != orders["heapq"]:
            raise RuntimeError("Scheduler and heapq disagree on the order")
        del orders
        s_tot, h_tot = sum(results["Scheduler"][-1]), sum(results["heapq"][-1])
        ratios.append(h_tot / s_tot)
        print(f"  round {r + 1}/{rounds}: Scheduler {2 * n / s_tot / 1e6:.2f} M ops/s, "
              f"heapq {2 * n / h_tot / 1e6:.2f} M ops/s, ratio {h_tot / s_tot:.2f}", file=sys.stderr)

    med = statistics.median

    def rate(name: str, part: int | None) -> float:
        times = [sum(t) if part is None else t[part] for t in results[name]]
        return (2 * n if part is None else n) / med(times) / 1e6

    print()
    print(f"{'M ops/s (median)':<18}{'submit':>10}{'pop':>10}{'submit+pop':>12}")
    for name in ("Scheduler", "heapq"):
        print(f"{name:<18}{rate(name, 0):>10.2f}{rate(name, 1):>10.2f}{rate(name, None):>12.2f}")
    pairs = list(zip(results["Scheduler"], results["heapq"], strict=True))
    part_ratio = [med([h[i] / s[i] for s, h in pairs]) for i in (0, 1)]
    ratio = med(ratios)
    print(f"{'ratio Sched/heapq':<18}{part_ratio[0]:>10.2f}{part_ratio[1]:>10.2f}{ratio:>12.2f}"
          f"  target >= 0.50: {'ok' if ratio >= 0.5 else 'MISSED'}")
    print(f"load average before/after: {load_before} / {os.getloadavg()[0]:.2f} on {os.cpu_count()} CPUs "
          "(a busy machine lowers every figure; the ratios are what compares)")
    return 0


def _priorities(n: int) -> list[int]:
    rng = random.Random(2)
    return [rng.randrange(10) for _ in range(n)]


if __name__ == "__main__":
    sys.exit(main())
