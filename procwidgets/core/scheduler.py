"""The ready queue: which job runs next. A pure decision; it never spawns or signals anything.

Jobs are known by id. `push` adds a job (held back until its dependencies succeed), `pop` answers
"which next", `remove` and `reprioritise` are O(1) and O(log n) by lazy deletion, and
`finished` tells the scheduler how a job ended, returning who became ready and who is doomed.

Policies only shape the heap key, so every policy keeps O(log n) push and pop:

* ``"priority"`` (default): higher priority first, FIFO (submission order) among equals.
* ``"fifo"``: submission order, priorities ignored.
* ``"aging"``: effective priority = priority + rate × seconds waited. For two waiting jobs the
  difference of effective priorities does not depend on "now" (both age at the same rate), so
  the static key ``priority - rate × enqueue_time`` orders them exactly as their effective
  priorities do at any moment, and the heap stays valid without re-keying.
"""

from __future__ import annotations

import heapq
import itertools
import time
from collections.abc import Callable, Iterable, Iterator

__all__ = ["AgingPolicy", "FifoPolicy", "Policy", "PriorityPolicy", "Scheduler", "make_policy"]


class Policy:
    """Shapes the first element of a job's heap key: smaller runs sooner. Ties go by submission."""

    name = "base"
    uses_clock = False

    def primary(self, priority: int, enqueued_at: float) -> float:
        raise NotImplementedError

    def effective_priority(self, priority: int, enqueued_at: float, now: float) -> float:
        """The priority the policy acts on at time `now` (for display and teaching)."""
        return priority

    def __repr__(self) -> str:
        return f"{type(self).__name__}()"


class PriorityPolicy(Policy):
    """Higher priority first; FIFO among equal priorities."""

    name = "priority"

    def primary(self, priority: int, enqueued_at: float) -> float:
        return -priority


class FifoPolicy(Policy):
    """Strict submission order."""

    name = "fifo"

    def primary(self, priority: int, enqueued_at: float) -> float:
        return 0


class AgingPolicy(Policy):
    """Priority that grows by `rate` per second of waiting, so a low job cannot starve."""

    name = "aging"
    uses_clock = True

    def __init__(self, rate: float = 1.0) -> None:
        if isinstance(rate, bool) or not isinstance(rate, (int, float)):
            raise TypeError(f"aging rate must be a number (priority points per second), not {type(rate).__name__}")
        if not rate > 0 or rate == float("inf"):
            raise ValueError(f"aging rate must be a positive finite number, got {rate!r}")
        self.rate = float(rate)

    def primary(self, priority: int, enqueued_at: float) -> float:
        return -(priority - self.rate * enqueued_at)

    def effective_priority(self, priority: int, enqueued_at: float, now: float) -> float:
        return priority + self.rate * max(0.0, now - enqueued_at)

    def __repr__(self) -> str:
        return f"AgingPolicy(rate={self.rate})"


_POLICIES = {"priority": PriorityPolicy, "fifo": FifoPolicy, "aging": AgingPolicy}


def make_policy(policy: str | Policy, **params: float) -> Policy:
    """A policy object from its name (``"priority"``, ``"fifo"``, ``"aging"``) or as given."""
    if isinstance(policy, Policy):
        if params:
            raise TypeError(f"policy parameters {sorted(params)} go with a policy name, not with {policy!r}")
        return policy
    if not isinstance(policy, str):
        raise TypeError(f"policy must be one of {sorted(_POLICIES)} or a Policy object, not {type(policy).__name__}")
    if policy not in _POLICIES:
        raise ValueError(f"unknown policy {policy!r}; choose one of {', '.join(sorted(_POLICIES))}")
    return _POLICIES[policy](**params)


