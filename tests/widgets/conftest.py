"""Fixtures for widget tests: a real pool (always shut down), a spy on every widget message,
waits by condition with a deadline, and a check that no widget thread outlives its test."""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Iterator
from typing import Any

import ipywidgets
import pytest
from widget_helpers import Spy

import procwidgets as pw


@pytest.fixture
def spy(monkeypatch: pytest.MonkeyPatch) -> Spy:
    s = Spy()
    monkeypatch.setattr(ipywidgets.Widget, "_send", lambda self, msg, buffers=None: s.record(self, msg, buffers))
    return s


@pytest.fixture
def pool() -> Iterator[pw.ProcessPool]:
    p = pw.ProcessPool(max_workers=2, kill_grace=1.0, store=None)  # memory only: no job from elsewhere
    try:
        yield p
    finally:
        p.shutdown(kill=True)


def widget_threads() -> list[threading.Thread]:
    names = ("procwidgets-table", "procwidgets-chart", "procwidgets-log", "procwidgets-timeline")
    return [t for t in threading.enumerate() if t.name in names and t.is_alive()]


@pytest.fixture(autouse=True)
def clean_widgets(recwarn: pytest.WarningsRecorder, caplog: pytest.LogCaptureFixture) -> Iterator[None]:
    """After each test: no widget thread left, no subscriber that raised, no render that failed."""
    caplog.set_level(logging.ERROR, logger="procwidgets.widgets")
    yield
    # Every test closes its widgets; a thread still alive here is a close() that did not stop it.
    assert widget_threads() == [], f"widget threads left running: {widget_threads()}"
    raised = [str(w.message)[:300] for w in recwarn if "procwidgets subscriber" in str(w.message)]
    assert raised == [], f"a widget's event callback raised: {raised}"
    failed = [r.getMessage() for r in caplog.records if r.name == "procwidgets.widgets"]
    assert failed == [], f"a widget's refresh failed: {failed}"


@pytest.fixture
def closer() -> Iterator[Callable[[Any], Any]]:
    """`closer(widget)` returns the widget and closes it at teardown (before the pool shuts down)."""
    made: list[Any] = []

    def keep(widget: Any) -> Any:
        made.append(widget)
        return widget

    yield keep
    for widget in reversed(made):
        widget.close()
