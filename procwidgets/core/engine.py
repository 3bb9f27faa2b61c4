"""The event loop a pool (and a monitor) runs on, in a daemon thread, and the sync/async bridge.

Why a thread of its own: in Jupyter, cells run on the kernel's asyncio loop in the main thread,
and a cell that blocks (`time.sleep(30)`) freezes every task on that loop. A loop in its own
thread keeps starting jobs, reading output and sampling while the user's cell is busy, and no
caller ever has to manage an event loop. Everything that changes pool state runs on this thread;
callers from other threads go through `call` (wait for the answer) or `call_soon` (fire and go).

`run(coro)` is the one place that re-enters a running loop (with nest-asyncio2), so a user's
coroutine can be run to completion from a notebook cell and from a script alike.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import threading
from collections.abc import Awaitable, Callable, Coroutine
from typing import Any, TypeVar

__all__ = ["Engine", "EngineStopped", "run"]

T = TypeVar("T")


class EngineStopped(RuntimeError):
    """The engine's loop has stopped (its pool was shut down)."""


class Engine:
    """An asyncio loop in a daemon thread, with an owner-managed set of background tasks."""

    def __init__(self, name: str = "procwidgets-engine") -> None:
        self.loop = asyncio.new_event_loop()
        self._tasks: set[asyncio.Task[Any]] = set()
        self._started = threading.Event()
        self._stopped = False
        self._thread = threading.Thread(target=self._run, name=name, daemon=True)
        self._thread.start()
        self._started.wait()

    def _run(self) -> None:
        asyncio.set_event_loop(self.loop)
        self.loop.call_soon(self._started.set)
        try:
            self.loop.run_forever()
        finally:
            self._close_loop()

    def _close_loop(self) -> None:
        # Cancel and await whatever is left, so no "Task was destroyed but it is pending!".
        pending = [t for t in asyncio.all_tasks(self.loop) if not t.done()]
        for task in pending:
            task.cancel()
        if pending:
            self.loop.run_until_complete(asyncio.gather(*pending, return_exceptions=True))
        self.loop.run_until_complete(self.loop.shutdown_asyncgens())
        self.loop.close()

    # -- where are we -----------------------------------------------------------------------

    @property
    def running(self) -> bool:
        return not self._stopped and self._thread.is_alive()

    def in_engine_thread(self) -> bool:
        return threading.current_thread() is self._thread

    def refuse_blocking_call(self, what: str) -> None:
        """Raise instead of deadlocking when a blocking call is made from the engine itself."""
        if self.in_engine_thread():
            raise RuntimeError(
                f"{what} blocks, and it was called on the pool's engine thread (from a subscriber "
                f"callback?), where it would wait forever; use `await job` in async code instead")

    # -- crossing threads -------------------------------------------------------------------

    def call_soon(self, fn: Callable[..., Any], *args: Any) -> None:
        """Run `fn(*args)` on the engine thread soon; callbacks run in the order they were posted."""
        if self._stopped:
            raise EngineStopped("the engine has stopped; its pool was shut down")
        self.loop.call_soon_threadsafe(fn, *args)

    def call(self, fn: Callable[..., T], *args: Any) -> T:
        """Run `fn(*args)` on the engine thread and return its result (or raise its exception)."""
        if self.in_engine_thread():
            return fn(*args)
        if not self.running:
            raise EngineStopped("the engine has stopped; its pool was shut down")
        result: concurrent.futures.Future[T] = concurrent.futures.Future()

        def invoke() -> None:
            try:
                result.set_result(fn(*args))
            except BaseException as exc:  # noqa: BLE001 - handed to the caller, who re-raises it
                result.set_exception(exc)

        self.loop.call_soon_threadsafe(invoke)
        return result.result()

    def submit(self, coro: Coroutine[Any, Any, T]) -> concurrent.futures.Future[T]:
        """Schedule a coroutine on the engine from any thread; returns a concurrent future."""
        if not self.running:
            coro.close()
            raise EngineStopped("the engine has stopped; its pool was shut down")
        return asyncio.run_coroutine_threadsafe(coro, self.loop)

    def spawn(self, coro: Coroutine[Any, Any, T], name: str | None = None) -> asyncio.Task[T]:
        """Start an owned background task (engine thread only); `stop` cancels what is left."""
        task = self.loop.create_task(coro, name=name)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        return task

    # -- lifetime ---------------------------------------------------------------------------

    def stop(self, timeout: float = 10.0) -> None:
        """Cancel the owned tasks, stop the loop and join the thread. Idempotent."""
        if self._stopped:
            return
        if self.in_engine_thread():
            raise RuntimeError("the engine cannot stop itself from its own thread; call stop() from another thread")
        self._stopped = True
        if self._thread.is_alive():
            self.loop.call_soon_threadsafe(self.loop.stop)
            self._thread.join(timeout)


def run(awaitable: Awaitable[T]) -> T:
    """Run a coroutine to completion from anywhere: a script, or a notebook cell.

    In a script there is no running loop, so this is `asyncio.run`. In a notebook cell the
    kernel's loop is already running and would refuse a nested `run_until_complete`; this is
    the one place procwidgets patches that loop with nest-asyncio2 (ipykernel's own choice).
    """
    try:
        loop = asyncio.get_running_loop()
    except RuntimeError:
        loop = None

    async def _wrap() -> T:
        return await awaitable

    if loop is None:
        return asyncio.run(_wrap())
    try:
        import nest_asyncio2 as nest_asyncio
    except ImportError:  # the archived original has the same API
        import nest_asyncio  # type: ignore[no-redef]
    nest_asyncio.apply(loop)
    return loop.run_until_complete(_wrap())
