"""The view's fields, one by one: how each is checked, how a link spells it, and the choices it offers.

:class:`Spec` is what :class:`dashboard.view.View` knows about one field (its metadata); the checks and link
parsers here are what the specs name. The bounds come from the training settings
(:data:`core.inputs.settings.BOUNDS`), not restated. Pure Python (no Streamlit).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field

from core.checks import MAX_EPS, parse_number
from core.inputs.settings import ADVERSARIAL_EPS_STEP, BOUNDS, HIDDEN_SIZES, L1_STEPS, WHOLE_NUMBERS, snap_strength

EPS_STEP = 0.001  # the epsilon slider's resolution
SHOWS = {"median": "Median minimal ε", "share": "Share fooled at ε"}  # show= in a link -> label
# norm= in a link -> label: what the lab measures a change by
NORMS = {"inf": "L∞ (largest pixel)", "2": "L2 (length)", "1": "L1 (total)", "0": "L0 (pixels)"}
INPUTS = {"test": "A test image", "upload": "Your upload", "draw": "Draw"}  # input= in a link -> label
DEFENSES = {"none": "None", "adversarial": "Adversarial training", "l1": "L1 weight decay"}  # defense= -> label
DEFENSE_STRENGTH = {"adversarial": "adversarial_eps", "l1": "l1"}  # the field of each defense's strength
NETWORK_SIZES = tuple(size for size in HIDDEN_SIZES if size)  # hidden= in a link: the ReLU network's hidden units
# A defense of strength 0 is none: a chosen defense's strength goes from its first step to the training bound.
STRENGTH_BOUNDS = {
    "adversarial_eps": (ADVERSARIAL_EPS_STEP, BOUNDS["adversarial_eps"][1]),
    "l1": (L1_STEPS[0], BOUNDS["l1"][1]),
}
PAGES = ("lesson", "training", "attack", "epsilon", "lab", "pairs", "defenses", "network")
LESSON_STEPS = 6  # step= in a link: 1 to 6
IMAGE_PAGES = ("attack", "epsilon", "lab", "network")  # the pages that show one chosen image


class ViewRefused(ValueError):
    """A change the view cannot take (the message says why, for a notice)."""


@dataclass(frozen=True)
class Spec:
    """What the view knows about one field; parsing, checking, links and resets are derived from these alone."""

    check: Callable  # a value as a widget gives it -> the field's value (kind checked, put in range); ViewRefused
    parse: Callable | None = None  # link text -> value, or ValueError(reason); None: a link never holds the field
    pages: tuple[str, ...] = ()  # the pages whose links hold it (when it differs from its default, or always)
    always: bool = False  # written in those pages' links even at its default
    resets: tuple[str, ...] = ()  # fields put back to their defaults when this one changes


def spec(default, **options):
    """A field of :class:`View` with its :class:`Spec`."""
    return field(default=default, metadata={"spec": Spec(**options)})


def a_number(name: str, value) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        raise ViewRefused(f"{name} must be a number")
    return value


def training_number(name: str):
    """A training number, put within :data:`core.inputs.settings.BOUNDS` (the settings' own bounds)."""
    low, high = BOUNDS[name]
    kind = int if name in WHOLE_NUMBERS else float

    def check(value):
        return kind(min(max(a_number(name, value), low), high))

    return check


def strength(name: str):
    """A defense's strength, put within :data:`STRENGTH_BOUNDS` and on its steps."""
    low, high = STRENGTH_BOUNDS[name]

    def check(value):
        return snap_strength(name, float(min(max(a_number(name, value), low), high)))

    return check


def strength_text(name: str):
    low, high = STRENGTH_BOUNDS[name]

    def parse(text) -> float:
        value = parse_number(text)
        if not low <= value <= high:
            raise ValueError(f"is outside [{low:g}, {high:g}]")
        return value

    return parse


def one_of(name: str, options):
    def check(value):
        if value not in options:
            raise ViewRefused(f"{name} must be one of {', '.join(map(str, options))}")
        return value

    return check


def whole_one_of(name: str, options):
    def check(value):
        if isinstance(value, bool) or value not in options:
            raise ViewRefused(f"{name} must be one of {', '.join(map(str, options))}")
        return int(value)

    return check


def digit(name: str):
    def check(value):
        if isinstance(value, bool) or value not in range(10):
            raise ViewRefused(f"the {name} must be a digit 0-9")
        return int(value)

    return check


def lesson_step(value):
    if isinstance(value, bool) or value not in range(1, LESSON_STEPS + 1):
        raise ViewRefused(f"the lesson has steps 1 to {LESSON_STEPS}")
    return int(value)


def step_text(text) -> int:
    stripped = str(text).strip()
    if (
        not (stripped.isascii() and stripped.isdecimal() and len(stripped) < 3)
        or not 1 <= int(stripped) <= LESSON_STEPS
    ):
        raise ValueError(f"is not a step of the lesson (1 to {LESSON_STEPS})")
    return int(stripped)


def image_number(value):
    if isinstance(value, float) and value.is_integer():  # 3.0 typed in a number field is image 3
        value = int(value)
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise ViewRefused("the image must be a whole number 0 or above")
    return int(value)


def epsilon(value):
    if value is None:
        return None
    return float(min(max(a_number("epsilon", value), 0.0), MAX_EPS))


def named(value):
    if not isinstance(value, str) or not value:
        raise ViewRefused("the dataset must be named")
    return value


def choice_text(options: dict):
    def parse(text) -> str:
        if str(text).strip().lower() not in options:
            raise ValueError("is not one of " + ", ".join(options))
        return str(text).strip().lower()

    return parse


def hidden_text(text) -> int:
    stripped = str(text).strip()
    if stripped not in {str(size) for size in NETWORK_SIZES}:
        raise ValueError("is not one of " + ", ".join(map(str, NETWORK_SIZES)))
    return int(stripped)


def image_text(text) -> int:
    stripped = str(text).strip()
    if len(stripped) > 9:  # before int(): Python refuses very long numbers in words of its own
        raise ValueError("has far too many digits to be an image number")
    if not stripped.isascii() or not stripped.isdecimal():
        raise ValueError("is not a whole number 0 or above")
    return int(stripped)


def flag_text(text) -> bool:
    lowered = str(text).strip().lower()
    if lowered not in {"0", "1", "true", "false", "on", "off"}:
        raise ValueError("is not on or off (1 or 0)")
    return lowered in {"1", "true", "on"}


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
