"""`Ring`: a fixed-capacity history with a monotonic index, so a chart can ask for "what is new".

Why not a bare `deque(maxlen=...)`: a chart that redraws every second should fetch only the
samples it has not drawn yet. Each appended item gets the next index (0, 1, 2, ... forever,
never reused), and `since(i)` returns the items whose index is >= i that are still held, with
the index to ask for next time. Memory stays flat: at most `capacity` items are kept.

Thread-safe: the monitor appends on its engine thread while widgets read from theirs.
"""

from __future__ import annotations

import threading
from collections import deque
from collections.abc import Iterator
from typing import Generic, TypeVar

__all__ = ["Ring"]

T = TypeVar("T")


class Ring(Generic[T]):
    """The last `capacity` items appended, each with a monotonic index."""

    __slots__ = ("_items", "_next", "_lock")

    def __init__(self, capacity: int) -> None:
        _check_capacity(capacity)
        self._items: deque[T] = deque(maxlen=capacity)
        self._next = 0  # the index the next appended item gets
        self._lock = threading.Lock()

    @property
    def capacity(self) -> int:
        return self._items.maxlen or 0

    @capacity.setter
    def capacity(self, capacity: int) -> None:
        """Change the capacity, keeping the newest items (and every index) as they were."""
        _check_capacity(capacity)
        with self._lock:
            if capacity != self._items.maxlen:
                self._items = deque(self._items, maxlen=capacity)

    @property
    def next_index(self) -> int:
        """The index the next item will get: how many items were ever appended."""
        return self._next

    @property
    def first_index(self) -> int:
        """The index of the oldest item still held (== next_index when empty)."""
        with self._lock:
            return self._next - len(self._items)

    def append(self, item: T) -> int:
        """Add an item (dropping the oldest when full); returns the item's index."""
        with self._lock:
            self._items.append(item)
            self._next += 1
            return self._next - 1

    def since(self, index: int) -> tuple[list[T], int]:
        """Items with index >= `index` still held, oldest first, and the index to ask for next.

        Asking with an index older than the oldest held item returns everything held (what was
        dropped is gone); asking with `next_index` or later returns nothing.
        """
        if not isinstance(index, int) or isinstance(index, bool):
            raise TypeError(f"since(index) takes an int index, not {type(index).__name__}")
        with self._lock:
            held = len(self._items)
            skip = held - max(0, self._next - max(index, 0))
            items = list(self._items)[max(0, skip):] if skip < held else []
            return items, self._next

    def latest(self) -> T | None:
        with self._lock:
            return self._items[-1] if self._items else None

    def to_list(self) -> list[T]:
        """Every item held, oldest first."""
        with self._lock:
            return list(self._items)

    def __len__(self) -> int:
        return len(self._items)

    def __iter__(self) -> Iterator[T]:
        return iter(self.to_list())

    def __repr__(self) -> str:
        return f"<Ring {len(self)}/{self.capacity} next_index={self._next}>"


def _check_capacity(capacity: int) -> None:
    if not isinstance(capacity, int) or isinstance(capacity, bool):
        raise TypeError(f"capacity must be an int number of items, not {type(capacity).__name__}")
    if capacity < 1:
        raise ValueError(f"capacity must be >= 1, got {capacity}")
