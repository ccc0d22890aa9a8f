"""The fewest pixels that must change for a target to win (the L0 question): a small integer program, exact.

Each pixel may take any value in the clip range; one binary per pixel says
whether it moves. scipy's HiGHS ``milp`` solves it in a fraction of a second
per MNIST image, proven, or stops at a time limit with the best count found.
"""

from __future__ import annotations

import warnings

import numpy as np

from core.checks import MAX_EPS, as_clip, as_digit, as_one_image
from core.exact import optimal_epsilon
from core.model import SoftmaxModel

__all__ = ["FewestPixels", "fewest_pixels"]


class FewestPixels(tuple):
    """``(count, image)`` from :func:`fewest_pixels`, and ``proven``: False if a time limit stopped the search."""

    def __new__(cls, count: int, image: np.ndarray, proven: bool):
        result = super().__new__(cls, (count, image))
        result.proven = proven
        return result

    def __reduce__(self):  # pickled whole: it comes back from the child process that solved it
        return FewestPixels, (self[0], self[1], self.proven)


def fewest_pixels(model: SoftmaxModel, x, target, *, clip=(0.0, 1.0), time_limit: float = 10.0) -> FewestPixels:
    """The fewest pixels that must change (each freely within ``clip``) for ``target`` to win; and such an image.

    A mixed-integer program (scipy's HiGHS ``milp``): one binary per pixel
    that may move, ``|delta_i| <= range_i * used_i``, every other class at
    most tied by the target (with a margin of 1e-6, so the target really
    wins), minimise the number used. Unclipped, a pixel may move by up to
    ``MAX_EPS`` either way (as far as any attack here moves one). Exact
    unless ``time_limit`` (seconds) stops HiGHS first: then the result's
    ``proven`` is False and the count is the best found, or, if HiGHS found
    none yet, the pixels the optimal L-inf attack changes (a warning says so).

    Returns
    -------
    (count, image) : int, ndarray (784,) float64, with ``.proven``. ``count``
    is -1 and the image the original if no change of any number of pixels
    makes ``target`` win.
    """
    from scipy.optimize import Bounds, LinearConstraint, milp

    image = as_one_image(x, "fewest_pixels")
    target = as_digit(target, "target")
    clip = as_clip(clip) or (float(image.min()) - MAX_EPS, float(image.max()) + MAX_EPS)
    others = [j for j in range(10) if j != target]
    lead = model.W[target] - model.W[others]
    margin = lead @ image + model.b[target] - model.b[others]
    if (margin > 0).all():
        return FewestPixels(0, image, True)
    n = len(image)
    low, high = np.maximum(clip[0] - image, -MAX_EPS), np.minimum(clip[1] - image, MAX_EPS)
    reach = np.maximum(high, -low)  # the most a pixel can move either way
    eye = np.eye(n)
    constraints = [
        LinearConstraint(np.hstack([lead, np.zeros((9, n))]), lb=1e-6 - margin),  # the target wins
        LinearConstraint(np.hstack([eye, -np.diag(reach)]), ub=0.0),  # delta_i <= reach_i * used_i
        LinearConstraint(np.hstack([eye, np.diag(reach)]), lb=0.0),  # -delta_i <= reach_i * used_i
    ]
    solved = milp(
        np.r_[np.zeros(n), np.ones(n)],
        constraints=constraints,
        integrality=np.r_[np.zeros(n), np.ones(n)],
        bounds=Bounds(np.r_[low, np.zeros(n)], np.r_[high, np.ones(n)]),
        options={"time_limit": time_limit},
    )
    if solved.x is None:
        if solved.status == 2:
            return FewestPixels(-1, image, True)
        if solved.status != 1:
            raise RuntimeError(f"the mixed-integer program did not solve: {solved.message}")
        warnings.warn(
            f"fewest_pixels: the time limit ({time_limit} s) stopped the search before any answer; "
            "the count is that of the optimal L-inf attack",
            stacklevel=2,
        )
        eps, found = optimal_epsilon(model, image, target, clip=clip, return_images=True, margin=1e-6)
        if not np.isfinite(eps):
            return FewestPixels(-1, image, True)
        return FewestPixels(int(np.count_nonzero(found != image)), found, False)
    used = solved.x[n:] >= 0.5
    adversarial = image.copy()
    adversarial[used] = _within(image[used] + solved.x[:n][used], clip)  # a pixel not used does not move
    z = model.logits(adversarial)
    if not (z[target] - z[others] > 0).all():  # the solver's tolerances let an unused pixel help: solve on the used
        adversarial = _on_pixels(model, image, target, np.flatnonzero(used), low, high)
    if solved.status != 0:
        warnings.warn(
            f"fewest_pixels: the time limit ({time_limit} s) stopped the search; the count is the best found",
            stacklevel=2,
        )
    return FewestPixels(int(np.count_nonzero(adversarial != image)), adversarial, solved.status == 0)


def _within(values: np.ndarray, clip) -> np.ndarray:
    return np.clip(values, *clip)  # float64: the target's win may be narrower than float32


def _on_pixels(model, image, target, pixels, low, high) -> np.ndarray:
    """An image where ``target`` wins by changing only ``pixels`` (each within [low, high] of its value): the LP
    that maximises the target's smallest lead, on those pixels alone."""
    from scipy.optimize import linprog

    others = [j for j in range(10) if j != target]
    lead = model.W[target][pixels] - model.W[others][:, pixels]  # (9, k)
    margin = (model.W[target] - model.W[others]) @ image + model.b[target] - model.b[others]
    k = len(pixels)  # maximise t subject to lead . delta + margin >= t
    solved = linprog(
        np.r_[np.zeros(k), -1.0],
        A_ub=np.hstack([-lead, np.ones((9, 1))]),
        b_ub=margin,
        bounds=[*zip(low[pixels], high[pixels]), (None, None)],
        method="highs",
    )
    if solved.status != 0 or solved.x[-1] <= 0:
        raise RuntimeError("the mixed-integer program's answer does not make the target win")
    adversarial = image.copy()
    adversarial[pixels] += solved.x[:k]
    return adversarial
