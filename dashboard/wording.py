"""Sentences the pages share about the image they attack, as pure functions (no Streamlit): tested one by one.

A page speaks of the digit the model reads, not of the sidebar's source, when the image is the visitor's own
("your 7 → 6"); and it says plainly when there is nothing to attack (the model already answers the target) or
when the attack starts from a mistake (a test image the model does not read as its label).
"""

from __future__ import annotations

from core.inputs.classes import class_label, kind, the_class  # how the pages name classes, here for them

__all__ = ["class_label", "crossing", "kind", "pair", "starting_point", "the_class"]


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
