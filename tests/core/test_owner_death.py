"""When the process that owns the pool dies, even by SIGKILL, its jobs die too (the watchdog)."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap

import psutil
from helpers import wait_for

OWNER = textwrap.dedent("""
    import json, sys, time
    import procwidgets as pw
    pool = pw.ProcessPool(max_workers=3, kill_grace=1)
    jobs = [pool.submit(["sh", "-c", "sleep 300 & sleep 300 & wait"]) for _ in range(2)]
    jobs.append(pool.submit([sys.executable, "-c",
        "import signal, time; signal.signal(signal.SIGTERM, signal.SIG_IGN); print('ready'); time.sleep(300)"]))
    queued = pool.submit(["sleep", "300"])
    while not (all(j.pid for j in jobs) and jobs[2].tail()):
        time.sleep(0.01)
    print(json.dumps([j.pid for j in jobs]), flush=True)
    time.sleep(300)
""")


def alive(pid: int) -> bool:
    try:
        return psutil.Process(pid).status() != psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return False


def test_owner_sigkill_leaves_no_job_process():
    owner = subprocess.Popen([sys.executable, "-c", OWNER], stdout=subprocess.PIPE, text=True)
    try:
        pids = json.loads(owner.stdout.readline())
        tree = [p.pid for pid in pids for p in psutil.Process(pid).children(recursive=True)]
        wait_for(lambda: len([p for pid in pids[:2] for p in psutil.Process(pid).children()]) == 4)
        tree = [p.pid for pid in pids for p in psutil.Process(pid).children(recursive=True)]
        assert len(tree) == 4 and all(alive(p) for p in pids + tree)
        os.kill(owner.pid, signal.SIGKILL)
        owner.wait(10)
        # TERM reaches the groups at once; the TERM-ignoring job is KILLed after the 1 s grace.
        wait_for(lambda: not any(alive(p) for p in pids + tree), timeout=10,
                 message="every job process and grandchild gone after the owner's SIGKILL")
    finally:
        if owner.poll() is None:
            owner.kill()
            owner.wait()
