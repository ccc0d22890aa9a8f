"""Heavy computations shared by every visitor of a server: asked once, a few at a time, stopped when abandoned.

A public server shares one core, so a computation that takes seconds must
not run for nobody, twice, or alongside a dozen others. :class:`SharedWork`
keeps these rules (the training queue's, :mod:`core.training_queue`, for work
done in this process's threads):

- one computation per key at a time, shared by everyone who asks for it
  (single flight); a finished result is kept (the ``capacity`` most recent)
  and handed to later askers at once;
- at most ``slots`` computations run at once; the rest wait in order and can
  say how many are ahead of them;
- a computation nobody waits for any more (the visitor's page reran for
  something else, or the tab was closed) stops at its next checkpoint once
  ``grace`` seconds have passed: long work calls :func:`checkpoint` between
  chunks. :func:`core.path.on_all_cores` does so before every block of
  images, the linear programs of :func:`core.attack.optimal_epsilon` before
  every image, so every sweep, curve and solver in core stops within a
  fraction of a second without knowing who asked.
"""

from __future__ import annotations

import contextvars
import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Hashable
from dataclasses import dataclass

WORK_SLOTS = 2  # heavy computations at once per server (a Community Cloud app has one or two cores)
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


@dataclass(frozen=True)
class WorkStatus:
    """Where a computation stands, for the status line of a page that waits for it."""

    ahead: int  # computations that must finish (or stop) before this one starts; 0 once it runs


class _Job:
    def __init__(self, key: Hashable, compute: Callable[[], object]):
        self.key, self.compute = key, compute
        self.waiters = 0
        self.abandoned_at: float | None = None
        self.started = False
        self.result: object = None
        self.error: BaseException | None = None
        self.done = threading.Event()


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
        self.stopped = 0  # computations stopped because nobody waited (for tests and benchmarks)

    # --- what callers use -------------------------------------------------------------------

    def finished(self, key: Hashable):
        """The kept result for ``key``, or None (without waiting for anything)."""
        with self._lock:
            if key in self._finished:
                self._finished.move_to_end(key)
                return self._finished[key]
            return None

    def get(self, key: Hashable, compute: Callable[[], object], on_status=None, *, poll: float = 0.2):
        """The result of ``compute()`` for ``key``: kept, joined while on its way, or computed in a slot.

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
            job = self._jobs.get(key)
            if job is None:
                job = self._jobs[key] = _Job(key, compute)
                self._queued.append(job)
                self._start_next()
            job.waiters += 1
            job.abandoned_at = None
        try:
            while not job.done.wait(poll):
                if on_status is not None:
                    on_status(self._status(job))
        finally:
            with self._lock:
                job.waiters -= 1
                if job.waiters == 0:
                    job.abandoned_at = time.monotonic()
        if job.error is not None:
            raise job.error
        return job.result

    def running(self) -> int:
        """Computations running now."""
        with self._lock:
            return len(self._running)

    def clear(self) -> None:
        """Forget the kept results (running computations go on)."""
        with self._lock:
            self._finished.clear()

    # --- inside ---------------------------------------------------------------------------

    def _status(self, job: _Job) -> WorkStatus:
        with self._lock:
            if job.started:
                return WorkStatus(0)
            position = self._queued.index(job) if job in self._queued else 0
            return WorkStatus(len(self._running) + position - self.slots + 1)

    def _abandoned(self, job: _Job, now: float) -> bool:
        return job.waiters == 0 and job.abandoned_at is not None and now - job.abandoned_at >= self.grace

    def _start_next(self) -> None:
        """Start queued computations while slots are free; drop those nobody waits for. Under the lock."""
        now = time.monotonic()
        while self._queued and len(self._running) < self.slots:
            job = self._queued.pop(0)
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
