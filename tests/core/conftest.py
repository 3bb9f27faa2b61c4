from __future__ import annotations

import pytest

import procwidgets as pw


@pytest.fixture
def make_pool():
    """Build pools that are always shut down (kill=True) after the test."""
    pools: list[pw.ProcessPool] = []

    def make(**kwargs) -> pw.ProcessPool:
        pool = pw.ProcessPool(**kwargs)
        pools.append(pool)
        return pool

    yield make
    for pool in pools:
        pool.shutdown(kill=True)
