"""The smallest L2 and L1 changes that make a target win on a softmax regression: exact, without a general solver.

The question: minimise ``|delta|`` (L2 or L1) subject to ``x + delta`` inside
the clip range and, for each of the nine other classes j,
``a_j . delta >= need_j`` with ``a_j = w_t - w_j`` and ``need_j`` what the
target lacks against j (plus a small ``margin``, so the image is read as
the target). A convex program with nine constraints and a box.

- **One rival binding** (most images): against one class alone the answer is
  closed form, all images at once. L2: the projection onto the half-space
  inside the box, ``delta = clip(mu a, low, high)`` with ``mu`` the root of a
  piecewise linear function (a sort). L1: a fractional knapsack, the pixels
  with the largest weight moved to their edge first (a sort). When the class
  that needs the most is also enough for the other eight, that is the optimum.
- **Several rivals binding** (the rest), per image. L2: Newton's method on
  the dual, nine multipliers ``lam >= 0`` with ``delta(lam) = clip(a^T lam)``
  (:func:`_l2_dual`). L1: a linear program whose basis is 9x9, the dual simplex
  of :mod:`core.maxmin` started from the knapsack's basis; scipy's HiGHS only
  as a safety net.

The L-inf answer is :func:`core.exact.optimal_epsilon`; :func:`core.exact.minimal_perturbation`
asks for any of the three. The usual attacks in these norms, to be measured
against the optimum, are in :mod:`core.norm_attacks`.
"""

from __future__ import annotations

import numpy as np

from core import stopping
from core.maxmin import NotConverged, dual_simplex
from core.model import SoftmaxModel

TOLERANCE = 1e-10  # a constraint met to this (in logits) counts as met; the margin keeps the target ahead
FAR = 1e6  # unclipped, the L1 simplex bounds each pixel's move by this (an optimum near it goes to HiGHS)
PIVOTS = 200  # the L1 dual simplex's budget (tens are used on MNIST); past it, HiGHS


def problem(model: SoftmaxModel, images: np.ndarray, target: int, clip, margin: float):
    """The nine rows ``a_j``, each image's needs against them, and its room down and up (n, 784; inf unclipped)."""
    others = [j for j in range(10) if j != target]
    rows = model.W[target] - model.W[others]  # (9, 784)
    pixels = images.astype(np.float64)
    need = -(pixels @ rows.T + model.b[target] - model.b[others]) + margin  # (n, 9): a_j . delta >= need_j
    if clip is None:
        low, high = np.full(pixels.shape, -np.inf), np.full(pixels.shape, np.inf)
    else:
        low, high = clip[0] - pixels, clip[1] - pixels
    return rows, need, low, high


def smallest_change(model: SoftmaxModel, images: np.ndarray, target: int, clip, norm: int, margin: float):
    """The exact smallest L2 (``norm=2``) or L1 (``norm=1``) change toward ``target`` and the change, per image.

    Returns ``(distance (n,), delta (n, 784))``; ``inf`` and zeros where no image in the box is read as ``target``.
    """
    rows, need, low, high = problem(model, images, target, clip, margin)
    n = len(images)
    distance, delta = np.full(n, np.inf), np.zeros(images.shape, np.float64)
    done = (need <= 0).all(axis=1)  # already the target, by the margin
    distance[done] = 0.0
    one_rival = _l2_one_rival if norm == 2 else _l1_one_rival
    best = np.full((n, 9), -np.inf)  # each rival alone: how far the target must go against it
    steps = np.zeros((9, *images.shape))
    extra = [None] * 9
    for j in range(9):
        best[:, j], steps[j], extra[j] = one_rival(rows[j], need[:, j], low, high)
    binding = best.argmax(axis=1)
    chosen = steps[binding, np.arange(n)]
    enough = ((chosen @ rows.T) >= need - TOLERANCE).all(axis=1)
    possible = np.isfinite(best).all(axis=1)
    settled = ~done & possible & enough
    distance[settled] = best[settled, binding[settled]]
    delta[settled] = chosen[settled]
    for i in np.flatnonzero(~done & possible & ~enough):  # several rivals bind: one image at a time
        stopping.check()  # a computation nobody waits for any more stops here
        b = int(binding[i])
        if norm == 2:
            found = _l2_several(rows, need[i], low[i], high[i], b, extra[b][i])
        else:
            found = _l1_several(rows, need[i], low[i], high[i], b, extra[b][i])
        if found is not None:
            delta[i] = found
            distance[i] = float(np.linalg.norm(found, ord=norm))
    return distance, delta


