"""Both sides of a forking process (:mod:`core.jobs.child` for solvers, :mod:`core.jobs.training_forker` for
trainings): a module run as ``python -m MODULE FD`` that imports what its children need once and forks one child
per socket it is handed.

The asking side: :class:`Forker` starts it on first use (with one BLAS thread: one core's worth per child), hands it
one end of a socket pair per question, starts it again if it has ended, and closes its socket when this process
ends (the forking process then ends too). The forking side: :func:`listen` and :func:`handed`.
"""

from __future__ import annotations

import atexit
import importlib
import os
import socket
import subprocess
import sys
import threading
from pathlib import Path

from core.jobs.training_process import BLAS_THREAD_VARIABLES

ROOT = Path(__file__).resolve().parents[2]


def one_core_environment() -> dict[str, str]:
    """This process's environment with one BLAS thread: one core's worth per child."""
    return {**os.environ, **dict.fromkeys(BLAS_THREAD_VARIABLES, "1")}


class Forker:
    """One forking process, ``python -m module``; ``failure(message)`` is raised when it cannot be started."""

    def __init__(self, module: str, failure: type[Exception], message: str, *, new_session: bool = False):
        self.module, self.failure, self.message, self.new_session = module, failure, message, new_session
        self.process: subprocess.Popen | None = None
        self._socket: socket.socket | None = None
        self._lock = threading.Lock()
        atexit.register(self.stop)

    def hand_over(self, channel: socket.socket) -> None:
        """Hands ``channel`` (one end of a socket pair) to the forking process, started (again) if it has ended."""
        with self._lock:
            for _ in range(2):
                if self.process is None or self.process.poll() is not None:
                    if self._socket is not None:
                        self._socket.close()
                    self._start()
                try:
                    socket.send_fds(self._socket, [b"?"], [channel.fileno()])
                    return
                except OSError:  # it ended meanwhile: once more, with a new one
                    self._socket.close()
                    self.process.kill()
                    self.process.wait()
                    self.process = self._socket = None
        raise self.failure(self.message)

    def stop(self) -> None:
        """At this process's end: the forking process sees its socket close and ends."""
        if self.process is not None:
            self._socket.close()
            try:
                self.process.wait(timeout=5)
            except subprocess.TimeoutExpired:
                self.process.kill()

    def _start(self) -> None:
        ours, theirs = socket.socketpair()
        self.process = subprocess.Popen(
            [sys.executable, "-m", self.module, str(theirs.fileno())],
            cwd=ROOT,
            env=one_core_environment(),
            pass_fds=[theirs.fileno()],
            start_new_session=self.new_session,
        )  # its output and errors are the server's: a crash is logged there
        theirs.close()
        self._socket = ours


def listen(fd: int, preloaded: tuple[str, ...]) -> socket.socket:
    """In the forking process: ``preloaded`` imported once (its children's heavy imports), and the socket ``fd`` on
    which the sockets to answer are handed over."""
    for name in preloaded:
        importlib.import_module(name)
    return socket.socket(fileno=fd)


def handed(requests: socket.socket) -> int | None:
    """In the forking process: the next socket handed over on ``requests`` (its file descriptor), or None once the
    asking process has ended (its end of ``requests`` closed)."""
    try:
        _, fds, _, _ = socket.recv_fds(requests, 1, 1)
    except OSError:
        return None
    return fds[0] if fds else None
