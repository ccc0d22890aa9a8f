"""The session: the visitor's :class:`~dashboard.view.View`, their own digit, and the notices waiting to be shown.

The only module besides the widgets that reads or writes ``st.session_state``.
The view lives under one key and changes only through :func:`update` (which
applies :meth:`View.with_`); it is read from the link once per session
(:func:`current`) and written back to it after every run (:func:`sync_url`).
The visitor's own digit (28x28 pixels, never in a link) lives beside it.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import streamlit as st

from dashboard.view import View, ViewRefused, inert

VIEW = "view"  # the session key of the current View


class WidgetKey:
    """Every widget key of the app, in one place. Bound widgets use :func:`widget_key` of their view field."""

    PICK = "_widget_pick"  # the first-ten picker on the attack page
    UPLOAD = "_widget_upload"
    PAD = "_widget_pad"  # the drawing pad on the attack page
    GRID_OWN_EPS = "grid_own_eps"
    SWEEP_RANGE = "sweep_range"
    SWEEP_POINTS = "sweep_points"
    SWEEP_SCALE = "sweep_scale"
    PAIRS_CHART = "_widget_pairs_chart"  # the all-pairs heatmap (its click selection)
    PAIRS_IMAGE = "pairs_image"  # which test image of each digit the all-pairs grid shows
    DEFENSE_PICK = "_widget_defense_pick"  # the defense picker on the defenses page


def widget_key(field: str, suffix: str = "") -> str:
    """The key of the widget that shows the view's ``field`` (``suffix`` tells pages' copies apart)."""
    return f"_widget_{field}{suffix}"


# --- the view ----------------------------------------------------------------------------------------------


def link_values() -> dict:
    """The link's values: text, or a list of texts for a key the link gives more than once."""
    params = st.query_params
    return {key: (params.get_all(key) if len(params.get_all(key)) > 1 else params[key]) for key in params}


def current() -> View:
    """The session's view; on a session's first run, the one its link asks for (refusals become notices)."""
    state = st.session_state
    if VIEW not in state:
        view, notices = View.from_query(link_values())
        for message in notices:
            notice(message)
        state[VIEW] = view
    return state[VIEW]


def update(**changes) -> View:
    """Apply ``changes`` to the session's view (:meth:`View.with_`); a refused change becomes a notice."""
    view = current()
    try:
        view = view.with_(**changes)
    except ViewRefused as reason:
        notice(str(reason))
        return view
    st.session_state[VIEW] = view
    return view


def sync_url(page: str) -> None:
    """Write the view into the URL (the page is its path) so a copied link reproduces it."""
    wanted = current().to_query(page)
    if st.query_params.to_dict() != wanted:
        st.query_params.from_dict(wanted)


# --- the visitor's own digit --------------------------------------------------------------------------------


@dataclass(frozen=True)
class OwnDigit:
    """The visitor's upload or drawing as the model sees it."""

    pixels: np.ndarray  # (784,) in [0, 1], read-only
    name: str  # what to call it, visitor text already inert


def own_digit(view: View) -> OwnDigit | None:
    """The visitor's own digit when the view attacks it and there is one (None: a test image, or nothing yet)."""
    state = st.session_state
    if view.input == "upload" and state.get("upload") is not None:
        return OwnDigit(state["upload"], f"your upload {inert(state.get('upload_name', 'upload'))}")
    if view.input == "draw" and state.get("drawing") is not None:
        return OwnDigit(state["drawing"], "your drawing")
    return None


def keep_upload(pixels: np.ndarray | None, name: str | None = None, problem: str | None = None) -> None:
    """Keep an upload's 28x28 pixels (or why it was refused) in this session, and start at its own minimal ε."""
    state = st.session_state
    state["upload"], state["upload_error"] = pixels, problem
    if name is not None:
        state["upload_name"] = name
    if pixels is not None:
        update(eps=None)


def upload_problem() -> str | None:
    return st.session_state.get("upload_error")


def keep_drawing(pixels: np.ndarray | None, drawing_id: str | None, problem: str | None) -> None:
    """Keep a drawing's 28x28 pixels and id (or why it was refused); a new drawing starts at its own minimal ε."""
    state = st.session_state
    state["drawing"], state["drawing_id"], state["drawing_error"] = pixels, drawing_id, problem
    update(eps=None)


def drawing_kept() -> tuple[str | None, str | None]:
    """The kept drawing's id and why the last drawing was refused, if it was."""
    return st.session_state.get("drawing_id"), st.session_state.get("drawing_error")


# --- notices: short messages shown once at the top of the page -----------------------------------------


def notice(message: str, kind: str = "warning") -> None:
    """Say ``message`` above the page on its next run, as a sentence (a capital first, a stop last)."""
    message = message.strip()
    if message and message[0].islower():
        message = message[0].upper() + message[1:]
    if message and message[-1] not in ".!?":
        message += "."
    st.session_state.setdefault("_notices", []).append((kind, message))


def show_notices() -> None:
    for kind, message in st.session_state.pop("_notices", []):
        getattr(st, kind)(message, icon="⚠️" if kind == "warning" else "ℹ️")


# --- long trainings the visitor said yes to ---------------------------------------------------------------

CONFIRMED = "confirmed_trainings"


def training_confirmed(settings) -> bool:
    """Whether the visitor said yes to training ``settings`` (a long training waits for it)."""
    return settings in st.session_state.get(CONFIRMED, ())


def confirm_training(settings) -> None:
    """The visitor said yes to training ``settings``: a button's callback."""
    st.session_state[CONFIRMED] = {*st.session_state.get(CONFIRMED, ()), settings}
