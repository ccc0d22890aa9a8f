"""Epsilon sweeps: every class score of one image, and the success rate of many.

:func:`success_curve` never builds an adversarial image per epsilon. Along
the attack path each pixel moves at unit speed until it stops at the clip
range (at ``eps = tau``), so for a sorted grid ``e_1 < ... < e_K``

    z(e_k) = z(0) + sum_{tau_i <= e_k} W_i s_i tau_i + e_k * sum_{tau_i > e_k} W_i s_i

:mod:`core.path` evaluates that form for a block of images at once: the
stops summed per grid interval, then accumulated along the grid, ten logits
per image and epsilon. Exact, not an approximation.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from core.attack import attack_direction
from core.checks import as_clip, as_digit, as_eps_grid, as_images
from core.model import SoftmaxModel, softmax
from core.path import over_blocks, walk_totals


@dataclass(frozen=True, eq=False)
class ScoreSweep:
    """The ten class scores of one image at every epsilon of a grid."""

    eps: np.ndarray  # (K,)
    logits: np.ndarray  # (K, 10)
    probabilities: np.ndarray  # (K, 10)


@dataclass(frozen=True, eq=False)
class SuccessCurve:
    """How an attack does on many images at every epsilon of a grid."""

    eps: np.ndarray  # (K,)
    fooled_share: np.ndarray  # (K,) share of images classified as the target
    mean_target_probability: np.ndarray  # (K,)
    n_images: int


def score_sweep(model: SoftmaxModel, x, target, eps_grid, *, clip=(0.0, 1.0)) -> ScoreSweep:
    """Logits and probabilities of all ten classes for one image at every ``eps``.

    Parameters
    ----------
    x : ndarray of shape (784,)
    target : int
    eps_grid : 1-D increasing sequence; negative values move away from the target.
    clip : (low, high) or None
    """
    images, single = as_images(x)
    if len(images) != 1:
        raise ValueError(f"score_sweep takes one image, got {len(images)}")
    grid = as_eps_grid(eps_grid)
    clip = as_clip(clip)
    direction = attack_direction(model, images, as_digit(target, "target"))
    path = images[0].astype(np.float64) + grid[:, None] * direction
    if clip is not None:
        np.clip(path, *clip, out=path)
    logits = path @ model.W.T + model.b
    return ScoreSweep(eps=grid, logits=logits, probabilities=softmax(logits.copy()))


def success_curve(model: SoftmaxModel, x, target, eps_grid, *, clip=(0.0, 1.0)) -> SuccessCurve:
    """Share of images classified as ``target``, and the mean target probability, at every ``eps``.

    Equal to looping over the grid with :func:`core.attack.fgsm` and
    ``model.predict``, but the sign direction is computed once per image and
    every epsilon is evaluated from the piecewise-linear form (see
    :mod:`core.path`). Memory stays bounded: images are walked in blocks.

    Parameters
    ----------
    x : ndarray of shape (n, 784)
    target : int
    eps_grid : 1-D increasing sequence of epsilons in [-1, 1] (negative moves away from the target)
    clip : (low, high) or None
    """
    images, _ = as_images(x)
    target = as_digit(target, "target")
    grid = as_eps_grid(eps_grid)
    clip = as_clip(clip)
    totals = over_blocks(model, images, target, clip, walk_totals, grid, target)
    fooled = sum((counts for counts, _ in totals), np.zeros(len(grid)))
    probability = sum((sums for _, sums in totals), np.zeros(len(grid)))
    n = max(len(images), 1)
    return SuccessCurve(
        eps=grid, fooled_share=fooled / n, mean_target_probability=probability / n, n_images=len(images)
    )
