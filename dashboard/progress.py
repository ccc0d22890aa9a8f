"""Where slow work stands, drawn in the page: a status line for shared computations, a bar for trainings."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

import streamlit as st

from core.jobs.cost import spoken
from core.jobs.models import TrainingStatus
from core.jobs.work import JobStatus


@contextlib.contextmanager
def status_line(doing: str) -> Iterator:
    """A caption saying what the page waits for and how many computations are ahead; gone when the wait ends.

    Yields the ``on_status(JobStatus)`` to hand to the job system: the line is redrawn only when it changes."""
    box, shown = st.empty(), [None]

    def report(now: JobStatus) -> None:
        if now.ahead > 0:
            others = "computation" if now.ahead == 1 else "computations"
            text = f":material/hourglass_top: {doing} Waiting for {now.ahead} other {others} on this server…"
        else:
            text = f":material/hourglass_top: {doing}"
        if text != shown[0]:
            box.caption(text)
            shown[0] = text

    try:
        yield report
    finally:
        box.empty()


def training_text(status: TrainingStatus, hidden: int = 0) -> str:
    if status.waiting_for > 0:
        others = "training" if status.waiting_for == 1 else "trainings"
        wait = f" ({spoken(status.expected_wait)})" if status.expected_wait else ""
        return f"Waiting for {status.waiting_for} other {others} on this server to finish{wait}…"
    what = f"the ReLU network ({hidden} units)" if hidden else "the softmax classifier"
    if status.metrics is None:
        return f"Training {what}…"
    return f"Training {what}: epoch {status.epoch} of {status.total}, test accuracy {status.metrics.test_accuracy:.1%}"


@contextlib.contextmanager
def training_bar(hidden: int = 0, text: str = "Loading the model…") -> Iterator:
    """A progress bar for a training; yields the ``on_status(TrainingStatus)`` that moves it."""
    bar = st.progress(0.0, text=text)

    def report(status: TrainingStatus) -> None:  # every poll: a visitor's rerun or a closed tab ends the wait here
        bar.progress(status.epoch / max(status.total, 1), text=training_text(status, hidden))

    try:
        yield report
    finally:
        bar.empty()
