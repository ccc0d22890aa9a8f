"""Long computations stop when their caller no longer wants the answer, and give way while others wait.

The math never knows who runs it. A caller that may want a long computation
stopped (a server whose visitor left: :mod:`core.jobs.work`) runs it inside
:func:`stop_when` with a "should I stop?" question; the math calls
:func:`check` between blocks of images and between solver calls, which raises
:class:`Stopped` once the answer is no longer wanted. Outside
:func:`stop_when` (tests, the command line) :func:`check` does nothing.

``background=True`` says the computation serves others (shared work on a
server): :func:`in_background` lets the block loops of :mod:`core.path` run
on a lower-priority pool, so a visitor's page is drawn first.
"""

from __future__ import annotations

import contextlib
import contextvars
import os
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass

BACKGROUND_NICENESS = 10  # a visitor's page gets about ten times the CPU of background work when both want it


class Stopped(RuntimeError):
    """The computation was stopped because nobody wants its answer any more."""


@dataclass(frozen=True)
class _Asked:
    should_stop: Callable[[], bool]
    background: bool


_asked: contextvars.ContextVar[_Asked | None] = contextvars.ContextVar("stopping_asked", default=None)


@contextlib.contextmanager
def stop_when(should_stop: Callable[[], bool], *, background: bool = False) -> Iterator[None]:
    """Run the body so that :func:`check` raises :class:`Stopped` as soon as ``should_stop()`` is true."""
    token = _asked.set(_Asked(should_stop, background))
    try:
        yield
    finally:
        _asked.reset(token)


def check() -> None:
    """Raise :class:`Stopped` if whoever runs this computation no longer wants it (a cheap call: use it often)."""
    asked = _asked.get()
    if asked is not None and asked.should_stop():
        raise Stopped("nobody waits for this computation any more")


def current_check() -> Callable[[], None]:
    """This thread's :func:`check` as a function another thread can call (a worker pool's items)."""
    asked = _asked.get()
    if asked is None:
        return _nothing

    def check_for_caller() -> None:
        if asked.should_stop():
            raise Stopped("nobody waits for this computation any more")

    return check_for_caller


def _nothing() -> None:
    return None


def in_background() -> bool:
    """Whether this computation serves others and should give way to visitors' pages."""
    asked = _asked.get()
    return asked is not None and asked.background


def lower_priority(niceness: int = BACKGROUND_NICENESS) -> None:
    """Run this thread at a lower CPU priority than the server's (Linux: per thread; ``niceness`` 19 is the lowest),
    where the system allows."""
    try:
        os.setpriority(os.PRIO_PROCESS, threading.get_native_id(), niceness)
    except (AttributeError, OSError):  # not Linux, or not allowed: the same priority, only slower pages
        pass
