"""The notebook face of procwidgets: ipywidgets and one Plotly figure that observe a pool.

Widgets never own processes: every action goes through the pool's public API. They subscribe to
the pool's events (delivered on its engine thread), record what changed, and render from a
throttled thread of their own, sending only what changed. `close()` on any of them
unsubscribes and joins its thread.

Names are loaded on first use (PEP 562): Plotly costs about 2 s to import, and a table or a
form alone does not need it.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .chart import ResourceChart
    from .dashboard import Dashboard
    from .form import SubmitForm
    from .logview import LogView
    from .table import QueueTable
    from .timeline import Timeline

__all__ = ["Dashboard", "LogView", "QueueTable", "ResourceChart", "SubmitForm", "Timeline"]

_WHERE = {"Dashboard": "dashboard", "LogView": "logview", "QueueTable": "table", "ResourceChart": "chart",
          "SubmitForm": "form", "Timeline": "timeline"}


def __getattr__(name: str) -> Any:
    if name in _WHERE:
        value = getattr(importlib.import_module(f".{_WHERE[name]}", __name__), name)
        globals()[name] = value
        return value
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))
