"""`DaskBackend`: the same pool, its jobs run as process groups on the workers of a Dask cluster.

    from distributed import Client
    pool = pw.ProcessPool(backend=pw.DaskBackend(Client(cluster)))   # max_workers: the cluster's threads

The pool keeps every decision (priority, dependencies, limits, retries, timeouts): Dask's own
`priority=` is only approximate and its `future.cancel()` leaves a running subprocess running, so
a job is handed to Dask only when the pool has a free slot, as a task that runs the command on
a worker (`dask_worker.run_job`). From then on, the engine thread hears about it through one
event topic: "start" (worker, pid), "out" (batched lines) and "exit" (return code, rusage).
Signals (cancel, timeout, pause) go to the one worker that runs the job, through
`client.run(signal_job, ...)`, from one helper thread, so the engine loop never blocks on the
cluster. A worker lost mid-job is seen through the scheduler's event for that worker; the attempt
ends FAILED (`attempt.error` names the worker) and Dask is not allowed to re-run it behind the
pool's back: the pool's `retries=` decides.

Pipelining: handing a job over only when a slot is free costs a round trip through the Dask
scheduler per job, which dominates when jobs last milliseconds. So while the pool's jobs are
short (their typical run time below `pipeline_below`), the pool also hands up to a few queued jobs
*ahead* into each busy slot: each goes to the worker of that slot (its `chain`), pinned there, and
its process starts only once the job before it in the chain has ended there (`dask_worker`), so no
more than `max_workers` ever run. Until the slot is theirs they stay QUEUED. The pool withdraws
them (an atomic ask to the worker: withdrawn, or started already) to keep priorities exact when
something is re-prioritised, cancelled or paused, or when the job ahead of them runs long.

Threads: `start`, `send_signal`, `finish` and every state change run on the pool's engine thread;
Dask's callbacks (its client loop, its future-callback thread) only post to it.
"""

from __future__ import annotations

import asyncio
import functools
import itertools
import math
import os
import signal
import time
import uuid
import warnings
from collections import OrderedDict
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

try:
    import distributed
except ImportError as exc:  # pragma: no cover - exercised only where distributed is absent
    raise ImportError("DaskBackend needs Dask distributed: pip install distributed "
                      "(procwidgets runs without it; only the Dask backend needs it)") from exc

from ..core.attempt import Attempt
from ..core.worker import ReaderThread
from . import dask_membership, dask_worker
from .base import Backend, RemoteReading, SpawnError
from .dask_attempt import LOST_RETURNCODE, TASK_FAILED_RETURNCODE, DaskAttempt
from .dask_metrics import read_remote, worker_metrics, worker_metrics_by_job

if TYPE_CHECKING:
    from ..core.job import Job

__all__ = ["DaskAttempt", "DaskBackend", "worker_metrics"]

FLUSH_SECONDS = 0.05
"""How often a worker sends a running job's new output (latency of `job.tail()`)."""
RETIRED_KEYS = 1000
"""How many ended attempts are remembered, so a re-run Dask starts behind our back is killed."""
RELEASE_SECONDS = 1.0
"""Finished tasks' keys are released together, at most this long after the first of them ended."""
EXIT_WAIT_SECONDS = 2.0
"""After a started task was released by Dask, how long to wait for the worker's exit record."""
PIPELINE_BELOW = 0.1
"""Jobs are handed ahead while the pool's typical job runs shorter than this (seconds)."""
HANDOFF_SECONDS = 0.02
"""About one hand-off round trip through a busy scheduler: how much work to keep queued per slot."""
MAX_LOOKAHEAD = 8
"""At most this many jobs handed ahead into one slot."""
WITHDRAW_TIMEOUT = 10.0
"""Longest wait for a worker's answer to a withdrawal (a lost worker's jobs are requeued anyway)."""
TYPICAL_WEIGHT = 0.2
"""Weight of the newest run time in the typical (exponentially averaged) one: one long job stops pipelining."""


