"""How `DaskBackend` hears that a worker left: the scheduler logs "remove-worker" to the worker's
own event topic, and one subscription per (client, worker topic) fans it out to every backend.

Separate from `dask.py` because it is shared state across backends (one per client, not one per
pool), guarded by its own lock and called from the client's loop thread; each backend only asks
it to `add` or `remove` itself and gets the worker's events posted to its engine thread.
"""

from __future__ import annotations

import threading
import weakref
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import distributed

    from .dask import DaskBackend

__all__ = ["WorkerWatchers", "last_membership", "watchers"]


class WorkerWatchers:
    """One subscription per (client, worker topic), shared by every backend on that client.

    A client keeps one handler per topic, so two pools on one client must not each subscribe to
    a worker's topic (the second would silence the first): the handler here fans out to all."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._by_client: weakref.WeakKeyDictionary[distributed.Client, dict[str, weakref.WeakSet[DaskBackend]]] = (
            weakref.WeakKeyDictionary())

    def add(self, client: distributed.Client, address: str, backend: DaskBackend) -> None:
        with self._lock:
            topics = self._by_client.setdefault(client, {})
            backends = topics.get(address)
            new = backends is None
            if backends is None:
                backends = topics[address] = weakref.WeakSet()
            backends.add(backend)
        if new:
            def handler(event: tuple[float, Any]) -> None:  # on the client's loop thread
                for watcher in list(backends):
                    watcher._post(watcher._worker_event, address, event[1])
            client.subscribe_topic(address, handler)

    def remove(self, client: distributed.Client, address: str, backend: DaskBackend) -> None:
        with self._lock:
            topics = self._by_client.get(client, {})
            backends = topics.get(address)
            if backends is None:
                return
            backends.discard(backend)
            if backends:
                return
            del topics[address]
        try:
            client.unsubscribe_topic(address)
        except Exception:  # noqa: BLE001 - the client may be closed already
            pass


watchers = WorkerWatchers()
"""The process-wide registry every `DaskBackend` subscribes through."""


def last_membership(events: Any) -> dict[str, Any] | None:
    """The latest "add-worker" or "remove-worker" record among a worker topic's stored events."""
    for _, msg in reversed(tuple(events or ())):
        if isinstance(msg, dict) and msg.get("action") in ("add-worker", "remove-worker"):
            return msg
    return None
