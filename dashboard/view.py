"""The view: everything a visitor can set, as one immutable value, and how a link reads and writes it.

Pure Python (no Streamlit): the session, the sidebar and the URL all go
through :class:`View`. :meth:`View.from_query` reads a link and says what it
refused (notices whose visitor-supplied text is inert, :func:`inert`);
:meth:`View.to_query` writes the link of a page; :meth:`View.with_` applies a
change and the reset rules (:data:`RESETS`). The visitor's own digit is named
here (``input``) but its pixels stay in the session, never in a link.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, fields
from functools import cached_property

from core.attack import SOURCE, TARGET
from core.checks import MAX_EPS, parse_digit, parse_number
from core.inputs.data import DEFAULT_DATASET
from core.inputs.settings import BOUNDS, SOLVERS, TrainingSettings, snap_strength
from core.inputs.settings import DEFAULTS as RECIPE

EPS_STEP = 0.001  # the epsilon slider's resolution
SHOWS = {"median": "Median minimal ε", "share": "Share fooled at ε"}  # show= in a link -> label
INPUTS = {"test": "A test image", "upload": "Your upload", "draw": "Draw"}  # input= in a link -> label
DEFENSES = {"none": "None", "adversarial": "Adversarial training", "l1": "L1 weight decay"}  # defense= -> label
DEFENSE_STRENGTH = {"adversarial": "adversarial_eps", "l1": "l1"}  # the field of each defense's strength
NETWORK_SIZES = (16, 64, 256)  # hidden= in a link: the ReLU network's hidden units on the Beyond linear page
STRENGTH_BOUNDS = {"adversarial_eps": (0.01, 0.3), "l1": (1e-5, 0.01)}  # a defense of strength 0 is none

# A change of the field on the left puts the fields on the right back to their defaults:
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

# What each page's link holds. The pair and the clipping are always written (a link names its attack);
# the image too where a page shows one; the other fields only when they differ from the defaults.
PAGE_FIELDS = {
    "training": ("source", "target", "clip"),
    "attack": ("source", "target", "clip", "input", "image", "eps"),
    "epsilon": ("source", "target", "clip", "input", "image", "eps"),
    "lab": ("source", "target", "clip", "input", "image", "eps"),
    "pairs": ("source", "target", "clip", "show", "eps"),
    "defenses": ("source", "target", "clip", "eps"),
    "network": ("source", "target", "clip", "input", "image", "eps", "hidden"),
}
ALWAYS_WRITTEN = ("source", "target", "clip", "image")
LINK_FIELDS = (
    "source",
    "target",
    "clip",
    "image",
    "eps",
    "input",
    "show",
    "hidden",
    "defense",
    "adversarial_eps",
    "l1",
)


def clip_range(clip: bool) -> tuple[float, float] | None:
    """The pixel range the attacks keep images in: [0, 1] when clipping is on, none when it is off."""
    return (0.0, 1.0) if clip else None


class ViewRefused(ValueError):
    """A change the view cannot take (the message says why, for a notice)."""


@dataclass(frozen=True)
class View:
    """What the pages show: the model's settings, the attack, the image, epsilon and the pages' choices."""

    dataset: str = DEFAULT_DATASET
    solver: str = RECIPE.solver  # the training settings start at the original experiment's recipe
    epochs: int = RECIPE.epochs
    learning_rate: float = RECIPE.learning_rate
    batch_size: int = RECIPE.batch_size
    C: float = RECIPE.C
    seed: int = RECIPE.seed
    defense: str = "none"  # DEFENSES; its strength is adversarial_eps or l1 (kept while no defense is picked)
    adversarial_eps: float = 0.1
    l1: float = 0.001
    source: int = SOURCE
    target: int = TARGET
    clip: bool = True
    image: int = 0  # position among the source digit's test images
    eps: float | None = None  # None: the first slider stop past the chosen image's own minimal epsilon
    input: str = "test"  # where the attacked image comes from: INPUTS
    show: str = "median"  # what the all-pairs heatmap shows: SHOWS
    hidden: int = 16  # the ReLU network's hidden units (NETWORK_SIZES), beside the linear model

    @classmethod
    def first_visit(cls) -> View:
        """What a new session starts with: the defaults, on the operator's dataset if one is set."""
        return cls(dataset=TrainingSettings.first_visit().dataset)

    @cached_property
    def training(self) -> TrainingSettings:
        """The model these settings ask for, its defense included (defenses train with SGD)."""
        defended = self.defense != "none"
        return TrainingSettings(
            dataset=self.dataset,
            solver="sgd" if defended else self.solver,
            epochs=self.epochs,
            learning_rate=self.learning_rate,
            batch_size=self.batch_size,
            C=self.C,
            seed=self.seed,
            adversarial_eps=self.adversarial_eps if self.defense == "adversarial" else 0.0,
            l1=self.l1 if self.defense == "l1" else 0.0,
        ).normalized()

    @property
    def linear(self) -> TrainingSettings:
        """The linear model the network is set beside: the sidebar's, without its defense."""
        return self.training.undefended()

    @property
    def defended(self) -> TrainingSettings:
        """A defended linear model: the sidebar's defense, or adversarial training at its strength if none."""
        return self.training if self.defense != "none" else self.with_(defense="adversarial").training

    @property
    def network(self) -> TrainingSettings:
        """The ReLU network of ``hidden`` units, on the same data, epochs and seed as the linear model."""
        return self.training.network(self.hidden)

    @property
    def clip_range(self) -> tuple[float, float] | None:
        return clip_range(self.clip)

    @property
    def defense_strength(self) -> str | None:
        """The field that holds the chosen defense's strength (None: no defense)."""
        return DEFENSE_STRENGTH.get(self.defense)

    # --- changes ---------------------------------------------------------------------------------------

    def with_(self, **changes) -> View:
        """This view with ``changes`` applied, each checked and put in range, and the reset rules applied.

        A field that really changes puts the fields :data:`RESETS` names back to
        their defaults unless ``changes`` sets them too. Training numbers are
        clamped to :data:`core.inputs.settings.BOUNDS` and defense strengths snapped to
        their steps, as the widgets show them.

        Raises
        ------
        ViewRefused
            The source and the target would be the same digit, or a value is
            not one the field can take (the message says which).
        """
        unknown = set(changes) - {field.name for field in fields(self)}
        if unknown:
            raise ViewRefused(f"no such setting: {', '.join(sorted(unknown))}")
        values = asdict(self)
        for name, value in changes.items():
            values[name] = _checked(name, value)
        for name in changes:
            if values[name] != getattr(self, name):
                for reset in RESETS.get(name, ()):
                    if reset not in changes:
                        values[reset] = getattr(View, reset)
        if values["source"] == values["target"]:
            changed = "target" if "target" in changes else "source"
            other = "source" if changed == "target" else "target"
            raise ViewRefused(
                f"The {changed} must differ from the {other} ({values[other]}); "
                f"the {changed} stays {getattr(self, changed)}."
            )
        return View(**values)

    # --- links -----------------------------------------------------------------------------------------

    @classmethod
    def from_query(cls, params, base: View | None = None) -> tuple[View, list[str]]:
        """The view a link asks for, on top of ``base`` (a first visit's view), and a notice for each refusal.

        ``params`` maps link keys to text (``st.query_params`` or a dict);
        unknown keys are ignored. Never raises: a bad value keeps the default and
        says so; the visitor's text is quoted inert (:func:`inert`).
        """
        view = base if base is not None else cls.first_visit()
        values, notices = asdict(view), []
        for key, parse in URL_PARSERS.items():
            if key not in params:
                continue
            raw = params[key]
            try:
                values[key] = parse(raw)  # the reasons never quote the value: it is shown inert, once
            except ValueError as reason:
                notices.append(f"The link's {key}={inert(raw)} {reason}; using {_described(key, values[key])}.")
        for key in STRENGTH_BOUNDS:
            snapped = snap_strength(key, values[key])
            if snapped != values[key]:
                notices.append(
                    f"The link's {key}={inert(params[key])} is rounded to {snapped:g}: the defenses train "
                    "at a few fixed strengths."
                )
                values[key] = snapped
        if values["eps"] is not None and not 0.0 <= values["eps"] <= MAX_EPS:
            values["eps"] = min(max(values["eps"], 0.0), MAX_EPS)
            notices.append(
                f"The link's eps={inert(params['eps'])} is outside [0, {MAX_EPS:g}]; using {values['eps']:g}."
            )
        if values["source"] == values["target"]:
            fixed = TARGET if values["source"] != TARGET else SOURCE
            notices.append(f"The link's source and target are both {values['source']}; the target is now {fixed}.")
            values["target"] = fixed
        return cls(**values), notices

    def to_query(self, page: str | None = None) -> dict[str, str]:
        """The link of ``page`` (a key of :data:`PAGE_FIELDS`; None: every field a link can hold).

        ``View.from_query(view.to_query())`` gives back the view's link fields.
        """
        default = View()
        wanted = {}
        for name in PAGE_FIELDS[page] if page is not None else LINK_FIELDS:
            if name in DEFENSE_STRENGTH.values():
                continue
            value = getattr(self, name)
            if name in ALWAYS_WRITTEN or value != getattr(default, name):
                wanted[name] = _written(value)
        if self.defense != "none":  # the model every page attacks
            wanted["defense"] = self.defense
            wanted[self.defense_strength] = _written(getattr(self, self.defense_strength))
        if page is None:  # the strength of a defense not chosen, too
            for name in DEFENSE_STRENGTH.values():
                if name not in wanted and getattr(self, name) != getattr(default, name):
                    wanted[name] = _written(getattr(self, name))
        return wanted

    def link_fields(self) -> dict:
        """The fields a link can hold, as a dict (what :meth:`to_query` round-trips)."""
        return {name: getattr(self, name) for name in LINK_FIELDS}