class DaskBackend(Backend):
    """Runs the pool's jobs on a Dask cluster: `DaskBackend(client)` or `DaskBackend("tcp://host:8786")`.

    Given an address, the backend opens its own `distributed.Client` and closes it with the pool;
    given a client, it leaves it open. Each job runs on a worker, in the worker's environment with
    `env=` laid over it and `cwd=` a directory there; procwidgets must be installed on the workers.
    A job may ask for worker resources (`resources={"GPU": 1}`), which Dask honours; a job asking
    for resources no worker has waits in Dask (it holds its pool slot) until such a worker joins.
    While the pool's jobs typically run shorter than `pipeline_below` seconds, queued jobs are
    handed ahead into busy slots (see the module docstring); `pipeline_below=0` turns that off.
    `flush_seconds` is how often a running job's new output is sent back.
    """

    name = "dask"
    supports_resources = True
    supports_successors = True

    def __init__(self, client_or_address: distributed.Client | str, *, flush_seconds: float = FLUSH_SECONDS,
                 pipeline_below: float = PIPELINE_BELOW) -> None:
        if isinstance(client_or_address, str):
            self.client = distributed.Client(client_or_address)
            self._own_client = True
        elif isinstance(client_or_address, distributed.Client):
            if client_or_address.asynchronous:
                raise ValueError("DaskBackend needs a synchronous Client (the pool runs its own loop); "
                                 "create it with Client(address) rather than asynchronous=True")
            self.client, self._own_client = client_or_address, False
        else:
            raise TypeError(f"DaskBackend takes a distributed.Client or a scheduler address such as "
                            f"'tcp://127.0.0.1:8786', got {client_or_address!r} ({type(client_or_address).__name__})")
        if isinstance(flush_seconds, bool) or not isinstance(flush_seconds, (int, float)):
            raise TypeError(f"flush_seconds must be a number of seconds, got {flush_seconds!r} "
                            f"({type(flush_seconds).__name__})")
        if not 0 < flush_seconds < float("inf"):
            raise ValueError(f"flush_seconds must be a positive, finite number of seconds, got {flush_seconds!r}")
        self.flush_seconds = float(flush_seconds)
        if isinstance(pipeline_below, bool) or not isinstance(pipeline_below, (int, float)):
            raise TypeError(f"pipeline_below must be a number of seconds, got {pipeline_below!r} "
                            f"({type(pipeline_below).__name__})")
        if not 0 <= pipeline_below < float("inf"):
            raise ValueError(f"pipeline_below must be a finite number of seconds >= 0 (0 turns pipelining off), "
                             f"got {pipeline_below!r}")
        self.pipeline_below = float(pipeline_below)
        self.typical_seconds: float | None = None
        """The pool's jobs' typical run time on the workers, averaged over recent ends."""
        self.topic = f"procwidgets-{uuid.uuid4().hex[:12]}"
        self._attempts: dict[str, DaskAttempt] = {}
        self._handovers = itertools.count(1)
        self._retired: OrderedDict[str, None] = OrderedDict()
        self._workers_watched: set[str] = set()
        self._workers_lost: set[str] = set()
        self._finished_futures: list[distributed.Future | None] = []
        self._release_timer: asyncio.TimerHandle | None = None
        self._io: ReaderThread | None = None
        self._closed = False

    def __repr__(self) -> str:
        state = " closed" if self._closed else f" running={len(self._attempts)}"
        return f"<DaskBackend scheduler={self.client.scheduler.address!r}{state}>"

    # -- the Backend seam ---------------------------------------------------------------------

    def default_workers(self) -> int:
        """The cluster's total threads now (at least 1, for a cluster still waiting for workers)."""
        workers = self.client.scheduler_info()["workers"]
        return max(1, sum(int(w.get("nthreads", 1)) for w in workers.values()))

    def bind(self, loop: asyncio.AbstractEventLoop, *, kill_grace: float, max_line: int) -> None:
        if self._io is not None:
            raise RuntimeError(f"{self!r} already serves a pool; give each ProcessPool its own DaskBackend")
        super().bind(loop, kill_grace=kill_grace, max_line=max_line)
        self._io = ReaderThread("procwidgets-dask")
        # Sent before any job's task, on the same stream to the scheduler: no event is missed.
        self.client.subscribe_topic(self.topic, self._on_event)

    def start(self, job: Job, *, on_line: Callable[[str, str], None],
              on_data: Callable[[str, bytes], None] | None, on_timeout: Callable[[], None],
              after: Attempt | None = None) -> Attempt:
        spec = job.spec
        # Unique per hand-over: a job withdrawn and handed over again must not meet its old task.
        key = f"{self.topic}-{job.id}-{job.attempts}-{next(self._handovers)}"
        attempt = DaskAttempt(self, job, key, on_line=on_line, on_data=on_data, on_timeout=on_timeout)
        if after is not None:  # handed ahead: the same slot, on the worker that slot runs on
            assert isinstance(after, DaskAttempt) and after.home is not None
            attempt.chain, attempt.home = after.chain, after.home
        resources = spec.resources
        try:
            future = self.client.submit(
                dask_worker.run_job, key, self.topic, list(spec.argv), spec.cwd,
                dict(spec.env) if spec.env else None, max_line=self.max_line, kill_grace=self.kill_grace,
                send_bytes=on_data is not None, flush_seconds=self.flush_seconds, chain=attempt.chain,
                key=key, pure=False, priority=job.priority, resources=dict(resources) if resources else None,
                workers=[attempt.home] if after is not None else None, allow_other_workers=False,
                # Each submit its own generation: among equal priorities Dask then runs jobs in the
                # order we hand them over (its default lumps 100 ms of submits together, unordered).
                fifo_timeout=0)
        except Exception as exc:  # noqa: BLE001 - a closed client, an unpicklable env: the job fails, not the pool
            attempt._ended()
            raise SpawnError(f"could not hand the job to Dask ({type(exc).__name__}: {exc}); "
                             f"is the client {self.client.status}?") from None
        attempt.future = future
        self._attempts[key] = attempt
        future.add_done_callback(lambda f, key=key: self._post(self._future_done, key, f))
        return attempt

    async def finish(self, attempt: Attempt) -> tuple[int, os.struct_rusage | None]:
        assert isinstance(attempt, DaskAttempt)
        result = await attempt.finish()
        self._attempts.pop(attempt.key, None)
        self._retired[attempt.key] = None
        while len(self._retired) > RETIRED_KEYS:
            self._retired.popitem(last=False)
        # Release finished tasks' keys in bulk, not one by one: the client batches what it sends
        # to the scheduler (one batch per 10 ms), and a release sent between two hand-offs makes
        # the next submit wait for the following batch (measured: +10 ms per job).
        self._finished_futures.append(attempt.future)
        attempt.future = None
        if self._release_timer is None:
            self._release_timer = self.loop.call_later(RELEASE_SECONDS, self._release_done)
        if attempt.peak_rss is not None:  # sampled on the worker; a local Monitor cannot see the job
            attempt.job.peak_rss = max(attempt.job.peak_rss or 0, attempt.peak_rss)
        if attempt.started_mono is not None and attempt.ended_mono is not None:
            ran = attempt.ended_mono - attempt.started_mono
            typical = self.typical_seconds
            self.typical_seconds = ran if typical is None else typical + TYPICAL_WEIGHT * (ran - typical)
        return result

    # -- pipelining (see the module docstring) ------------------------------------------------

    @property
    def withdraw_after(self) -> float:
        """A job that runs longer than this gets back the jobs handed ahead behind it."""
        return 5 * self.pipeline_below

    def lookahead(self, attempt: Attempt) -> int:
        """How many jobs may be handed ahead into `attempt`'s slot now: a few round trips' worth
        of work while jobs are short, none once they are not (or before its worker is known)."""
        assert isinstance(attempt, DaskAttempt)
        typical = self.typical_seconds
        if typical is None or typical >= self.pipeline_below or attempt.home is None \
                or attempt.home in self._workers_lost:
            return 0
        if attempt.started_mono is not None and self.loop.time() - attempt.started_mono > self.withdraw_after:
            return 0
        return min(MAX_LOOKAHEAD, max(1, math.ceil(HANDOFF_SECONDS / max(typical, 1e-4))))

    def withdraw(self, attempt: Attempt, then: Callable[[bool], object]) -> None:
        """Ask the worker not to start a job handed ahead; `then(True)` once it surely never will
        (its Dask task is cancelled too), `then(False)` if it started first."""
        assert isinstance(attempt, DaskAttempt)
        if attempt.worker is not None or attempt.done or attempt.home is None:
            then(attempt.worker is None and attempt.done)
            return
        if attempt.home in self._workers_lost:  # it can start nowhere now
            attempt.withdrawn = True
            self._cancel_future(attempt)
            then(True)
            return

        def answered(results: dict[str, Any]) -> None:
            withdrawn = results.get(attempt.home) is True
            if withdrawn:
                attempt.withdrawn = True
                self._cancel_future(attempt)
            then(withdrawn)
        self._io_call(functools.partial(self.client.run, dask_worker.withdraw_job, attempt.key,
                                        workers=[attempt.home], on_error="return",
                                        callback_timeout=WITHDRAW_TIMEOUT), answered)

    def _release_done(self) -> None:
        """Drop our references to finished tasks, so the scheduler forgets their results."""
        self._finished_futures.clear()
        if self._release_timer is not None:
            self._release_timer.cancel()
            self._release_timer = None

    def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        try:
            self.client.unsubscribe_topic(self.topic)
        except Exception:  # noqa: BLE001 - the client may be closed already; nothing is left to undo
            pass
        for address in self._workers_watched:
            dask_membership.watchers.remove(self.client, address, self)
        if self._io is not None:
            self._io.close(wait=False)
        if self._own_client:
            self.client.close()

    # -- cluster views --------------------------------------------------------------------------

    def worker_metrics(self) -> dict[str, dict[str, Any]]:
        """`worker_metrics(client)`, with each worker's "jobs" keyed by this pool's job ids. Blocks."""
        return worker_metrics_by_job(self.client, self._attempts)

    def sample_remote(self, wall: float, timeout: float) -> RemoteReading:
        """Every worker's load and the pool's jobs on it, read on the workers (one `client.run`).

        A worker's CPU % and RSS cover its own process and all the job trees it runs (this pool's
        or another's); its `jobs` counts this pool's. Samples carry the owner's clock (`wall`),
        so remote lines share the time axis with this machine's. Storage I/O of remote jobs is
        not read (`read_bps`/`write_bps` are 0). Blocks: a monitor calls it on its reader thread.
        """
        return read_remote(self.client, self._attempts, wall, timeout)

    # -- events from Dask (posted to the engine thread) ---------------------------------------

    def _post(self, fn: Callable[..., object], *args: Any) -> None:
        try:
            self.loop.call_soon_threadsafe(fn, *args)
        except RuntimeError:  # the pool's loop is closed: nobody waits for this any more
            pass

    def _on_event(self, event: tuple[float, Any]) -> None:  # on the client's loop thread
        self._post(self._deliver, event[1])

    def _deliver(self, msg: dict[str, Any]) -> None:
        key, kind = msg.get("k"), msg.get("e")
        attempt = self._attempts.get(key)  # type: ignore[arg-type]
        if attempt is None:
            if kind == "start" and key in self._retired:  # Dask re-ran a task we ended (its worker was lost)
                self._signal(msg["worker"], key, signal.SIGKILL)  # type: ignore[arg-type]
            return
        if kind == "out":
            attempt._output(msg)
        elif kind == "start":
            self._started(attempt, msg)
        elif kind == "exit":
            attempt._exit(msg)

    def _started(self, attempt: DaskAttempt, msg: dict[str, Any]) -> None:
        worker = msg["worker"]
        if attempt.worker is not None or attempt.done:  # a second run: its first worker was lost
            self._signal(worker, attempt.key, signal.SIGKILL)
            if attempt.worker is not None and attempt.worker != worker:
                self._lost(attempt.worker)
            return
        attempt.worker, attempt.pid = worker, msg["pid"]
        attempt.home = attempt.home or worker
        attempt.started_mono, attempt.started_wall = self.loop.time(), time.time()
        attempt.job.pid, attempt.job.worker = msg["pid"], worker
        self._watch_worker(worker)
        if self.on_progress is not None:  # its slot's worker is known now: jobs may be handed ahead into it
            self.on_progress()
        for sig in attempt._pending:
            self._signal(worker, attempt.key, sig)
        attempt._pending.clear()

    def _future_done(self, key: str, future: distributed.Future) -> None:
        attempt = self._attempts.get(key)
        if attempt is None or attempt.done:
            return
        if future.status == "finished":  # the exit record comes first; this is only a guard
            self._io_call(future.result, lambda rec: self._deliver(rec) if isinstance(rec, dict) else None)
        elif future.status == "error":
            self._io_call(future.exception, lambda exc: self._task_failed(attempt, exc))
        elif attempt.worker is None:  # cancelled before it started: no process ever ran
            if attempt.withdrawn:
                attempt._resolve(TASK_FAILED_RETURNCODE, error="withdrawn before it started")
            elif attempt.kill_reason is not None:
                attempt._resolve(-signal.SIGTERM)
            else:
                attempt._resolve(TASK_FAILED_RETURNCODE, error=f"Dask cancelled the task before it started "
                                                               f"(client {self.client.status})")
        else:  # released while running: the worker kills the group and reports, unless it cannot
            self.loop.call_later(self.kill_grace + EXIT_WAIT_SECONDS, self._released, attempt)

    def _released(self, attempt: DaskAttempt) -> None:
        attempt._resolve(LOST_RETURNCODE, error=f"Dask released the task on {attempt.worker} and no exit "
                                                f"was reported (client {self.client.status})")

    def _task_failed(self, attempt: DaskAttempt, exc: BaseException | None) -> None:
        where = attempt.worker or "a worker"
        if isinstance(exc, ImportError) and "procwidgets" in str(exc):
            error = (f"procwidgets is not importable on {where} ({exc}); install the same procwidgets "
                     f"on every worker: DaskBackend runs each job through it")
        elif isinstance(exc, TypeError) and "run_job()" in str(exc):  # an older procwidgets on the worker
            error = (f"the procwidgets on {where} does not match this one ({exc}); install the same "
                     f"procwidgets version on every worker")
        elif type(exc).__name__ == "KilledWorker":
            last = getattr(getattr(exc, "last_worker", None), "address", None) or where
            error = f"worker {last} was lost while running the job (Dask gave up on the task after losing workers)"
        else:
            error = f"the Dask task for this job failed on {where}: {type(exc).__name__}: {exc}"
        attempt._resolve(TASK_FAILED_RETURNCODE, error=error)

    # -- lost workers ---------------------------------------------------------------------------

    def _watch_worker(self, address: str) -> None:
        """Hear when `address` leaves: the scheduler logs "remove-worker" to the worker's own topic."""
        if address in self._workers_watched:
            return
        self._workers_watched.add(address)
        dask_membership.watchers.add(self.client, address, self)
        # It may have left before the subscription reached the scheduler: its stored events tell.
        self._io_call(functools.partial(self.client.get_events, address),
                      lambda events: self._worker_event(address, dask_membership.last_membership(events)))

    def _worker_event(self, address: str, msg: Any) -> None:
        if isinstance(msg, dict) and msg.get("action") == "remove-worker":
            self._lost(address)

    def _lost(self, address: str) -> None:
        self._workers_lost.add(address)
        for attempt in list(self._attempts.values()):
            if attempt.worker == address and not attempt.done:
                attempt._resolve(LOST_RETURNCODE, error=f"worker {address} was lost while running the job; "
                                                        f"its processes were killed with it")
                self._cancel_future(attempt)
            elif attempt.worker is None and attempt.home == address and not attempt.done:
                # Handed ahead to that worker, never started: the pool queues it again.
                attempt.withdrawn = True
                attempt._resolve(LOST_RETURNCODE, error=f"worker {address} was lost before the job started there")
                self._cancel_future(attempt)

    # -- calls into the cluster (helper thread) -------------------------------------------------

    def _signal(self, worker: str, key: str, sig: int) -> None:
        self._io_call(functools.partial(self.client.run, dask_worker.signal_job, key, int(sig),
                                        workers=[worker], on_error="return"))

    def _cancel_future(self, attempt: DaskAttempt) -> None:
        if attempt.future is not None:
            self._io_call(attempt.future.cancel)

    def _io_call(self, fn: Callable[[], Any], then: Callable[[Any], object] | None = None) -> None:
        """Run a blocking client call on the helper thread; `then(result)` back on the engine thread."""
        if self._io is None or self._closed:
            return
        future = self._io.run(fn)

        def settle(f: asyncio.Future[Any]) -> None:
            if f.cancelled():
                return
            exc = f.exception()
            if exc is not None:
                if not self._closed and self.client.status == "running":
                    warnings.warn(f"procwidgets DaskBackend: {fn!r} raised {exc!r}", RuntimeWarning, stacklevel=1)
                return
            if then is not None:
                then(f.result())
        future.add_done_callback(settle)
