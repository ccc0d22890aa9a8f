"""A computation that cannot stop itself (an integer program: HiGHS runs to its time limit) run in a child process,
so that it stops the moment nobody wants its answer.

:func:`in_child` hands the function and its arguments (pickled) to a child process, ``python -m
core.jobs.child``, which has the solvers imported already: one spare child always waits, so a question costs
no start-up. While the child works, :func:`in_child` asks :func:`core.stopping.check` every :data:`LOOK`
seconds; once the answer is unwanted the child is killed and reaped. The child reads one question from its
standard input, writes one answer to its standard output and ends; a spare whose server ends sees its
standard input close and ends too. A child runs at the lowest CPU priority: pages and the shared work go first.
"""

from __future__ import annotations

import os
import pickle
import select
import subprocess
import sys
import threading
from pathlib import Path

from core import stopping
from core.jobs.training_process import BLAS_THREAD_VARIABLES

LOOK = 0.1  # seconds between two questions "is the answer still wanted?"
# The lowest CPU priority: a proof (which may use its whole time limit) runs on what the pages and the shared work
# (themselves below the pages, core.stopping.BACKGROUND_NICENESS, which the child would otherwise inherit) leave.
LOWEST = 19
PRELOADED = ("core.network_exact", "core.fewest")  # imported by every child before it is asked anything
ROOT = Path(__file__).resolve().parents[2]

_lock = threading.Lock()
_spare: subprocess.Popen | None = None


class ChildFailed(RuntimeError):
    """The child process ended without an answer (killed from outside, or out of memory)."""


def _start() -> subprocess.Popen:
    env = {**os.environ, **dict.fromkeys(BLAS_THREAD_VARIABLES, "1")}  # one core's worth, as the trainings
    return subprocess.Popen(
        [sys.executable, "-m", "core.jobs.child"], cwd=ROOT, env=env, stdin=subprocess.PIPE, stdout=subprocess.PIPE
    )  # stderr is the server's: a crash is logged there


def _take() -> subprocess.Popen:
    """The waiting spare (or a new child), and a new spare started for the next question."""
    global _spare
    with _lock:
        child, _spare = _spare, None
    if child is None or child.poll() is not None:
        child = _start()
    spare = _start()  # outside the lock: starting a process takes milliseconds
    with _lock:
        if _spare is None:
            _spare, spare = spare, None
    if spare is not None:  # another caller left one meanwhile
        spare.stdin.close()
        spare.wait()
    return child


def in_child(function, *args, **kwargs):
    """``function(*args, **kwargs)`` in a child process; raises what it raised, or :class:`core.stopping.Stopped`
    (the child killed) once whoever runs this no longer wants the answer. ``function`` and its arguments are
    pickled: a module-level function and plain data."""
    child, answer = _take(), None
    try:
        child.stdin.write(pickle.dumps((function, args, kwargs)))
        child.stdin.close()
        while not select.select([child.stdout], [], [], LOOK)[0]:
            stopping.check()
        answer = child.stdout.read()  # the child writes its whole answer, then ends
    except BrokenPipeError:  # it died before reading the question
        answer = b""
    finally:
        if answer is None:  # stopped: nobody wants the answer any more
            child.kill()
        child.wait()
        child.stdout.close()
    if not answer:
        raise ChildFailed(f"the computation's process ended without an answer (exit code {child.returncode})")
    succeeded, value = pickle.loads(answer)
    if succeeded:
        return value
    raise value


def main() -> int:
    import importlib

    answers = os.fdopen(os.dup(1), "wb")  # the answer's own channel: whatever a solver prints goes to stderr
    os.dup2(2, 1)
    stopping.lower_priority(LOWEST)  # before the solvers start their threads, which take it over

    for name in PRELOADED:
        importlib.import_module(name)
    question = sys.stdin.buffer.read()
    if not question:  # the server ended before it asked anything
        return 0
    function, args, kwargs = pickle.loads(question)
    try:
        answer = (True, function(*args, **kwargs))
    except Exception as error:  # noqa: BLE001 -- handed back to the caller
        answer = (False, error)
    try:
        answers.write(pickle.dumps(answer))
        answers.flush()
    except BrokenPipeError:  # nobody wants the answer any more (the server ended)
        pass
    return 0


if __name__ == "__main__":
    sys.exit(main())
