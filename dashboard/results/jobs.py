"""The results layer's three cost classes, declared where each result is defined.

- :func:`instant`: milliseconds, asked at every slider stop: runs in the visitor's page, not kept.
- :func:`cached`: a fraction of a second, the same for every visitor: kept per server
  (``st.cache_resource``, arrays read-only), computed in the page the first time. A cached result takes
  models and data that are already there (:func:`dashboard.results.models.model_of`) and draws nothing.
- :func:`shared`: seconds: a job of the server's one job system (:class:`core.jobs.work.Jobs`), asked once per
  server, shared when two visitors ask the same, waiting its turn behind one slot of its lane (the proofs that
  may run to their time limit have a lane of their own) below the pages' CPU priority, stopped when nobody waits.
  The decorated function runs in the page: it gets the model and the data, and returns the job's key and the
  computation (which runs in a thread of the job system: no Streamlit in it). While a page waits, it shows what
  :mod:`dashboard.progress` draws of the job's status.

:data:`RESULTS` names every result and its cost class (a test checks that every public function of the
layer is declared).
"""

from __future__ import annotations

import functools
import hashlib
import threading
import time

import numpy as np
import streamlit as st

from core.jobs.work import POLL, Jobs
from dashboard import progress

RESULTS: dict[str, str] = {}  # "module.function" -> "instant", "cached" or "shared"
WORK_SLOTS = 1  # shared computations at once per server: a Community Cloud app has about one core, pages first
# Proofs that take their whole time limit (a solver in a child process, up to 20 s) wait in a lane of their own,
# one at a time, so that the seconds-long work every page needs never queues behind them.
LANES = ("work", "proofs")


def _declare(function, cost: str) -> None:
    RESULTS[f"{function.__module__.rsplit('.', 1)[-1]}.{function.__name__}"] = cost


def instant(function):
    """Declare a result computed in the visitor's page at every run (milliseconds)."""
    _declare(function, "instant")
    return function


def cached(max_entries: int = 64, spinner: str | bool = False):
    """Declare a result kept per server for every visitor (``st.cache_resource``); it must draw nothing (a
    ``spinner`` is Streamlit's own, shown while it computes, never replayed)."""

    def declare(function):
        _declare(function, "cached")
        return st.cache_resource(show_spinner=spinner, max_entries=max_entries)(function)

    return declare


@st.cache_resource(show_spinner=False)
def server_jobs(lane: str = "work") -> Jobs:
    """The server's shared computations in one of its :data:`LANES` (one job system per lane and server process)."""
    return Jobs(WORK_SLOTS)


_run = threading.local()  # each session's script runs in a thread of its own


def page_run_started() -> None:
    """Note when this page run began (the entry point calls it first): shared work serves the oldest run first."""
    _run.started = time.monotonic()


def shared(doing: str, lane: str = "work"):
    """Declare a shared result: the function returns ``(key, compute)``; the wrapper answers ``compute()``'s result.
    ``lane``: "proofs" for a solver that may run to its time limit (:data:`LANES`).

    The wrapper takes ``wait`` (keyword, default True): False gives the result if it is ready, else None at once,
    with the job started (a page that asks again within the grace keeps it going).
    """

    def declare(function):
        _declare(function, "shared")
        if lane not in LANES:
            raise ValueError(f"lane must be one of {LANES}, got {lane!r}")

        @functools.wraps(function)
        def ask(*args, wait: bool = True, **kwargs):
            key, compute = function(*args, **kwargs)
            key = (function.__name__, *key)
            jobs, since = server_jobs(lane), getattr(_run, "started", None)
            work = lambda handle: compute()  # noqa: E731 -- the math asks core.stopping whether to stop
            if not wait:
                ready, result = jobs.peek(key, work, since=since)
                return result if ready else None
            kept = jobs.finished(key)
            if kept is not None:
                return kept
            with progress.status_line(doing) as report:
                return jobs.get(key, work, report, poll=POLL, since=since)

        return ask

    return declare


def read_only(array: np.ndarray) -> np.ndarray:
    """``array``, made read-only: every session shares it."""
    array.flags.writeable = False
    return array


def own_copy(pixels: np.ndarray) -> tuple[np.ndarray, str]:
    """One image's pixels as our own float64 copy (a job runs in another thread) and a digest of them for the job's
    key (a visitor's own digit shares its answers as a test image does)."""
    pixels = np.array(pixels, dtype=np.float64)
    return pixels, hashlib.blake2b(pixels.tobytes(), digest_size=16).hexdigest()
