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
from core.inputs.settings import DEFAULTS as RECIPE
from core.inputs.settings import (
    SOLVERS,
    TrainingSettings,
    snap_strength,
)
from dashboard.fields import (  # noqa: F401 -- the choices, bounds and refusal, for the view's users too
    DEFENSE_STRENGTH,
    DEFENSES,
    EPS_STEP,
    IMAGE_PAGES,
    INPUTS,
    LESSON_STEPS,
    NETWORK_SIZES,
    NORMS,
    PAGES,
    SHOWS,
    STRENGTH_BOUNDS,
    Spec,
    ViewRefused,
    choice_text,
    digit,
    epsilon,
    flag_text,
    hidden_text,
    image_number,
    image_text,
    inert,
    lesson_step,
    named,
    one_of,
    spec,
    step_text,
    strength,
    strength_text,
    training_number,
    whole_one_of,
)


def clip_range(clip: bool) -> tuple[float, float] | None:
    """The pixel range the attacks keep images in: [0, 1] when clipping is on, none when it is off."""
    return (0.0, 1.0) if clip else None


@dataclass(frozen=True)
class View:
    """What the pages show: the model's settings, the attack, the image, epsilon and the pages' choices.

    Each field's :class:`Spec` (its metadata) says how it is checked, read from a link and written to one, and
    what changing it resets: adding a field is one line here.
    """

    # The model: the training settings start at the original experiment's recipe.
    dataset: str = spec(DEFAULT_DATASET, check=named, resets=("eps",))
    solver: str = spec(RECIPE.solver, check=one_of("solver", SOLVERS))
    epochs: int = spec(RECIPE.epochs, check=training_number("epochs"))
    learning_rate: float = spec(RECIPE.learning_rate, check=training_number("learning_rate"))
    batch_size: int = spec(RECIPE.batch_size, check=training_number("batch_size"))
    C: float = spec(RECIPE.C, check=training_number("C"))
    seed: int = spec(RECIPE.seed, check=training_number("seed"))
    # The attack: a new digit starts at its first image, a new image or attack at its own minimal epsilon.
    source: int = spec(
        SOURCE, check=digit("source"), parse=parse_digit, pages=PAGES, always=True, resets=("image", "eps")
    )
    target: int = spec(TARGET, check=digit("target"), parse=parse_digit, pages=PAGES, always=True, resets=("eps",))
    clip: bool = spec(True, check=bool, parse=flag_text, pages=PAGES, always=True, resets=("eps",))
    image: int = spec(
        0, check=image_number, parse=image_text, pages=(*IMAGE_PAGES, "lesson"), always=True, resets=("eps",)
    )
    # None: the first slider stop past the chosen image's own minimal epsilon
    eps: float | None = spec(None, check=epsilon, parse=parse_number, pages=(*IMAGE_PAGES, "pairs", "defenses"))
    input: str = spec(
        "test", check=one_of("input", INPUTS), parse=choice_text(INPUTS), pages=IMAGE_PAGES, resets=("eps",)
    )
    show: str = spec("median", check=one_of("show", SHOWS), parse=choice_text(SHOWS), pages=("pairs",))
    norm: str = spec("inf", check=one_of("norm", NORMS), parse=choice_text(NORMS), pages=("lab",))
    hidden: int = spec(16, check=whole_one_of("hidden", NETWORK_SIZES), parse=hidden_text, pages=("network",))
    # The defense every page attacks (its strength is kept while no defense is picked); written in every link
    # while one is picked (:meth:`to_query`).
    defense: str = spec("none", check=one_of("defense", DEFENSES), parse=choice_text(DEFENSES), resets=("eps",))
    adversarial_eps: float = spec(
        0.1, check=strength("adversarial_eps"), parse=strength_text("adversarial_eps"), resets=("eps",)
    )
    l1: float = spec(0.001, check=strength("l1"), parse=strength_text("l1"), resets=("eps",))
    # The lesson's step (a teacher's link sends the class to one).
    step: int = spec(1, check=lesson_step, parse=step_text, pages=("lesson",), always=True)

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
        """This view with ``changes`` applied, each checked and put in range by its spec, and the resets applied.

        A field that really changes puts the fields its spec resets back to
        their defaults unless ``changes`` sets them too. Training numbers are
        clamped to :data:`core.inputs.settings.BOUNDS` and defense strengths
        snapped to their steps, as the widgets show them.

        Raises
        ------
        ViewRefused
            The source and the target would be the same digit, or a value is
            not one the field can take (the message says which).
        """
        unknown = set(changes) - set(SPECS)
        if unknown:
            raise ViewRefused(f"no such setting: {', '.join(sorted(unknown))}")
        values = asdict(self)
        for name, value in changes.items():
            values[name] = SPECS[name].check(value)
        for name in changes:
            if values[name] != getattr(self, name):
                for reset in SPECS[name].resets:
                    if reset not in changes:
                        values[reset] = DEFAULTS[reset]
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

        ``params`` maps link keys to text (``st.query_params`` or a dict); a key
        the link gives more than once maps to the list of its values (the last
        is used, and a notice says so). Unknown keys are ignored. Never raises:
        a bad value keeps the default and says so; the visitor's text is quoted
        inert (:func:`inert`).
        """
        view = base if base is not None else cls.first_visit()
        values, notices = asdict(view), []
        for key, parse in URL_PARSERS.items():
            if key not in params:
                continue
            raw = params[key]
            if isinstance(raw, (list, tuple)):
                given = ", ".join(inert(each, 12) for each in raw[:4]) + (", …" if len(raw) > 4 else "")
                raw = raw[-1] if raw else ""
                notices.append(f"The link gives {key} more than once ({given}); using the last, {inert(raw)}.")
            try:
                values[key] = parse(raw)  # the reasons never quote the value: it is shown inert, once
            except ValueError as reason:
                notices.append(f"The link's {key}={inert(raw)} {reason}; using {_described(key, values[key])}.")
        for key in STRENGTH_BOUNDS:
            snapped = snap_strength(key, values[key])
            if snapped != values[key]:
                notices.append(
                    f"The link's {key}={inert(_last(params[key]))} is rounded to {snapped:g}: the defenses train "
                    "at a few fixed strengths."
                )
                values[key] = snapped
        if values["eps"] is not None and not 0.0 <= values["eps"] <= MAX_EPS:
            values["eps"] = min(max(values["eps"], 0.0), MAX_EPS)
            notices.append(
                f"The link's eps={inert(_last(params['eps']))} is outside [0, {MAX_EPS:g}]; using {values['eps']:g}."
            )
        if values["source"] == values["target"]:
            fixed = TARGET if values["source"] != TARGET else SOURCE
            notices.append(f"The link's source and target are both {values['source']}; the target is now {fixed}.")
            values["target"] = fixed
        return cls(**values), notices

    def to_query(self, page: str | None = None) -> dict[str, str]:
        """The link of ``page`` (one of :data:`PAGES`; None: every field a link can hold).

        ``View.from_query(view.to_query())`` gives back the view's link fields.
        """
        wanted = {}
        for name in PAGE_FIELDS[page] if page is not None else LINK_FIELDS:
            if name in DEFENSE_STRENGTH.values():
                continue
            value = getattr(self, name)
            if SPECS[name].always or value != DEFAULTS[name]:
                wanted[name] = _written(value)
        if self.defense != "none":  # the model every page attacks
            wanted["defense"] = self.defense
            wanted[self.defense_strength] = _written(getattr(self, self.defense_strength))
        if page is None:  # the strength of a defense not chosen, too
            for name in DEFENSE_STRENGTH.values():
                if name not in wanted and getattr(self, name) != DEFAULTS[name]:
                    wanted[name] = _written(getattr(self, name))
        return wanted

    def link_fields(self) -> dict:
        """The fields a link can hold, as a dict (what :meth:`to_query` round-trips)."""
        return {name: getattr(self, name) for name in LINK_FIELDS}


# --- derived from the table ---------------------------------------------------------------------------------

SPECS: dict[str, Spec] = {each.name: each.metadata["spec"] for each in fields(View)}
DEFAULTS = {each.name: each.default for each in fields(View)}
URL_PARSERS = {name: each.parse for name, each in SPECS.items() if each.parse is not None}
LINK_FIELDS = tuple(URL_PARSERS)
RESETS = {name: each.resets for name, each in SPECS.items() if each.resets}
PAGE_FIELDS = {page: tuple(name for name, each in SPECS.items() if page in each.pages) for page in PAGES}
ALWAYS_WRITTEN = tuple(name for name, each in SPECS.items() if each.always)


def _last(raw):
    return raw[-1] if isinstance(raw, (list, tuple)) and raw else raw


def _written(value) -> str:
    if isinstance(value, bool):
        return "1" if value else "0"
    if isinstance(value, float):
        short = f"{value:g}"  # as the slider shows it; the full value only where that would change it
        return short if float(short) == value else repr(value)
    return str(value)


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
