"""The process-state lesson: OSTEP's process-run.py (SCHEDULING-SEMANTICS.md §3), tick by tick.

Processes run ``cpu`` and ``io`` instructions; each ``io`` blocks its process for `io_length`
ticks and is followed by an ``io_done`` instruction. The per-tick trace shows every process as
RUN:cpu / RUN:io / RUN:io_done / READY / BLOCKED / DONE, as the tool prints it with ``-c -p``.
The loop keeps the tool's order of steps, because its answers are the ones a class checks against.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from .jobs import check_whole

__all__ = ["ProcessRunResult", "Tick", "parse_programs", "process_run"]

READY, RUNNING, BLOCKED, DONE = "READY", "RUNNING", "BLOCKED", "DONE"
_SWITCH = {"on_io": "on_io", "SWITCH_ON_IO": "on_io", "on_end": "on_end", "SWITCH_ON_END": "on_end"}
_IO_DONE = {"later": "later", "IO_RUN_LATER": "later", "immediate": "immediate", "IO_RUN_IMMEDIATE": "immediate"}


@dataclass(frozen=True)
class Tick:
    """One clock tick (numbered from 1): each process's state, whether the CPU ran an instruction,
    how many I/Os were outstanding, and whether an I/O completed (the tool's ``*``)."""

    tick: int
    states: tuple[str, ...]
    cpu_busy: bool
    io_outstanding: int
    io_done: bool


@dataclass(frozen=True)
class ProcessRunResult:
    """The trace and the tool's statistics: total time, CPU busy and I/O busy ticks."""

    programs: tuple[tuple[str, ...], ...]
    trace: list[Tick]
    total_time: int
    cpu_busy: int
    io_busy: int
    switch: str
    io_done: str
    io_length: int

    @property
    def cpu_utilization(self) -> float:
        return self.cpu_busy / self.total_time

    @property
    def io_utilization(self) -> float:
        return self.io_busy / self.total_time

    def table(self) -> str:
        """The trace in process-run.py's ``-c -p`` layout."""
        n = len(self.programs)
        lines = ["Time" + "".join(f"{f'PID:{p:2d}':>14}" for p in range(n)) + f"{'CPU':>14}{'IOs':>14}"]
        for t in self.trace:
            row = f"{t.tick:3d}{'*' if t.io_done else ' '}" + "".join(f"{s:>14}" for s in t.states)
            row += f"{'1' if t.cpu_busy else ' ':>14}"
            row += f"{t.io_outstanding:>14}" if t.io_outstanding else ""
            lines.append(row.rstrip())
        lines += ["", f"Stats: Total Time {self.total_time}",
                  f"Stats: CPU Busy {self.cpu_busy} ({100.0 * self.cpu_utilization:.2f}%)",
                  f"Stats: IO Busy  {self.io_busy} ({100.0 * self.io_utilization:.2f}%)"]
        return "\n".join(lines)


def _parse_one(k: int, program: Any) -> tuple[str, ...]:
    if isinstance(program, str):
        code: list[str] = []
        for part in program.split(","):
            part = part.strip()
            if part == "i":
                code += ["io", "io_done"]
            elif part.startswith("c") and part[1:].isdigit():
                code += ["cpu"] * int(part[1:])
            else:
                raise ValueError(f"program {k}: bad instruction {part!r} in {program!r}; write cN (N ticks of CPU) "
                                 f"or i (an I/O), comma-separated, like 'c3,i,c2'")
        out = tuple(code)
    elif isinstance(program, (list, tuple)):
        out = []
        for ins in program:
            if ins not in ("cpu", "io", "io_done"):
                raise ValueError(f"program {k}: unknown instruction {ins!r}; use 'cpu', 'io' or 'io_done'")
            out.append(ins)
        # An io is always followed by its io_done (added here when the list leaves it out).
        fixed: list[str] = []
        for i, ins in enumerate(out):
            fixed.append(ins)
            if ins == "io" and (i + 1 >= len(out) or out[i + 1] != "io_done"):
                fixed.append("io_done")
        out = tuple(fixed)
    else:
        raise TypeError(f"program {k} must be a str like 'c3,i' or a list of instructions, got {program!r}")
    if not out:
        raise ValueError(f"program {k} is empty; give it at least one instruction, e.g. 'c1'")
    return out


def parse_programs(programs: Any) -> tuple[tuple[str, ...], ...]:
    """Programs as instruction tuples, from ``"c3,i,c2:i,c1"`` (the ``-P`` syntax) or a list of programs."""
    if isinstance(programs, str):
        programs = programs.split(":")
    if not isinstance(programs, (list, tuple)) or not programs:
        raise TypeError(f"programs must be '-P'-style text like 'c3,i:c2' or a non-empty list of programs, "
                        f"got {programs!r}")
    return tuple(_parse_one(k, p) for k, p in enumerate(programs))


def process_run(programs: Any, *, switch: str = "on_io", io_done: str = "later",
                io_length: int = 5) -> ProcessRunResult:
    """Run the programs; `switch` is ``"on_io"`` (default) or ``"on_end"``, `io_done` ``"later"``
    (default) or ``"immediate"`` (the tool's SWITCH_ON_* and IO_RUN_* names work too)."""
    code = [list(p) for p in parse_programs(programs)]
    if switch not in _SWITCH:
        raise ValueError(f"switch must be 'on_io' or 'on_end', got {switch!r}")
    if io_done not in _IO_DONE:
        raise ValueError(f"io_done must be 'later' or 'immediate', got {io_done!r}")
    sw, done_rule = _SWITCH[switch], _IO_DONE[io_done]
    check_whole("io_length", io_length)
    n = len(code)
    state = [READY] * n
    io_finish: list[list[int]] = [[] for _ in range(n)]
    cur = 0
    state[0] = RUNNING

    def run_next(pid: int | None = None) -> None:
        nonlocal cur
        if pid is not None:
            cur = pid
            state[pid] = RUNNING
            return
        for p in [*range(cur + 1, n), *range(0, cur + 1)]:
            if state[p] == READY:
                cur = p
                state[p] = RUNNING
                return

    def check_if_done() -> None:
        if not code[cur] and state[cur] == RUNNING:
            state[cur] = DONE
            run_next()

    def runnable() -> int:
        return sum(s in (READY, RUNNING) for s in state)

    trace: list[Tick] = []
    tick = cpu_busy = io_busy = 0
    limit = sum(len(c) for c in code) * (io_length + 2) + 1  # every instruction plus its I/O, one after another
    while any(s != DONE for s in state):
        tick += 1
        if tick > limit:  # cannot happen with the tool's rules; a loud stop beats a hung kernel
            raise RuntimeError(f"process_run made no progress by tick {tick}; states {state}")
        completed = False
        for pid in range(n):
            if tick in io_finish[pid]:
                completed = True
                state[pid] = READY
                if done_rule == "immediate":
                    if cur != pid and state[cur] == RUNNING:
                        state[cur] = READY
                    run_next(pid)
                else:
                    if sw == "on_end" and runnable() > 1:
                        run_next(pid)  # the CPU was held idle for the process that issued the I/O
                    if runnable() == 1:
                        run_next(pid)
                check_if_done()
        instruction = ""
        if state[cur] == RUNNING and code[cur]:
            instruction = code[cur].pop(0)
            cpu_busy += 1
        states = tuple(f"RUN:{instruction}" if pid == cur and instruction else state[pid] for pid in range(n))
        outstanding = sum(1 for pid in range(n) for t in io_finish[pid] if t > tick)
        if outstanding:
            io_busy += 1
        trace.append(Tick(tick, states, bool(instruction), outstanding, completed))
        if instruction == "io":
            state[cur] = BLOCKED
            io_finish[cur].append(tick + io_length + 1)
            if sw == "on_io":
                run_next()
        check_if_done()
    return ProcessRunResult(programs=tuple(tuple(p) for p in parse_programs(programs)), trace=trace,
                            total_time=tick, cpu_busy=cpu_busy, io_busy=io_busy, switch=sw, io_done=done_rule,
                            io_length=io_length)
