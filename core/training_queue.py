"""Trainings shared by every visitor of a server, and the trained models they leave.

A public server must not let one visitor cost the others memory or time
without bound. So :class:`TrainingQueue` keeps these rules:

- one training per settings at a time, shared by everyone who asks for it;
- at most ``slots`` trainings run at once (each is a child process of a few
  hundred MB); the rest wait in order and can say how many are ahead;
- a training nobody waits for any more (the visitor changed a setting or
  closed the tab) is stopped after ``grace`` seconds, and its process is
  killed and reaped; a training started ahead of time for the first visit
  (``keep=True``) runs to the end;
- every training has a time limit.

:class:`ModelStore` answers "the model for these settings": from memory (the
most recent few), from disk, or by a training in the queue. Reading a saved
model never waits for a training.
"""

from __future__ import annotations

import atexit
import functools
import logging
import signal
import threading
import time
from collections import OrderedDict
from dataclasses import dataclass

from core.cache import set_aside, touch
from core.errors import TrainingFailed
from core.model import EpochMetrics, TrainingResult, load_training
from core.settings import TrainingSettings
from core.shipped import load_shipped, shipped_path
from core.training_process import read_line, start_child

TRAINING_SLOTS = 2  # trainings at once: a Community Cloud app gets one or two cores
TIME_LIMIT = 300.0  # seconds; the longest allowed setting (L-BFGS on 60,000 images) takes about two minutes
ABANDON_GRACE = 2.0  # seconds: a rerun asks again within milliseconds; a closed tab never does
log = logging.getLogger("adversarial_digits")


@dataclass(frozen=True)
class TrainingStatus:
    """Where a training stands, for a progress bar."""

    waiting_for: int  # trainings that must finish before this one starts (0 once it runs)
    epoch: int  # epochs done (0 before the first)
    total: int
    metrics: EpochMetrics | None  # of the last epoch done


class _Job:
    def __init__(self, settings: TrainingSettings, keep: bool):
        self.settings = settings
        self.path = settings.model_path()
        self.keep = keep
        self.waiters = 0
        self.abandoned_at: float | None = None
        self.child = None
        self.started_at: float | None = None
        self.stop_reason: str | None = None
        self.progress: tuple[int, EpochMetrics] | None = None  # the total and the last epoch's metrics
        self.result: TrainingResult | None = None
        self.error: Exception | None = None
        self.done = threading.Event()


