"""What a page shows instead when its model or its data cannot be had."""

from __future__ import annotations

import streamlit as st

from core.errors import DatasetUnavailable, TooCostly
from core.inputs.data import DEFAULT_DATASET
from core.jobs.cost import spoken
from dashboard import state
from dashboard.results.models import ModelUnavailable, NeedsConfirmation, dataset_label


def unavailable_ui(failure: ModelUnavailable) -> None:
    """What a page shows instead when its model cannot be had.

    Training images that turn out damaged (an IDX folder) send the visitor
    back to the embedded subset with a notice; anything else is said plainly,
    with a button to try again.
    """
    if isinstance(failure.problem, TooCostly):
        st.error(f"The model cannot be trained here: {failure.problem}", icon="⏱️")
        return
    damaged_data = isinstance(failure.problem, (DatasetUnavailable, ValueError))
    if damaged_data and failure.settings.dataset != DEFAULT_DATASET:
        label = dataset_label(failure.settings.dataset)
        state.notice(f"Training on {label} failed: {failure.problem}. Back to the embedded MNIST subset.")
        state.update(dataset=DEFAULT_DATASET)
        st.rerun()
    st.error(f"The model could not be trained: {failure.problem}.", icon="🚫")
    st.button("Try again", icon=":material/refresh:")  # a click reruns the page, which asks again


def confirmation_ui(asked: NeedsConfirmation) -> None:
    """A long training, said before it starts: what it will cost, and a button to start it."""
    settings = asked.settings
    what = f"the ReLU network of {settings.hidden} units" if settings.hidden else "this model"
    st.info(
        f"Training {what} ({settings.epochs} epochs on {dataset_label(settings.dataset)}) takes "
        f"{spoken(asked.seconds)} on this server, one core's worth. Fewer epochs or units in the sidebar "
        "train faster; a model trained once is kept for every visitor.",
        icon=":material/timer:",
    )
    st.button(
        f"Train it ({spoken(asked.seconds)})",
        icon=":material/play_arrow:",
        on_click=state.confirm_training,
        args=(settings,),
    )
