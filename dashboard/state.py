"""What a visitor sees, kept in the session and in the URL: defaults, link parsing, reset rules, notices.

Everything a visitor can set is validated here, once, and clamped or
refused with a visible notice; whatever a visitor typed is shown as inert text.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass

import numpy as np
import streamlit as st

from core.attack import SOURCE, TARGET
from core.checks import MAX_EPS, parse_digit, parse_number
from core.settings import TrainingSettings, snap_strength

EPS_STEP = 0.001  # slider resolution


class WidgetKey:
    """Every widget key of the app, in one place. Bound widgets use :func:`widget_key` of their state key."""

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


def widget_key(key: str, suffix: str = "") -> str:
    """The key of the widget that shows the state value ``key`` (``suffix`` tells pages' copies apart)."""
    return f"_widget_{key}{suffix}"


# --- the view -------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class View:
    """What the pages show: the sidebar's settings."""

    training: TrainingSettings
    source: int
    target: int
    clip: bool

    @property
    def clip_range(self):
        return (0.0, 1.0) if self.clip else None


DEFAULTS = {
    **asdict(TrainingSettings.first_visit()),  # dataset, solver and its settings, seed
    "source": SOURCE,
    "target": TARGET,
    "clip": True,
    "image": 0,
    "input": "test",  # where the attacked image comes from: INPUTS
    "eps": None,  # None: the chosen image's own minimal epsilon
    "show": "median",  # what the all-pairs heatmap shows: SHOWS
    "defense": "none",  # DEFENSES; its strength is adversarial_eps or l1
    "adversarial_eps": 0.1,
    "l1": 0.001,
}

# A change of the key on the left puts the keys on the right back to their defaults:
# a new digit starts at its first image, and a new image or attack at its own minimal epsilon.
RESETS = {
    "input": ("eps",),
    "source": ("image", "eps"),
    "target": ("eps",),
    "image": ("eps",),
    "clip": ("eps",),
    "dataset": ("eps",),
    "defense": ("eps",),
    "adversarial_eps": ("eps",),
    "l1": ("eps",),
}


def change(key: str, value) -> None:
    """Set a state value and apply the reset rules."""
    st.session_state[key] = value
    for reset in RESETS.get(key, ()):
        st.session_state[reset] = DEFAULTS[reset]


SHOWS = {"median": "Median minimal ε", "share": "Share fooled at ε"}  # show= in a link -> label
INPUTS = {"test": "A test image", "upload": "Your upload", "draw": "Draw"}  # input= in a link -> label
DEFENSES = {"none": "None", "adversarial": "Adversarial training", "l1": "L1 weight decay"}  # defense= -> label
DEFENSE_STRENGTH = {"adversarial": "adversarial_eps", "l1": "l1"}  # the state key of each defense's strength
STRENGTH_BOUNDS = {"adversarial_eps": (0.01, 0.3), "l1": (1e-5, 0.01)}  # a defense of strength 0 is none


def training_settings(state) -> TrainingSettings:
    """The model the sidebar's settings ask for, its defense included (defenses train with SGD)."""
    defense = state["defense"]
    return TrainingSettings(
        dataset=state["dataset"], solver="sgd" if defense != "none" else state["solver"],
        epochs=int(state["epochs"]), learning_rate=float(state["learning_rate"]),
        batch_size=int(state["batch_size"]), C=float(state["C"]), seed=int(state["seed"]),
        adversarial_eps=float(state["adversarial_eps"]) if defense == "adversarial" else 0.0,
        l1=float(state["l1"]) if defense == "l1" else 0.0,
    ).normalized()  # fmt: skip


def own_digit() -> tuple[np.ndarray, str] | None:
    """The visitor's own digit (28x28 pixels and what to call it) when it is the chosen input and there is one."""
    state = st.session_state
    if state.get("input") == "upload" and state.get("upload") is not None:
        return state["upload"], f"your upload {inert(state.get('upload_name', 'upload'))}"
    if state.get("input") == "draw" and state.get("drawing") is not None:
        return state["drawing"], "your drawing"
    return None


# --- notices: short messages shown once at the top of the page -----------------------------------------


def inert(text, limit: int = 40) -> str:
    """Visitor-supplied text (a link value, a file name) as inert Markdown: a short code span.

    Inside a code span Markdown makes no links, images, headings or emphasis,
    and bare addresses are not linked; line breaks and control characters
    become spaces, backticks (which would end the span) become quotes, and
    the text is cut to ``limit`` characters.
    """
    text = " ".join("".join(c if c.isprintable() else " " for c in str(text)).split()).replace("`", "'")
    if len(text) > limit:
        text = text[: limit - 1] + "…"
    return f"`{text}`" if text else "`(empty)`"


def notice(message: str, kind: str = "warning") -> None:
    st.session_state.setdefault("_notices", []).append((kind, message))


def show_notices() -> None:
    for kind, message in st.session_state.pop("_notices", []):
        getattr(st, kind)(message, icon="⚠️" if kind == "warning" else "ℹ️")


# --- the URL ----------------------------------------------------------------------------------------------


def _parse_image(text) -> int:
    stripped = str(text).strip()
    if len(stripped) > 9:  # before int(): Python refuses very long numbers in words of its own
        raise ValueError("has far too many digits to be an image number")
    if not stripped.isascii() or not stripped.isdecimal():
        raise ValueError("is not a whole number 0 or above")
    return int(stripped)


def _parse_flag(text) -> bool:
    lowered = str(text).strip().lower()
    if lowered not in {"0", "1", "true", "false", "on", "off"}:
        raise ValueError("is not on or off (1 or 0)")
    return lowered in {"1", "true", "on"}


def _parse_input(text) -> str:
    if str(text).strip().lower() not in INPUTS:
        raise ValueError("is not one of " + ", ".join(INPUTS))
    return str(text).strip().lower()


def _parse_defense(text) -> str:
    if str(text).strip().lower() not in DEFENSES:
        raise ValueError("is not one of " + ", ".join(DEFENSES))
    return str(text).strip().lower()


def _strength(key: str):
    low, high = STRENGTH_BOUNDS[key]

    def parse(text) -> float:
        value = parse_number(text)
        if not low <= value <= high:
            raise ValueError(f"is outside [{low:g}, {high:g}]")
        return value

    return parse


def _parse_show(text) -> str:
    if str(text).strip().lower() not in SHOWS:
        raise ValueError("is not one of " + ", ".join(SHOWS))
    return str(text).strip().lower()


URL_PARSERS = {"source": parse_digit, "target": parse_digit, "image": _parse_image, "eps": parse_number,
               "clip": _parse_flag, "input": _parse_input, "show": _parse_show, "defense": _parse_defense,
               "adversarial_eps": _strength("adversarial_eps"), "l1": _strength("l1")}  # fmt: skip


def _described(key: str, value) -> str:
    """A setting's value as a notice says it."""
    if key == "eps" and value is None:
        return "the image's exact minimal epsilon"
    if isinstance(value, bool):
        return "on" if value else "off"
    return str(value)


def clamp(value, low, high):
    return min(max(value, low), high)


def init_state() -> None:
    """Fill the session state once per session: defaults, then valid values from the URL."""
    state = st.session_state
    if state.get("_initialized"):
        return
    for key, value in DEFAULTS.items():
        state.setdefault(key, value)
    params = st.query_params
    for key, parse in URL_PARSERS.items():
        if key not in params:
            continue
        raw = params[key]
        try:
            state[key] = parse(raw)  # the reasons never quote the value: it is shown inert, once
        except ValueError as reason:
            notice(f"The link's {key}={inert(raw)} {reason}; using {_described(key, DEFAULTS[key])}.")
    for key in STRENGTH_BOUNDS:
        snapped = snap_strength(key, state[key])
        if snapped != state[key]:
            notice(f"The link's {key}={inert(params[key])} is rounded to {snapped:g}: the defenses train at a few "
                   "fixed strengths.")  # fmt: skip
            state[key] = snapped
    if state["eps"] is not None and not 0.0 <= state["eps"] <= MAX_EPS:
        state["eps"] = clamp(state["eps"], 0.0, MAX_EPS)
        notice(f"The link's eps={inert(params['eps'])} is outside [0, {MAX_EPS:g}]; using {state['eps']:g}.")
    if state["source"] == state["target"]:
        fixed = DEFAULTS["target"] if state["source"] != DEFAULTS["target"] else DEFAULTS["source"]
        notice(f"The link's source and target are both {state['source']}; the target is now {fixed}.")
        state["target"] = fixed
    state["_initialized"] = True


def sync_url(page_key: str) -> None:
    """Write the current view into the URL (the page is its path) so a copied link reproduces it."""
    state = st.session_state
    wanted = {"source": str(state["source"]), "target": str(state["target"])}
    wanted["clip"] = "1" if state["clip"] else "0"
    if page_key in ("attack", "epsilon", "lab"):
        if state["input"] != DEFAULTS["input"]:
            wanted["input"] = state["input"]
        wanted["image"] = str(state["image"])
        if state["eps"] is not None:
            wanted["eps"] = f"{state['eps']:g}"
    if page_key == "pairs":
        if state["show"] != DEFAULTS["show"]:
            wanted["show"] = state["show"]
    if page_key in ("pairs", "defenses") and state["eps"] is not None:
        wanted["eps"] = f"{state['eps']:g}"
    if state["defense"] != "none":  # the model every page attacks
        strength = DEFENSE_STRENGTH[state["defense"]]
        wanted["defense"], wanted[strength] = state["defense"], f"{state[strength]:g}"
    if dict(st.query_params) != wanted:
        st.query_params.from_dict(wanted)


def snap_eps(minimal: float) -> float:
    """The first slider stop strictly above the exact minimal epsilon (where the model is fooled)."""
    if not math.isfinite(minimal):
        return MAX_EPS
    stop = math.ceil(round(minimal / EPS_STEP, 9)) * EPS_STEP
    if stop <= minimal:
        stop += EPS_STEP
    return round(min(stop, MAX_EPS), 6)
