"""In a real kernel, jobs keep starting while a cell is busy (the engine has its own thread)."""

from __future__ import annotations

import nbformat
from nbclient import NotebookClient

CELLS = [
    "import time, sys\nimport procwidgets as pw\npool = pw.ProcessPool(max_workers=1)",
    "jobs = [pool.submit([sys.executable, '-c', 'import time; time.sleep(0.2)']) for _ in range(5)]",
    # the cell blocks the kernel's own loop; the pool must not stall
    "t0 = time.time()\ntime.sleep(3)\nt1 = time.time()\n"
    "started_during_sleep = [j.id for j in jobs if len(j.history) > 1 and t0 <= j.history[1][0] <= t1]",
    "assert all(j.state is pw.JobState.SUCCEEDED for j in jobs), [repr(j) for j in jobs]\n"
    "assert len(started_during_sleep) >= 3, started_during_sleep\nprint('ok', len(started_during_sleep))",
    "async def both():\n    a = pool.submit(['true'])\n    return await a\n"
    "state = await both()\nassert state is pw.JobState.SUCCEEDED",
    "j = pool.submit(['true']); assert j.wait(10) is pw.JobState.SUCCEEDED\n"
    "assert pw.run(both()) is pw.JobState.SUCCEEDED",
    "pool.shutdown()",
]


def test_queued_jobs_start_while_a_cell_sleeps():
    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(c) for c in CELLS])
    client = NotebookClient(nb, timeout=60, kernel_name="python3", store_widget_state=False)
    client.execute()
    outputs = [o for cell in nb.cells for o in cell.get("outputs", [])]
    errors = [o for o in outputs if o.output_type == "error"]
    assert not errors, "\n".join("\n".join(e.traceback) for e in errors)
    assert any("ok" in o.get("text", "") for o in outputs)
