"""A monitor facing processes it may not fully read: another user's, and PID 1.

The suite runs as root, which may read every process, so the monitor runs in a child process as
the unprivileged user `nobody` (setpriv) and watches root's processes: their `fd/`, `io` and
`smaps_rollup` are denied to it, their `stat` is not.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile
import textwrap

import psutil
import pytest
from faultkit import assert_all_gone, kill_all
from helpers import wait_for

MONITOR_AS_NOBODY = textwrap.dedent("""
    import json, sys, warnings
    warnings.simplefilter("error")  # a sample that fails warns: make it fail the run instead
    from procwidgets.core.monitor import Monitor
    out = {}
    for reader in ("procfs", "psutil"):
        with Monitor(None, interval=0.05, reader=reader, memory_every=0.01) as mon:
            keys = [mon.watch(int(pid)) for pid in sys.argv[1:]]
            samples = [mon.next_sample(10) for _ in range(4)]
            out[reader] = {key: [[s.jobs[key].rss, s.jobs[key].num_procs, s.jobs[key].num_fds, s.jobs[key].pss,
                                  s.jobs[key].cpu_seconds, s.jobs[key].cpu_percent] if key in s.jobs else None
                                 for s in samples] for key in keys}
            out[reader]["tracked"] = [str(k) for k in mon.tracked()]
    print(json.dumps(out))
""")


def stage_imports_for_nobody() -> str:
    """A world-readable copy of procwidgets and psutil: `nobody` may not be able to read the
    checkout or its .venv (a clone in a mode-700 directory, as `mktemp -d` makes)."""
    staged = tempfile.mkdtemp(prefix="procwidgets-nobody-")
    os.chmod(staged, 0o755)
    skip = shutil.ignore_patterns("__pycache__")
    for module in ("procwidgets", "psutil"):
        source = os.path.dirname(__import__(module).__file__)
        shutil.copytree(source, os.path.join(staged, module), ignore=skip)
    for root, dirs, files in os.walk(staged):
        for name in dirs:
            os.chmod(os.path.join(root, name), 0o755)
        for name in files:
            os.chmod(os.path.join(root, name), 0o644)
    return staged


@pytest.fixture(scope="module")
def denied_samples():
    """Samples taken by a monitor running as `nobody` of PID 1 and of a root process with one child.

    Taken once for the module (each run starts two monitors in another user's Python). The root
    tree lives across the module's tests, so it does not carry the suite's leak mark; it is killed
    and checked gone here."""
    if os.geteuid() != 0 or shutil.which("setpriv") is None:
        pytest.skip("needs root and setpriv(1) to run the monitor as another user")
    env = {k: v for k, v in os.environ.items() if k != "PROCWIDGETS_TEST_MARK"}
    staged = stage_imports_for_nobody()
    root_tree = subprocess.Popen(["sh", "-c", "sleep 300 & wait"], env=env)
    sleeper = None
    try:
        sleeper = wait_for(lambda: [p.pid for p in psutil.Process(root_tree.pid).children()], timeout=10)[0]
        run = subprocess.run(["setpriv", "--reuid=nobody", "--regid=nogroup", "--clear-groups",
                              os.path.realpath(sys.executable), "-c", MONITOR_AS_NOBODY, "1", str(root_tree.pid)],
                             capture_output=True, text=True, timeout=60, cwd="/",
                             env={"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "PYTHONPATH": staged})
        assert run.returncode == 0, run.stderr
        yield json.loads(run.stdout), root_tree.pid
    finally:
        shutil.rmtree(staged, ignore_errors=True)
        kill_all([root_tree.pid, *([sleeper] if sleeper else [])])
        root_tree.wait()
        assert_all_gone([p for p in (root_tree.pid, sleeper) if p], what="root processes of the test")


@pytest.mark.parametrize("reader", ["procfs", "psutil"])
def test_a_monitor_samples_what_it_may_read_of_denied_processes(denied_samples, reader):
    samples, tree_pid = denied_samples
    by_key = samples[reader]
    assert by_key["tracked"] == ["pid 1", f"pid {tree_pid}"]
    for key, tree_size in (("pid 1", None), (f"pid {tree_pid}", 2)):
        rows = by_key[key]
        assert None not in rows, f"{key} is missing from some samples"
        for rss, procs, _fds, pss, cpu_seconds, cpu_percent in rows:
            assert rss > 0 and procs >= 1 and cpu_seconds >= 0 and cpu_percent >= 0
            if tree_size is not None:  # (PID 1's tree also holds the monitor itself, which it may read)
                assert procs == tree_size  # the sh and its sleep, both root's
                assert pss is None  # their smaps_rollup is denied: unknown, not 0


@pytest.mark.parametrize("reader", ["procfs", "psutil"])
def test_unreadable_fd_counts_are_unknown_not_zero(denied_samples, reader):
    samples, tree_pid = denied_samples
    for row in samples[reader][f"pid {tree_pid}"]:
        assert row[2] is None  # sh and sleep hold open files (at least their stdio); none could be counted