def _l2_one_rival(a: np.ndarray, need: np.ndarray, low: np.ndarray, high: np.ndarray):
    """The projection onto ``a . delta >= need`` inside the box, every image at once: ``clip(mu a, low, high)``.

    ``a . clip(mu a)`` rises piecewise linearly in ``mu``: pixel i adds ``a_i^2`` per unit of ``mu`` until it
    reaches its edge at ``mu = stop_i``. Sorting the stops gives the piece where it reaches ``need``.
    Returns ``(distance, delta, mu)``, inf where even the whole box is not enough.
    """
    edge = np.where(a > 0, high, np.where(a < 0, low, 0.0))  # where each pixel stops, moving along a
    with np.errstate(divide="ignore", invalid="ignore"):
        stop = np.where(a != 0, edge / np.where(a != 0, a, 1.0), 0.0)  # >= 0; inf unclipped
    order = np.argsort(stop, axis=1)
    stop = np.take_along_axis(stop, order, axis=1)
    weight = (a * a)[order]
    with np.errstate(invalid="ignore"):
        gained = np.cumsum(np.where(np.isfinite(stop), weight * stop, 0.0), axis=1)  # from the pixels stopped
    rising = weight.sum(axis=1, keepdims=True) - np.cumsum(weight, axis=1)  # the slope once these have stopped
    # at each stop: the stopped pixels' part plus the moving pixels' at mu = stop
    with np.errstate(invalid="ignore"):
        at_stop = gained + np.where(np.isfinite(stop), rising * stop, np.inf)
    reached = at_stop >= need[:, None]
    piece = np.where(reached.any(axis=1), reached.argmax(axis=1), stop.shape[1])
    rows = np.arange(len(need))
    before_gained = np.pad(gained, ((0, 0), (1, 0)))[rows, piece]
    slope = np.pad(rising, ((0, 0), (1, 0)), constant_values=float((a * a).sum()))[rows, piece]
    with np.errstate(divide="ignore", invalid="ignore"):
        mu = np.where(need <= 0, 0.0, np.where(slope > 0, (need - before_gained) / slope, np.inf))
    feasible = np.isfinite(mu)
    delta = np.clip(np.where(feasible, mu, 0.0)[:, None] * a, low, high)
    distance = np.where(feasible, np.linalg.norm(delta, axis=1), np.inf)
    return distance, delta, np.where(feasible, mu, 0.0)


def _l1_one_rival(a: np.ndarray, need: np.ndarray, low: np.ndarray, high: np.ndarray):
    """The fewest units of change that give ``a . delta >= need``: a fractional knapsack, every image at once.

    Each unit of pixel i's change buys ``|a_i|``; the pixels with the largest ``|a_i|`` are moved to their edge
    first, the last one only as far as needed. Returns ``(distance, delta, last pixel moved)``.
    """
    n = len(need)
    room = np.where(a > 0, high, np.where(a < 0, -low, 0.0))  # how far each pixel can move along a
    order = np.argsort(-np.abs(a))  # the same for every image: the weights
    weight = np.abs(a)[order]
    room = room[:, order]
    with np.errstate(invalid="ignore"):
        bought = np.cumsum(weight * room, axis=1)  # the lead bought once the first k pixels are at their edge
    reached = bought >= need[:, None]
    last = np.where(reached.any(axis=1), reached.argmax(axis=1), -1)
    rows = np.arange(n)
    before = np.pad(bought, ((0, 0), (1, 0)))[rows, np.maximum(last, 0)]
    feasible = (last >= 0) & (weight[np.maximum(last, 0)] > 0)
    feasible |= need <= 0
    part = np.where(
        feasible & (need > 0), (need - before) / np.where(weight > 0, weight, 1.0)[np.maximum(last, 0)], 0.0
    )
    moved = np.where(np.arange(len(a))[None, :] < last[:, None], room, 0.0)
    moved[rows, np.maximum(last, 0)] += np.where(need > 0, part, 0.0) * (last >= 0)
    moved[~feasible | (need <= 0)] = 0.0
    delta = np.zeros((n, len(a)))
    delta[:, order] = moved * np.sign(a[order])
    distance = np.where(feasible, np.abs(delta).sum(axis=1), np.inf)
    return distance, delta, order[np.maximum(last, 0)]