class TrainingQueue:
    """Trainings in child processes: shared per settings, a few at a time, stopped when abandoned.

    Parameters
    ----------
    slots : int
        How many trainings run at once.
    time_limit : float
        Seconds a training may run before it is stopped.
    grace : float
        Seconds a training may go on with nobody waiting for it.
    """

    def __init__(self, slots: int = TRAINING_SLOTS, time_limit: float = TIME_LIMIT, grace: float = ABANDON_GRACE):
        if slots < 1 or time_limit <= 0 or grace < 0:
            raise ValueError(f"need slots >= 1, time_limit > 0, grace >= 0; got {slots}, {time_limit}, {grace}")
        self.slots, self.time_limit, self.grace = slots, time_limit, grace
        self._lock = threading.Lock()
        self._jobs: dict[TrainingSettings, _Job] = {}  # queued or running, not stopped
        self._queued: list[_Job] = []
        self._running: list[_Job] = []  # until the child is reaped, stopped ones included
        self._watchdog: threading.Thread | None = None

    # --- what callers use -------------------------------------------------------------------

    def submit(self, settings: TrainingSettings, *, keep: bool = False) -> None:
        """Ask for a training without waiting for it; ``keep`` lets it finish even if nobody waits."""
        with self._lock:
            self._job(settings).keep |= keep

    def train(self, settings: TrainingSettings, on_status=None, *, poll: float = 0.2) -> TrainingResult:
        """Train ``settings`` (or join the training already on its way) and return the result.

        ``on_status(TrainingStatus)`` is called every ``poll`` seconds while
        waiting: an app can update a progress bar there, and an exception it
        raises (a visitor's rerun) ends the wait; the training then goes on only
        while somebody else waits for it.

        Raises
        ------
        DatasetUnavailable, ValueError
            The child could not read the data, or the settings are bad.
        TrainingFailed
            Stopped (abandoned, over its time limit) or the process died.
        """
        with self._lock:
            job = self._job(settings)
            job.waiters += 1
            job.abandoned_at = None
        try:
            while not job.done.wait(poll):
                if on_status is not None:
                    on_status(self.status(job))
        finally:
            with self._lock:
                job.waiters -= 1
                if job.waiters == 0:
                    job.abandoned_at = time.monotonic()
        if job.error is not None:
            raise type(job.error)(str(job.error))  # a fresh exception per waiter: they are raised in many threads
        return job.result

    def status(self, job: _Job) -> TrainingStatus:
        with self._lock:
            waiting_for = 0
            if job in self._queued:
                waiting_for = len(self._running) + self._queued.index(job) - self.slots + 1
            progress = job.progress
        if progress is None:
            return TrainingStatus(waiting_for, 0, job.settings.epochs, None)
        total, metrics = progress
        return TrainingStatus(0, metrics.epoch, total, metrics)

    def running(self) -> int:
        """Child processes alive now (stopped ones count until they are reaped)."""
        with self._lock:
            return len(self._running)

    def stop_all(self) -> None:
        """Stop every training and reap its process (at exit, and in tests)."""
        with self._lock:
            for job in list(self._queued) + list(self._running):
                self._stop(job, "the server is stopping")
            children = [job.child for job in self._running]
        for child in children:
            child.wait()

    # --- inside, under the lock -------------------------------------------------------------

    def _job(self, settings: TrainingSettings) -> _Job:
        job = self._jobs.get(settings)
        if job is not None:
            return job
        job = _Job(settings, keep=False)
        if job.path.exists():  # a training that just finished: its file is there, nothing to start
            try:
                job.result = load_training(job.path)
                job.done.set()
                return job
            except ValueError as error:
                set_aside(job.path, error)
        self._jobs[settings] = job
        self._queued.append(job)
        self._start_next()
        return job

    def _start_next(self) -> None:
        while self._queued and len(self._running) < self.slots:
            job = self._queued.pop(0)
            job.child = start_child(job.settings, job.path)
            job.started_at = time.monotonic()
            self._running.append(job)
            threading.Thread(target=self._follow, args=(job,), name="training-follower", daemon=True).start()
        if self._jobs and (self._watchdog is None or not self._watchdog.is_alive()):
            self._watchdog = threading.Thread(target=self._watch, name="training-watchdog", daemon=True)
            self._watchdog.start()

    def _stop(self, job: _Job, reason: str) -> None:
        """Stop a queued or running job: it leaves the table at once; a running child is killed."""
        if self._jobs.get(job.settings) is job:
            del self._jobs[job.settings]
        if job in self._queued:
            self._queued.remove(job)
            job.error = TrainingFailed(f"the training was stopped before it started: {reason}")
            job.done.set()
        elif job.child is not None and job.stop_reason is None:
            job.stop_reason = reason
            log.info("stopping the training %s: %s", job.settings, reason)
            job.child.kill()  # the follower thread reaps it and frees its slot

    def _watch(self) -> None:
        """Stop abandoned trainings after the grace time and running ones past the time limit."""
        while True:
            time.sleep(min(0.1, self.grace / 4 or 0.1))
            with self._lock:
                if not self._jobs and not self._running:
                    self._watchdog = None
                    return
                now = time.monotonic()
                for job in list(self._jobs.values()):
                    if not job.keep and job.waiters == 0 and job.abandoned_at is not None:
                        if now - job.abandoned_at >= self.grace:
                            self._stop(job, "nobody is waiting for it any more")
                for job in self._running:
                    if now - job.started_at > self.time_limit:
                        self._stop(job, f"it ran longer than the limit of {self.time_limit:.0f} s")

    def _follow(self, job: _Job) -> None:
        """Read a child's progress until it ends, reap it, and record the result or the error."""
        reported = None
        for line in job.child.stdout:
            message = read_line(line)
            if isinstance(message, Exception):
                reported = message
            elif message is not None:
                job.progress = message
        code = job.child.wait()
        job.child.stdout.close()
        job.child.stdin.close()
        job.result, job.error = self._outcome(job, code, reported)
        with self._lock:
            self._running.remove(job)
            if self._jobs.get(job.settings) is job:
                del self._jobs[job.settings]
            job.done.set()
            self._start_next()

    @staticmethod
    def _outcome(job: _Job, code: int, reported: dict | None):
        if job.stop_reason is not None:
            return None, TrainingFailed(f"the training was stopped: {job.stop_reason}")
        if code == 0:
            try:
                return load_training(job.path), None
            except ValueError as error:
                log.warning("the training of %s saved an unreadable file: %s", job.settings, error)
                return None, TrainingFailed("the trained weights could not be read back")
        if reported is not None:
            return None, reported
        log.warning("the training of %s ended with exit code %s", job.settings, code)
        if code < 0:
            name = signal.Signals(-code).name if -code in signal.valid_signals() else f"signal {-code}"
            hint = ", perhaps because the server ran short of memory" if -code == signal.SIGKILL else ""
            return None, TrainingFailed(f"the training process was stopped from outside ({name}){hint}")
        return None, TrainingFailed(f"the training process ended unexpectedly (exit code {code})")


