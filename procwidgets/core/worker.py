"""`ReaderThread`: where a monitor's blocking reads run, so the engine's loop never waits on them.

The engine awaits an asyncio future; the thread runs the function and hands the result back with
`call_soon_threadsafe`. A daemon thread rather than a ThreadPoolExecutor: interpreter exit joins
executor threads, and a read stuck on a process in uninterruptible sleep must not hold the
notebook's exit.
"""

from __future__ import annotations

import asyncio
import queue
import threading
from collections.abc import Callable
from typing import Any

__all__ = ["ReaderThread"]


class ReaderThread:
    """One daemon thread that runs blocking calls, one at a time, for a loop that awaits them."""

    def __init__(self, name: str) -> None:
        self._queue: queue.SimpleQueue[Any] = queue.SimpleQueue()
        self._thread = threading.Thread(target=self._serve, name=name, daemon=True)
        self._thread.start()

    def _serve(self) -> None:
        while (item := self._queue.get()) is not None:
            loop, future, fn, args = item
            try:
                result, error = fn(*args), None
            except Exception as exc:  # noqa: BLE001 - handed to the awaiting tick
                result, error = None, exc
            try:
                loop.call_soon_threadsafe(_settle, future, result, error)
            except RuntimeError:  # the loop is closed: nobody is waiting any more
                pass

    def run(self, fn: Callable[..., Any], *args: Any) -> asyncio.Future[Any]:
        loop = asyncio.get_running_loop()
        future = loop.create_future()
        self._queue.put((loop, future, fn, args))
        return future

    def close(self, wait: bool) -> None:
        """Let the thread end after the call under way; `wait` joins it (not from the thread itself)."""
        self._queue.put(None)
        if wait and threading.current_thread() is not self._thread:
            self._thread.join(10.0)


def _settle(future: asyncio.Future[Any], result: Any, error: BaseException | None) -> None:
    if not future.done():
        if error is not None:
            future.set_exception(error)
        else:
            future.set_result(result)
