"""A computation that cannot stop itself (an integer program: HiGHS runs to its time limit) run in a child process,
so that it stops the moment nobody wants its answer.

One process, ``python -m core.jobs.child``, imports the solvers once (when the first question comes) and then
forks a child for each question: a question costs a fork (milliseconds), not a second of imports on a shared core.
:func:`in_child` hands it a socket; the child reads the question (the function and its arguments, pickled) from
it, says its process id, and writes its answer back. While the child works, :func:`in_child` asks
:func:`core.stopping.check` every :data:`LOOK` seconds; once the answer is unwanted the child is killed (the
forking process reaps it). A child runs at the lowest CPU priority with one BLAS thread: pages and the shared work
go first. The forking process ends when the process that started it does (its socket closes).
"""

from __future__ import annotations

import os
import pickle
import select
import signal
import socket
import struct
import sys

from core import stopping
from core.jobs.forking import Forker, handed, listen

LOOK = 0.1  # seconds between two questions "is the answer still wanted?"
# The lowest CPU priority: a proof (which may use its whole time limit) runs on what the pages and the shared work
# (themselves below the pages, core.stopping.BACKGROUND_NICENESS, which the child would otherwise inherit) leave.
LOWEST = 19
PRELOADED = ("core.network_exact", "core.fewest")  # imported by the forking process before it is asked anything
PID = struct.Struct("<q")


class ChildFailed(RuntimeError):
    """The child process ended without an answer (killed from outside, or out of memory)."""


FORKER = Forker("core.jobs.child", ChildFailed, "the process that runs computations could not be started")


def _received(channel: socket.socket, size: int) -> bytes:
    data = b""
    while len(data) < size:
        part = channel.recv(size - len(data))
        if not part:
            raise EOFError
        data += part
    return data


def _everything(channel: socket.socket) -> bytes:
    """What the other end sends until it closes its side."""
    data = b""
    while part := channel.recv(1 << 20):
        data += part
    return data


def in_child(function, *args, **kwargs):
    """``function(*args, **kwargs)`` in a child process; raises what it raised, or :class:`core.stopping.Stopped`
    (the child killed) once whoever runs this no longer wants the answer. ``function`` and its arguments are
    pickled: a module-level function and plain data."""
    ours, theirs = socket.socketpair()
    pid, answer = None, None
    try:
        FORKER.hand_over(theirs)
        theirs.close()
        ours.sendall(pickle.dumps((function, args, kwargs)))
        ours.shutdown(socket.SHUT_WR)
        pid = PID.unpack(_received(ours, PID.size))[0]
        while not select.select([ours], [], [], LOOK)[0]:
            stopping.check()
        answer = _everything(ours)  # the child writes its whole answer, then ends
    except (EOFError, ConnectionError):  # it died before it answered
        answer = b""
    finally:
        if answer is None and pid is not None:  # stopped: nobody wants the answer any more
            try:
                os.kill(pid, signal.SIGKILL)  # the forking process reaps it
            except ProcessLookupError:
                pass
        theirs.close()
        ours.close()
    if not answer:
        raise ChildFailed("the computation's process ended without an answer")
    succeeded, value = pickle.loads(answer)
    if succeeded:
        return value
    raise value


def _answer(channel: socket.socket) -> None:
    """In a forked child: one question read, this process's id said, the answer written."""
    stopping.lower_priority(LOWEST)  # before the solvers start their threads, which take it over
    question = _everything(channel)
    channel.sendall(PID.pack(os.getpid()))
    function, args, kwargs = pickle.loads(question)
    try:
        answer = (True, function(*args, **kwargs))
    except Exception as error:  # noqa: BLE001 -- handed back to the caller
        answer = (False, error)
    try:
        channel.sendall(pickle.dumps(answer))
    except OSError:  # nobody wants the answer any more
        pass


def main(fd: int) -> int:
    questions = listen(fd, PRELOADED)
    signal.signal(signal.SIGCHLD, signal.SIG_IGN)  # the children are reaped as they end
    while (question := handed(questions)) is not None:  # until the server ends
        if os.fork() == 0:
            questions.close()
            signal.signal(signal.SIGCHLD, signal.SIG_DFL)
            code = 0
            try:
                _answer(socket.socket(fileno=question))
            except BaseException:  # noqa: BLE001 -- a child never returns into the forking loop
                code = 1
            os._exit(code)
        os.close(question)
    return 0


if __name__ == "__main__":
    sys.exit(main(int(sys.argv[1])))
