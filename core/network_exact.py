"""What holds for any attack on the ReLU network: certified lower bounds, and the best attack (proven or bracketed).

:func:`certified_radius` and :func:`target_bound` are sound lower bounds on
any attack's epsilon, by a linear relaxation of the ReLUs (CROWN, Zhang et
al. 2018; Wong & Kolter 2018) or interval bound propagation (Gowal et al.
2018). :func:`network_optimal_epsilon` is the best possible L-inf attack, a
mixed-integer program (Tjeng, Xiao & Tedrake 2019) on scipy's HiGHS, boxed
by the best attack known (the sign step's exact walk, :mod:`core.network`,
or PGD's) and floored by the certificate.
"""

from __future__ import annotations

import time

import numpy as np

from core.attack import pgd
from core.checks import MAX_EPS, as_clip, as_digit, as_one_image
from core.model import ReluNetwork
from core.network import ray_minimal_epsilon, sign_step
from core.network_bounds import lower_bounds, unit_bounds
from core.network_verify import Verdict, can_reach, verify_robust, winner

GAP = 1e-4  # the relative gap at which the best attack counts as the optimum
PROBE = 0.5  # seconds a short question gets while the best attack is brought down
PROOF_SHARE = 0.8  # of the time left then, what the proof just under the best attack gets (the rest: bisection)

__all__ = [
    "NetworkOptimum",
    "Verdict",
    "certified_radius",
    "lower_bounds",
    "network_optimal_epsilon",
    "optimal_epsilon",
    "target_bound",
    "unit_bounds",
    "verify_robust",
    "can_reach",
]


def _largest_safe(safe, tolerance: float) -> float:
    """The largest eps in [0, 1] (bisection to ``tolerance``) at which ``safe(eps)`` holds; 0 if not even at 0."""
    if not safe(0.0):
        return 0.0
    low, high = 0.0, MAX_EPS
    if safe(high):
        return high
    while high - low > tolerance:
        middle = (low + high) / 2
        low, high = (middle, high) if safe(middle) else (low, middle)
    return low


def certified_radius(
    network: ReluNetwork, x, label, *, clip=(0.0, 1.0), tolerance: float = 1e-4, method: str = "crown"
) -> float:
    """A sound lower bound on the eps at which any perturbation can change the answer ``label``.

    The largest eps (bisection to ``tolerance``, the sound end returned) at
    which :func:`lower_bounds` proves ``z_label - z_j > 0`` for every other j:
    a linear relaxation (CROWN) by default, or interval bounds (``"ibp"``).
    0 if the image is not read as ``label``.
    """
    image = as_one_image(x, "certified_radius of the network")
    label = as_digit(label, "label")
    clip = as_clip(clip)
    rows = np.delete(np.eye(10)[label] - np.eye(10), label, axis=0)  # z_label - z_j, j != label
    return _largest_safe(lambda eps: bool((lower_bounds(network, image, eps, rows, clip, method) > 0).all()), tolerance)


def target_bound(
    network: ReluNetwork, x, target, *, clip=(0.0, 1.0), tolerance: float = 1e-4, method: str = "crown"
) -> float:
    """A sound lower bound on the eps any perturbation needs to make the network say ``target``.

    The largest eps at which some other class is proven to stay ahead of the
    target (:func:`lower_bounds` of ``z_j - z_target > 0`` for some j); at
    least :func:`certified_radius` of the image's own answer. 0 if already the target.
    """
    image = as_one_image(x, "target_bound of the network")
    target = as_digit(target, "target")
    clip = as_clip(clip)
    rows = np.delete(np.eye(10) - np.eye(10)[target], target, axis=0)  # z_j - z_target, j != target
    return _largest_safe(lambda eps: bool((lower_bounds(network, image, eps, rows, clip, method) > 0).any()), tolerance)


def iterated_epsilon(
    network: ReluNetwork, x: np.ndarray, target: int, clip, *, steps: int = 20, tolerance: float = 1e-3
) -> tuple[float, np.ndarray]:
    """The smallest eps (bisection to ``tolerance``) at which PGD (``steps`` steps from the gradient sign step,
    its best iterate kept) makes the network say ``target``: an attack that works, often below the sign
    step's, so a smaller box for the integer program. ``inf`` if none up to 1."""

    def attacked(eps: float) -> np.ndarray:
        return pgd(network, x, eps, target=target, steps=steps, clip=clip, keep_best=True)

    best = attacked(MAX_EPS)
    if network.predict(best) != target:
        return np.inf, x
    low, high = 0.0, MAX_EPS
    while high - low > tolerance:
        middle = (low + high) / 2
        image = attacked(middle)
        if network.predict(image) == target:
            high, best = middle, image
        else:
            low = middle
    return high, best