def _written(value) -> str:
    if isinstance(value, bool):
        return "1" if value else "0"
    if isinstance(value, float):
        short = f"{value:g}"  # as the slider shows it; the full value only where that would change it
        return short if float(short) == value else repr(value)
    return str(value)


# --- checking values --------------------------------------------------------------------------------------


def _checked(name: str, value):
    """A value for field ``name`` as the widgets give it: kind checked, put in range, strengths on their steps."""
    if name in BOUNDS and name not in STRENGTH_BOUNDS:
        low, high = BOUNDS[name]
        kind = int if name in ("epochs", "batch_size", "seed") else float
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
            raise ViewRefused(f"{name} must be a number")
        return kind(min(max(value, low), high))
    if name in STRENGTH_BOUNDS:
        low, high = STRENGTH_BOUNDS[name]
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
            raise ViewRefused(f"{name} must be a number")
        return snap_strength(name, float(min(max(value, low), high)))
    choices = {"solver": SOLVERS, "defense": DEFENSES, "input": INPUTS, "show": SHOWS}
    if name in choices:
        if value not in choices[name]:
            raise ViewRefused(f"{name} must be one of {', '.join(choices[name])}")
        return value
    if name in ("source", "target"):
        if isinstance(value, bool) or value not in range(10):
            raise ViewRefused(f"the {name} must be a digit 0-9")
        return int(value)
    if name == "image":
        if isinstance(value, bool) or not isinstance(value, int) or value < 0:
            raise ViewRefused("the image must be a whole number 0 or above")
        return int(value)
    if name == "eps":
        if value is None:
            return None
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
            raise ViewRefused("epsilon must be a number")
        return float(min(max(value, 0.0), MAX_EPS))
    if name == "clip":
        return bool(value)
    if name == "hidden":
        if isinstance(value, bool) or value not in NETWORK_SIZES:
            raise ViewRefused(f"hidden must be one of {', '.join(map(str, NETWORK_SIZES))}")
        return int(value)
    if name == "dataset":
        if not isinstance(value, str) or not value:
            raise ViewRefused("the dataset must be named")
        return value
    raise ViewRefused(f"no such setting: {name}")


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


