"""Shared plumbing of the widgets: a throttled refresher thread and the close() discipline.

Why a thread of our own: pool events arrive on the pool's engine thread, which must never wait
on a widget (it starts jobs and reads their output). A subscriber therefore only records what
changed and pokes a `Refresher`; the refresher's thread renders at most every `min_interval`
seconds, so a burst of 1,000 state changes costs a handful of renders, and it keeps rendering
while a notebook cell blocks (the kernel's own loop would freeze). It holds its owner by weak
reference, like distributed's dashboard timers, so a forgotten widget does not live forever.
"""

from __future__ import annotations

import html
import logging
import threading
import time
import weakref
from collections.abc import Callable
from typing import Any

__all__ = ["LiveWidget", "Refresher", "esc", "fmt_bytes", "fmt_seconds", "log"]

log = logging.getLogger("procwidgets.widgets")


class Refresher:
    """Calls `owner.<method>()` on a daemon thread: soon after `poke()`, never more often than
    every `min_interval` seconds, and every `period` seconds if `period` is set.

    `stop()` joins the thread, so once it returns the method will not run again.
    """

    def __init__(self, method: Callable[[], Any], *, min_interval: float = 0.1,
                 period: float | None = None, name: str = "procwidgets-refresh") -> None:
        if min_interval < 0 or (period is not None and period <= 0):
            raise ValueError(f"min_interval must be >= 0 and period > 0 or None, got {min_interval}, {period}")
        self._method = weakref.WeakMethod(method)  # type: ignore[arg-type]
        self.min_interval = float(min_interval)
        self.period = period
        self._cond = threading.Condition()
        self._dirty = False
        self._stopped = False
        self.runs = 0
        """How many times the method ran (tests and benchmarks read it)."""
        self._thread = threading.Thread(target=self._run, name=name, daemon=True)
        self._thread.start()

    @property
    def alive(self) -> bool:
        return self._thread.is_alive()

    def poke(self) -> None:
        """Ask for a run soon; many pokes before the run cost one run. Any thread, never blocks long."""
        with self._cond:
            if not self._dirty:
                self._dirty = True
                self._cond.notify()

    def stop(self, timeout: float = 10.0) -> None:
        """Stop and join the thread (unless called from it). Idempotent."""
        with self._cond:
            self._stopped = True
            self._cond.notify()
        if threading.current_thread() is not self._thread:
            self._thread.join(timeout)

    def _wait(self, seconds: float) -> bool:
        """Sleep up to `seconds` unless stopped; True if stopped."""
        with self._cond:
            return self._cond.wait_for(lambda: self._stopped, max(0.0, seconds))

    def _run(self) -> None:
        last = time.monotonic()  # the owner renders once itself; the first periodic run is one period on
        while True:
            with self._cond:
                while not self._stopped and not self._dirty:
                    if self.period is None:
                        self._cond.wait()
                    else:
                        left = last + self.period - time.monotonic()
                        if left <= 0:
                            break
                        self._cond.wait(left)
                if self._stopped:
                    return
            # Throttle: a burst of pokes within min_interval of the last run waits for one run.
            if self._wait(last + self.min_interval - time.monotonic()):
                return
            with self._cond:
                self._dirty = False
            method = self._method()
            if method is None:  # the owner was garbage-collected
                return
            try:
                method()
            except Exception:  # noqa: BLE001 - a render bug must not kill the refresher; say where
                log.exception("procwidgets: refreshing %r failed", getattr(method, "__self__", method))
            finally:
                del method
                self.runs += 1
                last = time.monotonic()


def esc(text: object) -> str:
    """HTML-escape any value for inline rendering (quotes too: values land in attributes)."""
    return html.escape(str(text), quote=True)


def fmt_seconds(seconds: float | None) -> str:
    if seconds is None:
        return ""
    s = int(seconds)
    if s < 60:
        return f"{seconds:.1f} s" if seconds < 10 else f"{s} s"
    if s < 3600:
        return f"{s // 60}m{s % 60:02d}s"
    return f"{s // 3600}h{s // 60 % 60:02d}m"


def fmt_bytes(n: float | None) -> str:
    if n is None:
        return ""
    for unit in ("B", "K", "M", "G"):
        if abs(n) < 1024:
            return f"{n:.0f}{unit}" if unit == "B" or n >= 100 else f"{n:.1f}{unit}"
        n /= 1024
    return f"{n:.1f}T"


class LiveWidget:
    """Mixin for a widget that subscribes to a pool and renders from a `Refresher`: the one
    close() discipline (unsubscribe, join the refresher so nothing runs after close, then close
    the parts under the render lock). Subclasses set `_closed`, `_unsubscribe`, `_refresher`,
    `_render_lock` and list their child widgets in `_parts()`."""

    def _parts(self) -> Any:
        return ()

    def close(self) -> None:
        if getattr(self, "_closed", True):  # closed already, or __init__ failed part-way
            return super().close()  # type: ignore[misc]
        self._closed = True
        self._unsubscribe()  # type: ignore[attr-defined]
        self._refresher.stop()  # type: ignore[attr-defined]
        with self._render_lock:  # type: ignore[attr-defined]
            for part in self._parts():
                part.close()
        super().close()  # type: ignore[misc]
