"""Trained models for every visitor of a server: from memory, from disk, or trained in a child process.

Trainings are jobs of the one job system (:class:`core.jobs.work.Jobs`):
one training per settings at a time, shared by everyone who asks for it; as
many at once as the server has cores to give (each is a child process of a
few hundred MB, one BLAS thread); the rest wait their turn and can say how
many are ahead; a training nobody waits for any more is stopped after the
grace period, its process killed and reaped (one started ahead of time for
the first visit, ``keep=True``, runs to the end); and every training has a
limit on its own CPU time, so sharing a core slows a training down but never
makes it fail.

:class:`ModelStore` answers "the model for these settings": from memory (the
most recent few), from disk, or by a training. Reading a saved model never
waits for a training.
"""

from __future__ import annotations

import atexit
import functools
import logging
import os
import signal
import threading
from collections import OrderedDict
from dataclasses import dataclass
from pathlib import Path

from core.errors import TrainingFailed
from core.inputs.cache import set_aside, touch
from core.inputs.settings import TrainingSettings
from core.jobs.shipped import load_shipped, shipped_path
from core.jobs.training_forker import start_child
from core.jobs.training_process import read_line
from core.jobs.work import Jobs, JobStatus, Stopped
from core.model import EpochMetrics, TrainingResult, load_training

TIME_LIMIT = 300.0  # CPU seconds a training may take; the longest allowed setting takes about four minutes alone
log = logging.getLogger("adversarial_digits")


def server_cores() -> int:
    """The cores this process may run on (a Community Cloud app: about one)."""
    try:
        return max(len(os.sched_getaffinity(0)), 1)
    except AttributeError:  # not Linux
        return os.cpu_count() or 1


@dataclass(frozen=True)
class TrainingStatus:
    """Where a training stands, for a progress bar."""

    waiting_for: int  # trainings that must finish before this one starts (0 once it runs)
    epoch: int  # epochs done (0 before the first)
    total: int
    metrics: EpochMetrics | None  # of the last epoch done
    expected_wait: float | None = None  # seconds until it starts, from the trainings ahead's expected costs

    @classmethod
    def of(cls, status: JobStatus, settings: TrainingSettings, expected_wait: float | None = None) -> TrainingStatus:
        if status.progress is None:
            return cls(status.ahead, 0, settings.epochs, None, expected_wait if status.ahead else None)
        total, metrics = status.progress
        return cls(0, metrics.epoch, total, metrics)


