"""The best possible attack where several classes bind: exact, without a general LP solver.

At a fixed epsilon the question "can some perturbation in the epsilon-box (kept
in the clip range) make the target beat all nine others?" is

    F(eps) = max over delta in the box of  min_j (a_j . delta + m_j)  >= 0 ?

with ``a_j = w_t - w_j`` and ``m_j`` the target's lead over class j. That is a
linear program with nine rows and bounded columns, solved here by a bounded
simplex (:func:`max_min`; primal, or dual from the last basis): its basis is
9x9 whatever the image size. Its
prices ``lam`` (on the simplex) weight the nine rivals; for those weights the
best perturbation is the clipped sign step along ``sum_j lam_j a_j``, and the
epsilon at which that weighted lead first reaches 0 (:func:`weighted_root`) is a
lower bound of the optimum, strictly above ``eps`` while ``F(eps) < 0``. Newton's
method on ``F`` (Dinkelbach's iteration) climbs these bounds until ``F >= 0``:
the optimum, with its image, in a few steps (:func:`optimal_by_max_min`).
"""

from __future__ import annotations

import numpy as np

TOLERANCE = 1e-12  # reduced costs and leads this close to 0 count as 0
MAX_PIVOTS = 2000  # a safety net: the simplex below takes tens


class NotConverged(RuntimeError):
    """The simplex or the outer iteration did not finish in its step budget (the caller uses the LP instead)."""


def max_min(
    rows: np.ndarray,
    margin: np.ndarray,
    low: np.ndarray,
    high: np.ndarray,
    start: np.ndarray,
    warm: np.ndarray | None = None,
):
    """``max over low <= delta <= high of min_j (rows[j] . delta + margin[j])``, exactly (a bounded simplex).

    ``start`` is a vertex of the box. ``warm`` is the basis a previous call
    returned for a smaller box: with every other column at the bound its price
    asks for, it stays dual feasible, and the dual simplex (:func:`dual_simplex`)
    usually needs none or a few pivots. Without it, or if that stalls, the
    primal simplex starts from ``start``. Returns ``(value, delta, prices,
    basis)``: the prices are the rivals' weights (>= 0, sum 1) at the optimum,
    the dual solution.
    """
    k, n = rows.shape
    # columns: delta (n), t (free), one slack per row; each row: t - rows[j] . delta + s_j = margin[j]
    matrix = np.hstack([-rows, np.ones((k, 1)), np.eye(k)])
    lower = np.r_[low, -np.inf, np.zeros(k)]
    upper = np.r_[high, np.inf, np.full(k, np.inf)]
    cost = np.zeros(n + 1 + k)
    cost[n] = 1.0
    # from the last basis: the dual simplex, usually a few pivots (the primal simplex below if it stalls)
    solved = None if warm is None else dual_simplex(matrix, cost, margin, lower, upper, warm)
    if solved is not None:
        value, prices, basis = solved
        return float(value[n]), value[:n].copy(), _weights(prices), basis
    value = np.r_[start, 0.0, np.zeros(k)]
    level = rows @ start + margin
    first = int(np.argmin(level))
    value[n] = level[first]
    value[n + 1 :] = level - level[first]
    basis = np.array([n if j == first else n + 1 + j for j in range(k)])
    inverse = np.linalg.inv(matrix[:, basis])
    for _ in range(MAX_PIVOTS):
        prices = inverse.T @ cost[basis]
        reduced = cost - matrix.T @ prices
        reduced[basis] = 0.0
        up = (reduced > TOLERANCE) & (value < upper - TOLERANCE)
        down = (reduced < -TOLERANCE) & (value > lower + TOLERANCE)
        gain = np.where(up | down, np.abs(reduced), 0.0)
        entering = int(np.argmax(gain))
        if gain[entering] <= TOLERANCE:
            return float(value[n]), value[:n].copy(), _weights(prices), basis.copy()
        if _flip_many(matrix, inverse, basis, value, lower, upper, gain, up):
            continue  # columns moved to their better bounds together: the prices are the same, look again
        direction = 1.0 if up[entering] else -1.0
        column = inverse @ matrix[:, entering]
        change = column * direction  # the basic values fall by step * change
        limits = np.full(k, np.inf)
        falling, rising = change > TOLERANCE, change < -TOLERANCE
        limits[falling] = (value[basis[falling]] - lower[basis[falling]]) / change[falling]
        limits[rising] = (upper[basis[rising]] - value[basis[rising]]) / -change[rising]
        leaving = int(np.argmin(limits))
        own = upper[entering] - value[entering] if direction > 0 else value[entering] - lower[entering]
        step = min(limits[leaving], own)
        if not np.isfinite(step):
            raise NotConverged("the max-min is unbounded: the box has no bound")
        value[basis] -= step * change
        value[entering] += step * direction
        if own <= limits[leaving]:  # the entering column only moves to its other bound
            value[entering] = upper[entering] if direction > 0 else lower[entering]
            continue
        gone = basis[leaving]
        value[gone] = lower[gone] if change[leaving] > 0 else upper[gone]  # exactly on the bound it reached
        basis[leaving] = entering
        pivot = column[leaving]  # the inverse of the new basis, by one elimination step
        row = inverse[leaving] / pivot
        inverse -= np.outer(column, row)
        inverse[leaving] = row
    raise NotConverged(f"the max-min simplex took more than {MAX_PIVOTS} pivots")


