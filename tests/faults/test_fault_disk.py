"""A full disk while jobs write their logs: the jobs go on, the error is visible, nothing else breaks."""

from __future__ import annotations

import os
import sys

import pytest
from faultkit import assert_every_job_recorded, assert_no_leak, mounted

import procwidgets as pw
from procwidgets import JobState
from procwidgets.core.logfile import read_log

PRINTER = "import sys\nfor i in range(int(sys.argv[1])): print(f'{i:09d} ' + 'x' * 90)"
SIZES = [100, 3000, 5000, 8000, 200, 6000]  # ~100 bytes a line: 2.2 MB in all, for 1 MB of disk


def expected(n: int) -> list[str]:
    return [f"{i:09d} " + "x" * 90 for i in range(n)]


def fill(directory: str) -> str:
    """Fill the file system of `directory` to the last byte; returns the filler's path."""
    path = os.path.join(directory, "filler")
    block = b"\0" * 65536
    with open(path, "wb", buffering=0) as f:
        for size in (65536, 4096, 512, 1):
            try:
                while True:
                    f.write(block[:size])
            except OSError:
                pass
    return path


def test_full_log_disk_with_several_jobs(tmp_path):
    """Logs on a full disk, the database elsewhere: every job succeeds with all its output read,
    each truncated log says so in its job's error and keeps an intact prefix, and the records stay."""
    store = tmp_path / "store"
    with mounted(store / "logs", "size=1m"):
        with pw.ProcessPool(max_workers=4, store=store) as pool:
            jobs = [pool.submit([sys.executable, "-c", PRINTER, str(n)], name=f"printer {n}") for n in SIZES]
        after = None
        truncated = []
        for job, n in zip(jobs, SIZES):
            assert job.state is JobState.SUCCEEDED and job.returncode == 0  # the job went on
            assert job.output_seq == n and job.tail(1) == expected(n)[-1:]  # and all its output was read
            lines = [text for _, text in read_log(job.log_path)]
            if job.error is None:
                assert lines == expected(n)
            else:
                truncated.append(job)
                assert job.error.startswith("log writing stopped: No space left on device")
                assert job.log_path in job.error and "log writing stopped" in job.history[-1][2]
                # an intact prefix of whole lines (a record cut by the full disk is cut back)
                k = len(lines)
                assert k < n
                if k:
                    assert lines[:-1] == expected(n)[:k - 1] and expected(n)[k - 1].startswith(lines[-1])
        assert truncated, "the disk never filled: the test proved nothing"
        with pw.ProcessPool(max_workers=1, store=store) as again:  # nothing else broke
            after = again.submit([sys.executable, "-c", "print('still fine')"])
            restored = {j.id: j for j in again.jobs}
        assert after.state is JobState.SUCCEEDED and after.tail() == ["still fine"]
        # its log may or may not fit in what the cut-back records freed; if not, it says so
        assert after.error is None or after.error.startswith("log writing stopped")
        # no lost record: every job is in the store with its state and its error
        assert [(restored[j.id].state, restored[j.id].error) for j in jobs] == [(j.state, j.error) for j in jobs]
        assert_every_job_recorded(again, jobs)
    assert_no_leak()


def test_a_log_cut_by_a_full_disk_holds_only_lines_the_job_printed(tmp_path):
    store = tmp_path / "store"
    with mounted(store / "logs", "size=256k"):
        filler = fill(str(store / "logs"))
        os.truncate(filler, os.path.getsize(filler) - 4096)  # one page left: less than one line of the job
        with pw.ProcessPool(max_workers=1, store=store) as pool:
            job = pool.submit([sys.executable, "-c", "for i in range(3): print('y' * 5000)"])
        assert job.state is JobState.SUCCEEDED and job.output_seq == 3
        assert job.error.startswith("log writing stopped: No space left on device")
        assert [text for _, text in read_log(job.log_path) if text != "y" * 5000] == []
    assert_no_leak()


def test_submit_on_a_full_store_disk_is_a_job_or_a_clear_error(tmp_path):
    store = tmp_path / "store"
    with mounted(store, "size=256k"):
        pool = pw.ProcessPool(max_workers=1, store=store)
        try:
            fill(str(store))
            try:
                job = pool.submit([sys.executable, "-c", "print('hi')"])
            except pw.StoreError as exc:
                assert "full" in str(exc) and pool.jobs == []
            else:
                assert job.wait(30) is JobState.SUCCEEDED and job.tail() == ["hi"]
        finally:
            pool.shutdown()
    assert_no_leak()


def test_full_store_disk_loses_no_record_once_space_is_back(tmp_path):
    store = tmp_path / "store"
    with mounted(store, "size=1m"):
        pool = pw.ProcessPool(max_workers=4, store=store)
        try:
            first = pool.submit([sys.executable, "-c", "pass"])  # reserves a block of ids while there is room
            assert first.wait(30) is JobState.SUCCEEDED
            filler = fill(str(store))
            with pytest.warns(RuntimeWarning, match="store writes failing.*held in memory"):  # the user is told
                jobs = [first] + [pool.submit([sys.executable, "-c", PRINTER, str(n)], name=f"printer {n}")
                                  for n in SIZES]
                pool.wait(60)
            assert all(j.state is JobState.SUCCEEDED and j.error.startswith("log writing stopped") for j in jobs[1:])
            os.unlink(filler)  # space is back
            last = pool.submit([sys.executable, "-c", "print('last')"])
            assert last.wait(30) is JobState.SUCCEEDED and last.error is None
        finally:
            pool.shutdown()
        jobs.append(last)
        with pw.ProcessPool(max_workers=1, store=store) as again:
            restored = {j.id: j for j in again.jobs}
            assert sorted(restored) == sorted(j.id for j in jobs)
            assert [restored[j.id].state for j in jobs] == [JobState.SUCCEEDED] * len(jobs)
    assert_no_leak()
