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

from core import stopping
from core.attack import attack_direction, fgsm
from core.checks import MAX_EPS, as_clip, as_digit, as_eps, as_eps_grid, as_images, as_labels, as_max_eps
from core.errors import BadInput
from core.model import ReluNetwork, SoftmaxModel, softmax
from core.path import on_all_cores, over_blocks, over_targets, walk_minimal_epsilon, walk_totals


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
        raise BadInput(f"score_sweep takes one image, got {len(images)}")
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
    if not model.linear:  # not linear along the path: the network's answers at every epsilon
        return _network_success_curve(model, images, target, grid, clip)
    totals = over_blocks(model, images, target, clip, walk_totals, grid, target)
    fooled = sum((counts for counts, _ in totals), np.zeros(len(grid)))
    probability = sum((sums for _, sums in totals), np.zeros(len(grid)))
    n = max(len(images), 1)
    return SuccessCurve(
        eps=grid, fooled_share=fooled / n, mean_target_probability=probability / n, n_images=len(images)
    )


def _network_success_curve(network: ReluNetwork, images, target: int, grid: np.ndarray, clip) -> SuccessCurve:
    direction = attack_direction(network, images, target)  # once per image, as the linear walk does
    fooled, probability = np.zeros(len(grid)), np.zeros(len(grid))
    for k, eps in enumerate(grid):
        stopping.check()
        moved = images + eps * direction
        if clip is not None:
            np.clip(moved, *clip, out=moved)
        p = network.predict_proba(moved)
        fooled[k], probability[k] = np.sum(p.argmax(axis=1) == target), p[:, target].sum()
    n = max(len(images), 1)
    return SuccessCurve(
        eps=grid, fooled_share=fooled / n, mean_target_probability=probability / n, n_images=len(images)
    )


@dataclass(frozen=True, eq=False)
class PairAttacks:
    """Every image attacked toward every other digit: minimal epsilons, and who is fooled at one epsilon."""

    minimal: np.ndarray  # (n, 10) exact minimal epsilon of each image toward each digit; NaN toward its own label
    fooled: np.ndarray | None  # (n, 10) bool: the model says that digit at ``eps``; None without ``eps``
    labels: np.ndarray  # (n,)
    eps: float | None

    def cells(self, statistic) -> np.ndarray:
        """``statistic(values)`` over the images of each source digit (rows) for each target (columns); NaN diagonal."""
        return by_pair(self.minimal, self.labels, statistic)

    @property
    def median(self) -> np.ndarray:
        """Median minimal epsilon per pair: ``inf`` where at least half are never fooled up to ``max_eps``."""
        return self.cells(np.median)

    def quantile(self, q: float) -> np.ndarray:
        """The ``q`` quantile of the minimal epsilons per pair (``inf`` where it falls among the never fooled)."""

        def quantile(values):
            finite = values[np.isfinite(values)]
            rank = q * (len(values) - 1)  # numpy's default (linear) quantile, with inf beyond the finite values
            return np.quantile(values, q) if np.ceil(rank) < len(finite) else np.inf

        return self.cells(quantile)

    @property
    def counts(self) -> np.ndarray:
        """Images of each source digit."""
        return np.bincount(self.labels, minlength=10)

    @property
    def share(self) -> np.ndarray:
        """Share of the images of each source digit that ``eps`` makes the model call each target (NaN diagonal)."""
        if self.fooled is None:
            raise BadInput("no epsilon was given: call pair_attacks(..., eps=...)")
        return by_pair(self.fooled, self.labels, np.mean)


def by_pair(values: np.ndarray, labels: np.ndarray, statistic) -> np.ndarray:
    """``statistic`` of ``values[:, t]`` over the images labelled ``s``, as a (10, 10) table with a NaN diagonal."""
    table = np.full((10, 10), np.nan)
    for source in range(10):
        rows = values[labels == source]
        if len(rows):
            for target in range(10):
                if target != source:
                    table[source, target] = statistic(rows[:, target])
    return table


def fooled_toward_each(model: SoftmaxModel, images, labels, eps, *, clip=(0.0, 1.0)) -> np.ndarray:
    """(n, 10) bool: whether the gradient sign attack at ``eps`` toward each digit makes the model say it.

    False toward each image's own label. Exactly :func:`core.attack.fgsm`
    and ``model.predict``, nine targets per image.
    """
    images, _ = as_images(images)
    labels = as_labels(labels, len(images))
    step = float(as_eps(eps, 1)[0])
    fooled = np.zeros((len(images), 10), bool)

    def toward(task) -> None:
        target, chosen = task
        attacked = fgsm(model, images[chosen], step, target=target, clip=clip)
        fooled[chosen, target] = model.predict(attacked) == target

    tasks = []
    for target in range(10):
        chosen = np.flatnonzero(labels != target)
        tasks += [(target, chosen[start : start + 1024]) for start in range(0, len(chosen), 1024)]  # memory bounded
    on_all_cores(toward, tasks)
    return fooled


