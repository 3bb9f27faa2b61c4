"""`Tracks`: a monitor's per-job (and per-watched-pid) histories, and what each attempt has shown.

Separate from monitor.py, which decides *when* to sample and *what* to read; this module only
keeps what was read: one `Ring` of `JobSample`s per key, the current attempt's CPU time and
peak RSS (which complete the job's figures when the attempt ends), and the bound on how many
finished jobs keep their history (`keep_finished`, oldest dropped first), so memory stays flat.

Threads: the monitor's engine thread opens, closes and records; any thread may read (`get`, `keys`).
"""

from __future__ import annotations

from collections import OrderedDict
from typing import Any

from .job import Job
from .ring import Ring
from .samples import JobSample

__all__ = ["Track", "Tracks"]


class Track:
    """One job's (or watched pid's) history, and what the current attempt has shown so far."""

    __slots__ = ("ring", "attempt", "attempt_cpu", "attempt_peak", "cpu_before", "finished")

    def __init__(self, capacity: int) -> None:
        self.ring: Ring[JobSample] = Ring(capacity)
        self.attempt: tuple[int, Any] | None = None  # (pid, ident) of the attempt's leader
        self.attempt_cpu = 0.0
        self.attempt_peak = 0
        self.cpu_before = 0.0  # job.cpu_seconds as it stood before this attempt
        self.finished = False

    def record(self, sample: JobSample, attempt: tuple[int, Any] | None) -> None:
        """Keep a sample; it counts toward the attempt's figures if it was read from `attempt`'s tree."""
        self.ring.append(sample)
        if self.attempt == attempt:
            self.attempt_cpu = sample.cpu_seconds
            self.attempt_peak = max(self.attempt_peak, sample.rss)

    def raise_peak(self, job: Job) -> None:
        """`job.peak_rss` becomes the largest tree RSS this attempt's samples saw, if that is more."""
        if self.attempt_peak > (job.peak_rss or 0):
            job.peak_rss = self.attempt_peak

    def end_attempt(self, job: Job, from_rusage: float) -> None:
        """Raise the job's figures to what sampling saw (`from_rusage`: the attempt's CPU seconds per the pool)."""
        if self.attempt_cpu > from_rusage:
            job.cpu_seconds = self.cpu_before + self.attempt_cpu
        self.raise_peak(job)
        self.cpu_before = job.cpu_seconds or 0.0
        self.attempt = None


class Tracks:
    """Tracks by key (job id or watch name), in the order first seen; finished ones past `keep_finished` go."""

    def __init__(self, keep_finished: int) -> None:
        self._keep_finished = keep_finished
        self._tracks: dict[int | str, Track] = {}
        self._finished: OrderedDict[int | str, None] = OrderedDict()  # oldest finished first

    def get(self, key: Job | int | str) -> Track | None:
        """The track of `key` (a `Job` stands for its id), or None."""
        return self._tracks.get(key.id if isinstance(key, Job) else key)

    def keys(self) -> list[int | str]:
        return list(self._tracks)

    def resize(self, capacity: int) -> None:
        for track in list(self._tracks.values()):
            track.ring.capacity = capacity

    def open(self, key: int | str, attempt: tuple[int, Any] | None, capacity: int) -> Track:
        """Start a new attempt for `key` (a new track of `capacity` samples if it has none); not finished any more."""
        track = self._tracks.get(key)
        if track is None:
            track = self._tracks[key] = Track(capacity)
        track.attempt, track.attempt_cpu, track.attempt_peak = attempt, 0.0, 0
        track.finished = False
        self._finished.pop(key, None)
        return track

    def close(self, key: int | str) -> None:
        """Mark `key` finished; its history stays until `keep_finished` newer ones have finished."""
        track = self._tracks.get(key)
        if track is None or track.finished:
            return
        track.finished = True
        self._finished[key] = None
        while len(self._finished) > self._keep_finished:
            old, _ = self._finished.popitem(last=False)
            self._tracks.pop(old, None)

    def record(self, jobs: dict[int | str, JobSample], attempts: dict[int | str, tuple[int, Any]]) -> None:
        """Keep one tick's local samples; `attempts` holds the (pid, ident) each key's tree was read from."""
        for key, sample in jobs.items():
            track = self._tracks.get(key)
            if track is not None:
                track.record(sample, attempts.get(key))

    def record_running(self, samples: dict[int, JobSample]) -> dict[int, JobSample]:
        """Keep samples of jobs still running (a job that ended meanwhile keeps its end); returns those kept."""
        kept = {}
        for key, sample in samples.items():
            track = self._tracks.get(key)
            if track is not None and not track.finished:
                track.ring.append(sample)
                track.attempt_peak = max(track.attempt_peak, sample.rss)
                kept[key] = sample
        return kept
