"""What a page shows instead when its model or its data cannot be had."""

from __future__ import annotations

import streamlit as st

from core.errors import DatasetUnavailable
from core.inputs.data import DEFAULT_DATASET
from dashboard import state
from dashboard.results.models import ModelUnavailable, dataset_label


def unavailable_ui(failure: ModelUnavailable) -> None:
    """What a page shows instead when its model cannot be had.

    Training images that turn out damaged (an IDX folder) send the visitor
    back to the embedded subset with a notice; anything else is said plainly,
    with a button to try again.
    """
    damaged_data = isinstance(failure.problem, (DatasetUnavailable, ValueError))
    if damaged_data and failure.settings.dataset != DEFAULT_DATASET:
        label = dataset_label(failure.settings.dataset)
        state.notice(f"Training on {label} failed: {failure.problem}. Back to the embedded MNIST subset.")
        state.update(dataset=DEFAULT_DATASET)
        st.rerun()
    st.error(f"The model could not be trained: {failure.problem}.", icon="🚫")
    st.button("Try again", icon=":material/refresh:")  # a click reruns the page, which asks again
