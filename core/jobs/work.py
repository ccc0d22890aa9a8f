"""One job system for the heavy work a server shares: asked once, a few at a time, stopped when nobody waits.

A public server shares one core, so work that takes seconds must not run for
nobody, twice, or alongside a dozen others. :class:`Jobs` keeps these rules
for every kind of heavy work, computations in threads of this process and
trainings in child processes alike (a job is a function run in a thread of
its own; a training's function starts and follows its child):

- one job per key at a time, shared by everyone who asks for it (single
  flight); a finished result is kept (the ``capacity`` most recent) and
  handed to later askers at once;
- at most ``slots`` jobs run at once; the rest wait, the oldest visit first
  (a page's later questions go before a newer page's first), and can say
  how many are ahead of them;
- a job nobody asks for any more (the visitor's page reran for something
  else, or the tab was closed) is stopped once ``grace`` seconds have
  passed, unless it was submitted to ``keep``: a computation at its next
  :func:`core.stopping.check` (core's block loops and solvers call it), a
  child process at once (killed and reaped);
- a job over its ``time_limit`` of its own time (CPU seconds where the job
  says how to count them: sharing a core never makes it fail) is stopped;
- an error reaches every waiter, each as an exception of its own.

The grace is three times the longest a page waits between two looks
(:data:`POLL`), so a rerun delayed by a busy server never restarts a job,
and short enough that a closed tab frees the core within two seconds. No
lock is held while a job starts a process or reads a file.
"""

from __future__ import annotations

import copy
import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Hashable
from dataclasses import dataclass

from core.stopping import Stopped, lower_priority, stop_when

POLL = 0.5  # seconds: the longest a page waits between two looks at a job it waits for (fragments, status lines)
GRACE = 1.5  # seconds a job goes on with nobody asking: three looks missed
TICK = 0.1  # seconds between two rounds of the watchdog (abandoned jobs, time limits)
KEPT_RESULTS = 64  # finished results kept for later askers (each a few KB to a few MB)

__all__ = ["GRACE", "POLL", "Handle", "JobStatus", "Jobs", "Stopped"]


@dataclass(frozen=True)
class JobStatus:
    """Where a job stands, for the status line or progress bar of a page that waits for it."""

    ahead: int  # jobs that must finish (or stop) before this one starts; 0 once it runs
    progress: object = None  # what the job last reported (a training: its total and last epoch's metrics)


class Handle:
    """What a running job's function gets: whether to stop, and where to report progress and its own time."""

    def __init__(self, job: _Job):
        self._job = job

    def should_stop(self) -> bool:
        return self._job.stop_reason is not None

    @property
    def stop_reason(self) -> str | None:
        """Why the job was stopped (None while it may go on)."""
        return self._job.stop_reason

    def report(self, progress) -> None:
        self._job.progress = progress

    def on_stop(self, callback: Callable[[], None]) -> None:
        """Call ``callback`` (from the watchdog's thread) when the job is stopped: a child process is killed."""
        self._job.on_stop = callback
        if self._job.stop_reason is not None:
            callback()

    def count_time_by(self, clock: Callable[[], float]) -> None:
        """Count the job's time against its limit by ``clock()`` (seconds so far: a child's CPU time)."""
        self._job.clock = clock


class _Job:
    def __init__(self, key: Hashable, work: Callable[[Handle], object], since: float, number: int, keep: bool):
        self.key, self.work, self.keep = key, work, keep
        self.since, self.number = since, number  # the order: the oldest visit waiting for it, then arrival
        self.waiters = 0
        self.asked_at = time.monotonic()  # the last time anyone waited for it or looked at it
        self.started_at: float | None = None
        self.clock: Callable[[], float] | None = None
        self.on_stop: Callable[[], None] | None = None
        self.stop_reason: str | None = None
        self.progress: object = None
        self.result: object = None
        self.error: BaseException | None = None
        self.done = threading.Event()

    def order(self) -> tuple[float, int]:
        return self.since, self.number

    def own_time(self) -> float:
        if self.clock is not None:
            try:
                return self.clock()
            except OSError:  # the process just ended
                pass
        return time.monotonic() - self.started_at


def _for_this_waiter(error: BaseException) -> BaseException:
    """A copy of ``error`` to raise in this waiter's thread: one exception object raised in many threads has its
    traceback rewritten by each. The original when it cannot be copied."""
    try:
        return copy.copy(error)
    except Exception:  # noqa: BLE001 -- an exception whose constructor takes other arguments than its args
        return error