class NetworkOptimum(tuple):
    """``(eps, image)`` from :func:`network_optimal_epsilon`, with ``proven`` and ``bracket`` (lower, upper): when a
    time limit stops the search, ``eps`` is the best attack found and the optimum lies in the bracket."""

    def __new__(cls, eps: float, image: np.ndarray, proven: bool, bracket: tuple[float, float]):
        result = super().__new__(cls, (eps, image))
        result.proven, result.bracket = proven, bracket
        return result

    def __reduce__(self):  # pickled whole: it comes back from the child process that solved it
        return NetworkOptimum, (self[0], self[1], self.proven, self.bracket)


def network_optimal_epsilon(
    network: ReluNetwork, x, target, *, clip=(0.0, 1.0), time_limit: float = 10.0, margin: float = 1e-6
) -> NetworkOptimum:
    """The smallest L-inf eps at which *some* perturbation makes the network say ``target``: a mixed-integer
    program (Tjeng, Xiao & Tedrake 2019), solved by scipy's HiGHS.

    One binary per hidden unit whose sign the box cannot fix; its big-M
    constants are the units' exact input bounds (:func:`unit_bounds`) over the
    box of the best attack known beforehand (the sign step's exact minimal eps
    or PGD's, :func:`iterated_epsilon`), which caps the optimum; eps starts at
    :func:`target_bound`, which floors it. The target must lead every other class by ``margin``.
    Returns ``(eps, image)`` with ``.proven``; ``inf`` and the original where
    no eps up to 1 does it.
    """
    from scipy.optimize import Bounds, LinearConstraint, milp
    from scipy.sparse import csr_array, hstack, identity, vstack

    image = as_one_image(x, "network_optimal_epsilon of the network")
    target = as_digit(target, "target")
    clip = as_clip(clip)
    if network.predict(image) == target and np.sort(network.logits(image))[-2] < network.logits(image)[target]:
        return NetworkOptimum(0.0, image, True, (0.0, 0.0))
    ray = ray_minimal_epsilon(network, image, target, clip=clip)
    known, known_image = iterated_epsilon(network, image, target, clip)  # the best attack known before solving
    if ray <= known:
        known, known_image = ray, sign_step(network, image, target, min(ray + 1e-6, MAX_EPS), clip)
    ceiling = MAX_EPS if not np.isfinite(known) else min(known + 1e-6, MAX_EPS)
    floor = min(target_bound(network, image, target, clip=clip), ceiling)
    _, _, pre_low, pre_high = unit_bounds(network, image, ceiling, clip)
    n, hidden = len(image), network.hidden
    # variables: delta (n), eps, a (hidden), z (hidden; binary); rows: |delta_i| <= eps, the units, the target
    variables = n + 1 + 2 * hidden
    eps_at, a_at, z_at = n, n + 1, n + 1 + hidden
    ball = vstack(
        [
            hstack([identity(n), csr_array(-np.ones((n, 1))), csr_array((n, 2 * hidden))]),
            hstack([-identity(n), csr_array(-np.ones((n, 1))), csr_array((n, 2 * hidden))]),
        ]
    )
    units, low, high = [], [], []
    for k in range(hidden):
        h0 = float(network.W1[k] @ image + network.b1[k])  # h_k = h0 + W1[k] . delta
        row = np.zeros(variables)
        if pre_high[k] <= 0:  # always off: a_k = 0
            row[a_at + k] = 1.0
            units.append(row), low.append(0.0), high.append(0.0)
            continue
        row[:n], row[a_at + k] = -network.W1[k], 1.0  # a_k - W1[k] . delta
        if pre_low[k] >= 0:  # always on: a_k = h_k
            units.append(row), low.append(h0), high.append(h0)
            continue
        units.append(row), low.append(h0), high.append(np.inf)  # a_k >= h_k
        below = row.copy()
        below[z_at + k] = -pre_low[k]  # a_k <= h_k - L (1 - z_k)
        units.append(below), low.append(-np.inf), high.append(h0 - pre_low[k])
        cap = np.zeros(variables)
        cap[a_at + k], cap[z_at + k] = 1.0, -pre_high[k]  # a_k <= U z_k
        units.append(cap), low.append(-np.inf), high.append(0.0)
    others = [j for j in range(10) if j != target]
    wins = np.zeros((9, variables))
    wins[:, a_at : a_at + hidden] = network.W2[target] - network.W2[others]  # the target's lead over each other
    matrix = vstack([ball, csr_array(np.array(units)), csr_array(wins)]).tocsr()
    lows = np.r_[np.full(2 * n, -np.inf), low, margin - (network.b2[target] - network.b2[others])]
    highs = np.r_[np.zeros(2 * n), high, np.full(9, np.inf)]
    box_low = (clip[0] - image) if clip is not None else np.full(n, -np.inf)
    box_high = (clip[1] - image) if clip is not None else np.full(n, np.inf)
    bounds = Bounds(
        np.r_[np.maximum(box_low, -ceiling), floor, np.zeros(hidden), np.zeros(hidden)],
        np.r_[np.minimum(box_high, ceiling), ceiling, np.maximum(pre_high, 0), np.ones(hidden)],
    )
    cost = np.zeros(variables)
    cost[eps_at] = 1.0
    solved = milp(
        cost,
        constraints=LinearConstraint(matrix, lows, highs),
        integrality=np.r_[np.zeros(n + 1 + hidden), np.ones(hidden)],
        bounds=bounds,
        options={"time_limit": time_limit, "mip_rel_gap": 0.0},
    )
    dual = max(floor, float(getattr(solved, "mip_dual_bound", None) or 0.0))  # what is proven when stopped
    if solved.x is None:
        if not np.isfinite(known):  # infeasible up to 1
            return NetworkOptimum(np.inf, image, solved.status == 2, (dual if solved.status != 2 else np.inf, np.inf))
        return NetworkOptimum(known, known_image, False, (min(dual, known), known))  # stopped first: the known attack
    delta = solved.x[:n]
    eps = max(float(solved.x[eps_at]), float(np.abs(delta).max()))  # HiGHS's tolerance (1e-6): what the image needs
    attacked = image + delta if clip is None else np.clip(image + delta, *clip)
    proven = solved.status == 0
    return NetworkOptimum(eps, attacked, proven, (eps if proven else min(dual, eps), eps))


