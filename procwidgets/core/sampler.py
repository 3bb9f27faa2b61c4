"""One tick of sampling: find every job's process tree in one scan, read it, turn counters into rates.

The readers (`procfs.ProcfsReader` on Linux, `psreader.PsutilReader` anywhere) only read
processes; this module decides what belongs to which job and does the accounting, so both
readers are held to the same rules:

* **One scan per tick.** Every process's parent comes from a single pass over the process
  table; each job's tree is found from that map (a memoised walk up the parent links). Calling
  `children(recursive=True)` per job would scan the whole table once per job.
* **Nearest root wins.** A process belongs to the closest registered root above it, so a
  watched notebook kernel does not also count the pool's jobs, which are its children.
  A process that lost its parent link (a double-forked daemon, reparented to init) still
  belongs to a job while it stays in the job's session or process group: each job leads its own.
* **Identity is (pid, start time).** Roots and per-process state are keyed by both, so a pid
  reused by a new process is never taken for the old one.
* **CPU and I/O are cumulative counters summed over the tree,** counting what reaped children
  left in their parent (`cutime`/`cstime`, and Linux folds a reaped child's I/O into its
  parent too). So a child that starts and ends between two samples still shows up, in its
  parent. When a tracked child vanishes and the member that reaped it shows its children time
  grown by at least the child's last reading, that reading is subtracted: nothing is counted
  twice, and a child reaped outside the tree (orphaned) does not hide the tree's real work.
  A process born since the last tick counts from zero: its first reading is
  already a rate, unlike psutil's first `cpu_percent()`, which is 0.0.
* **Across roots too.** The rule holds whichever trees the two processes were in: a job's
  leader is a child of the process that owns the pool, so when the pool reaps it, the owner's
  children time grows by the job's whole CPU time; a watched kernel would show it as its own.
  So a vanished process of any tree is subtracted from the tree of the member that reaped it.
  A reading is a tick old, so what the process did after it would still leak into the reaper:
  where the exact figure is known (`Reaped`: the rusage `wait4` gave the pool), it is taken
  instead (never more than the reaper's children time grew by), also for a job that ended
  between two ticks unseen, and when it comes a tick after the vanishing, as a correction then.
* **Read only what can have changed.** CPU, RSS and threads come with the scan. I/O and fds are
  re-read when the process ran since the last tick (see `Wants`). PSS and USS (from
  `smaps_rollup`, whose cost grows with the process's mapped memory) are read at first sight,
  every `memory_every` seconds, and whenever RSS moved by more than 10 %: current where it
  matters, cheap where nothing changes.

The data types shared with the readers (`Proc`, `Reader`, `SystemReading`, `Wants`) and the
monitor (`Root`, `Reaped`) are in reading.py, re-exported here.
"""

from __future__ import annotations

from collections.abc import Container, Iterable

from .reading import Proc, Reader, Reaped, Root, SystemReading, Wants
from .samples import JobSample, SystemSample

__all__ = ["Proc", "Reader", "Reaped", "Root", "Sampler", "SystemReading", "Wants"]


class _Seen:
    __slots__ = ("cpu", "child_cpu", "read", "write", "fds", "parent", "detail_mono")

    def __init__(self, proc: Proc, parent: tuple | None, detail_mono: float) -> None:
        self.cpu, self.child_cpu, self.parent = proc.cpu, proc.child_cpu, parent
        self.read, self.write, self.fds = proc.read_bytes, proc.write_bytes, proc.fds
        self.detail_mono = detail_mono



class _Entry:
    __slots__ = ("procs", "mono", "cpu_total")

    def __init__(self, procs: dict[tuple, _Seen], mono: float, cpu_total: float) -> None:
        self.procs, self.mono, self.cpu_total = procs, mono, cpu_total


class _Tree:
    """One tree read in this tick, before what vanished processes left in it is taken out."""

    __slots__ = ("root", "entry", "seen", "d_cpu", "d_read", "d_write", "baseline", "rss", "threads", "fds",
                 "nprocs", "pss", "uss")

    def __init__(self, root: Root, entry: _Entry | None) -> None:
        self.root, self.entry = root, entry
        self.seen: dict[tuple, _Seen] = {}
        self.d_cpu = self.d_read = self.d_write = self.baseline = 0.0
        self.rss = self.threads = self.nprocs = 0
        self.fds: int | None = None  # stays None unless some process's fd table could be read
        self.pss: int | None = 0
        self.uss: int | None = 0


