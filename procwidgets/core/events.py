"""Frozen event records and the subscription mechanism that widgets (and users) observe.

Events are delivered on the pool's engine thread, in the order things happened. A subscriber
that raises is reported with a warning and stays subscribed; it never breaks the pool.
"""

from __future__ import annotations

import threading
import warnings
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from .job import Job, JobState

__all__ = ["Event", "EventBus", "JobEvent", "PoolEvent"]


@dataclass(frozen=True)
class Event:
    """Base of everything `pool.subscribe` delivers."""

    time: float
    kind: str


@dataclass(frozen=True)
class JobEvent(Event):
    """A job changed: ``kind`` is "state" (with `old` -> `new`) or "priority" (state unchanged).

    `old` is None for the submission itself. `reason` says why in words ("exit code 1",
    "timeout after 5.0 s", "dependency job 3 FAILED", ...).
    """

    job: Job
    old: JobState | None
    new: JobState
    reason: str = ""

    @property
    def job_id(self) -> int:
        return self.job.id


@dataclass(frozen=True)
class PoolEvent(Event):
    """The pool itself changed: kind is "paused", "resumed", "max_workers" or "shutdown"."""

    detail: str = ""


Callback = Callable[[Event], object]


class EventBus:
    """Holds subscribers; `emit` calls each in subscription order. Thread-safe to (un)subscribe."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._subscribers: tuple[Callback, ...] = ()

    def subscribe(self, callback: Callback) -> Callable[[], None]:
        """Call `callback(event)` for every event; returns a function that unsubscribes."""
        if not callable(callback):
            raise TypeError(f"subscribe() takes a callable(event), not {type(callback).__name__}")
        with self._lock:
            self._subscribers = (*self._subscribers, callback)

        def unsubscribe() -> None:
            with self._lock:
                subs = list(self._subscribers)
                if callback in subs:
                    subs.remove(callback)
                    self._subscribers = tuple(subs)

        return unsubscribe

    def __len__(self) -> int:
        return len(self._subscribers)

    def emit(self, event: Event) -> None:
        for callback in self._subscribers:  # a snapshot: (un)subscribing during emit is safe
            try:
                callback(event)
            except Exception as exc:  # noqa: BLE001 - a subscriber's bug must not stop the pool
                warnings.warn(f"procwidgets subscriber {callback!r} raised {exc!r} on {event!r}",
                              RuntimeWarning, stacklevel=2)