class Jobs:
    """Heavy work shared per key, a few at a time, stopped when nobody waits (see the module's rules).

    Parameters
    ----------
    slots : int
        How many jobs run at once.
    grace : float
        Seconds a job may go on with nobody asking for it.
    capacity : int
        How many finished results are kept (least recently asked for go first); 0 keeps none.
    time_limit : float or None
        Seconds of its own time a job may take (see :meth:`Handle.count_time_by`).
    background : bool
        Run the jobs' threads at a lower CPU priority than the pages (computations done here; a training's
        thread only follows its child and keeps the normal priority).
    """

    def __init__(
        self,
        slots: int = 1,
        *,
        grace: float = GRACE,
        capacity: int = KEPT_RESULTS,
        time_limit: float | None = None,
        background: bool = True,
    ):
        if slots < 1 or grace < 0 or capacity < 0 or (time_limit is not None and time_limit <= 0):
            raise ValueError(
                f"need slots >= 1, grace >= 0, capacity >= 0, time_limit > 0; got {slots}, {grace}, {capacity}, "
                f"{time_limit}"
            )
        self.slots, self.grace, self.capacity, self.time_limit = slots, grace, capacity, time_limit
        self.background = background
        self._lock = threading.Lock()
        self._finished: OrderedDict[Hashable, object] = OrderedDict()
        self._jobs: dict[Hashable, _Job] = {}  # queued or running, not stopped
        self._queued: list[_Job] = []
        self._running: list[_Job] = []  # until their functions return, stopped ones included
        self._asked = 0
        self._watchdog: threading.Thread | None = None
        self.stopped = 0  # jobs stopped because nobody waited (for tests and benchmarks)

    # --- what callers use -------------------------------------------------------------------

    def finished(self, key: Hashable):
        """The kept result for ``key``, or None (without waiting for anything)."""
        with self._lock:
            if key in self._finished:
                self._finished.move_to_end(key)
                return self._finished[key]
            return None

    def get(self, key: Hashable, work, on_status=None, *, poll: float = POLL, since: float | None = None):
        """The result of ``work(handle)`` for ``key``: kept, joined while on its way, or run in a slot.

        ``since`` (``time.monotonic()`` when the asking page's visit began; now
        by default) orders the queue: the jobs of the oldest visit start first.
        ``on_status(JobStatus)`` is called every ``poll`` seconds while
        waiting: a page updates its status line there, and an exception it
        raises (a visitor's rerun, a closed tab) ends this wait; the job then
        goes on only while somebody else asks for it.

        Raises
        ------
        Whatever ``work`` raised (to every waiter, each its own copy); :class:`Stopped` if it was stopped.
        """
        with self._lock:
            if key in self._finished:
                self._finished.move_to_end(key)
                return self._finished[key]
            job, start = self._job_for(key, work, since, keep=False)
            job.waiters += 1
        self._start(start)
        try:
            wait = min(poll, 0.1)  # quick answers show no status line; slower ones show it at once, then every poll
            while not job.done.wait(wait):
                if on_status is not None:
                    on_status(self._status(job))
                wait = poll
        finally:
            with self._lock:
                job.waiters -= 1
                job.asked_at = time.monotonic()
        return self._outcome(job)

    def peek(self, key: Hashable, work, *, since: float | None = None):
        """``(True, result)`` if the result for ``key`` is kept or just finished; else ``(False, JobStatus)``,
        with ``work`` queued if nobody had asked yet. Never waits: a page that looks again within the grace
        keeps the job going as a waiter would. Raises what ``work`` raised, as :meth:`get` does."""
        with self._lock:
            if key in self._finished:
                self._finished.move_to_end(key)
                return True, self._finished[key]
            job, start = self._job_for(key, work, since, keep=False)
            job.asked_at = time.monotonic()
        self._start(start)
        if job.done.is_set():
            return True, self._outcome(job)
        return False, self._status(job)

    def submit(self, key: Hashable, work, *, keep: bool = True) -> None:
        """Ask for ``work`` without waiting; ``keep`` lets it run to the end even if nobody asks for it."""
        with self._lock:
            if key in self._finished:
                return
            job, start = self._job_for(key, work, None, keep=keep)
            job.keep |= keep
        self._start(start)

    def ahead_of(self, key: Hashable) -> list[tuple[Hashable, float | None]]:
        """The jobs that run or start before ``key``'s: ``(key, seconds of its own time so far)`` for a running one,
        ``(key, None)`` for one queued ahead of it; empty once ``key``'s job runs (or if there is none)."""
        with self._lock:
            job = self._jobs.get(key)
            if job is None or job.started_at is not None:
                return []
            running = list(self._running)
            queued = [other for other in self._queued if other.order() < job.order()]
        return [(other.key, other.own_time()) for other in running] + [(other.key, None) for other in queued]

    def running(self) -> int:
        """Jobs running now (a stopped one until its function has returned)."""
        with self._lock:
            return len(self._running)

    def clear(self) -> None:
        """Forget the kept results (running jobs go on)."""
        with self._lock:
            self._finished.clear()

    def stop_all(self, reason: str = "the server is stopping") -> None:
        """Stop every job and wait for the running ones to end (at exit, and in tests)."""
        with self._lock:
            jobs = list(self._queued) + list(self._running)
            hooks = [self._stop(job, reason) for job in jobs]
        for hook in hooks:
            if hook is not None:
                hook()
        for job in jobs:
            job.done.wait()

    # --- inside ---------------------------------------------------------------------------

    def _job_for(self, key, work, since, *, keep: bool) -> tuple[_Job, list[_Job]]:
        """The queued or running job for ``key``, queued now if there is none, and the jobs to start now (outside
        the lock). Its order takes the oldest visit that asked. Under the lock."""
        since = time.monotonic() if since is None else since
        job = self._jobs.get(key)
        if job is None:
            self._asked += 1
            job = self._jobs[key] = _Job(key, work, since, self._asked, keep)
            self._queued.append(job)
        job.since = min(job.since, since)
        return job, self._next_to_start()

    def _next_to_start(self) -> list[_Job]:
        """Queued jobs that take the free slots now, oldest visit first. Under the lock."""
        starting = []
        while self._queued and len(self._running) < self.slots:
            job = min(self._queued, key=_Job.order)
            self._queued.remove(job)
            job.started_at = time.monotonic()
            self._running.append(job)
            starting.append(job)
        if self._jobs and (self._watchdog is None or not self._watchdog.is_alive()):
            self._watchdog = threading.Thread(target=self._watch, name="jobs-watchdog", daemon=True)
            self._watchdog.start()
        return starting

    def _start(self, jobs: list[_Job]) -> None:
        for job in jobs:
            threading.Thread(target=self._run, args=(job,), name="job", daemon=True).start()

    def _status(self, job: _Job) -> JobStatus:
        with self._lock:
            if job.started_at is not None:
                return JobStatus(0, job.progress)
            position = sum(other.order() < job.order() for other in self._queued)
            return JobStatus(len(self._running) + position - self.slots + 1, job.progress)

    def _outcome(self, job: _Job):
        if job.error is not None:
            raise _for_this_waiter(job.error)
        return job.result

    def _run(self, job: _Job) -> None:
        handle = Handle(job)
        if self.background:
            lower_priority()
        try:
            with stop_when(handle.should_stop, background=self.background):
                result, error = job.work(handle), None
        except BaseException as failure:  # noqa: BLE001 -- handed to every waiter
            result, error = None, failure
        if job.stop_reason is not None and (error is None or isinstance(error, Stopped)):
            result, error = None, Stopped(f"stopped: {job.stop_reason}")
        with self._lock:
            self._running.remove(job)
            if self._jobs.get(job.key) is job:
                del self._jobs[job.key]
            if isinstance(error, Stopped):
                self.stopped += 1
            job.result, job.error = result, error
            if error is None and self.capacity > 0:
                self._finished[job.key] = result
                while len(self._finished) > self.capacity:
                    self._finished.popitem(last=False)
            job.done.set()
            start = self._next_to_start()
        self._start(start)

    def _stop(self, job: _Job, reason: str) -> Callable[[], None] | None:
        """Stop a queued or running job: it leaves the table at once (whoever asks from now on starts afresh);
        returns the job's stop hook to call outside the lock. Under the lock."""
        if self._jobs.get(job.key) is job:
            del self._jobs[job.key]
        if job in self._queued:
            self._queued.remove(job)
            self.stopped += 1
            job.error = Stopped(f"stopped before it started: {reason}")
            job.done.set()
            return None
        if job.stop_reason is None:
            job.stop_reason = reason
            return job.on_stop
        return None

    def _watch(self) -> None:
        """Stop jobs nobody asked for within the grace, and running ones past their time limit."""
        while True:
            time.sleep(TICK)
            with self._lock:
                if not self._jobs and not self._running:
                    self._watchdog = None
                    return
                now, hooks = time.monotonic(), []
                for job in list(self._jobs.values()):
                    if not job.keep and job.waiters == 0 and now - job.asked_at >= self.grace:
                        hooks.append(self._stop(job, "nobody is waiting for it any more"))
                running = [job for job in self._running if job.stop_reason is None]
            if self.time_limit is not None:  # a job's own time may be read from a file: outside the lock
                over = [job for job in running if job.own_time() > self.time_limit]
                with self._lock:
                    reason = f"it took longer than the limit of {self.time_limit:.0f} s"
                    hooks += [self._stop(job, reason) for job in over]
            for hook in hooks:
                if hook is not None:
                    hook()