def pair_attacks(model: SoftmaxModel, images, labels, *, clip=(0.0, 1.0), eps=None, max_eps=MAX_EPS) -> PairAttacks:
    """Each image attacked toward each of the other nine digits: exact minimal epsilons, and the outcome at ``eps``.

    The attack paths of all nine targets are walked side by side, in blocks
    on all cores (:func:`core.path.over_targets`); with ``eps``, the images
    attacked at it are classified too (:func:`fooled_toward_each`).
    """
    images, _ = as_images(images)
    labels = as_labels(labels, len(images))
    clip = as_clip(clip)
    max_eps = as_max_eps(max_eps)
    minimal = np.full((len(images), 10), np.nan)
    for indices, target, values in over_targets(model, images, labels, clip, _minimal_toward, max_eps):
        minimal[indices, target] = values
    fooled = None if eps is None else fooled_toward_each(model, images, labels, eps, clip=clip)
    return PairAttacks(minimal=minimal, fooled=fooled, labels=labels, eps=None if eps is None else float(eps))


def _minimal_toward(path, max_eps):
    return walk_minimal_epsilon(path, path.target, max_eps)


def pair_matrix(model: SoftmaxModel, images, labels, *, clip=(0.0, 1.0)) -> np.ndarray:
    """Median exact minimal epsilon of the images of digit ``s`` (rows) attacked toward ``t`` (columns), (10, 10).

    ``inf`` where at least half of them are never fooled up to 1; NaN on the
    diagonal. :func:`pair_attacks` also gives the quartiles and the share
    fooled at an epsilon.
    """
    return pair_attacks(model, images, labels, clip=clip).median


@dataclass(frozen=True, eq=False)
class RobustnessCurve:
    """Accuracy against epsilon: under the gradient sign method, under PGD, and in the exact worst case."""

    eps: np.ndarray  # (K,)
    fgsm: np.ndarray  # (K,) accuracy under the untargeted gradient sign method
    worst: np.ndarray  # (K,) certified accuracy: the share whose robust radius exceeds eps
    pgd_eps: np.ndarray  # (L,)
    pgd: np.ndarray  # (L,) accuracy under PGD (BIM, ``pgd_steps`` steps)
    n_images: int


def robustness_curve(
    model: SoftmaxModel, x, labels, eps_grid, *, clip=(0.0, 1.0), pgd_grid=None, pgd_steps: int = 10
) -> RobustnessCurve:
    """Test accuracy at every epsilon of ``eps_grid`` (in [0, 1], increasing): attacked, and in the exact worst case.

    The gradient sign accuracy walks each image's exact attack path away from
    its label (as :func:`success_curve`); the worst case is the share of
    images whose :func:`core.exact.robust_radius` exceeds eps; PGD
    (:func:`core.attack.pgd`, untargeted) runs at the points of ``pgd_grid``
    (default: 21 points over the same range).
    """
    from core.attack import pgd
    from core.exact import robust_radius
    from core.path import BLOCK, PathBlock, walk_logits

    images, _ = as_images(x)
    labels = as_labels(labels, len(images))
    grid = as_eps_grid(eps_grid)
    if grid.min() < 0:
        raise BadInput("a robustness curve takes epsilons from 0 up")
    clip = as_clip(clip)
    away = -grid[::-1]  # negative epsilon along the path toward the label: away from it, as untargeted FGSM

    def accuracy(start: int) -> np.ndarray:
        block = slice(start, start + BLOCK)
        logits = walk_logits(PathBlock(model, images[block], clip).toward(labels[block]), away)
        return (logits.argmax(axis=2) == labels[block][:, None]).sum(axis=0)[::-1]

    right = sum(on_all_cores(accuracy, list(range(0, len(images), BLOCK))), np.zeros(len(grid)))
    n = max(len(images), 1)
    radius = robust_radius(model, images, labels, clip=clip)
    worst = (radius[None, :] > grid[:, None]).sum(axis=1) / n
    pgd_eps = np.linspace(grid[0], grid[-1], 21) if pgd_grid is None else as_eps_grid(pgd_grid)

    def under_pgd(eps: float) -> float:
        attacked = pgd(model, images, eps, labels=labels, steps=pgd_steps, clip=clip, keep_best=True)
        return float(np.mean(model.predict(attacked) == labels)) if len(images) else 0.0

    pgd_accuracy = np.array(on_all_cores(under_pgd, list(pgd_eps)))
    return RobustnessCurve(
        eps=grid, fgsm=right / n, worst=worst, pgd_eps=pgd_eps, pgd=pgd_accuracy, n_images=len(images)
    )
