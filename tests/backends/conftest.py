"""Fixtures for the Dask backend's tests: a real `LocalCluster` (2 worker processes, 1 thread each).

The cluster is function-scoped (~1 s to start): its worker processes carry the suite's leak mark,
and a worker that a test kills is restarted by its nanny, so only a cluster closed within each
test lets the suite's guard check that no worker, watchdog or job process is left behind.
"""

from __future__ import annotations

import os

import pytest

distributed = pytest.importorskip("distributed")

import procwidgets as pw  # noqa: E402
from procwidgets.backends.dask import DaskBackend  # noqa: E402


@pytest.fixture(scope="module", autouse=True)
def unmarked_resource_tracker():
    """multiprocessing starts one resource tracker per interpreter, with the first worker process,
    and it lives until the interpreter exits by design: start it without the leak mark, so the
    guard keeps watching what a test can leave behind (workers, watchdogs, jobs)."""
    from multiprocessing import resource_tracker

    mark = os.environ.pop("PROCWIDGETS_TEST_MARK")
    try:
        resource_tracker.ensure_running()
    finally:
        os.environ["PROCWIDGETS_TEST_MARK"] = mark


@pytest.fixture
def cluster():
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True, host="127.0.0.1",
                                  dashboard_address="127.0.0.1:0", resources={"GPU": 1}) as cluster:
        yield cluster


@pytest.fixture
def strict_client():
    """A cluster whose scheduler never re-runs a task after losing its worker (allowed-failures=0),
    so a lost worker reaches the pool only through the scheduler's "remove-worker" event, not
    through a second start elsewhere that the backend would also notice."""
    import dask

    with dask.config.set({"distributed.scheduler.allowed-failures": 0}), \
            distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True, host="127.0.0.1",
                                     dashboard_address="127.0.0.1:0") as cluster, \
            distributed.Client(cluster) as client:
        yield client


@pytest.fixture
def client(cluster):
    with distributed.Client(cluster) as client:
        yield client


@pytest.fixture
def make_pool(client):
    pools: list[pw.ProcessPool] = []

    def make(**kwargs) -> pw.ProcessPool:
        pool = pw.ProcessPool(backend=DaskBackend(client), store=None, **kwargs)
        pools.append(pool)
        return pool

    yield make
    for pool in pools:  # before the client and the cluster close
        pool.shutdown(kill=True)
