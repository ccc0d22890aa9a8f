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
BLOCK = 64  # images whose nine one-rival answers are worked out at once


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
    one_rival, several = (_l2_one_rival, _l2_several) if norm == 2 else (_l1_one_rival, _l1_several)
    for start in range(0, n, BLOCK):  # (block, 9, 784) arrays at a time: a few MB
        stopping.check()  # a computation nobody waits for any more stops here
        part = slice(start, start + BLOCK)
        best, steps, extra = one_rival(rows, need[part], low[part], high[part])  # each rival alone
        m = len(best)
        binding = best.argmax(axis=1)
        chosen = steps[np.arange(m), binding]
        enough = ((chosen @ rows.T) >= need[part] - TOLERANCE).all(axis=1)
        settled = np.isfinite(best).all(axis=1) & enough
        distance[part][settled] = best[settled, binding[settled]]
        delta[part][settled] = chosen[settled]
        for i in np.flatnonzero(np.isfinite(best).all(axis=1) & ~enough):  # several rivals bind: one at a time
            stopping.check()
            b, at = int(binding[i]), start + i
            found = several(rows, need[at], low[at], high[at], b, extra[i, b])
            if found is not None:
                delta[at] = found
                distance[at] = float(np.linalg.norm(found, ord=norm))
    return distance, delta


def _before(cumulative: np.ndarray, piece: np.ndarray, first: float = 0.0) -> np.ndarray:
    """``cumulative`` summed up to (not including) position ``piece`` along its last axis (``first`` at 0)."""
    padded = np.concatenate([np.full((*cumulative.shape[:-1], 1), first), cumulative], axis=-1)
    return np.take_along_axis(padded, piece[..., None], axis=-1)[..., 0]


def _l2_one_rival(rows: np.ndarray, need: np.ndarray, low: np.ndarray, high: np.ndarray):
    """Against each rival alone, the projection onto ``a . delta >= need`` inside the box: ``clip(mu a, low, high)``.

    ``a . clip(mu a)`` rises piecewise linearly in ``mu``: pixel i adds ``a_i^2`` per unit of ``mu`` until it
    reaches its edge at ``mu = stop_i``. Sorting the stops gives the piece where it reaches ``need``. All images
    (n) and rivals (k) at once: returns ``(distance (n, k), delta (n, k, 784), mu (n, k))``, inf where even the
    whole box is not enough.
    """
    a = rows[None]  # (1, k, d)
    edge = np.where(a > 0, high[:, None], np.where(a < 0, low[:, None], 0.0))  # where each pixel stops along a
    with np.errstate(divide="ignore", invalid="ignore"):
        stop = np.where(a != 0, edge / np.where(a != 0, a, 1.0), 0.0)  # >= 0; inf unclipped
    order = np.argsort(stop, axis=2)
    stop = np.take_along_axis(stop, order, axis=2)
    weight = np.take_along_axis(np.broadcast_to(a * a, stop.shape), order, axis=2)
    finite = np.isfinite(stop)
    gained = np.cumsum(np.where(finite, weight * np.where(finite, stop, 0.0), 0.0), axis=2)  # the stopped pixels'
    total = (rows * rows).sum(axis=1)[None, :]  # (1, k)
    rising = total[..., None] - np.cumsum(weight, axis=2)  # the slope once these have stopped
    at_stop = np.where(finite, gained + rising * np.where(finite, stop, 0.0), np.inf)  # the lead at each stop
    reached = at_stop >= need[..., None]
    piece = np.where(reached.any(axis=2), reached.argmax(axis=2), stop.shape[2])
    before = _before(gained, piece)
    slope = _before(rising, piece)
    slope = np.where(piece == 0, np.broadcast_to(total, piece.shape), slope)
    with np.errstate(divide="ignore", invalid="ignore"):
        mu = np.where(need <= 0, 0.0, np.where(slope > 0, (need - before) / slope, np.inf))
    feasible = np.isfinite(mu)
    delta = np.clip(np.where(feasible, mu, 0.0)[..., None] * a, low[:, None], high[:, None])
    distance = np.where(feasible, np.linalg.norm(delta, axis=2), np.inf)
    return distance, delta, np.where(feasible, mu, 0.0)


def _l1_one_rival(rows: np.ndarray, need: np.ndarray, low: np.ndarray, high: np.ndarray):
    """Against each rival alone, the fewest units of change that give ``a . delta >= need``: a fractional knapsack.

    Each unit of pixel i's change buys ``|a_i|``; the pixels with the largest ``|a_i|`` are moved to their edge
    first, the last one only as far as needed. All images (n) and rivals (k) at once: returns ``(distance (n, k),
    delta (n, k, 784), the last pixel moved (n, k))``.
    """
    a = rows[None]
    room = np.where(a > 0, high[:, None], np.where(a < 0, -low[:, None], 0.0))  # how far each pixel can move
    order = np.argsort(-np.abs(rows), axis=1)[None]  # by weight: the same for every image
    weight = np.take_along_axis(np.abs(a), order, axis=2)
    room = np.take_along_axis(room, order, axis=2)
    with np.errstate(invalid="ignore"):
        bought = np.cumsum(weight * room, axis=2)  # the lead bought once the first pixels are at their edge
    reached = bought >= need[..., None]
    last = np.where(reached.any(axis=2), reached.argmax(axis=2), -1)
    at = np.maximum(last, 0)
    before = _before(bought, at)
    last_weight = np.take_along_axis(np.broadcast_to(weight, bought.shape), at[..., None], axis=2)[..., 0]
    feasible = ((last >= 0) & (last_weight > 0)) | (need <= 0)
    moving = feasible & (need > 0)
    with np.errstate(divide="ignore", invalid="ignore"):
        part = np.where(moving, (need - before) / np.where(last_weight > 0, last_weight, 1.0), 0.0)
    moved = np.where(np.arange(rows.shape[1]) < last[..., None], room, 0.0)
    np.put_along_axis(
        moved, at[..., None], (np.take_along_axis(moved, at[..., None], axis=2)[..., 0] + part)[..., None], axis=2
    )
    moved[~moving] = 0.0
    delta = np.empty_like(moved)
    np.put_along_axis(
        delta, np.broadcast_to(order, moved.shape), moved * np.sign(np.take_along_axis(a, order, axis=2)), axis=2
    )
    distance = np.where(feasible, np.abs(delta).sum(axis=2), np.inf)
    return distance, delta, np.take_along_axis(np.broadcast_to(order, bought.shape), at[..., None], axis=2)[..., 0]


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