def _l2_several(rows, need, low, high, first: int, mu: float, steps: int = 200):
    """The L2 optimum where several rivals bind: Newton's method on the dual, exact up to rounding.

    ``g(lam) = min over the box of |delta|^2 / 2 - lam . (rows delta - need)`` is concave and piecewise
    quadratic in the nine ``lam >= 0``, with ``delta(lam) = clip(rows^T lam, low, high)``, gradient
    ``need - rows delta`` and Hessian ``-rows_F rows_F^T`` over the pixels ``F`` not at an edge. Newton steps
    on the rows that bind (projected to ``lam >= 0``, halved until ``g`` rises) find the pieces in a few
    steps; there the step is exact. None where the dual is unbounded (no image in the box is enough).
    """
    lam = np.zeros(len(rows))
    lam[first] = mu

    def dual(lam):
        delta = np.clip(rows.T @ lam, low, high)
        return 0.5 * delta @ delta - lam @ (rows @ delta - need), delta

    value, delta = dual(lam)
    scale = max(float(np.abs(need).max()), 1.0)
    for _ in range(steps):
        gradient = need - rows @ delta  # > 0: that constraint is not met yet
        active = (lam > 0) | (gradient > 0)
        if (gradient[active] <= TOLERANCE * scale).all() and (np.abs(gradient[lam > 0]) <= TOLERANCE * scale).all():
            return delta if (rows @ delta >= need - TOLERANCE * scale).all() else None
        moving = rows.T @ lam
        free = (moving > low) & (moving < high)
        part = rows[active][:, free]
        hessian = part @ part.T + 1e-12 * np.eye(int(active.sum()))
        step = np.zeros(len(rows))
        step[active] = np.linalg.lstsq(hessian, gradient[active], rcond=None)[0]
        t = 1.0
        for _ in range(60):
            trial = np.maximum(lam + t * step, 0.0)
            trial_value, trial_delta = dual(trial)
            if trial_value >= value - 1e-15 * max(abs(value), 1.0):
                break
            t /= 2
        else:
            return None
        if np.linalg.norm(trial - lam) <= 1e-15 * max(np.linalg.norm(lam), 1.0):
            return delta if (rows @ delta >= need - TOLERANCE * scale).all() else None
        if np.linalg.norm(trial) > 1e12:  # the dual runs away: the constraints cannot all be met in the box
            return None
        lam, value, delta = trial, trial_value, trial_delta
    raise NotConverged(f"the L2 optimum took more than {steps} Newton steps")


def _l1_several(rows, need, low, high, first: int, pixel: int):
    """The L1 optimum where several rivals bind: a linear program with nine rows, by the dual simplex.

    Columns: ``u`` (moves up, within ``high``), ``v`` (moves down, within ``-low``), one surplus per row;
    each row ``a_j . (u - v) - s_j = need_j``, maximise ``-sum(u + v)``. The one-rival knapsack gives a basis
    that is dual feasible (its last pixel for the binding row, the surpluses for the others); the dual simplex
    then meets the other rows in a few pivots. scipy's HiGHS if it does not (never seen on MNIST).
    """
    k, n = rows.shape
    matrix = np.hstack([rows, -rows, -np.eye(k)])
    lower = np.zeros(2 * n + k)
    # unclipped, a pixel's move gets a bound far beyond any optimum's (checked below: never reached)
    upper = np.minimum(np.r_[np.maximum(high, 0.0), np.maximum(-low, 0.0)], FAR)
    upper = np.r_[upper, np.full(k, np.inf)]
    cost = np.r_[-np.ones(2 * n), np.zeros(k)]
    column = pixel if rows[first, pixel] > 0 else n + pixel
    basis = np.array([column if j == first else 2 * n + j for j in range(k)])
    solved = dual_simplex(matrix, cost, need, lower, upper, basis, pivots=PIVOTS)
    if solved is not None:
        value = solved[0]
        delta = value[:n] - value[n : 2 * n]
        met = (rows @ delta >= need - TOLERANCE * max(float(np.abs(need).max()), 1.0)).all()
        if met and (np.abs(delta) < FAR).all():
            return delta
    return _l1_linprog(rows, need, low, high)


def _l1_linprog(rows, need, low, high):
    """The L1 optimum by scipy's HiGHS: the safety net of :func:`_l1_several`; None where infeasible."""
    from scipy.optimize import linprog

    k, n = rows.shape
    bounds = [(0.0, h if np.isfinite(h) else None) for h in np.maximum(high, 0.0)]
    bounds += [(0.0, d if np.isfinite(d) else None) for d in np.maximum(-low, 0.0)]
    solved = linprog(np.ones(2 * n), A_ub=-np.hstack([rows, -rows]), b_ub=-need, bounds=bounds, method="highs")
    if solved.status != 0:
        return None
    return solved.x[:n] - solved.x[n:]
