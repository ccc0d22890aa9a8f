"""The shared controls of the pages: image pickers, the upload, the pages' own choices, the epsilon slider.

Each function draws its widgets and returns their values. Streamlit forgets
the state of widgets a page does not draw, so a value lives in the session's
:class:`~dashboard.view.View` and each widget that shows it is bound to its
field (:func:`bind`); what changing it resets is :data:`dashboard.view.RESETS`.
"""

from __future__ import annotations

import math

import numpy as np
import streamlit as st

from core.attack import MAX_EPS
from core.errors import ImageRejected
from core.inputs import classes
from core.inputs.classes import the_class
from core.inputs.imaging import preprocess_upload
from core.inputs.settings import BOUNDS
from dashboard import results, state
from dashboard.state import WidgetKey, current, notice, own_digit, show_notices, update, widget_key
from dashboard.view import EPS_STEP, INPUTS, LESSON_STEPS, NORMS, SHOWS, View, inert, snap_eps


def bind(field: str, suffix: str = "", refuse=None, shown=None, label: str | None = None) -> dict:
    """Widget keyword arguments that show the view's ``field`` and change it (:func:`dashboard.state.update`).

    ``refuse(value)`` may return a message to refuse a value (shown as a
    notice); ``shown`` is what the widget shows when the field is None.
    ``label`` names a number field in the notice given when a typed value is
    put in range (number inputs take any number, as links do, and say so).
    """
    bound = widget_key(field, suffix)
    value = getattr(current(), field)
    st.session_state[bound] = shown if value is None else value
    return {"key": bound, "on_change": _copy_back, "args": (bound, field, refuse, label)}


def _copy_back(bound: str, field: str, refuse, label: str | None) -> None:
    value = st.session_state[bound]
    problem = refuse(value) if refuse is not None else None
    if problem:
        notice(problem)
        return
    kept = getattr(update(**{field: value}), field)
    if label is not None and isinstance(value, (int, float)) and kept != value:
        notice(put_in_range(label, field, value, kept))


def put_in_range(label: str, field: str, typed: float, kept: float) -> str:
    """The notice for a typed number that field ``field`` cannot take as it is (the value used is ``kept``)."""
    low, high = BOUNDS.get(field, (-math.inf, math.inf))
    if low <= typed <= high:
        return f"{label} {inert(f'{typed:g}')} is between its steps; using {kept:g}."
    return f"{label} {inert(f'{typed:g}')} is outside {low:g}-{high:g}; using {kept:g}."


# --- the chosen image ---------------------------------------------------------------------------------


def chosen_image(view: View) -> int:
    """The chosen image position among the source digit's test images, clamped with a notice."""
    count = len(results.source_images(view)[0])
    if count == 0:
        raise results.NothingToShow(
            f"The test set of {results.dataset_label(view.training.dataset)} has no image of "
            f"{the_class(view.dataset, view.source)}: pick another source in the sidebar."
        )
    image = current().image
    if not 0 <= image < count:
        corrected = min(max(image, 0), count - 1)
        notice(
            f"There is no test image #{inert(image)} of {the_class(view.dataset, view.source)} (there are {count}); "
            f"showing #{corrected}."
        )
        update(image=corrected, eps=current().eps)  # the link's epsilon stays
        image = corrected
        show_notices()
    return image


def image_picker(view: View, *, key_suffix: str) -> int:
    """Pick a test image of the source digit by its position; returns the clamped position."""
    count = len(results.source_images(view)[0])
    image = chosen_image(view)
    label = f"Test image of {the_class(view.dataset, view.source)} (0-{count - 1})"
    bound = bind("image", key_suffix)
    st.session_state[bound["key"]] = float(current().image)  # a field that takes 2.5, so a notice can refuse it
    st.number_input(label, step=1.0, format="%g", **bound)  # any number: out of range or not whole, a notice says so
    return image


def first_ten_picker(images: np.ndarray) -> None:
    """One click picks one of the first ten test images; a click on the selected one changes nothing."""
    first_ten = list(range(min(10, len(images))))
    image = current().image
    st.session_state[WidgetKey.PICK] = image if image in first_ten else None

    def picked():
        if st.session_state[WidgetKey.PICK] is not None:
            update(image=st.session_state[WidgetKey.PICK])

    st.radio("Pick one of the first ten", first_ten, horizontal=True, key=WidgetKey.PICK, on_change=picked)  # wraps


def image_and_eps(view: View, *, key_suffix: str, slider: bool = True) -> tuple[results.Chosen, float]:
    """The image a page studies (a test image it picks, or your own digit from the attack page) beside the epsilon
    slider (``slider=False``: a line that says why there is none); returns the image and the chosen epsilon."""
    chosen_image(view)  # says so if the test set has no image of the source digit
    left, right = st.columns([1, 3], vertical_alignment="bottom")
    with left:
        own = own_digit(view)
        if own is not None:
            image = chosen_image(view)
            st.info(f"Showing {own.name} (choose the image on the attack page).")
        else:
            image = image_picker(view, key_suffix=key_suffix)
    selected = results.chosen(view, image)
    with right:
        if slider:
            eps = eps_slider(selected.minimal, key_suffix=key_suffix)
        else:  # the answers in another norm have no ε of their own to choose; the ε chosen is kept for L∞
            eps = view.eps if view.eps is not None else snap_eps(selected.minimal)
            st.caption("Each answer below is the smallest change in its norm: no ε to choose (L∞ has one).")
    if selected.starting_point(view):
        st.info(selected.starting_point(view), icon=":material/info:")
    return selected, eps