def child_cpu_seconds(pid: int) -> float:
    """User plus system CPU time of a child process so far (Linux; OSError elsewhere or once it is gone)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def training_work(settings: TrainingSettings):
    """The job that trains ``settings`` in a child process and returns the :class:`TrainingResult`."""

    def work(handle) -> TrainingResult:
        path = settings.model_path()
        if path.exists():  # a training that just finished: its file is there, nothing to start
            try:
                return load_training(path)
            except ValueError as error:
                set_aside(path, error)
        child = start_child(settings, path)
        handle.on_stop(child.kill)  # the watchdog's thread kills it; this thread reaps it below
        handle.count_time_by(lambda: child_cpu_seconds(child.pid))
        reported = None
        for line in child.stdout:
            message = read_line(line)
            if isinstance(message, Exception):
                reported = message
            elif message is not None:
                handle.report(message)
        code = child.wait()
        child.stdout.close()
        child.stdin.close()
        return _outcome(settings, path, code, reported, handle.stop_reason)

    return work


def _outcome(settings, path: Path, code: int, reported, stop_reason: str | None) -> TrainingResult:
    if stop_reason is not None:
        raise TrainingFailed(f"the training was stopped: {stop_reason}")
    if code == 0:
        try:
            return load_training(path)
        except ValueError as error:
            log.warning("the training of %s saved an unreadable file: %s", settings, error)
            raise TrainingFailed("the trained weights could not be read back") from None
    if reported is not None:
        raise reported
    log.warning("the training of %s ended with exit code %s", settings, code)
    if code < 0:
        name = signal.Signals(-code).name if -code in signal.valid_signals() else f"signal {-code}"
        hint = ", perhaps because the server ran short of memory" if -code == signal.SIGKILL else ""
        raise TrainingFailed(f"the training process was stopped from outside ({name}){hint}")
    raise TrainingFailed(f"the training process ended unexpectedly (exit code {code})")


class Trainings:
    """Trainings in child processes, as jobs: shared per settings, one per core, stopped when abandoned."""

    def __init__(self, slots: int | None = None, *, time_limit: float = TIME_LIMIT, grace: float | None = None):
        options = {} if grace is None else {"grace": grace}
        self.time_limit = time_limit
        self.jobs = Jobs(slots or server_cores(), capacity=0, time_limit=time_limit, background=False, **options)
        self._expected: dict[TrainingSettings, float] = {}  # seconds each asked training is expected to take

    def expected_wait(self, settings: TrainingSettings) -> float | None:
        """Seconds until the training of ``settings`` starts: what the trainings ahead of it still have to do
        (their expected cost, less what the running ones did), shared among the slots; None if one is unknown."""
        ahead = self.jobs.ahead_of(settings)
        remaining = []
        for key, done in ahead:
            cost = self._expected.get(key)
            if cost is None:
                return None
            remaining.append(max(cost - (done or 0.0), 0.0))
        return sum(remaining) / self.jobs.slots if remaining else 0.0

    def submit(self, settings: TrainingSettings, *, keep: bool = False) -> None:
        """Ask for a training without waiting for it; ``keep`` lets it finish even if nobody waits."""
        self.jobs.submit(settings, training_work(settings), keep=keep)

    def train(
        self, settings: TrainingSettings, on_status=None, *, poll: float = 0.2, expected: float | None = None
    ) -> TrainingResult:
        """Train ``settings`` (or join the training already on its way) and return the result.

        ``on_status(TrainingStatus)`` is called every ``poll`` seconds while
        waiting: an app can update a progress bar there, and an exception it
        raises (a visitor's rerun) ends the wait; the training then goes on only
        while somebody else waits for it. ``expected``: the seconds it should take
        (:mod:`core.jobs.cost`), for the wait of those queued behind it.

        Raises
        ------
        DatasetUnavailable, ValueError
            The child could not read the data, or the settings are bad.
        TrainingFailed
            Stopped (abandoned, over its time limit) or the process died.
        """
        if expected is not None:
            self._expected[settings] = expected

        def report(status: JobStatus) -> None:
            wait = self.expected_wait(settings) if status.ahead else None
            on_status(TrainingStatus.of(status, settings, wait))

        report = None if on_status is None else report
        try:
            return self.jobs.get(settings, training_work(settings), report, poll=poll)
        except Stopped as stopped:  # stopped while queued: said as a training says it
            raise TrainingFailed(f"the training was {stopped}") from None

    def running(self) -> int:
        """Trainings running now (a stopped one until its process is reaped)."""
        return self.jobs.running()

    def stop_all(self) -> None:
        """Stop every training and reap its process (at exit, and in tests)."""
        self.jobs.stop_all()


class ModelStore:
    """Trained models for every visitor: the most recent in memory, all on disk, new ones from the queue."""

    def __init__(self, queue: Trainings, capacity: int = 16):
        self.queue = queue
        self.capacity = capacity
        self._lock = threading.Lock()
        self._recent: OrderedDict[TrainingSettings, TrainingResult] = OrderedDict()

    def in_memory(self, settings: TrainingSettings) -> TrainingResult | None:
        with self._lock:
            return self._recent.get(settings)

    def ready(self, settings: TrainingSettings) -> TrainingResult | None:
        """The model for ``settings`` if it needs no training (in memory, saved, or shipped); kept in memory."""
        result = self.in_memory(settings) or self.load_saved(settings)
        return None if result is None else self._keep(settings, result)

    def get(self, settings: TrainingSettings, on_status=None, *, expected: float | None = None) -> TrainingResult:
        """The model for ``settings``: from memory, from disk, or trained now (see :meth:`Trainings.train`)."""
        result = self.ready(settings)
        if result is None:
            result = self._keep(settings, self.queue.train(settings, on_status, expected=expected))
        return result

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
def shared_queue() -> Trainings:
    """The trainings of this process (made on first use; stopped at exit)."""
    queue = Trainings()
    atexit.register(queue.stop_all)
    return queue


def prefetch(settings: TrainingSettings) -> None:
    """Start training ``settings`` in the shared queue unless it is saved or shipped; it runs to the end."""
    if not settings.model_path().exists() and not shipped_path(settings).exists():
        shared_queue().submit(settings, keep=True)
