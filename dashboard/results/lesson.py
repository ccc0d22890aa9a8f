"""What the lesson asks beyond the full pages' answers: why the attack works on a linear model, in numbers.

A linear model scores a digit by a template (a row of W). The target beats the source when the gap between
their scores closes, and a change of at most ε per pixel moves that gap by at most ε × ‖w_target − w_source‖₁,
reached by moving each pixel by ε in the sign of w_target − w_source. Each result is declared with its cost
class (:mod:`dashboard.results.jobs`).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from PIL.Image import Image

from core.inputs import imaging
from dashboard.results.jobs import instant
from dashboard.results.models import dataset, model_of
from dashboard.view import View

SCALE = 6  # 28 px -> 168 px


@dataclass(frozen=True)
class TwoTemplates:
    """The source's and the target's templates, their difference, and how the attack direction follows it."""

    source: Image  # red raises the class's score, blue lowers it
    target: Image
    difference: Image  # w_target - w_source
    agreement: float  # share of the pixels the attack moves that it moves in the sign of w_target - w_source
    lever: float  # ‖w_target − w_source‖₁: how far one unit of ε can move the gap between the two scores
    gap: float  # the image's score for the source minus its score for the target (logits)


@instant
def two_templates(view: View, pixels: np.ndarray, direction: np.ndarray) -> TwoTemplates:
    """The templates of the view's source and target, and the attack ``direction`` of ``pixels`` beside them."""
    model = model_of(view.training)
    W = np.asarray(model.W, dtype=np.float64)
    difference = W[view.target] - W[view.source]
    moved = direction != 0
    agreement = float(np.mean(np.sign(difference[moved]) == direction[moved])) if moved.any() else 0.0
    logits = model.logits(np.asarray(pixels, dtype=np.float64)[None])[0]
    return TwoTemplates(
        imaging.template_picture(W[view.source], SCALE),
        imaging.template_picture(W[view.target], SCALE),
        imaging.template_picture(difference, SCALE),
        agreement,
        float(np.abs(difference).sum()),
        float(logits[view.source] - logits[view.target]),
    )


@instant
def pair_lever(settings, source: int, target: int) -> tuple[float, float]:
    """For ``source`` → ``target``: ‖w_target − w_source‖₁, and the median gap between the two scores over the
    source's test images the model reads as the source (nan when it reads none of them so)."""
    model, data = model_of(settings), dataset(settings.dataset)
    W = np.asarray(model.W, dtype=np.float64)
    logits = model.logits(data.x_test[data.test_indices(source)].astype(np.float64))
    read = logits.argmax(axis=1) == source if len(logits) else np.zeros(0, bool)
    gaps = logits[read, source] - logits[read, target]
    return float(np.abs(W[target] - W[source]).sum()), float(np.median(gaps)) if gaps.size else float("nan")
