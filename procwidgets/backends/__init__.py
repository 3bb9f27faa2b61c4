"""Where jobs run: `LocalBackend` (subprocesses on this machine, the default) and, with Dask
distributed installed, `DaskBackend`."""

from typing import Any

from .base import Backend, SpawnError
from .local import LocalBackend

# Not in __all__: they need the optional `distributed` package, and `import *` must work without it.
_DASK = frozenset({"DaskBackend", "worker_metrics"})

__all__ = ["Backend", "LocalBackend", "SpawnError"]


def __getattr__(name: str) -> Any:
    if name in _DASK:
        from . import dask
        return getattr(dask, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
