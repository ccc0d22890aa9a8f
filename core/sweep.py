"""Epsilon sweeps: every class score of one image, and the success rate of many.

:func:`success_curve` never builds an adversarial image per epsilon. Along
the attack path each pixel moves at unit speed until it stops at the clip
range (at ``eps = tau``), so for a sorted grid ``e_1 < ... < e_K``

    z(e_k) = z(0) + sum_{tau_i <= e_k} W_i s_i tau_i + e_k * sum_{tau_i > e_k} W_i s_i

Binning the pixels by which grid interval their ``tau`` falls in turns the
two sums into running sums over bins: one pass over the pixels per image,
then a few operations per (image, epsilon). Exact, not an approximation.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy import sparse

from core.attack import _check_clip, attack_direction, stopping_points
from core.checks import N_CLASSES, N_PIXELS, as_digit, as_eps_grid, as_images
from core.model import SoftmaxModel, softmax

_MAX_LOGIT_VALUES = 4_000_000  # per block: images x epsilons x 10 classes, 32 MB of float64


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
    clip = _check_clip(clip)
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
    every epsilon is evaluated from the piecewise-linear form. Memory is
    bounded by working in blocks of images.

    Parameters
    ----------
    x : ndarray of shape (n, 784)
    target : int
    eps_grid : 1-D increasing sequence of epsilons (negative allowed)
    clip : (low, high) or None
    """
    images, _ = as_images(x)
    target = as_digit(target, "target")
    grid = as_eps_grid(eps_grid)
    clip = _check_clip(clip)
    fooled = np.zeros(len(grid))
    probability = np.zeros(len(grid))
    block = max(1, _MAX_LOGIT_VALUES // (len(grid) * N_CLASSES))
    for start in range(0, len(images), block):
        logits = grid_logits(model, images[start : start + block], target, grid, clip)
        fooled += (logits.argmax(axis=2) == target).sum(axis=0)
        logits -= logits.max(axis=2, keepdims=True)
        np.exp(logits, out=logits)
        probability += (logits[:, :, target] / logits.sum(axis=2)).sum(axis=0)
    n = max(len(images), 1)
    return SuccessCurve(
        eps=grid, fooled_share=fooled / n, mean_target_probability=probability / n, n_images=len(images)
    )


def grid_logits(model: SoftmaxModel, images: np.ndarray, target: int, grid: np.ndarray, clip) -> np.ndarray:
    """Logits of attacked ``images`` at every epsilon of a sorted grid: shape (n, K, 10)."""
    z0 = model.logits(images)
    direction = attack_direction(model, images, target)
    logits = np.empty((len(images), len(grid), N_CLASSES))
    negative, positive = grid < 0, grid > 0
    logits[:, grid == 0] = z0[:, None, :]
    if positive.any():
        tau = stopping_points(direction, images, clip)
        logits[:, positive] = _walk(model, z0, direction, tau, grid[positive])
    if negative.any():  # moving away from the target is the same walk with the direction reversed
        tau = stopping_points(-direction, images, clip)
        logits[:, negative] = _walk(model, z0, -direction, tau, -grid[negative][::-1])[:, ::-1]
    return logits


def _walk(model, z0, direction, tau, steps) -> np.ndarray:
    """Logits at positive, increasing ``steps`` when pixel i moves by ``direction_i`` until ``tau_i``."""
    n, k = len(z0), len(steps)
    # pixels that never stop inside the grid move linearly all the way
    linear = np.where(tau >= steps[-1], direction, 0.0)
    rate = linear @ model.W.T  # (n, 10)
    # pixels that stop inside the grid: bin by the first grid point at or past tau
    rows, cols = np.nonzero((direction != 0) & (tau > 0) & (tau < steps[-1]))
    stop = tau[rows, cols]
    bins = rows * k + np.searchsorted(steps, stop, side="left")
    sign = direction[rows, cols]
    stacked = sparse.csr_matrix(
        (np.concatenate([sign, sign * stop]), (np.concatenate([bins, bins + n * k]), np.concatenate([cols, cols]))),
        shape=(2 * n * k, N_PIXELS),
    )
    per_bin = (stacked @ model.W.T).reshape(2, n, k, N_CLASSES)
    stopped_rate = np.cumsum(per_bin[0], axis=1)  # pixels already stopped at step j
    stopped_shift = np.cumsum(per_bin[1], axis=1)
    moving_rate = rate[:, None, :] + stopped_rate[:, -1:, :] - stopped_rate
    return z0[:, None, :] + stopped_shift + steps[None, :, None] * moving_rate
