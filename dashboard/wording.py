"""Sentences the pages share about the image they attack, as pure functions (no Streamlit): tested one by one.

A page speaks of the digit the model reads, not of the sidebar's source, when the image is the visitor's own
("your 7 → 6"); and it says plainly when there is nothing to attack (the model already answers the target) or
when the attack starts from a mistake (a test image the model does not read as its label).
"""

from __future__ import annotations

import numpy as np

from core.inputs.classes import class_label, kind, the_class  # how the pages name classes, here for them

__all__ = [
    "article",
    "class_label",
    "crossing",
    "defense_name",
    "does",
    "easiest",
    "epsilon_or_never",
    "grey_levels",
    "haze",
    "kind",
    "pair",
    "reading",
    "starting_point",
    "the_class",
    "turns",
    "verdict",
]


def article(label) -> str:
    """A class's label with its indefinite article, as it is said: "a 6", "an 8", "an Ankle boot (9)"."""
    text = str(label)
    return f"an {text}" if text[:1] in "8aeiouAEIOU" else f"a {text}"


def pair(source: int, target: int, reads_as: int, own: bool, dataset: str = "mnist-5k") -> str:
    """The attacked pair as a heading names it: ``2 → 6``, or ``your 7 → 6`` for the visitor's own digit
    (``Pullover (2) → Shirt (6)`` where the dataset's classes have names)."""
    if own:
        return f"your {class_label(dataset, reads_as)} → {class_label(dataset, target)}"
    return f"{class_label(dataset, source)} → {class_label(dataset, target)}"


def starting_point(source: int, target: int, reads_as: int, confidence: float, own: bool) -> str | None:
    """A plain sentence when the image is not a fair start for an attack toward ``target``, else None.

    ``reads_as`` and ``confidence`` are the model's answer on the untouched image.
    """
    subject = "your digit" if own else f"this {source}"
    if reads_as == target:
        return (
            f"The model already reads {subject} as {target} ({confidence:.0%}) with no change at all: its "
            "minimal ε is 0: there is nothing to attack. Pick another image to see an attack at work."
        )
    if not own and reads_as != source:
        return (
            f"The model reads {subject} as {reads_as} ({confidence:.0%}), not as {source}: the attack starts "
            "from one of the model's mistakes."
        )
    return None


def crossing(target: int, minimal: float, clip: bool) -> str:
    """What the class-score chart's dashed rule marks, for an image whose exact minimal epsilon is ``minimal``."""
    bend = " (clipping bends the lines where pixels hit 0 or 1)." if clip else " (no clipping: straight lines)."
    if minimal <= 0:
        return f"the {target} line is already on top at ε = 0, before any change" + bend
    if minimal == float("inf"):
        return f"the {target} line never overtakes the rest up to ε = 1" + bend
    return f"the {target} line overtakes the rest at the dashed rule, the exact minimal ε" + bend


def easiest(median: np.ndarray) -> tuple[int, int]:
    """The pair with the smallest median minimal ε."""
    return np.unravel_index(np.nanargmin(np.where(np.isfinite(median), median, np.nan)), median.shape)


def reading(median: np.ndarray) -> str:
    """Two plain sentences that read the matrix: its easiest and its hardest pair."""
    finite = np.where(np.isfinite(median), median, np.nan)
    easy = easiest(median)
    never = [(s, t) for s, t in zip(*np.nonzero(np.isinf(median)))]
    text = (
        f"The easiest pair is **{easy[0]} → {easy[1]}**: half of the {easy[0]}s become {article(easy[1])} "
        f"by ε = {median[easy]:.3f}. "
    )
    if never:
        s, t = never[0]
        others = f" ({len(never) - 1} more pairs like it)" if len(never) > 1 else ""
        return text + f"The hardest is **{s} → {t}**: most {s}s never become {article(t)}, even at ε = 1{others}."
    hard = np.unravel_index(np.nanargmax(finite), median.shape)
    return text + f"The hardest is **{hard[0]} → {hard[1]}**, at a median ε of {median[hard]:.3f}."


def defense_name(settings) -> str:
    """A defended model's defense, as a sentence names it (``settings``: its training settings)."""
    if settings.adversarial_eps:
        return f"adversarial training at ε = {settings.adversarial_eps:g}"
    return f"L1 weight decay of strength {settings.l1:g}"


def verdict(name: str, clean: tuple, certified: tuple, eps: float) -> str:
    """What the defense bought and what it cost, in one computed sentence."""
    gain, cost = (certified[1] - certified[0]) * 100, (clean[0] - clean[1]) * 100
    bought = f"raised the certified accuracy at ε = {eps:g} from {certified[0]:.1%} to {certified[1]:.1%}"
    if gain < 0:
        bought = f"lowered the certified accuracy at ε = {eps:g} from {certified[0]:.1%} to {certified[1]:.1%}"
    paid = f"cost {cost:.1f} points of clean accuracy" if cost > 0 else f"gained {-cost:.1f} points of clean accuracy"
    return f"**{name.capitalize()}** {bought} ({gain:+.1f} points) and {paid} ({clean[0]:.1%} → {clean[1]:.1%})."


def grey_levels(eps: float) -> str:
    """A change of ``eps`` in every pixel, in a screen's grey levels."""
    return f"{eps * 255:.0f} of 255 grey levels"


def haze(eps: float) -> str:
    """How a change of ``eps`` in every pixel looks to a person."""
    if eps < 0.1:
        return "a faint haze, hard to see"
    if eps <= 0.3:
        return "a grey haze you can see if you look for it"
    return "a heavy grey veil, plain to see"


def epsilon_or_never(eps: float) -> str:
    return f"{eps:.3f}" if np.isfinite(eps) else "never (up to 1)"


def turns(eps: float, image: int, target) -> str:
    """What a sign step of exact minimal ``eps`` does to test image ``image``, in words."""
    if np.isfinite(eps):
        return f"turns test image #{image} into {article(target)} at ε = {eps:.3f}"
    return f"never turns test image #{image} into {article(target)} (up to ε = 1)"


def does(eps: float) -> str:
    return f"does at ε = {eps:.3f}" if np.isfinite(eps) else "never does"