class _Pending:
    """A root that vanished with no exact figure yet: if one comes, the rest is taken out then."""

    __slots__ = ("holder", "room", "took", "mono")

    def __init__(self, holder: tuple | None, room: list[float] | None, took: float, mono: float) -> None:
        self.holder, self.room, self.took, self.mono = holder, room, took, mono


PENDING_SECONDS = 600.0  # how long a vanished root waits for its exact figure (the pool's end hook)


class Sampler:
    """Keeps the state between ticks (previous counters, memory readings) for one monitor.

    Not thread-safe: the monitor calls `sample` from its one worker thread.
    """

    def __init__(self, reader: Reader, memory_every: float | None = 30.0, detail_every: float = 5.0) -> None:
        self.reader = reader
        self.memory_every = memory_every
        self.detail_every = detail_every
        self._entries: dict[tuple, _Entry] = {}  # (key, root pid, root ident) -> state
        self._memory: dict[tuple, tuple[float, int, int | None, int | None]] = {}  # proc key -> (mono, rss, pss, uss)
        self._system: tuple[float, SystemReading] | None = None
        self._last_mono: float | None = None
        self._pending: dict[tuple, _Pending] = {}  # root proc key -> what its vanishing took

    # -- the machine ------------------------------------------------------------------------

    def system(self, mono: float, wall: float) -> SystemSample:
        now = self.reader.system()
        prev, self._system = self._system, (mono, now)
        dt = mono - prev[0] if prev is not None else 0.0
        per_cpu: list[float] = []
        busy_sum = total_sum = 0.0
        if prev is not None and len(prev[1].cpu_times) == len(now.cpu_times):
            for (total, idle), (total0, idle0) in zip(now.cpu_times, prev[1].cpu_times):
                d_total, d_busy = total - total0, (total - idle) - (total0 - idle0)
                per_cpu.append(_clamp(100.0 * d_busy / d_total) if d_total > 0 else 0.0)
                busy_sum += max(0.0, d_busy)
                total_sum += max(0.0, d_total)
        else:
            per_cpu = [0.0] * len(now.cpu_times)

        def rate(new: int, old: int) -> float:
            return max(0.0, new - old) / dt if dt > 0 else 0.0

        old = prev[1] if prev is not None else now
        return SystemSample(
            time=wall, cpu_percent=_clamp(100.0 * busy_sum / total_sum) if total_sum > 0 else 0.0,
            per_cpu=tuple(per_cpu), memory_used=now.memory_used, memory_available=now.memory_available,
            memory_percent=now.memory_percent, swap_used=now.swap_used, load_avg=now.load_avg,
            disk_read_bps=rate(now.disk_read, old.disk_read), disk_write_bps=rate(now.disk_write, old.disk_write),
            net_sent_bps=rate(now.net_sent, old.net_sent), net_recv_bps=rate(now.net_recv, old.net_recv))

    # -- the process trees ------------------------------------------------------------------

    def jobs(self, roots: Iterable[Root], mono: float, wall: float,
             reaped: Iterable[Reaped] = ()) -> tuple[dict[int | str, JobSample], set]:
        """One sample per root found alive, and the keys of roots that were not found.

        `reaped`: processes reaped since the last call whose exact CPU time is known (see `Reaped`)."""
        procs = self.reader.scan()
        by_pid: dict[int, Root] = {}
        missing: set[int | str] = set()
        for root in roots:
            proc = procs.get(root.pid)
            if proc is None or proc.ident != root.ident:
                missing.add(root.key)
            else:
                by_pid[root.pid] = root
        members = self._assign(procs, by_pid)
        prev: dict[tuple, _Seen] = {}  # every tree's last readings: a process may be reaped by another tree
        for entry in self._entries.values():
            prev.update(entry.procs)
        force: set[tuple] = set()
        if prev:  # whoever may have reaped a vanished process is read in full
            present = {(proc.pid, proc.ident) for tree in members.values() for proc in tree}
            for key in prev:
                if key not in present:
                    holder = _surviving_ancestor(key, prev, present)
                    if holder is not None:
                        force.add(holder)
        live_memory: set[tuple] = set()
        trees = [self._read_tree(root, tree, procs, self._entries.get((root.key, root.pid, root.ident)), mono,
                                 force, live_memory) for root, tree in members.items()]
        where = {key: tree for tree in trees for key in tree.seen}
        self._subtract_reaped(prev, where, {(r.pid, r.ident): r for r in reaped}, mono)
        samples: dict[int | str, JobSample] = {}
        live_entries: dict[tuple, _Entry] = {}
        for tree in trees:
            root = tree.root
            samples[root.key], live_entries[(root.key, root.pid, root.ident)] = self._finish_tree(tree, mono, wall)
        self._entries = live_entries
        self._memory = {k: v for k, v in self._memory.items() if k in live_memory}
        self._last_mono = mono
        return samples, missing

    def _assign(self, procs: dict[int, Proc], by_pid: dict[int, Root]) -> dict[Root, list[Proc]]:
        members: dict[Root, list[Proc]] = {root: [] for root in by_pid.values()}
        if not by_pid:
            return members
        owner: dict[int, Root | None] = {}
        unowned: list[Proc] = []
        for pid, proc in procs.items():
            chain: list[int] = []
            found: Root | None = None
            p: int | None = pid
            while p is not None:
                root = by_pid.get(p)
                if root is not None:
                    found = root
                    break
                if p in owner:
                    found = owner[p]
                    break
                chain.append(p)
                up = procs.get(p)
                p = up.ppid if up is not None and up.ppid != p and up.ppid > 0 and len(chain) < 4096 else None
            for c in chain:
                owner[c] = found
            if found is not None:
                members[found].append(proc)
            else:
                unowned.append(proc)
        sessions = {root.pid: root for root in by_pid.values() if root.is_job}
        if sessions:  # a job leads its own session and group: orphans that stayed in them are still its own
            for proc in unowned:
                pgid, sid = self.reader.session(proc)
                root = sessions.get(sid) or sessions.get(pgid)  # type: ignore[arg-type]
                if root is not None:
                    members[root].append(proc)
        return members

    def _read_tree(self, root: Root, members: list[Proc], procs: dict[int, Proc], entry: _Entry | None,
                   mono: float, force: set[tuple], live_memory: set[tuple]) -> _Tree:
        prev = entry.procs if entry is not None else None
        counts_from_zero = prev is not None or root.fresh
        tree = _Tree(root, entry)
        seen = tree.seen
        wants = Wants(mono, prev, force, self.detail_every, self.memory_every, self._memory)
        for proc in members:
            if not self.reader.read(proc, wants):
                continue  # vanished mid-sample
            key = (proc.pid, proc.ident)
            live_memory.add(key)
            if key in wants.fetched:
                self._memory[key] = (mono, proc.rss, proc.pss, proc.uss)
            parent = procs.get(proc.ppid)
            old = prev.get(key) if prev is not None else None
            if old is not None and proc.read_bytes is None:  # unreadable now (a zombie, say): unchanged
                proc.read_bytes, proc.write_bytes = old.read, old.write
            detail_mono = mono if key in wants.detailed or old is None else old.detail_mono
            seen[key] = _Seen(proc, (parent.pid, parent.ident) if parent is not None else None, detail_mono)
            if old is not None:
                tree.d_cpu += max(0.0, proc.cpu - old.cpu)
                tree.d_read += _diff(proc.read_bytes, old.read)
                tree.d_write += _diff(proc.write_bytes, old.write)
            elif counts_from_zero:
                tree.d_cpu += proc.cpu
                tree.d_read += proc.read_bytes or 0
                tree.d_write += proc.write_bytes or 0
            else:
                tree.baseline += proc.cpu
            if proc.zombie:
                continue
            tree.nprocs += 1
            tree.rss += proc.rss
            tree.threads += proc.threads
            if proc.fds is not None:
                tree.fds = (tree.fds or 0) + proc.fds
            tree.pss = tree.pss + proc.pss if tree.pss is not None and proc.pss is not None else None
            tree.uss = tree.uss + proc.uss if tree.uss is not None and proc.uss is not None else None
        return tree

    def _finish_tree(self, tree: _Tree, mono: float, wall: float) -> tuple[JobSample, _Entry]:
        root, entry, nprocs = tree.root, tree.entry, tree.nprocs
        d_cpu, d_read, d_write = max(0.0, tree.d_cpu), max(0.0, tree.d_read), max(0.0, tree.d_write)
        if entry is not None:
            dt = mono - entry.mono
        elif root.fresh and self._last_mono is not None:
            dt = mono - self._last_mono
        else:
            dt = 0.0
        cpu_total = (entry.cpu_total if entry is not None else tree.baseline) + d_cpu
        sample = JobSample(
            time=wall, job_id=root.key, name=root.name,
            cpu_percent=100.0 * d_cpu / dt if dt > 0 else 0.0, rss=tree.rss, num_procs=nprocs,
            num_threads=tree.threads, num_fds=tree.fds, read_bps=d_read / dt if dt > 0 else 0.0,
            write_bps=d_write / dt if dt > 0 else 0.0, pss=tree.pss if nprocs else None,
            uss=tree.uss if nprocs else None, cpu_seconds=cpu_total)
        return sample, _Entry(tree.seen, mono, cpu_total)

    def _subtract_reaped(self, prev: dict[tuple, _Seen], where: dict[tuple, _Tree], reaped: dict[tuple, Reaped],
                         mono: float) -> None:
        """Take out what vanished processes left in the member that reaped them, in whichever tree.

        A vanished process's nearest surviving ancestor (by the parent links last seen) may have
        reaped it (directly, or through vanished parents that reaped it first); its CPU then shows
        up in that ancestor's children time and its I/O in the ancestor's I/O. It is subtracted only
        when the ancestor's children time grew by at least that much: a child that was orphaned and
        reaped outside the tree leaves nothing behind, and subtracting it would hide real work.
        Its last reading is a tick old; a `Reaped` figure, exact, replaces it (up to that growth).
        """
        rooms: dict[tuple, list[float]] = {}  # holder -> what is left of its growth: cpu, read, write

        def room_of(holder: tuple, tree: _Tree) -> list[float]:
            room = rooms.get(holder)
            if room is None:
                now, before = tree.seen[holder], prev.get(holder)
                room = rooms[holder] = [
                    now.child_cpu - (before.child_cpu if before is not None else 0.0),
                    float(_diff(now.read, before.read if before is not None else 0)),
                    float(_diff(now.write, before.write if before is not None else 0))]
            return room

        roots = {(pid, ident) for _, pid, ident in self._entries}
        for key, old in prev.items():
            if key in where:
                continue
            final = reaped.pop(key, None)
            holder = _surviving_ancestor(key, prev, where)
            tree = where.get(holder) if holder is not None else None
            room = room_of(holder, tree) if holder is not None and tree is not None else None
            took = 0.0
            if tree is not None and room is not None and room[0] + 1e-6 >= old.cpu:  # as in one tree
                took = old.cpu if final is None else max(old.cpu, min(final.cpu, room[0]))
                room[0] -= took
                tree.d_cpu -= took
                take_read, take_write = min(float(old.read or 0), room[1]), min(float(old.write or 0), room[2])
                room[1] -= take_read
                room[2] -= take_write
                tree.d_read -= take_read
                tree.d_write -= take_write
            if final is None and key in roots:  # its exact figure may still come (the pool's end hook)
                self._pending[key] = _Pending(holder, room, took, mono)
        for key, final in reaped.items():  # reaped, but not seen vanishing in this tick
            pending = self._pending.pop(key, None)
            if pending is not None:  # vanished in an earlier tick: the rest of its figure, as grown then
                tree = where.get(pending.holder) if pending.holder is not None else None
                room = pending.room
                take = min(final.cpu - pending.took, room[0]) if tree is not None and room is not None else 0.0
            elif key not in prev:  # ended between two ticks, never read: all of it, as grown now
                tree = where.get(final.parent)
                room = room_of(final.parent, tree) if tree is not None else None
                take = min(final.cpu, room[0]) if room is not None else 0.0
            else:
                continue
            if take > 0 and tree is not None and room is not None:
                room[0] -= take
                tree.d_cpu -= take
        if self._pending:
            self._pending = {k: p for k, p in self._pending.items() if mono - p.mono < PENDING_SECONDS}


def _diff(new: int | None, old: int | None) -> float:
    return float(max(0, new - old)) if new is not None and old is not None else 0.0


def _surviving_ancestor(key: tuple, prev: dict[tuple, _Seen], seen: Container[tuple]) -> tuple | None:
    parent = prev[key].parent
    for _ in range(len(prev) + 1):
        if parent is None or parent in seen:
            return parent
        up = prev.get(parent)
        if up is None:
            return None
        parent = up.parent
    return None


def _clamp(percent: float) -> float:
    return min(100.0, max(0.0, percent))
