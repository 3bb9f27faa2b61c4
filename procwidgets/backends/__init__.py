"""Where jobs run: `LocalBackend` (subprocesses on this machine, the default) and, with Dask
distributed installed, `DaskBackend`."""

from .base import Backend, SpawnError
from .local import LocalBackend

__all__ = ["Backend", "LocalBackend", "SpawnError"]
