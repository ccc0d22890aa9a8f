"""The shared controls: the sidebar (which returns the view), image pickers, the upload, the epsilon slider.

Each function draws its widgets and returns their values. Streamlit forgets
the state of widgets a page does not draw, so a value lives in the session
under its own key and each widget that shows it is bound to it
(:func:`bind`); what changing it resets is :data:`dashboard.state.RESETS`.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import streamlit as st

from core.attack import MAX_EPS, minimal_epsilon
from core.data import DEFAULT_DATASET
from core.errors import ImageRejected
from core.imaging import preprocess_upload
from core.settings import ADVERSARIAL_EPS_STEP, BOUNDS, L1_STEPS, SOLVERS, snap_strength
from dashboard import resources
from dashboard.state import (
    DEFENSE_STRENGTH,
    DEFENSES,
    EPS_STEP,
    INPUTS,
    STRENGTH_BOUNDS,
    View,
    WidgetKey,
    change,
    clamp,
    inert,
    init_state,
    notice,
    own_digit,
    show_notices,
    snap_eps,
    training_settings,
    widget_key,
)  # fmt: skip


def bind(key: str, suffix: str = "", refuse=None, shown=None) -> dict:
    """Widget keyword arguments that show and update ``st.session_state[key]``.

    ``refuse(value)`` may return a message to refuse a value (shown as a
    notice); ``shown`` is what the widget shows when the stored value is None.
    """
    bound = widget_key(key, suffix)
    value = st.session_state[key]
    st.session_state[bound] = shown if value is None else value
    return {"key": bound, "on_change": _copy_back, "args": (bound, key, refuse)}


def _copy_back(bound: str, key: str, refuse) -> None:
    value = st.session_state[bound]
    problem = refuse(value) if refuse is not None else None
    if problem:
        notice(problem)
    else:
        change(key, value)


def _differs_from(other: str, key: str):
    """A ``bind`` refusal of the value of ``other`` for ``key`` (source and target must differ)."""

    def refuse(value) -> str | None:
        if value == st.session_state[other]:
            return f"The {key} must differ from the {other} ({value}); the {key} stays {st.session_state[key]}."
        return None

    return refuse


# --- the sidebar --------------------------------------------------------------------------------------


def _number(label: str, key: str, *, step, fmt: str, help: str | None = None):
    low, high = BOUNDS[key]
    kind = int if isinstance(step, int) else float
    st.session_state[key] = kind(clamp(st.session_state[key], low, high))
    return st.number_input(label, kind(low), kind(high), step=step, format=fmt, help=help, **bind(key))


def sidebar() -> View:
    """Draw the sidebar every page shares, show the pending notices, and return the validated view."""
    init_state()
    state = st.session_state
    with st.sidebar:
        st.subheader("Attack")
        left, right = st.columns(2)
        left.selectbox("Source digit", range(10), help="The digit to disguise",
                       **bind("source", refuse=_differs_from("target", "source")))  # fmt: skip
        right.selectbox("Target digit", range(10), help="What the model should see",
                        **bind("target", refuse=_differs_from("source", "target")))  # fmt: skip
        st.toggle("Clip pixels to [0, 1]", help="Off reproduces the original experiment: pixels may leave [0, 1]",
                  **bind("clip"))  # fmt: skip

        st.subheader("Model")
        options = [DEFAULT_DATASET, "mnist", *resources.configured_idx_folders()]
        if state["dataset"] not in options:
            state["dataset"] = DEFAULT_DATASET
        st.selectbox("Dataset", options, format_func=resources.dataset_label,
                     **bind("dataset", refuse=resources.dataset_problem))  # fmt: skip
        defense_picker()
        with st.expander("Training settings", expanded=False):
            labels = {"sgd": "SGD (original recipe)", "lbfgs": "L-BFGS (converged)"}
            defended = state["defense"] != "none"
            st.radio("Solver", SOLVERS, horizontal=True, format_func=labels.get, disabled=defended,
                     help="A defense trains with SGD" if defended else None, **bind("solver"))  # fmt: skip
            if state["solver"] == "sgd" or defended:
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

    state["dataset"] = resources.usable_dataset(state["dataset"])
    settings = training_settings(state)
    show_notices()
    return View(training=settings, source=int(state["source"]), target=int(state["target"]), clip=bool(state["clip"]))


def defense_picker(suffix: str = "") -> None:
    """The model's defense and its strength: none, adversarial training at an epsilon, or L1 weight decay."""
    state = st.session_state
    st.selectbox("Defense", list(DEFENSES), format_func=DEFENSES.get, help="Train the model to resist the attack",
                 **bind("defense", suffix))  # fmt: skip
    if state["defense"] != "none":
        strength_input(state["defense"], suffix)