def _choice(options: dict):
    def parse(text) -> str:
        if str(text).strip().lower() not in options:
            raise ValueError("is not one of " + ", ".join(options))
        return str(text).strip().lower()

    return parse


def _parse_hidden(text) -> int:
    stripped = str(text).strip()
    if stripped not in {str(size) for size in NETWORK_SIZES}:
        raise ValueError("is not one of " + ", ".join(map(str, NETWORK_SIZES)))
    return int(stripped)


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


def _strength(key: str):
    low, high = STRENGTH_BOUNDS[key]

    def parse(text) -> float:
        value = parse_number(text)
        if not low <= value <= high:
            raise ValueError(f"is outside [{low:g}, {high:g}]")
        return value

    return parse


URL_PARSERS = {
    "source": parse_digit,
    "target": parse_digit,
    "image": _parse_image,
    "eps": parse_number,
    "clip": _parse_flag,
    "input": _choice(INPUTS),
    "show": _choice(SHOWS),
    "hidden": _parse_hidden,
    "defense": _choice(DEFENSES),
    "adversarial_eps": _strength("adversarial_eps"),
    "l1": _strength("l1"),
}


def _described(key: str, value) -> str:
    """A setting's value as a notice says it."""
    if key == "eps" and value is None:
        return "the image's exact minimal epsilon"
    if isinstance(value, bool):
        return "on" if value else "off"
    return str(value)


def snap_eps(minimal: float) -> float:
    """The first slider stop strictly above the exact minimal epsilon (where the model is fooled)."""
    if not math.isfinite(minimal):
        return MAX_EPS
    stop = math.ceil(round(minimal / EPS_STEP, 9)) * EPS_STEP
    if stop <= minimal:
        stop += EPS_STEP
    return round(min(stop, MAX_EPS), 6)
