"""Durable history: a store survives its owner's death, keeps full logs, and refuses bad states clearly."""

from __future__ import annotations

import csv
import hashlib
import json
import os
import signal
import sqlite3
import subprocess
import sys
import textwrap

import psutil
import pytest
from helpers import wait_for

import procwidgets as pw
from procwidgets import JobState
from procwidgets.core.logfile import read_log
from procwidgets.core.store import StoreError

PRINTER = "import itertools, time\nfor i in itertools.count():\n    print(f'line {i}', flush=True); time.sleep(0.005)"

OWNER = textwrap.dedent("""
    import sys, time
    import procwidgets as pw
    pool = pw.ProcessPool(max_workers=2, store=sys.argv[1], kill_grace=1)
    done = pool.submit([sys.executable, "-c", "print('quick')"], name="quick")
    done.wait(10)
    running = [pool.submit([sys.executable, "-u", "-c", sys.argv[2]], name=f"printer {i}") for i in range(2)]
    queued = pool.submit([sys.executable, "-c", "pass"], name="waiting")
    while not all(j.output_seq >= 50 for j in running):
        time.sleep(0.01)
    print(" ".join(str(j.output_seq) for j in running), flush=True)
    time.sleep(300)
""")


def run_owner_and_kill(store) -> list[int]:
    owner = subprocess.Popen([sys.executable, "-c", OWNER, str(store), PRINTER], stdout=subprocess.PIPE, text=True)
    try:
        seen = [int(n) for n in owner.stdout.readline().split()]
        os.kill(owner.pid, signal.SIGKILL)
        owner.wait(10)
    finally:
        if owner.poll() is None:
            owner.kill()
            owner.wait()
    return seen


def test_owner_killed_jobs_are_interrupted_and_logs_kept(tmp_path):
    store = tmp_path / "store"
    seen = run_owner_and_kill(store)
    pool = pw.ProcessPool(max_workers=2, store=store)
    try:
        by_name = {j.name: j for j in pool.jobs}
        assert sorted(by_name) == ["printer 0", "printer 1", "quick", "waiting"]
        assert by_name["quick"].state is JobState.SUCCEEDED and by_name["quick"].tail() == ["quick"]
        assert by_name["waiting"].state is JobState.INTERRUPTED and "was QUEUED" in by_name["waiting"].error
        for i, count in enumerate(seen):
            job = by_name[f"printer {i}"]
            assert job.state is JobState.INTERRUPTED and "was RUNNING" in job.error
            lines = [text for stream, text in read_log(job.log_path)]
            # every line the owner had read is on disk, in order, none missing in between
            assert len(lines) >= count
            assert lines == [f"line {n}" for n in range(len(lines))]
        assert [s for _, s, _ in by_name["printer 0"].history] == [JobState.QUEUED, JobState.RUNNING,
                                                                  JobState.INTERRUPTED]
        # nothing starts by itself; retry queues new attempts
        assert all(j.state.is_finished for j in pool.jobs)
        again = pool.retry_interrupted()
        assert sorted(j.retry_of for j in again) == sorted(by_name[n].id for n in ("printer 0", "printer 1", "waiting"))
        assert pool.retry_interrupted() == []  # each only once
        waiting_again = next(j for j in again if j.retry_of == by_name["waiting"].id)
        printers_again = [j for j in again if j is not waiting_again]
        wait_for(lambda: all(j.output_seq > 0 for j in printers_again), message="the printers run again")
        for job in printers_again:
            job.cancel()
        assert waiting_again.wait(10) is JobState.SUCCEEDED
        pool.wait(10)
    finally:
        pool.shutdown()
    # and a third pool sees the retries too
    with pw.ProcessPool(store=store) as third:
        assert len(third.jobs) == 7
        assert {j.state for j in third.jobs if j.retry_of} == {JobState.SUCCEEDED, JobState.CANCELLED}


