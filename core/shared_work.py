"""Heavy computations shared by every visitor of a server: asked once, a few at a time, stopped when abandoned.

A public server shares one core, so a computation that takes seconds must
not run for nobody, twice, or alongside a dozen others. :class:`SharedWork`
keeps these rules (the training queue's, :mod:`core.training_queue`, for work
done in this process's threads):

- one computation per key at a time, shared by everyone who asks for it
  (single flight); a finished result is kept (the ``capacity`` most recent)
  and handed to later askers at once;
- at most ``slots`` computations run at once; the rest wait, the oldest visit
  first (a page's later questions go before a newer page's first), and can say
  how many are ahead of them;
- a computation nobody waits for any more (the visitor's page reran for
  something else, or the tab was closed) stops at its next checkpoint once
  ``grace`` seconds have passed: long work calls :func:`checkpoint` between
  chunks. :func:`core.path.on_all_cores` does so before every block of
  images, the linear programs of :func:`core.exact.optimal_epsilon` before
  every image, so every sweep, curve and solver in core stops within a
  fraction of a second without knowing who asked.
"""

from __future__ import annotations

import contextvars
import copy
import os
import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Hashable
from dataclasses import dataclass

WORK_SLOTS = 1  # heavy computations at once per server: a Community Cloud app has about one core, and pages come first
ABANDON_GRACE = 1.0  # seconds: a rerun asks again within milliseconds; a closed tab never does
KEPT_RESULTS = 64  # finished results kept for later askers (each a few KB to a few MB)

_check: contextvars.ContextVar[Callable[[], None] | None] = contextvars.ContextVar("shared_work_check", default=None)


class Cancelled(RuntimeError):
    """The computation was stopped because nobody waits for its answer any more."""


def checkpoint() -> None:
    """Stop here (raise :class:`Cancelled`) if the shared computation this thread runs for is no longer wanted.

    Outside shared work (tests, the command line) it does nothing.
    """
    check = _check.get()
    if check is not None:
        check()


def current_check() -> Callable[[], None]:
    """This thread's checkpoint as a function another thread can call (a worker pool's items)."""
    return _check.get() or _nothing


def _nothing() -> None:
    return None


def in_shared_work() -> bool:
    """Whether this thread computes for :class:`SharedWork` (and should give way to visitors' pages)."""
    return _check.get() is not None


BACKGROUND_NICENESS = 10  # a visitor's page gets about ten times the CPU of shared work when both want it


def lower_priority() -> None:
    """Run this thread at a lower CPU priority than the server's (Linux: per thread), where the system allows."""
    try:
        os.setpriority(os.PRIO_PROCESS, threading.get_native_id(), BACKGROUND_NICENESS)
    except (AttributeError, OSError):  # not Linux, or not allowed: the same priority, only slower pages
        pass


@dataclass(frozen=True)
class WorkStatus:
    """Where a computation stands, for the status line of a page that waits for it."""

    ahead: int  # computations that must finish (or stop) before this one starts; 0 once it runs


class _Job:
    def __init__(self, key: Hashable, compute: Callable[[], object], since: float, number: int):
        self.key, self.compute = key, compute
        self.since, self.number = since, number  # the order: the oldest visit waiting for it, then arrival
        self.waiters = 0
        self.abandoned_at: float | None = None
        self.started = False
        self.result: object = None
        self.error: BaseException | None = None
        self.done = threading.Event()


def _for_this_waiter(error: BaseException) -> BaseException:
    """A copy of ``error`` to raise in this waiter's thread, as the training queue does: one exception object
    raised in many threads has its traceback rewritten by each. The original when it cannot be copied."""
    try:
        return copy.copy(error)
    except Exception:  # noqa: BLE001 -- an exception whose constructor takes other arguments than its args
        return error


def _order(job: _Job) -> tuple[float, int]:
    return job.since, job.number