def _size(attacked: np.ndarray, image: np.ndarray) -> float:
    """The L-inf size of an attack: the epsilon it needs."""
    return float(np.abs(attacked - image).max())


def optimal_epsilon(network: ReluNetwork, x, target, *, clip=(0.0, 1.0), time_limit: float = 20.0):
    """The smallest L-inf eps at which some perturbation makes ``target`` win, to a relative gap of :data:`GAP`, by
    questions to the complete verifier (:func:`can_reach`) between CROWN's bound below and the best attack known
    above: short ones that bring the best attack down (fast, where an attack exists), then the proof just under
    it (the slow one), then bisection with whatever time is left. A :class:`NetworkOptimum` with ``proven`` and
    ``bracket`` (the bracket reached when the time runs out first)."""
    started = time.perf_counter()
    image = as_one_image(x, "optimal_epsilon of the network").astype(np.float64)
    target = as_digit(target, "target")
    clip = as_clip(clip)
    if winner(network, image) == target:
        return NetworkOptimum(0.0, image, True, (0.0, 0.0))
    high, best = iterated_epsilon(network, image, target, clip)
    if not np.isfinite(high):
        high, best = MAX_EPS, image
        answer = can_reach(network, image, target, MAX_EPS, clip=clip, time_limit=time_limit)
        if answer.status != "attacked":
            return NetworkOptimum(np.inf, image, answer.status == "robust", (MAX_EPS, np.inf))
        best = answer.image
    low = min(target_bound(network, image, target, clip=clip), high)
    deadline = started + time_limit
    # Attacks are found fast just above the optimum and proofs are slow just below it: so first bring the best
    # attack down with short questions (a jump that doubles while attacks come, shrinks when a question is
    # proven or runs out of its half second), then spend what is left on one proof just under the best attack.
    jump = min(0.01, (high - low) / high / 2) if high > 0 else 0.0
    while jump >= GAP and high - low > GAP * high:
        left = deadline - time.perf_counter()
        if left <= 0:
            return NetworkOptimum(high, best, False, (low, high))
        asked = max(high * (1 - jump), (low + high) / 2)
        answer = can_reach(network, image, target, asked, clip=clip, time_limit=min(PROBE, left))
        if answer.status == "attacked":
            high, best = _size(answer.image, image), answer.image
            jump *= 2
        else:
            low = asked if answer.status == "robust" else low
            jump /= 2 if answer.status == "robust" else 4
    proof_ends = time.perf_counter() + (deadline - time.perf_counter()) * PROOF_SHARE
    while high - low > GAP * high and time.perf_counter() < proof_ends:  # the proof just under the best attack
        asked = high * (1 - GAP)
        answer = can_reach(network, image, target, asked, clip=clip, time_limit=proof_ends - time.perf_counter())
        if answer.status == "attacked":  # a better attack on the way: ask again just under it
            high, best = _size(answer.image, image), answer.image
        elif answer.status == "robust":
            low = asked
        else:
            break
    while high - low > GAP * high:  # too hard for now: bisection, whose proofs further down come cheaper
        left = deadline - time.perf_counter()
        if left <= 0:
            return NetworkOptimum(high, best, False, (low, high))
        middle = (low + high) / 2
        answer = can_reach(network, image, target, middle, clip=clip, time_limit=left)
        if answer.status == "attacked":
            high, best = _size(answer.image, image), answer.image
        elif answer.status == "robust":
            low = middle
        else:
            return NetworkOptimum(high, best, False, (low, high))
    return NetworkOptimum(high, best, True, (low, high))