def test_a_hundred_megabytes_of_output_go_to_the_log_not_to_memory(tmp_path):
    me = psutil.Process()
    code = "import sys\nline = b'x' * 1023 + b'\\n'\nfor _ in range(100 * 1024): sys.stdout.buffer.write(line)"
    with pw.ProcessPool(max_workers=1, store=tmp_path, tail_lines=100) as pool:
        before = me.memory_info().rss
        job = pool.submit([sys.executable, "-c", code])
        peak = before
        while not job.state.is_finished:
            peak = max(peak, me.memory_info().rss)
            try:  # sample the owner's RSS every 50 ms while the job runs
                job.wait(0.05)
            except TimeoutError:
                pass
    assert job.state is JobState.SUCCEEDED
    assert os.path.getsize(job.log_path) >= 100 * 1024 * 1024
    assert sum(1 for stream, text in read_log(job.log_path) if text == "x" * 1023) == 100 * 1024
    assert peak - before < 40 * 1024 * 1024, f"owner grew {(peak - before) / 1e6:.0f} MB"
    assert job.output_seq == 100 * 1024 and len(job.tail(1000)) == 100


def test_two_owners_on_one_store_do_not_collide(tmp_path):
    script = textwrap.dedent("""
        import sys
        import procwidgets as pw
        with pw.ProcessPool(max_workers=4, store=sys.argv[1]) as pool:
            jobs = [pool.submit(["true"], name=f"{sys.argv[2]}-{i}") for i in range(150)]
        print(",".join(str(j.id) for j in jobs))
    """)
    owners = [subprocess.Popen([sys.executable, "-c", script, str(tmp_path), tag], stdout=subprocess.PIPE, text=True)
              for tag in ("a", "b")]
    ids = []
    for owner in owners:
        out, _ = owner.communicate(timeout=120)
        assert owner.returncode == 0
        ids.append({int(i) for i in out.split(",")})
    assert len(ids[0]) == len(ids[1]) == 150 and not ids[0] & ids[1]
    with sqlite3.connect(tmp_path / "jobs.sqlite3") as db:
        assert db.execute("SELECT count(*), count(DISTINCT id) FROM jobs WHERE state = 'succeeded'").fetchone() == (
            300, 300)
        assert db.execute("PRAGMA integrity_check").fetchone() == ("ok",)


def test_history_and_exports(tmp_path):
    with pw.ProcessPool(max_workers=2, store=None) as pool:
        ok = pool.submit(["true"], name="ok")
        bad = pool.submit(["false"], name="bad")
    records = pool.history()
    assert [(r["id"], r["name"], r["state"], r["returncode"]) for r in records] == [
        (ok.id, "ok", "SUCCEEDED", 0), (bad.id, "bad", "FAILED", 1)]
    assert ok.log_path is None  # memory only
    pool.export(tmp_path / "h.json")
    assert json.loads((tmp_path / "h.json").read_text())[1]["error"] == "exit code 1"
    pool.export(tmp_path / "h.csv")
    rows = list(csv.DictReader((tmp_path / "h.csv").open()))
    assert [r["state"] for r in rows] == ["SUCCEEDED", "FAILED"]
    with pytest.raises(ValueError, match=r"must end in \.csv or \.json"):
        pool.export(tmp_path / "h.xlsx")


def test_store_path_that_is_a_file(tmp_path):
    path = tmp_path / "a-file"
    path.write_text("keep me")
    with pytest.raises(StoreError, match="is a file, not a directory.*store=None"):
        pw.ProcessPool(store=path)
    assert path.read_text() == "keep me"
    with pytest.raises(TypeError, match="store must be a directory path or None"):
        pw.ProcessPool(store=42)


def test_store_on_a_read_only_directory(tmp_path):
    ro = tmp_path / "ro"
    ro.mkdir()
    mounted = subprocess.run(["mount", "-t", "tmpfs", "-o", "ro,size=1m", "tmpfs", str(ro)], capture_output=True)
    if mounted.returncode != 0:
        pytest.skip(f"cannot mount a read-only tmpfs here (needs root): {mounted.stderr.decode().strip()}")
    try:
        with pytest.raises(StoreError, match="not writable|cannot create"):
            pw.ProcessPool(store=ro / "store")
        with pytest.raises(StoreError, match="not writable|cannot create"):
            pw.ProcessPool(store=ro)
    finally:
        subprocess.run(["umount", str(ro)], check=True)


