"""Random workloads that match the OSTEP tools draw for draw, so a class can reproduce a question.

Each generator seeds its own `random.Random` (the same Mersenne Twister the tools seed globally)
and draws in the tools' order, so ``random_jobs(seed=1)`` is ``scheduler.py -s 1``'s workload.
"""

from __future__ import annotations

import random
from collections.abc import Sequence

from .jobs import check_number, check_whole

__all__ = ["mlfq_random_jobs", "random_jobs", "random_programs"]


def _check_seed(seed: int) -> int:
    return check_whole("seed", seed, minimum=-(2**63))


def random_jobs(seed: int = 0, n: int = 3, max_len: int = 10) -> list[int]:
    """scheduler.py's random workload (``-s seed -j n -m max_len``): lengths in 1..max_len."""
    rng = random.Random(_check_seed(seed))
    check_whole("n", n, minimum=1)
    check_whole("max_len", max_len, minimum=1)
    return [int(max_len * rng.random()) + 1 for _ in range(n)]


def mlfq_random_jobs(seed: int = 0, n: int = 3, max_len: int = 100, max_io: int = 10) -> list[tuple[int, int, int]]:
    """mlfq.py's random jobs (``-s -j -m -M``): ``(0, run, io_freq)``, run in 1..max_len-1, io_freq in 1..max_io-1.

    The draws go run then io_freq for job 0, then job 1, ..., as mlfq.py makes them.
    """
    rng = random.Random(_check_seed(seed))
    check_whole("n", n, minimum=1)
    check_whole("max_len", max_len, minimum=1)
    check_whole("max_io", max_io, minimum=1)
    jobs = []
    for _ in range(n):
        run = int(rng.random() * (max_len - 1) + 1)
        io_freq = int(rng.random() * (max_io - 1) + 1)
        jobs.append((0, run, io_freq))
    return jobs


def random_programs(seed: int, specs: Sequence[tuple[int, float]]) -> list[list[str]]:
    """process-run.py's ``-l X:Y,...``: X instructions each, ``cpu`` with probability Y%, else ``io``.

    Each ``io`` is followed by the ``io_done`` instruction that handles its completion.
    """
    rng = random.Random(_check_seed(seed))
    programs = []
    for k, spec in enumerate(specs):
        if not isinstance(spec, (tuple, list)) or len(spec) != 2:
            raise TypeError(f"specs[{k}] must be (instructions, percent_cpu) like process-run.py's 5:100, got {spec!r}")
        count = check_whole(f"specs[{k}] instructions", spec[0], minimum=1)
        chance = check_number(f"specs[{k}] percent_cpu", spec[1]) / 100.0
        code: list[str] = []
        for _ in range(count):
            if rng.random() < chance:
                code.append("cpu")
            else:
                code += ["io", "io_done"]
        programs.append(code)
    return programs