def _weights(prices: np.ndarray) -> np.ndarray:
    """The rivals' weights from the simplex's prices: >= 0 (rounding), summing to 1."""
    weights = np.clip(prices, 0.0, None)
    return weights / max(weights.sum(), 1e-300)


def _flip_many(matrix, inverse, basis, value, lower, upper, gain, up) -> bool:
    """Move the columns that would gain to their other bound, best first, as many together as the basic values
    allow (the basis and its prices stay: one step instead of one per column); False if not even the first."""
    candidates = np.flatnonzero(gain > TOLERANCE)
    candidates = candidates[np.isfinite(upper[candidates] - lower[candidates])]
    if not len(candidates):
        return False
    candidates = candidates[np.argsort(-gain[candidates])]
    target = np.where(up[candidates], upper[candidates], lower[candidates])
    moves = (inverse @ matrix[:, candidates]) * (target - value[candidates])  # the basic values fall by these
    after = value[basis][:, None] - np.cumsum(moves, axis=1)
    low, high = lower[basis][:, None] - 1e-12, upper[basis][:, None] + 1e-12
    fine = ((after >= low) & (after <= high)).all(axis=0)
    count = len(fine) if fine.all() else int(np.argmin(fine))
    if count == 0:
        return False
    value[basis] = after[:, count - 1]
    value[candidates[:count]] = target[:count]
    return True


def dual_simplex(matrix, cost, margin, lower, upper, basis, pivots: int | None = None):
    """From ``basis`` (optimal in a smaller box): every other column at the bound its reduced cost asks for keeps
    the prices optimal (dual feasible); the dual simplex then moves the basic values back inside their bounds,
    a pivot per violation, usually none or a few (each passes every bound flip on its way: the long step).
    Returns ``(value, prices, basis)``, or None after ``pivots`` (4 per row and 20) or where it cannot go on."""
    basis = basis.copy()
    k = len(basis)
    for _ in range(4 * k + 20 if pivots is None else pivots):
        square = matrix[:, basis]
        inverse = np.linalg.inv(square)
        prices = inverse.T @ cost[basis]
        reduced = cost - matrix.T @ prices
        reduced[basis] = 0.0
        value = np.where(reduced > 0, upper, lower)  # outside the basis: the bound the price asks for
        free = ~np.isfinite(value)
        value[free] = np.where(
            np.isfinite(lower[free]), lower[free], np.where(np.isfinite(upper[free]), upper[free], 0.0)
        )
        value[basis] = 0.0
        value[basis] = inverse @ (margin - matrix @ value)
        below = lower[basis] - value[basis]
        above = value[basis] - upper[basis]
        worst = np.maximum(below, above)
        r = int(np.argmax(worst))
        if worst[r] <= 1e-12:
            return value, prices, basis
        alpha = inverse[r] @ matrix
        at_upper = value >= upper
        outside = np.ones(len(value), bool)
        outside[basis] = False
        rising = below[r] > 0  # the basic value must rise: x_r falls as a column with alpha > 0 rises
        if rising:
            eligible = outside & (((~at_upper) & (alpha < -TOLERANCE)) | (at_upper & (alpha > TOLERANCE)))
        else:
            eligible = outside & (((~at_upper) & (alpha > TOLERANCE)) | (at_upper & (alpha < -TOLERANCE)))
        if not eligible.any():
            return None
        # the long step: pass the columns whose bound flip alone does not yet bring x_r back, in the order their
        # prices break (each flips when the prices pass it); the first that does enters the basis
        candidates = np.flatnonzero(eligible)
        ratio = np.abs(reduced[candidates]) / np.abs(alpha[candidates])
        order = candidates[np.argsort(ratio, kind="stable")]
        with np.errstate(invalid="ignore"):
            moved = np.cumsum((upper[order] - lower[order]) * np.abs(alpha[order]))
        at = int(np.searchsorted(moved, worst[r]))
        if at == len(order):
            return None  # no column can bring x_r back: nothing in the box meets the rows
        basis[r] = int(order[at])
    return None


