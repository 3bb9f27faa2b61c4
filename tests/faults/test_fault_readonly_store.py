"""A store on a read-only path: a clear StoreError at once, nothing changed, nothing left running."""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys
import threading

import pytest
from faultkit import assert_no_leak, mounted

import procwidgets as pw
from procwidgets import JobState


def digest(directory) -> dict[str, str]:
    return {str(p.relative_to(directory)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(directory.rglob("*")) if p.is_file()}


def test_an_existing_store_made_read_only(tmp_path):
    store, view = tmp_path / "store", tmp_path / "view"
    with pw.ProcessPool(max_workers=1, store=store) as pool:
        done = pool.submit([sys.executable, "-c", "print('kept')"])
    assert done.state is JobState.SUCCEEDED
    before = digest(store)
    threads = set(threading.enumerate())
    with mounted(view, "bind", source=str(store), fstype=None):
        remount = subprocess.run(["mount", "-o", "remount,bind,ro", str(view)], capture_output=True)
        if remount.returncode != 0:
            pytest.skip(f"cannot make a read-only bind mount: {remount.stderr.decode().strip()}")
        with pytest.raises(pw.StoreError, match=r"is not writable \(Read-only file system\).*store=None"):
            pw.ProcessPool(max_workers=1, store=view)
        os.environ["PROCWIDGETS_STORE"] = str(view)  # the same through the default store=
        try:
            with pytest.raises(pw.StoreError, match="not writable"):
                pw.ProcessPool(max_workers=1)
        finally:
            os.environ["PROCWIDGETS_STORE"] = ""
        # the advice works: a memory-only pool runs
        with pw.ProcessPool(max_workers=1, store=None) as pool:
            assert pool.submit([sys.executable, "-c", "pass"]).wait(10) is JobState.SUCCEEDED
    assert digest(store) == before  # nothing in the store was touched
    assert_no_leak()  # no watchdog was started for the refused pools
    leftover = [t for t in set(threading.enumerate()) - threads if t.is_alive() and t.name.startswith("procwidgets")]
    assert leftover == []  # nor a store writer or an engine thread
    with pw.ProcessPool(max_workers=1, store=store) as pool:  # writable again: the history is whole
        (restored,) = pool.jobs
        assert restored.id == done.id and restored.tail() == ["kept"]


def test_a_store_below_a_read_only_mount_is_refused(tmp_path):
    ro = tmp_path / "ro"
    with mounted(ro, "ro,size=64k"):
        for path in (ro, ro / "nested" / "store"):
            with pytest.raises(pw.StoreError, match="not writable|cannot create") as refused:
                pw.ProcessPool(max_workers=1, store=path)
            assert "Read-only file system" in str(refused.value) and "store=None" in str(refused.value)
    assert_no_leak()
