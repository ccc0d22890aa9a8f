"""The sidebar every page draws (the attack, the model, its defense and training settings), which returns the view.

The defense's controls also appear on the defenses page, bound to the same fields.
"""

from __future__ import annotations

import streamlit as st

from core.inputs.data import DEFAULT_DATASET
from core.inputs.settings import ADVERSARIAL_EPS_STEP, BOUNDS, L1_STEPS, SOLVERS
from dashboard import results
from dashboard.state import WidgetKey, current, show_notices, update
from dashboard.view import DEFENSES, STRENGTH_BOUNDS, View
from dashboard.widgets import bind, pair_picker

# --- the sidebar --------------------------------------------------------------------------------------


def _number(label: str, field: str, *, step, fmt: str, help: str | None = None):
    """A training number: any number may be typed; out of range, it is put in range with a notice (as in a link)."""
    low, high = BOUNDS[field]
    help = f"{help + ' ' if help else ''}From {low:g} to {high:g}."
    return st.number_input(label, step=step, format=fmt, help=help, **bind(field, label=label))


def sidebar() -> View:
    """Draw the sidebar every page shares, show the pending notices, and return the view."""
    view = current()
    with st.sidebar:
        st.subheader("Attack")
        pair_picker(view)
        st.toggle(
            "Clip pixels to [0, 1]",
            help="Off reproduces the original experiment: pixels may leave [0, 1]",
            **bind("clip"),
        )

        st.subheader("Model")
        options = [DEFAULT_DATASET, "mnist", *results.configured_idx_folders()]
        if view.dataset not in options:  # an IDX folder the operator no longer offers
            view = update(dataset=DEFAULT_DATASET)
        st.selectbox(
            "Dataset", options, format_func=results.dataset_label, **bind("dataset", refuse=results.dataset_problem)
        )
        defense_picker(view)
        with st.expander("Training settings", expanded=False):
            labels = {"sgd": "SGD (original recipe)", "lbfgs": "L-BFGS (converged)"}
            defended = view.defense != "none"
            st.radio(
                "Solver",
                SOLVERS,
                horizontal=True,
                format_func=labels.get,
                disabled=defended,
                help="A defense trains with SGD" if defended else None,
                **bind("solver"),
            )
            if view.solver == "sgd" or defended:
                _number("Epochs", "epochs", step=1, fmt="%d")
                _number("Learning rate", "learning_rate", step=0.01, fmt="%.4f")
                _number("Batch size", "batch_size", step=10, fmt="%d")
            else:
                _number("Iterations ÷ 4", "epochs", step=1, fmt="%d", help="L-BFGS runs at most 4 × this many")
                _number("C (inverse L2 strength)", "C", step=0.1, fmt="%.3f")
            _number("Random seed", "seed", step=1, fmt="%d", help="Seeds the order of the SGD mini-batches")
        st.caption(
            "Linear models are easy to fool: the same small, structured nudge works on almost every image. "
            "Every epsilon here is exact, not searched."
        )

    usable = results.usable_dataset(view.dataset)
    if usable != view.dataset:
        update(dataset=usable)
    show_notices()
    return current()


def defense_picker(view: View, suffix: str = "") -> None:
    """The model's defense and its strength: none, adversarial training at an epsilon, or L1 weight decay."""
    st.selectbox(
        "Defense",
        list(DEFENSES),
        format_func=DEFENSES.get,
        help="Train the model to resist the attack",
        **bind("defense", suffix),
    )
    if view.defense != "none":
        strength_input(view, suffix)


def strength_input(view: View, suffix: str = "") -> None:
    """The chosen defense's strength, on its steps (a typed 0.123 trains at 0.12): links and typing cannot mint
    unbounded distinct models."""
    field = view.defense_strength
    low, high = STRENGTH_BOUNDS[field]
    if field == "adversarial_eps":
        label = "Training ε"
        st.number_input(
            label,
            step=ADVERSARIAL_EPS_STEP,
            format="%.2f",
            **bind(field, suffix, label=label),
            help="Each training image also counts at its exact worst case within this epsilon "
            f"(from {low:g} to {high:g}, in steps of 0.01)",
        )
    else:
        st.select_slider(
            "L1 strength",
            L1_STEPS,
            format_func=lambda value: f"{value:g}",
            **bind(field, suffix),
            help="Each SGD step shrinks every weight toward zero by rate × strength",
        )


def defense_choice(view: View) -> str:
    """The defenses page's own picker (a defense, or none when unpicked); returns the view's defense."""
    st.session_state[WidgetKey.DEFENSE_PICK] = None if view.defense == "none" else view.defense

    def picked() -> None:
        update(defense=st.session_state[WidgetKey.DEFENSE_PICK] or "none")

    st.segmented_control(
        "Defense",
        [d for d in DEFENSES if d != "none"],
        format_func=DEFENSES.get,
        key=WidgetKey.DEFENSE_PICK,
        on_change=picked,
    )
    return current().defense