def test_store_from_a_future_schema_is_left_untouched(tmp_path):
    with pw.ProcessPool(store=tmp_path) as pool:
        pool.submit(["true"])
    db_file = tmp_path / "jobs.sqlite3"
    with sqlite3.connect(db_file) as db:
        db.execute("UPDATE meta SET value = '99' WHERE key = 'schema_version'")
    digest = hashlib.sha256(db_file.read_bytes()).hexdigest()
    with pytest.raises(StoreError, match="newer procwidgets \\(schema 99.*Nothing in it was changed"):
        pw.ProcessPool(store=tmp_path)
    assert hashlib.sha256(db_file.read_bytes()).hexdigest() == digest


def test_store_of_schema_1_is_upgraded_in_place_and_keeps_its_history(tmp_path):
    with pw.ProcessPool(store=tmp_path) as pool:
        old = pool.submit(["echo", "from schema 1"], name="old")
    db_file = tmp_path / "jobs.sqlite3"
    with sqlite3.connect(db_file) as db:  # as procwidgets wrote it before jobs had a worker column
        db.execute("ALTER TABLE jobs DROP COLUMN worker")
        db.execute("UPDATE meta SET value = '1' WHERE key = 'schema_version'")
    with pw.ProcessPool(store=tmp_path) as pool:
        restored = pool.get(old.id)
        assert (restored.name, restored.state, restored.worker) == ("old", JobState.SUCCEEDED, None)
        assert restored.tail() == ["from schema 1"]
        new = pool.submit(["true"])
    with sqlite3.connect(db_file) as db:
        assert db.execute("SELECT value FROM meta WHERE key = 'schema_version'").fetchone() == ("2",)
        rows = db.execute("SELECT id, worker FROM jobs ORDER BY id").fetchall()
    assert rows == [(old.id, None), (new.id, None)]
    with pw.ProcessPool(store=tmp_path) as pool:
        assert pool.history()[0]["worker"] is None


def test_corrupted_database_is_kept_aside(tmp_path):
    with pw.ProcessPool(store=tmp_path) as pool:
        job = pool.submit(["echo", "hello"])
    log = job.log_path
    (tmp_path / "jobs.sqlite3").write_bytes(b"this is not a database at all" * 100)
    for extra in ("jobs.sqlite3-wal", "jobs.sqlite3-shm"):
        (tmp_path / extra).unlink(missing_ok=True)
    with pytest.warns(RuntimeWarning, match="was corrupted.*kept aside"):
        pool = pw.ProcessPool(store=tmp_path)
    try:
        kept = [p.name for p in tmp_path.iterdir() if ".corrupt-" in p.name]
        assert kept and (tmp_path / kept[0]).read_bytes().startswith(b"this is not a database")
        assert pool.jobs == []  # a fresh database
        assert pool.submit(["true"]).wait(10) is JobState.SUCCEEDED
        assert list(read_log(log)) == [("stdout", "hello")]  # logs untouched
    finally:
        pool.shutdown()


# The store shares the full disk with the log: whether its own writes fail too (and it warns) depends on timing.
@pytest.mark.filterwarnings("ignore:procwidgets store.*store writes failing:RuntimeWarning")
def test_disk_full_stops_the_log_not_the_job(tmp_path):
    small = tmp_path / "small"
    small.mkdir()
    mounted = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=256k", "tmpfs", str(small)], capture_output=True)
    if mounted.returncode != 0:
        pytest.skip(f"cannot mount a small tmpfs here (needs root): {mounted.stderr.decode().strip()}")
    try:
        with pw.ProcessPool(max_workers=1, store=small) as pool:
            job = pool.submit([sys.executable, "-c", "for i in range(20000): print('x' * 99)"])
            after = pool.submit([sys.executable, "-c", "print('still fine')"])
        assert job.state is JobState.SUCCEEDED and job.output_seq == 20000  # the job went on
        assert "log writing stopped" in job.error and "No space left" in job.error
        assert "log writing stopped" in job.history[-1][2]
        assert after.state is JobState.SUCCEEDED and after.tail() == ["still fine"]
    finally:
        subprocess.run(["umount", "-l", str(small)], check=True)