def strength_input(defense: str, suffix: str = "") -> None:
    key = DEFENSE_STRENGTH[defense]
    low, high = STRENGTH_BOUNDS[key]
    # On its steps (a typed 0.123 trains at 0.12): links and typing cannot mint unbounded distinct models.
    st.session_state[key] = snap_strength(key, float(clamp(st.session_state[key], low, high)))
    if key == "adversarial_eps":
        st.number_input("Training ε", low, high, step=ADVERSARIAL_EPS_STEP, format="%.2f", **bind(key, suffix),
                        help="Each training image also counts at its exact worst case within this epsilon "
                             "(in steps of 0.01)")  # fmt: skip
    else:
        st.select_slider("L1 strength", L1_STEPS, format_func=lambda value: f"{value:g}", **bind(key, suffix),
                         help="Each SGD step shrinks every weight toward zero by rate × strength")  # fmt: skip


# --- the chosen image ---------------------------------------------------------------------------------


def chosen_image(view: View) -> int:
    """The chosen image position among the source digit's test images, clamped with a notice."""
    count = len(resources.source_images(view)[0])
    if count == 0:
        raise resources.NothingToShow(
            f"The test set of {resources.dataset_label(view.training.dataset)} has no image of digit {view.source}: "
            "pick another source digit in the sidebar."
        )
    image = st.session_state["image"]
    if not 0 <= image < count:
        corrected = clamp(image, 0, count - 1)
        notice(
            f"There is no test image #{inert(image)} of digit {view.source} (there are {count}); showing #{corrected}."
        )
        st.session_state["image"] = image = corrected
        show_notices()
    return image


def image_picker(view: View, *, key_suffix: str) -> int:
    """Pick a test image of the source digit by its position; returns the clamped position."""
    count = len(resources.source_images(view)[0])
    image = chosen_image(view)
    st.number_input(
        f"Test image of digit {view.source} (0-{count - 1})", 0, count - 1, step=1, **bind("image", key_suffix)
    )
    return image


def first_ten_picker(images: np.ndarray) -> None:
    """One click picks one of the first ten test images; a click on the selected one changes nothing."""
    first_ten = list(range(min(10, len(images))))
    current = st.session_state["image"]
    st.session_state[WidgetKey.PICK] = current if current in first_ten else None

    def picked():
        if st.session_state[WidgetKey.PICK] is not None:
            change("image", st.session_state[WidgetKey.PICK])

    st.segmented_control("Pick one of the first ten", first_ten, key=WidgetKey.PICK, on_change=picked)


@dataclass(frozen=True)
class Chosen:
    """The image the attack pages show: a test image of the source digit, or the visitor's own."""

    pixels: np.ndarray  # (784,) in [0, 1]
    label: str
    minimal: float  # exact minimal epsilon toward the target
    own: bool


def chosen(view: View, image: int) -> Chosen:
    own = own_digit()
    if own is not None:
        pixels, name = own
        model = resources.trained(view.training).model
        minimal = float(minimal_epsilon(model, pixels, view.target, clip=view.clip_range))
        return Chosen(pixels, name, minimal, True)
    indices, images = resources.source_images(view)
    label = f"test image #{image} of digit {view.source} (test-set index {indices[image]})"
    return Chosen(images[image], label, float(resources.minimal_epsilons(view)[image]), False)


def input_choice() -> str:
    """Where the attacked image comes from: a test image, the visitor's upload, or a drawing (``input=``)."""
    st.radio("Image", list(INPUTS), format_func=INPUTS.get, horizontal=True, label_visibility="collapsed",
             **bind("input"))  # fmt: skip
    return st.session_state["input"]


def _receive_upload() -> None:
    """Preprocess once; keep the 28x28 result in this session only (never on disk)."""
    state = st.session_state
    upload = state.get(WidgetKey.UPLOAD)
    state["upload_error"] = None
    if upload is None:
        state["upload"] = None
        return
    try:
        pixels = preprocess_upload(upload.getvalue())
    except ImageRejected as error:
        state["upload"], state["upload_error"] = None, f"{inert(upload.name)}: {error}"
        return
    pixels.flags.writeable = False
    state["upload"], state["upload_name"], state["eps"] = pixels, upload.name, None


def uploader(label: str, *, types: list[str], help: str) -> str | None:
    """The upload of one's own digit; returns why the last upload was refused, if it was."""
    st.file_uploader(label, type=types, help=help, key=WidgetKey.UPLOAD, on_change=_receive_upload)
    return st.session_state.get("upload_error")


# --- epsilon ---------------------------------------------------------------------------------------------


def chosen_eps(minimal: float) -> float:
    """The chosen epsilon: the first slider stop past ``minimal`` unless the visitor moved the slider."""
    eps = st.session_state["eps"]
    return snap_eps(minimal) if eps is None else float(eps)


def snap_to_minimal() -> None:
    change("eps", None)


def eps_slider(minimal: float, *, key_suffix: str, help: str | None = None) -> float:
    """The epsilon slider shared by the attack and chart pages; returns the chosen epsilon."""
    eps = chosen_eps(minimal)
    st.slider(
        "Epsilon: how far each pixel may move",
        0.0,
        MAX_EPS,
        step=EPS_STEP,
        format="%.3f",
        **bind("eps", key_suffix, shown=eps),
        help=help
        or "Every pixel moves by at most epsilon (in units of the full 0-1 range) in the direction of the "
        "gradient sign. The slider starts at the first stop above this image's exact minimal epsilon.",
    )
    return eps