class ModelStore:
    """Trained models for every visitor: the most recent in memory, all on disk, new ones from the queue."""

    def __init__(self, queue: TrainingQueue, capacity: int = 16):
        self.queue = queue
        self.capacity = capacity
        self._lock = threading.Lock()
        self._recent: OrderedDict[TrainingSettings, TrainingResult] = OrderedDict()

    def in_memory(self, settings: TrainingSettings) -> TrainingResult | None:
        with self._lock:
            return self._recent.get(settings)

    def get(self, settings: TrainingSettings, on_status=None) -> TrainingResult:
        """The model for ``settings``: from memory, from disk, or trained now (see :meth:`TrainingQueue.train`)."""
        result = self.in_memory(settings) or self.load_saved(settings)
        if result is None:
            result = self.queue.train(settings, on_status)
        return self._keep(settings, result)

    def retrain(self, settings: TrainingSettings, on_status=None) -> TrainingResult:
        """Train ``settings`` on this server even though weights for it came with the app; kept from then on."""
        return self._keep(settings, self.queue.train(settings, on_status))

    def _keep(self, settings: TrainingSettings, result: TrainingResult) -> TrainingResult:
        """Keep ``result`` as the most recently used; the least recently used beyond the capacity go."""
        with self._lock:
            self._recent[settings] = result
            self._recent.move_to_end(settings)
            while len(self._recent) > self.capacity:
                self._recent.popitem(last=False)
        return result

    @staticmethod
    def load_saved(settings: TrainingSettings) -> TrainingResult | None:
        """The saved model for ``settings`` (trained here, else shipped with the app), or None.

        An unreadable file in the cache folder is set aside, so it is trained again.
        """
        path = settings.model_path()
        if not path.exists():
            return load_shipped(settings)
        try:
            result = load_training(path)
            touch(path)  # just used: the cache cap evicts it last
            return result
        except ValueError as error:
            set_aside(path, error)
            return load_shipped(settings)


@functools.cache
def shared_queue() -> TrainingQueue:
    """The one queue of this process (made on first use; its trainings are stopped at exit)."""
    queue = TrainingQueue()
    atexit.register(queue.stop_all)
    return queue


def prefetch(settings: TrainingSettings) -> None:
    """Start training ``settings`` in the shared queue unless it is saved or shipped; it runs to the end."""
    if not settings.model_path().exists() and not shipped_path(settings).exists():
        shared_queue().submit(settings, keep=True)
