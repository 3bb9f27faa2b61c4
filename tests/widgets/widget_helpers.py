"""Helpers for the widget tests (a module of its own, so no test imports a `conftest`)."""

from __future__ import annotations

import json
import sys
import threading
from collections.abc import Callable
from typing import Any

import ipywidgets
from helpers import wait_for as shared_wait_for

PY = sys.executable


def cmd(code: str) -> list[str]:
    """A real child: this Python, unbuffered, running `code`."""
    return [PY, "-u", "-c", code]


def wait_for(condition: Callable[[], Any], timeout: float = 10.0, what: str = "condition") -> Any:
    """Poll `condition` until it is truthy; fail the test with `what` after `timeout` seconds."""
    return shared_wait_for(condition, timeout=timeout, message=what)


class Spy:
    """Records every message any widget sends (patched at `Widget._send`, as comms do it)."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.messages: list[tuple[ipywidgets.Widget, dict[str, Any], int]] = []
        self.buffers: list[list[memoryview]] = []

    def record(self, widget: ipywidgets.Widget, msg: dict[str, Any], buffers: Any = None) -> None:
        size = len(json.dumps(msg, default=str)) + sum(memoryview(b).nbytes for b in buffers or [])
        with self.lock:
            self.messages.append((widget, msg, size))
            self.buffers.append([memoryview(b) for b in buffers or []])

    def clear(self) -> None:
        with self.lock:
            self.messages.clear()
            self.buffers.clear()

    def to(self, widget: ipywidgets.Widget) -> list[dict[str, Any]]:
        with self.lock:
            return [m for w, m, _ in self.messages if w is widget]

    def widgets(self) -> list[ipywidgets.Widget]:
        with self.lock:
            return [w for w, _, _ in self.messages]

    def __len__(self) -> int:
        with self.lock:
            return len(self.messages)