class SharedWork:
    """Computations in threads of this process: shared per key, a few at a time, stopped when abandoned.

    Parameters
    ----------
    slots : int
        How many computations run at once.
    grace : float
        Seconds a computation may go on with nobody waiting for it.
    capacity : int
        How many finished results are kept (least recently asked for go first).
    """

    def __init__(self, slots: int = WORK_SLOTS, grace: float = ABANDON_GRACE, capacity: int = KEPT_RESULTS):
        if slots < 1 or grace < 0 or capacity < 0:
            raise ValueError(f"need slots >= 1, grace >= 0, capacity >= 0; got {slots}, {grace}, {capacity}")
        self.slots, self.grace, self.capacity = slots, grace, capacity
        self._lock = threading.Lock()
        self._finished: OrderedDict[Hashable, object] = OrderedDict()
        self._jobs: dict[Hashable, _Job] = {}  # queued or running
        self._queued: list[_Job] = []
        self._running: list[_Job] = []
        self._asked = 0
        self.stopped = 0  # computations stopped because nobody waited (for tests and benchmarks)

    # --- what callers use -------------------------------------------------------------------

    def finished(self, key: Hashable):
        """The kept result for ``key``, or None (without waiting for anything)."""
        with self._lock:
            if key in self._finished:
                self._finished.move_to_end(key)
                return self._finished[key]
            return None

    def get(self, key: Hashable, compute: Callable[[], object], on_status=None, *, poll: float = 0.2,
            since: float | None = None):  # fmt: skip
        """The result of ``compute()`` for ``key``: kept, joined while on its way, or computed in a slot.

        ``since`` (``time.monotonic()`` when the asking page's visit began; now
        by default) orders the queue: the computations of the oldest visit
        start first, so each visitor gets a whole page before the next one.

        ``on_status(WorkStatus)`` is called every ``poll`` seconds while
        waiting: an app updates a status line there, and an exception it
        raises (a visitor's rerun, a closed tab) ends this wait; the
        computation then goes on only while somebody else waits for it.
        ``compute`` runs in another thread and should call :func:`checkpoint`
        between chunks of its work (core's block loops already do).

        Raises
        ------
        Whatever ``compute`` raised (to every waiter); :class:`Cancelled` only
        if it was stopped while this caller still waited (which cannot happen
        unless the caller's wait was ended first).
        """
        with self._lock:
            if key in self._finished:
                self._finished.move_to_end(key)
                return self._finished[key]
            job = self._job_for(key, compute, since)
            job.waiters += 1
            job.abandoned_at = None
        try:
            wait = min(poll, 0.1)  # quick answers show no status line; slower ones show it at once, then every poll
            while not job.done.wait(wait):
                if on_status is not None:
                    on_status(self._status(job))
                wait = poll
        finally:
            with self._lock:
                job.waiters -= 1
                if job.waiters == 0:
                    job.abandoned_at = time.monotonic()
        if job.error is not None:
            raise _for_this_waiter(job.error)
        return job.result

    def peek(self, key: Hashable, compute: Callable[[], object], *, since: float | None = None):
        """``(True, result)`` if the result for ``key`` is kept or just finished; else ``(False, WorkStatus)``,
        with ``compute`` queued if nobody had asked yet. Never waits: a page that polls (every second or so)
        keeps the computation going as a waiter would; once it stops asking, the computation stops after the
        grace period. Raises what ``compute`` raised, as :meth:`get` does."""
        with self._lock:
            if key in self._finished:
                self._finished.move_to_end(key)
                return True, self._finished[key]
            job = self._job_for(key, compute, since)
            if job.waiters == 0:
                job.abandoned_at = time.monotonic()  # asked just now: the grace period starts again
        if job.done.is_set():
            if job.error is not None:
                raise _for_this_waiter(job.error)
            return True, job.result
        return False, self._status(job)

    def running(self) -> int:
        """Computations running now."""
        with self._lock:
            return len(self._running)

    def clear(self) -> None:
        """Forget the kept results (running computations go on)."""
        with self._lock:
            self._finished.clear()

    # --- inside ---------------------------------------------------------------------------

    def _job_for(self, key: Hashable, compute: Callable[[], object], since: float | None) -> _Job:
        """The queued or running job for ``key``, queued now if there is none; its order takes the oldest visit
        that asked (``since``, now by default). Under the lock."""
        since = time.monotonic() if since is None else since
        job = self._jobs.get(key)
        if job is None:
            self._asked += 1
            job = self._jobs[key] = _Job(key, compute, since, self._asked)
            self._queued.append(job)
            self._start_next()
        job.since = min(job.since, since)
        return job

    def _status(self, job: _Job) -> WorkStatus:
        with self._lock:
            if job.started:
                return WorkStatus(0)
            position = sum(_order(other) < _order(job) for other in self._queued)
            return WorkStatus(len(self._running) + position - self.slots + 1)

    def _abandoned(self, job: _Job, now: float) -> bool:
        return job.waiters == 0 and job.abandoned_at is not None and now - job.abandoned_at >= self.grace

    def _start_next(self) -> None:
        """Start queued computations while slots are free; drop those nobody waits for. Under the lock."""
        now = time.monotonic()
        while self._queued and len(self._running) < self.slots:
            job = min(self._queued, key=_order)
            self._queued.remove(job)
            if self._abandoned(job, now):
                self._end(job, None, Cancelled("nobody waited for it any more"))
                continue
            job.started = True
            self._running.append(job)
            threading.Thread(target=self._run, args=(job,), name="shared-work", daemon=True).start()

    def _run(self, job: _Job) -> None:
        def check() -> None:
            with self._lock:
                abandoned = self._abandoned(job, time.monotonic())
                if abandoned and self._jobs.get(job.key) is job:
                    del self._jobs[job.key]  # whoever asks from now on starts afresh, never joins a stopping job
            if abandoned:
                raise Cancelled("nobody waits for this computation any more")

        _check.set(check)  # this thread is ours alone: its context holds this job's checkpoint
        lower_priority()
        try:
            result, error = job.compute(), None
        except BaseException as failure:  # noqa: BLE001 -- handed to every waiter
            result, error = None, failure
        with self._lock:
            self._running.remove(job)
            self._end(job, result, error)
            self._start_next()

    def _end(self, job: _Job, result, error: BaseException | None) -> None:
        """Record a job's outcome and keep its result. Under the lock."""
        if self._jobs.get(job.key) is job:
            del self._jobs[job.key]
        if isinstance(error, Cancelled):
            self.stopped += 1
        job.result, job.error = result, error
        if error is None and self.capacity > 0:
            self._finished[job.key] = result
            while len(self._finished) > self.capacity:
                self._finished.popitem(last=False)
        job.done.set()