class Scheduler:
    """Decides which queued job runs next. Not thread-safe: one owner (the pool's engine) calls it.

    `clock` gives seconds for the aging policy; tests and the simulator pass a virtual clock.
    """

    def __init__(self, policy: str | Policy = "priority", *, clock: Callable[[], float] = time.monotonic,
                 **params: float) -> None:
        self.policy = make_policy(policy, **params)
        self._clock = clock
        self._epoch = clock()  # keys use time since creation, so floats keep their precision
        self._seq = itertools.count()
        # Heap entries are tuples (primary, seq, job_id, priority, enqueued_at): seq is unique, so
        # comparisons never reach past it. Tuples of numbers are untracked by the garbage collector
        # (lists never are), so a million queued jobs cost gc nothing. An entry is live while
        # `_ready[job_id] is entry`; remove/reprioritise just replace or drop that mapping.
        self._heap: list[tuple] = []
        self._ready: dict[int, tuple] = {}  # eligible: job_id -> live heap entry
        self._waiting: dict[int, tuple[int, float, int]] = {}  # held on dependencies: (priority, enqueued_at, seq)
        self._blocked_by: dict[int, set[int]] = {}  # waiting job -> unfinished dependencies
        self._dependents: dict[int, list[int]] = {}  # dependency -> jobs waiting on it

    # -- queries ----------------------------------------------------------------------------

    def __len__(self) -> int:
        """Jobs held: eligible ones and ones waiting on dependencies."""
        return len(self._ready) + len(self._waiting)

    def __contains__(self, job_id: int) -> bool:
        return job_id in self._ready or job_id in self._waiting

    @property
    def ready_count(self) -> int:
        return len(self._ready)

    def is_waiting(self, job_id: int) -> bool:
        """True while the job waits on unfinished dependencies."""
        return job_id in self._blocked_by

    def _info(self, job_id: int) -> tuple[int, float, int]:
        entry = self._ready.get(job_id)
        if entry is not None:
            return entry[3], entry[4], entry[1]
        return self._waiting[job_id]

    def effective_priority(self, job_id: int) -> float:
        priority, enqueued_at, _ = self._info(job_id)
        return self.policy.effective_priority(priority, enqueued_at - self._epoch, self._clock() - self._epoch)

    def order(self) -> Iterator[int]:
        """Eligible jobs in the order they would run (O(n log n); for display and tests)."""
        ready = self._ready
        return (e[2] for e in sorted(e for e in self._heap if ready.get(e[2]) is e))

    # -- changes ----------------------------------------------------------------------------

    def push(self, job_id: int, priority: int = 0, after: Iterable[int] = ()) -> None:
        """Add a job; with `after`, it becomes eligible once all those jobs have succeeded."""
        if job_id in self._ready or job_id in self._waiting:
            raise ValueError(f"job {job_id} is already queued")
        policy = self.policy
        enqueued_at = self._clock() if policy.uses_clock else 0.0
        if after:
            blockers = set(after)
            self._waiting[job_id] = (priority, enqueued_at, next(self._seq))
            self._blocked_by[job_id] = blockers
            for dep in blockers:
                self._dependents.setdefault(dep, []).append(job_id)
            return
        entry = (policy.primary(priority, enqueued_at - self._epoch), next(self._seq), job_id, priority, enqueued_at)
        self._ready[job_id] = entry
        heapq.heappush(self._heap, entry)

    def pop(self) -> int | None:
        """Remove and return the eligible job that should run next, or None if there is none."""
        heap, ready = self._heap, self._ready
        while heap:
            entry = heapq.heappop(heap)
            job_id = entry[2]
            live = ready.pop(job_id, None)
            if live is entry:
                return job_id
            if live is not None:  # a stale entry of a reprioritised job: put its live one back
                ready[job_id] = live
        return None

    def peek(self) -> int | None:
        """The eligible job that `pop()` would return, left in place; None if there is none."""
        heap, ready = self._heap, self._ready
        while heap:
            entry = heap[0]
            if ready.get(entry[2]) is entry:
                return entry[2]
            heapq.heappop(heap)  # a dead entry (removed or reprioritised job): drop it for good
        return None

    def place(self, job_id: int) -> tuple[float, int]:
        """An eligible job's place in the queue (when it was queued, its sequence number), so that
        `put_back` can return it there after a `pop()` that did not lead to a start."""
        entry = self._ready[job_id]
        return entry[4], entry[1]

    def put_back(self, job_id: int, priority: int, place: tuple[float, int]) -> None:
        """Queue a popped job again at its old place among its equals (its priority may have changed)."""
        if job_id in self._ready or job_id in self._waiting:
            raise ValueError(f"job {job_id} is already queued")
        enqueued_at, seq = place
        entry = (self.policy.primary(priority, enqueued_at - self._epoch), seq, job_id, priority, enqueued_at)
        self._ready[job_id] = entry
        heapq.heappush(self._heap, entry)

    def remove(self, job_id: int) -> None:
        """Forget a queued job (cancel). O(1): its heap entry is left behind, dead."""
        if self._ready.pop(job_id, None) is None:
            del self._waiting[job_id]
        for dep in self._blocked_by.pop(job_id, ()):
            waiting = self._dependents.get(dep)
            if waiting is not None:
                waiting.remove(job_id)
                if not waiting:
                    del self._dependents[dep]
        if len(self._heap) > 64 and len(self._heap) > 2 * len(self._ready):
            self._compact()

    def reprioritise(self, job_id: int, priority: int) -> None:
        """Change a queued job's priority, keeping its place among equals (its original wait)."""
        entry = self._ready.get(job_id)
        if entry is None:
            _, enqueued_at, seq = self._waiting[job_id]
            self._waiting[job_id] = (priority, enqueued_at, seq)
            return
        self._make_ready(job_id, priority, entry[4], entry[1])
        if len(self._heap) > 64 and len(self._heap) > 2 * len(self._ready):
            self._compact()

    def finished(self, job_id: int, succeeded: bool) -> tuple[list[int], list[int]]:
        """Record how a job ended. Returns (jobs now eligible, jobs doomed by this failure).

        Doomed jobs are removed here; the caller cancels them and reports each one's
        `finished(..., False)` in turn, so the failure cascades down the dependency chain.
        """
        ready: list[int] = []
        doomed: list[int] = []
        for waiting in self._dependents.pop(job_id, ()):
            if succeeded:
                blockers = self._blocked_by[waiting]
                blockers.discard(job_id)
                if not blockers:
                    del self._blocked_by[waiting]
                    self._make_ready(waiting, *self._waiting.pop(waiting))
                    ready.append(waiting)
            else:
                doomed.append(waiting)
        for waiting in doomed:
            self.remove(waiting)
        return ready, doomed

    # -- internals --------------------------------------------------------------------------

    def _make_ready(self, job_id: int, priority: int, enqueued_at: float, seq: int) -> None:
        entry = (self.policy.primary(priority, enqueued_at - self._epoch), seq, job_id, priority, enqueued_at)
        self._ready[job_id] = entry
        heapq.heappush(self._heap, entry)

    def _compact(self) -> None:
        ready = self._ready
        self._heap = [e for e in self._heap if ready.get(e[2]) is e]
        heapq.heapify(self._heap)
