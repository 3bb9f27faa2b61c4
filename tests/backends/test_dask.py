"""`DaskBackend` against a real `LocalCluster` (fixtures in conftest.py): streaming, cancel, limits, lost workers."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

distributed = pytest.importorskip("distributed")
psutil = pytest.importorskip("psutil")

from helpers import wait_for  # noqa: E402

import procwidgets as pw  # noqa: E402
from procwidgets import JobState  # noqa: E402
from procwidgets.backends.dask import DaskBackend, worker_metrics  # noqa: E402
from procwidgets.core.logfile import read_log  # noqa: E402


def py(code: str) -> list[str]:
    return [sys.executable, "-u", "-c", code]


def worker_pids(client) -> dict[str, int]:
    return client.run(os.getpid)


def gone(pid: int) -> bool:
    try:
        return psutil.Process(pid).status() == psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return True


def test_default_limit_is_the_clusters_threads_and_jobs_run_on_the_workers(make_pool, client):
    pool = make_pool()
    assert pool.max_workers == 2
    job = pool.submit(py("import os; print(os.getppid())"))
    assert job.wait(30) is JobState.SUCCEEDED, job.error
    assert int(job.tail(1)[0]) in worker_pids(client).values()  # the job's parent is a worker process
    assert job.pid is not None and job.cpu_seconds is not None and job.cpu_seconds >= 0


def test_order_by_priority_and_priority_reaches_dask(make_pool, client, tmp_path):
    order = tmp_path / "order"
    pool = make_pool(max_workers=1)
    pool.pause()
    prios = [0, 5, 0, 9, 5, 1]
    code = f"import sys; open({str(order)!r}, 'a').write(sys.argv[1] + '\\n')"
    jobs = [pool.submit([*py(code), f"j{i}"], priority=p, name=f"j{i}") for i, p in enumerate(prios)]
    pool.resume()
    pool.wait(timeout=60)
    assert all(j.state is JobState.SUCCEEDED for j in jobs), [j.error for j in jobs]
    expected = [f"j{i}" for i in sorted(range(len(prios)), key=lambda i: (-prios[i], i))]
    assert order.read_text().split() == expected  # the order the commands really ran on the workers

    slow = pool.submit(py("import time; print('up'); time.sleep(30)"), priority=7)
    wait_for(lambda: slow.tail(1) == ["up"], timeout=30)
    key = pool._running[slow.id].key
    priority = client.run_on_scheduler(lambda dask_scheduler: dask_scheduler.tasks[key].priority)
    assert priority[0] == -7  # Dask orders by the negated user priority first
    slow.cancel()
    assert slow.wait(30) is JobState.CANCELLED


def test_concurrency_limit_holds_on_the_workers(make_pool, tmp_path):
    pool = make_pool()  # 2 slots: the cluster's threads
    code = (f"import glob, os, time, sys\n"
            f"me = os.path.join({str(tmp_path)!r}, sys.argv[1] + '.run'); open(me, 'w').close()\n"
            f"print(len(glob.glob(os.path.join({str(tmp_path)!r}, '*.run'))), os.getppid())\n"
            f"time.sleep(0.4); os.remove(me)")
    jobs = [pool.submit([*py(code), f"j{i}"]) for i in range(6)]
    pool.wait(timeout=60)
    assert all(j.state is JobState.SUCCEEDED for j in jobs), [j.error for j in jobs]
    seen = [tuple(map(int, j.tail(1)[0].split())) for j in jobs]
    assert max(n for n, _ in seen) == 2  # the limit is reached ...
    assert all(n <= 2 for n, _ in seen)  # ... and never exceeded
    assert len({ppid for _, ppid in seen}) == 2  # both workers ran jobs


def test_output_streams_while_the_job_runs(make_pool, tmp_path):
    go = tmp_path / "go"
    pool = make_pool()
    code = (f"import os, sys, time\nprint('ready'); print('warn', file=sys.stderr)\n"
            f"while not os.path.exists({str(go)!r}): time.sleep(0.01)\nprint('done')")
    job = pool.submit(py(code))
    wait_for(lambda: len(job.tail(5)) == 2, timeout=30, message="the first lines arrive while it runs")
    assert job.state is JobState.RUNNING
    assert sorted(job.tail(5, streams=True)) == [("stderr", "warn"), ("stdout", "ready")]
    go.touch()
    assert job.wait(30) is JobState.SUCCEEDED
    assert job.tail(5)[-1] == "done" and job.output_seq == 3


def test_the_log_file_gets_every_byte(client, tmp_path):
    pool = pw.ProcessPool(backend=DaskBackend(client), store=tmp_path, max_line=100)
    try:
        job = pool.submit(py("import sys\nprint('y' * 5000)\nprint('caf\\u00e9')\nprint('err', file=sys.stderr)"))
        assert job.wait(30) is JobState.SUCCEEDED
        assert job.tail(3)[0].endswith("…[4900 more characters cut]")  # the tail is bounded ...
    finally:
        pool.shutdown()
    lines = list(read_log(job.log_path))
    assert sorted(lines) == sorted([("stdout", "y" * 5000), ("stdout", "café"), ("stderr", "err")])  # ... the log whole


def test_long_lines_are_cut_and_heavy_output_arrives_whole(make_pool):
    pool = make_pool(tail_lines=100_000, max_line=100)
    job = pool.submit(py("print('x' * 1000)\nfor i in range(20000): print(i)"))
    assert job.wait(60) is JobState.SUCCEEDED
    lines = job.tail(100_000)
    assert lines[0].startswith("x" * 100) and "900 more characters cut" in lines[0]
    assert lines[1:] == [str(i) for i in range(20000)]


def test_cancel_kills_the_remote_process_tree(make_pool):
    pool = make_pool(kill_grace=2.0)
    job = pool.submit(["sh", "-c", "sleep 300 & sleep 300 & wait"])
    wait_for(lambda: job.pid is not None and len(psutil.Process(job.pid).children()) == 2, timeout=30)
    tree = [job.pid, *(c.pid for c in psutil.Process(job.pid).children())]
    assert job.cancel() is True
    assert job.wait(30) is JobState.CANCELLED
    assert job.error == "cancelled while running"
    wait_for(lambda: all(gone(p) for p in tree), timeout=5, message="every process of the tree is gone")


def test_cancel_before_the_worker_starts_it(make_pool):
    pool = make_pool()
    jobs = [pool.submit(["sleep", "300"]) for _ in range(2)]
    for job in jobs:  # straight after the hand-off, before (or just after) the worker starts it
        job.cancel()
    for job in jobs:
        assert job.wait(30) is JobState.CANCELLED
    assert pool._backend._attempts == {}


def test_pause_and_resume_reach_the_remote_group(make_pool):
    pool = make_pool()
    job = pool.submit(py("import time\nwhile True: print('tick', flush=True); time.sleep(0.05)"))
    wait_for(lambda: job.pid is not None and job.tail(1), timeout=30)
    job.pause()
    wait_for(lambda: psutil.Process(job.pid).status() == psutil.STATUS_STOPPED, timeout=5)
    job.resume()
    wait_for(lambda: psutil.Process(job.pid).status() != psutil.STATUS_STOPPED, timeout=5)
    job.cancel()
    assert job.wait(30) is JobState.CANCELLED


def test_timeout_and_a_job_that_ignores_sigterm(make_pool):
    pool = make_pool(kill_grace=0.5)
    polite = pool.submit(["sleep", "30"], timeout=0.5)
    stubborn = pool.submit(py("import signal, time\nsignal.signal(signal.SIGTERM, signal.SIG_IGN)\n"
                              "print('armed')\ntime.sleep(30)"), timeout=1.0)
    assert polite.wait(30) is JobState.TIMED_OUT
    assert polite.error == "timed out after 0.5 s"
    assert stubborn.wait(30) is JobState.TIMED_OUT
    assert stubborn.tail(1) == ["armed"]
    assert stubborn.error == "timed out after 1 s, KILLed after ignoring SIGTERM for 0.5 s"


def test_retries_run_the_job_again(make_pool, tmp_path):
    count = tmp_path / "count"
    pool = make_pool()
    code = (f"import os, sys\np = {str(count)!r}\nn = int(open(p).read()) if os.path.exists(p) else 0\n"
            f"open(p, 'w').write(str(n + 1)); sys.exit(0 if n >= 2 else 3)")
    job = pool.submit(py(code), retries=2)
    assert job.wait(60) is JobState.SUCCEEDED
    assert job.attempts == 3 and count.read_text() == "3"


def test_a_command_that_cannot_start_fails_the_job_not_the_pool(make_pool):
    pool = make_pool()
    job = pool.submit(["no-such-program-procwidgets"])
    assert job.wait(30) is JobState.FAILED and job.returncode == 127
    after = pool.submit(py("print('fine')"))
    assert after.wait(30) is JobState.SUCCEEDED


def test_a_spawn_error_on_a_worker_says_what_and_where(make_pool):
    pool = make_pool()
    job = pool.submit(["no-such-program-procwidgets"])
    assert job.wait(30) is JobState.FAILED
    assert job.error.startswith("on worker tcp://127.0.0.1:") and "no such program" in job.error


def _run_until_worker_killed(pool, client, retries: int):
    job = pool.submit(py("import os, time\nprint('up', os.getppid())\ntime.sleep(300)"), retries=retries)
    wait_for(lambda: job.tail(1) and job.tail(1)[0].startswith("up"), timeout=30)
    leader, worker_pid = job.pid, int(job.tail(1)[0].split()[1])
    address = next(a for a, pid in worker_pids(client).items() if pid == worker_pid)
    psutil.Process(worker_pid).kill()
    return job, leader, address


def test_a_worker_killed_mid_job_fails_the_job_and_the_pool_goes_on(make_pool, client):
    pool = make_pool()
    job, leader, address = _run_until_worker_killed(pool, client, retries=0)
    assert job.wait(30) is JobState.FAILED
    assert job.attempts == 1
    wait_for(lambda: gone(leader), timeout=10, message="the worker's watchdog killed the job's group")
    after = pool.submit(py("print('still working')"))
    assert after.wait(60) is JobState.SUCCEEDED and after.tail(1) == ["still working"]


def test_a_lost_worker_is_named_in_the_error(strict_client):
    pool = pw.ProcessPool(backend=DaskBackend(strict_client), store=None)
    try:
        job, _, address = _run_until_worker_killed(pool, strict_client, retries=0)
        assert job.wait(30) is JobState.FAILED
        assert job.error == f"worker {address} was lost while running the job; its processes were killed with it"
    finally:
        pool.shutdown()


def test_a_job_on_a_lost_worker_is_retried_when_retries_allow(make_pool, client):
    pool = make_pool()
    job, leader, _ = _run_until_worker_killed(pool, client, retries=1)
    wait_for(lambda: job.attempts == 2 and job.state is JobState.RUNNING, timeout=30)
    wait_for(lambda: job.pid != leader and job.tail(1)[0].startswith("up"), timeout=30)
    job.cancel()
    assert job.wait(30) is JobState.CANCELLED


def test_two_pools_on_one_client_both_hear_of_lost_workers(strict_client):
    client = strict_client
    pools = [pw.ProcessPool(backend=DaskBackend(client), store=None) for _ in range(2)]
    try:
        _two_pools_lose_their_workers(client, pools)
    finally:
        for pool in pools:
            pool.shutdown()


def _two_pools_lose_their_workers(client, pools):
    for pool in pools:  # two jobs at once on two 1-thread workers: each pool has used both workers
        warm = [pool.submit(py("import time; time.sleep(0.5)")) for _ in range(2)]
        assert all(j.wait(30) is JobState.SUCCEEDED for j in warm)
    jobs = [pool.submit(py("import os, time\nprint('up', os.getppid())\ntime.sleep(300)")) for pool in pools]
    wait_for(lambda: all(j.tail(1) for j in jobs), timeout=30)
    workers = {int(j.tail(1)[0].split()[1]) for j in jobs}
    assert len(workers) == 2  # one 1-thread worker each
    addresses = {pid: a for a, pid in worker_pids(client).items()}
    for pid in workers:
        psutil.Process(pid).kill()
    for job in jobs:
        assert job.wait(30) is JobState.FAILED
        assert job.error.startswith(f"worker {addresses[int(job.tail(1)[0].split()[1])]} was lost")


def test_shutdown_kills_remote_jobs(client):
    pool = pw.ProcessPool(backend=DaskBackend(client), store=None, kill_grace=1.0)
    job = pool.submit(["sleep", "300"])
    wait_for(lambda: job.pid is not None, timeout=30)
    leader = job.pid
    pool.shutdown(kill=True)
    assert job.state is JobState.CANCELLED and job.error == "pool shut down"
    wait_for(lambda: gone(leader), timeout=5)


def test_jobs_die_with_their_owner_even_by_sigkill(cluster):
    code = (f"import time\nfrom distributed import Client\nimport procwidgets as pw\n"
            f"from procwidgets.backends.dask import DaskBackend\n"
            f"pool = pw.ProcessPool(backend=DaskBackend(Client({cluster.scheduler_address!r})), store=None)\n"
            f"job = pool.submit(['sleep', '300'])\n"
            f"while job.pid is None: time.sleep(0.01)\n"
            f"print(job.pid, flush=True)\ntime.sleep(300)\n")
    owner = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, text=True)
    try:
        leader = int(owner.stdout.readline())
        assert not gone(leader)
        owner.kill()
        owner.wait()
        # The scheduler drops the dead client's tasks; the worker sees its task released and kills the job.
        wait_for(lambda: gone(leader), timeout=15, message="the job died with its owner")
    finally:
        owner.kill()
        owner.wait()
        owner.stdout.close()


def test_resources_reach_dask(make_pool, client):
    pool = make_pool()
    job = pool.submit(py("import time; print('up'); time.sleep(30)"), resources={"GPU": 1})
    wait_for(lambda: job.tail(1) == ["up"], timeout=30)
    key = pool._running[job.id].key
    restrictions = client.run_on_scheduler(lambda dask_scheduler: dask_scheduler.tasks[key].resource_restrictions)
    assert restrictions == {"GPU": 1}
    job.cancel()
    assert job.wait(30) is JobState.CANCELLED


def test_worker_metrics_come_from_the_workers(make_pool, client):
    pool = make_pool()
    job = pool.submit(py("import time; x = bytearray(50_000_000); print('up'); time.sleep(30)"))
    wait_for(lambda: job.tail(1) == ["up"], timeout=30)
    first = worker_metrics(client)
    assert set(first) == set(worker_pids(client))
    for sample in first.values():
        assert sample["memory_total"] > sample["memory_used"] > 0 and sample["worker_rss"] > 0
    second = pool._backend.worker_metrics()
    assert all(isinstance(s["cpu_percent"], float) for s in second.values())
    running = [s["jobs"][job.id] for s in second.values() if job.id in s["jobs"]]
    assert len(running) == 1 and running[0]["rss"] > 50_000_000 and running[0]["pid"] == job.pid
    job.cancel()
    assert job.wait(30) is JobState.CANCELLED


def test_monitor_shows_each_worker_and_samples_jobs_on_their_worker(make_pool, client):
    from procwidgets.core.monitor import Monitor

    pool = make_pool()
    busy = pool.submit(py("x = bytearray(60_000_000)\nprint('up')\nwhile True: pass"), name="busy")
    wait_for(lambda: busy.tail(1) == ["up"], timeout=30)
    addresses = set(worker_pids(client))
    assert busy.worker in addresses
    monitor = Monitor(pool, interval=0.2)
    try:
        def busy_seen():
            sample = monitor.next_sample(10)
            job = sample.jobs.get(busy.id)
            return (job is not None and job.cpu_percent > 50 and job.rss > 60_000_000
                    and set(sample.workers) == addresses)
        wait_for(busy_seen, timeout=30)
        sample = monitor.latest()
        where = sample.workers[busy.worker]
        assert where.jobs == 1 and where.rss > sample.jobs[busy.id].rss and where.error is None
        assert where.cpu_percent >= sample.jobs[busy.id].cpu_percent and where.host_memory_total > 0
        (idle,) = addresses - {busy.worker}
        assert sample.workers[idle].jobs == 0 and sample.workers[idle].cpu_percent < 50
        assert set(monitor.workers()) == addresses
        assert len(monitor.worker_history(busy.worker)) >= 1 and len(monitor.job_history(busy)) >= 1
        assert sample.jobs[busy.id].name == "busy" and sample.jobs[busy.id].num_procs == 1
        busy.cancel()
        assert busy.wait(30) is JobState.CANCELLED
        wait_for(lambda: monitor.next_sample(10).workers[busy.worker].jobs == 0, timeout=30)
        assert busy.id not in monitor.latest().jobs and monitor.job_history(busy)  # ended: history kept
        assert busy.peak_rss > 60_000_000 and pool.history()[-1]["worker"] == busy.worker
    finally:
        monitor.stop()


def test_chart_draws_a_line_per_worker(make_pool, client):
    from procwidgets.core.monitor import Monitor
    from procwidgets.widgets.chart import ResourceChart

    pool = make_pool()
    monitor = Monitor(pool, interval=0.2)
    chart = None
    try:
        wait_for(lambda: len(monitor.next_sample(10).workers) == 2, timeout=30)
        chart = ResourceChart(monitor, interval=60)

        def worker_lines() -> int:
            chart.refresh()
            return sum(t.visible is True and t.name.startswith("worker ") for t in chart.figure.data)
        wait_for(lambda: worker_lines() == 4, timeout=30)  # CPU and memory, for each of 2 workers
        names = {t.name for t in chart.figure.data if t.visible is True and t.name.startswith("worker ")}
        assert names == {f"worker {a.split('://')[1]}" for a in worker_pids(client)}
        cpu = [t for t in chart.figure.data if t.name in names and t.xaxis == "x"]
        assert len(cpu) == 2 and all(0 <= float(y) <= 100 for t in cpu for y in t.y)
    finally:
        if chart is not None:
            chart.close()
        monitor.stop()


def test_more_slots_than_threads_lets_dask_queue_jobs_ahead(make_pool):
    from procwidgets.widgets._rows import row_html

    pool = make_pool(max_workers=4)  # the cluster has 2 threads
    jobs = [pool.submit(py("import time; print('up'); time.sleep(30)"), name=f"run {i}") for i in range(4)]
    wait_for(lambda: sum(j.tail(1) == ["up"] for j in jobs) == 2, timeout=30)
    assert all(j.state is JobState.RUNNING for j in jobs)  # handed to Dask, which runs 2 at a time
    waiting = [j for j in jobs if j.worker is None]
    assert len(waiting) == 2 and all(j.pid is None and not j.tail() for j in waiting)
    assert "no worker has started it yet" in row_html(waiting[0])
    running = [j for j in jobs if j.worker is not None]
    assert f"pid on worker {running[0].worker}" in row_html(running[0])
    running[0].cancel()
    assert running[0].wait(30) is JobState.CANCELLED
    wait_for(lambda: sum(j.tail(1) == ["up"] for j in waiting) == 1, timeout=30)  # the freed thread took one
    assert sum(j.tail(1) == ["up"] and j.state is JobState.RUNNING for j in jobs) == 2
    for job in jobs:
        job.cancel()
    assert [job.wait(30) for job in jobs] == [JobState.CANCELLED] * 4


def test_a_worker_with_another_procwidgets_version_is_named(make_pool, client):
    def install_an_older_run_job() -> None:  # what an older procwidgets on the worker looks like
        from procwidgets.backends import dask_worker

        def run_job(key, topic, argv, cwd, env, *, max_line, kill_grace, send_bytes, flush_seconds):
            raise AssertionError("not reached: the owner passes arguments this one does not take")
        dask_worker.run_job = run_job
    client.run(install_an_older_run_job)
    pool = make_pool()
    job = pool.submit(["true"])
    assert job.wait(30) is JobState.FAILED
    assert "does not match this one" in job.error and "same procwidgets version on every worker" in job.error


def test_bad_arguments_say_what_is_expected(client):
    with pytest.raises(TypeError, match="distributed.Client or a scheduler address"):
        DaskBackend(42)
    with pytest.raises(TypeError, match="flush_seconds must be a number of seconds"):
        DaskBackend(client, flush_seconds="fast")
    with pytest.raises(ValueError, match="positive, finite"):
        DaskBackend(client, flush_seconds=0)
    with pytest.raises(TypeError, match="pipeline_below must be a number of seconds"):
        DaskBackend(client, pipeline_below="short")
    with pytest.raises(ValueError, match=r"finite number of seconds >= 0 \(0 turns pipelining off\)"):
        DaskBackend(client, pipeline_below=-1)
    backend = DaskBackend(client)
    pool = pw.ProcessPool(backend=backend, store=None)
    try:
        with pytest.raises(RuntimeError, match="give each ProcessPool its own DaskBackend"):
            pw.ProcessPool(backend=backend, store=None)
    finally:
        pool.shutdown()


def test_procwidgets_imports_without_distributed_and_the_backend_says_how_to_get_it():
    code = ("import sys\nsys.modules['distributed'] = None\nimport procwidgets\n"
            "try:\n    import procwidgets.backends.dask\nexcept ImportError as exc:\n    print(exc)\n")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    assert "pip install distributed" in out.stdout
