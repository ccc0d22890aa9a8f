"""Trainings forked from one process that has scikit-learn imported already: a training starts in milliseconds.

Importing scikit-learn takes a second of CPU (scipy.stats comes with it), and a
server on one core paid that second again for every training it started in a
fresh interpreter. One process, ``python -m core.jobs.training_forker``,
imports what a training needs once (the first time a training is asked for)
and then forks a child for each: :func:`start_child` hands it one end of a
socket pair and sends the request (the settings and where to save them, this
process's environment, CPU affinity and priority, which the child takes on, as
a child started here would have them). The child says its process id and then
runs :func:`core.jobs.training_process.main` with the socket as its standard
input and output: the same protocol, the same end when the socket closes.
When it ends, the forking process reaps it and writes how it ended (``{"exit":
code, "cpu": seconds}``: a negative signal number if it was killed, as
``subprocess`` says it, and the CPU time it took).

:class:`ForkedChild` is what :mod:`core.jobs.models` uses of a
``subprocess.Popen``: ``pid``, ``stdout`` (the child's lines), ``kill``,
``wait``, ``poll`` and ``returncode``. The forking process ends when the
process that started it does (its socket closes); so do its children.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import sys
import traceback
from pathlib import Path

from core.errors import DatasetUnavailable, TrainingFailed
from core.jobs.forking import Forker, handed, listen, one_core_environment
from core.jobs.training_process import main as train_main

# Imported by the forking process before it forks anything: every training's heavy imports, paid once.
PRELOADED = ("sklearn.neural_network", "sklearn.linear_model", "core.training", "core.network", "core.inputs.data")
FORKER = Forker(
    "core.jobs.training_forker",
    TrainingFailed,
    "the process that starts trainings could not be started",
    new_session=True,
)


class ForkedChild:
    """A forked training, seen from the process that asked for it (what it uses of ``subprocess.Popen``)."""

    def __init__(self, channel: socket.socket):
        self._channel = channel
        self._lines = channel.makefile("r", encoding="utf-8")
        self.returncode: int | None = None
        self.cpu_seconds: float | None = None  # its own CPU time, once it has ended
        first = self._lines.readline()
        try:
            self.pid = int(json.loads(first)["pid"])
        except (ValueError, KeyError, TypeError):
            self.close()
            raise TrainingFailed("the training process could not be started") from None

    @property
    def stdout(self) -> ForkedChild:
        return self

    stdin = stdout  # closing either closes the socket: the child ends, as on its standard input's end

    def __iter__(self):
        """The child's lines, up to the forking process's word on how it ended (kept as ``returncode``)."""
        for line in self._lines:
            try:
                message = json.loads(line)
            except ValueError:
                message = None
            if isinstance(message, dict) and set(message) == {"exit", "cpu"}:
                self.returncode, self.cpu_seconds = int(message["exit"]), float(message["cpu"])
                continue
            yield line

    def poll(self) -> int | None:
        return self.returncode

    def wait(self, timeout: float | None = None) -> int:
        if self.returncode is None:
            for _ in self:  # the rest of its output, up to how it ended
                pass
            if self.returncode is None:  # the forking process ended first: nobody saw it end
                self.returncode = -signal.SIGKILL
        return self.returncode

    def kill(self) -> None:
        if self.returncode is None:
            try:
                os.kill(self.pid, signal.SIGKILL)  # the forking process reaps it
            except ProcessLookupError:
                pass

    def close(self) -> None:
        self._lines.close()
        self._channel.close()


def start_child(settings, path: Path) -> ForkedChild:
    """Start training ``settings`` in a forked child that saves to ``path``; its lines carry the progress."""
    ours, theirs = socket.socketpair()
    try:
        FORKER.hand_over(theirs)
    finally:
        theirs.close()
    request = {
        "argv": [settings.to_json(), str(path)],
        "env": one_core_environment(),
        "cpus": sorted(os.sched_getaffinity(0)),
        "nice": os.getpriority(os.PRIO_PROCESS, 0),  # this thread's (Linux)
    }
    ours.sendall(json.dumps(request).encode() + b"\n")
    return ForkedChild(ours)


# --- the forking process and its children --------------------------------------------------------------------


def _request(channel: socket.socket) -> dict:
    with channel.makefile("rb") as lines:  # the asker sends nothing after its request
        line = lines.readline()
    if not line:
        raise EOFError
    return json.loads(line)


def _forked(fd: int) -> int:
    """In a forked child: the request taken on, the process id said, the training run on the socket."""
    channel = socket.socket(fileno=fd)
    request = _request(channel)
    os.environ.clear()
    os.environ.update(request["env"])
    os.sched_setaffinity(0, request["cpus"])
    if request["nice"] > os.getpriority(os.PRIO_PROCESS, 0):
        os.setpriority(os.PRIO_PROCESS, 0, request["nice"])
    os.setsid()
    channel.sendall(json.dumps({"pid": os.getpid()}).encode() + b"\n")
    os.dup2(channel.fileno(), 0)
    os.dup2(channel.fileno(), 1)
    channel.close()
    try:
        return train_main(request["argv"])
    except SystemExit as end:
        return end.code if isinstance(end.code, int) else 1
    finally:
        sys.stdout.flush()


def _preload_embedded_digits() -> None:
    """The embedded 5,000 digits, read once here: every child trained on them has them already (shared pages)."""
    from core.inputs.data import load_dataset

    try:
        load_dataset("mnist-5k")
    except DatasetUnavailable:  # each training that needs them says so itself
        pass


def main(fd: int) -> int:
    requests = listen(fd, PRELOADED)
    _preload_embedded_digits()
    children: dict[int, socket.socket] = {}  # each child's socket, to say how it ended

    def reap(*_):
        while True:
            try:
                pid, status, usage = os.wait4(-1, os.WNOHANG)
            except ChildProcessError:
                return
            if pid == 0:
                return
            channel = children.pop(pid, None)
            if channel is not None:
                try:
                    code, cpu = os.waitstatus_to_exitcode(status), usage.ru_utime + usage.ru_stime
                    channel.sendall(json.dumps({"exit": code, "cpu": cpu}).encode() + b"\n")
                except OSError:  # nobody reads it any more
                    pass
                channel.close()

    signal.signal(signal.SIGCHLD, reap)
    while (request := handed(requests)) is not None:  # until the server ends
        signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGCHLD})  # registered before it can be reaped
        try:
            pid = os.fork()
            if pid == 0:
                code = 1
                try:
                    requests.close()
                    for other in children.values():  # the other trainings' sockets stay theirs alone
                        other.close()
                    signal.signal(signal.SIGCHLD, signal.SIG_DFL)
                    signal.pthread_sigmask(signal.SIG_UNBLOCK, {signal.SIGCHLD})
                    code = _forked(request)
                except BaseException:  # noqa: BLE001 -- a child never returns into the forking loop
                    traceback.print_exc()
                os._exit(code)
            children[pid] = socket.socket(fileno=request)
        finally:
            signal.pthread_sigmask(signal.SIG_UNBLOCK, {signal.SIGCHLD})
    return 0


if __name__ == "__main__":
    sys.exit(main(int(sys.argv[1])))