def pair_picker(view: View, suffix: str = "") -> None:
    """The source and the target, side by side (the sidebar's, and a page's own where a phone hides the sidebar)."""
    left, right = st.columns(2)
    kind, names = classes.kind(view.dataset), classes.class_names(view.dataset)
    shown = (lambda k: f"{k} · {names[k]}") if names else str
    left.selectbox(
        f"Source {kind}", range(10), format_func=shown, help=f"The {kind} to disguise", **bind("source", suffix)
    )
    right.selectbox(
        f"Target {kind}", range(10), format_func=shown, help="What the model should see", **bind("target", suffix)
    )


def input_choice() -> str:
    """Where the attacked image comes from: a test image, the visitor's upload, or a drawing (``input=``)."""
    st.radio(
        "Image", list(INPUTS), format_func=INPUTS.get, horizontal=True, label_visibility="collapsed", **bind("input")
    )
    return current().input


def _receive_upload() -> None:
    """Preprocess once; keep the 28x28 result in this session only (never on disk)."""
    upload = st.session_state.get(WidgetKey.UPLOAD)
    if upload is None:
        state.keep_upload(None)
        return
    try:
        pixels = preprocess_upload(upload.getvalue())
    except ImageRejected as error:
        state.keep_upload(None, problem=f"{inert(upload.name)}: {error}")
        return
    pixels.flags.writeable = False
    state.keep_upload(pixels, upload.name)


def uploader(label: str, *, types: list[str], help: str) -> str | None:
    """The upload of one's own digit; returns why the last upload was refused, if it was."""
    st.file_uploader(label, type=types, help=help, key=WidgetKey.UPLOAD, on_change=_receive_upload)
    return state.upload_problem()


# --- the pages' own choices ---------------------------------------------------------------------------------


def _choice_row(field: str, label: str, options, **options_shown):
    """A row of options bound to the view's ``field``; a click on the chosen option keeps it (a segmented control
    would otherwise unselect it). Returns the field's value."""
    key = widget_key(field)
    st.session_state[key] = getattr(current(), field)

    def picked() -> None:
        if st.session_state[key] is not None:
            update(**{field: st.session_state[key]})

    st.segmented_control(label, options, key=key, on_change=picked, **options_shown)
    return getattr(current(), field)


def show_choice() -> str:
    """What the all-pairs heatmap shows (``show=``)."""
    return _choice_row("show", "Show", list(SHOWS), format_func=SHOWS.get)


def norm_choice() -> str:
    """What the attack lab measures a change by (``norm=``)."""
    return _choice_row(
        "norm",
        "Measure a change by",
        list(NORMS),
        format_func=NORMS.get,
        help="L∞: the most any one pixel moves (the gradient sign method's measure). L2: the change's length. "
        "L1: the sum of every pixel's change. L0: how many pixels change.",
    )


def step_choice(help: str) -> int:
    """The lesson's six steps as one row: a click goes to any step (``step=``)."""
    return _choice_row("step", "Step", range(1, LESSON_STEPS + 1), help=help)


def pick_pair(selection: str) -> None:
    """A click on an all-pairs cell: that pair becomes the sidebar's source and target (your own row: the target)."""
    chosen = st.session_state[WidgetKey.PAIRS_CHART]["selection"].get(selection) or []
    if not chosen:
        return
    source, target = chosen[0].get("source"), chosen[0].get("target")
    if source == target or target is None:
        return
    if source in (None, "yours"):
        update(target=int(target))
    else:
        update(source=int(source), target=int(target))


def position_picker(count: int) -> int:
    """Which test image of each digit the all-pairs grid shows (0 to ``count - 1``)."""
    key = WidgetKey.PAIRS_IMAGE
    typed = st.session_state.get(key, 0)
    position = int(min(max(typed, 0), max(count - 1, 0)))
    if typed != position:
        notice(f"There is no test image #{inert(typed)} of each digit (0-{count - 1}); showing #{position}.")
        show_notices()
    st.session_state[key] = position
    st.number_input(f"Which test image of each digit (0-{count - 1})", step=1, key=key)  # any number: see above
    return position


def attack_link(view: View, label: str) -> None:
    """A link to the per-image attack on ``view``: in this session, and as a link that works when copied."""
    page_link(view, "attack", label, ":material/target:")


def page_link(view: View, page: str, label: str, icon: str) -> None:
    """A link to ``page`` on ``view``: in this session, and as a link that works when copied."""
    from urllib.parse import urlencode

    from streamlit.errors import StreamlitPageNotFoundError

    params = view.to_query(page)
    try:
        st.page_link(f"app_pages/{page}.py", label=label, icon=icon, query_params=params)
    except StreamlitPageNotFoundError:  # this page opened on its own, without the app's navigation
        st.markdown(f"[{label}]({page}?{urlencode(params)})")


# --- epsilon ---------------------------------------------------------------------------------------------


def snap_to_minimal() -> None:
    update(eps=None)


def eps_slider(
    minimal: float | None = None, *, start: float | None = None, key_suffix: str, help: str | None = None
) -> float:
    """The epsilon slider shared by the pages; returns the chosen epsilon.

    Until the visitor moves it, it stands at ``start`` or else at the first stop past ``minimal``.
    """
    eps = current().eps
    if eps is None:
        eps = start if start is not None else snap_eps(minimal)
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