def weighted_root(
    rows: np.ndarray, margin: np.ndarray, prices: np.ndarray, room_up: np.ndarray, room_down: np.ndarray
) -> float:
    """The smallest eps at which the clipped sign step along ``prices @ rows`` brings ``prices @ (rows . delta +
    margin)`` to 0: each pixel moves toward its own edge and stops there (``room_up``/``room_down``, inf if
    unclipped). ``inf`` where it never does."""
    lead = prices @ rows
    level = float(prices @ margin)
    if level >= 0:
        return 0.0
    room = np.where(lead > 0, room_up, room_down)
    weight = np.abs(lead)
    moving = weight > 0
    room, weight = room[moving], weight[moving]
    order = np.argsort(room)
    room, weight = room[order], weight[order]
    # the weighted lead at each stop (pixels in the order they stop), then the piece where it reaches 0
    stopped = np.cumsum(weight)
    gained = np.cumsum(weight * room)
    total = weight.sum()
    stops = int(np.isfinite(room).sum())  # unclipped, no pixel ever stops (inf room): one straight line
    at_stop = level + gained[:stops] + room[:stops] * (total - stopped[:stops])
    reached = np.flatnonzero(at_stop >= 0)
    piece = int(reached[0]) if len(reached) else stops
    slope = total - (stopped[piece - 1] if piece > 0 else 0.0)
    base = level + (gained[piece - 1] if piece > 0 else 0.0)
    if slope <= 0:
        return np.inf
    root = -base / slope
    return float(root) if np.isfinite(root) else np.inf


def optimal_by_max_min(
    rows: np.ndarray,
    margin: np.ndarray,
    pixels: np.ndarray,
    clip,
    start_eps: float,
    max_eps: float,
    first_row: int = 0,
    steps: int = 60,
):
    """The smallest eps with ``F(eps) >= 0`` and its perturbation, from a lower bound ``start_eps``.

    Returns ``(eps, delta)``; ``(inf, None)`` where no eps up to ``max_eps`` does it.
    """
    if clip is None:
        room_up = room_down = np.full(len(pixels), np.inf)
    else:
        room_up, room_down = clip[1] - pixels, pixels - clip[0]
    eps = max(float(start_eps), 0.0)
    prices = np.eye(len(rows))[first_row]  # the class that needs the most alone: its sign step starts the search
    basis = None
    for _ in range(steps):
        if eps > max_eps:
            eps = max_eps  # the last chance: feasible at max_eps or never
        high, low = np.minimum(eps, room_up), -np.minimum(eps, room_down)
        start = np.where(prices @ rows > 0, high, low)  # the sign step for the last weights: near the optimum
        value, delta, prices, basis = max_min(rows, margin, low, high, start, basis)
        if value >= -1e-12:
            return eps, delta
        if eps >= max_eps:
            return np.inf, None
        following = weighted_root(rows, margin, prices, room_up, room_down)
        if not following > eps:  # no progress: rounding at the optimum
            following = np.nextafter(eps, np.inf)
        eps = following
    raise NotConverged(f"the optimal epsilon took more than {steps} steps")
