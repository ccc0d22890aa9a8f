"""A small ReLU network beside the linear model: trained by scikit-learn, attacked exactly where it can be.

``ReluNetwork`` is one hidden layer, ``logits(x) = W2 relu(W1 x + b1) + b2``.
Along the gradient sign ray ``x(eps) = clip(x + eps * s)`` every pixel moves
linearly until it stops at the clip range, and every hidden unit is linear
until it switches on or off, so the logits are piecewise linear in eps with
breakpoints that can be computed: :func:`minimal_epsilon` walks them in order
and is exact, as the linear model's walk is (Goodfellow et al. 2015: networks
are fooled *because* they are piecewise linear). :func:`certified_radius` is a
sound lower bound on any attack's epsilon by interval bound propagation
(Gowal et al. 2018).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from core.checks import MAX_EPS, as_clip, as_digit, as_images, as_one_image
from core.model import softmax


@dataclass(frozen=True)
class ReluNetwork:
    """``logits(x) = W2 relu(W1 x + b1) + b2``: W1 (hidden, 784), b1 (hidden,), W2 (10, hidden), b2 (10,)."""

    W1: np.ndarray
    b1: np.ndarray
    W2: np.ndarray
    b2: np.ndarray

    def __post_init__(self):
        for array in (self.W1, self.b1, self.W2, self.b2):
            array.flags.writeable = False

    @property
    def hidden(self) -> int:
        return len(self.b1)

    def logits(self, x) -> np.ndarray:
        """Class scores, shape (n, 10), or (10,) for one image."""
        images, single = as_images(x, unit_range=False)
        z = np.maximum(images.astype(np.float64) @ self.W1.T + self.b1, 0.0) @ self.W2.T + self.b2
        return z[0] if single else z

    def predict_proba(self, x) -> np.ndarray:
        return softmax(self.logits(x))

    def predict(self, x) -> np.ndarray:
        return np.argmax(self.logits(x), axis=-1)

    def input_gradient(self, x, labels) -> np.ndarray:
        """The exact gradient of the cross-entropy with respect to the pixels (backpropagation), per image.

        Where a hidden unit's input is exactly 0 the ReLU's derivative is taken
        as 0 (the subgradient scikit-learn uses).
        """
        images, single = as_images(x, unit_range=False)
        labels = np.broadcast_to(np.asarray(labels), (len(images),))
        pre = images.astype(np.float64) @ self.W1.T + self.b1
        residual = softmax(np.maximum(pre, 0.0) @ self.W2.T + self.b2)
        residual[np.arange(len(images)), labels] -= 1.0  # d loss / d logits
        gradient = ((residual @ self.W2) * (pre > 0)) @ self.W1
        return gradient[0] if single else gradient


def from_mlp(classifier) -> ReluNetwork:
    """The network of a fitted scikit-learn ``MLPClassifier`` with one ReLU hidden layer and ten classes."""
    if classifier.activation != "relu" or len(classifier.coefs_) != 2 or len(classifier.classes_) != 10:
        raise ValueError("need an MLPClassifier with one ReLU hidden layer and ten classes")
    (W1, W2), (b1, b2) = classifier.coefs_, classifier.intercepts_
    return ReluNetwork(W1.T.astype(np.float64).copy(), b1.astype(np.float64).copy(),
                       W2.T.astype(np.float64).copy(), b2.astype(np.float64).copy())  # fmt: skip


def train_mlp(dataset, hidden: int = 64, seed: int = 0, epochs: int = 30) -> ReluNetwork:
    """A one-hidden-layer ReLU network trained on ``dataset`` by scikit-learn (Adam, ``epochs`` passes)."""
    import warnings

    from sklearn.exceptions import ConvergenceWarning
    from sklearn.neural_network import MLPClassifier

    classifier = MLPClassifier(hidden_layer_sizes=(hidden,), activation="relu", max_iter=epochs,
                               random_state=seed, batch_size=100, learning_rate_init=1e-3)  # fmt: skip
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)  # a fixed number of passes, as the SGD recipe
        classifier.fit(dataset.x_train, dataset.y_train)
    return from_mlp(classifier)


def sign_direction(network: ReluNetwork, x: np.ndarray, target: int) -> np.ndarray:
    """The targeted gradient sign direction at ``x``: ``-sign(grad of the loss toward target)``."""
    return -np.sign(network.input_gradient(x, target))


def minimal_epsilon(network: ReluNetwork, x, target, *, clip=(0.0, 1.0), max_eps: float = MAX_EPS) -> float:
    """The exact smallest eps at which the gradient sign step ``clip(x + eps * s)`` is read as ``target``.

    The infimum of the eps where the target's score is strictly the highest;
    ``inf`` if none up to ``max_eps``; 0 if the image is already read so. The
    path is walked piece by piece: a piece ends where a pixel stops at the
    clip range or a hidden unit switches, and on each piece every logit is a
    line in eps, so where the target first leads is solved exactly.
    """
    start = as_one_image(x, "minimal_epsilon of the network")
    target = as_digit(target, "target")
    clip = as_clip(clip)
    step = sign_direction(network, start, target)
    if clip is None:
        stops = np.full(784, np.inf)
    else:
        with np.errstate(divide="ignore", invalid="ignore"):
            stops = np.where(step > 0, (clip[1] - start) / step, np.where(step < 0, (start - clip[0]) / -step, np.inf))
    eps = 0.0
    others = np.arange(10) != target
    while eps <= max_eps:
        moving = np.where(stops > eps, step, 0.0)  # this piece's direction (stopped pixels stay)
        point = start + eps * step if clip is None else np.clip(start + eps * step, *clip)  # stopped at the edge
        pre, rate = network.W1 @ point + network.b1, network.W1 @ moving
        at_zero = np.abs(pre) <= 1e-12  # a unit switching just here (rounding): its direction says which way
        with np.errstate(divide="ignore", invalid="ignore"):
            switch = np.where((pre * rate < 0) & ~at_zero, -pre / rate, np.inf)  # how much further each switches
        end = min(np.min(stops[stops > eps], initial=np.inf), eps + np.min(switch, initial=np.inf), max_eps)
        on = np.where(at_zero, rate > 0, pre > 0)  # the units active on this piece
        z0 = network.W2 @ (pre * on) + network.b2
        dz = network.W2 @ (rate * on)
        lead0, slope = z0[target] - z0[others], dz[target] - dz[others]  # lead(eps + t) = lead0 + slope t
        low, high = 0.0, end - eps  # where every lead is > 0, within this piece
        for a, b in zip(lead0, slope):
            if b > 0:
                low = max(low, -a / b)
            elif b < 0:
                high = min(high, -a / b)
            elif a <= 0:
                high = -1.0
        if low < high or (low == high and low == 0.0 and (lead0 > 0).all()):
            return float(eps + low)
        if end >= max_eps:
            return np.inf
        eps = end
    return np.inf


def interval_bounds(network: ReluNetwork, x: np.ndarray, eps: float, clip=(0.0, 1.0)):
    """Interval bounds of the hidden units' inputs and of the logits over the eps-box around ``x`` (kept in
    ``clip``): ``(pre_low, pre_high, z_low, z_high)``, sound for every point of the box."""
    low, high = x - eps, x + eps
    if clip is not None:
        low, high = np.maximum(low, clip[0]), np.minimum(high, clip[1])
    centre, radius = (low + high) / 2, (high - low) / 2
    pre_c, pre_r = network.W1 @ centre + network.b1, np.abs(network.W1) @ radius
    pre_low, pre_high = pre_c - pre_r, pre_c + pre_r
    act_low, act_high = np.maximum(pre_low, 0), np.maximum(pre_high, 0)
    c, r = (act_low + act_high) / 2, (act_high - act_low) / 2
    z_c, z_r = network.W2 @ c + network.b2, np.abs(network.W2) @ r
    return pre_low, pre_high, z_c - z_r, z_c + z_r


def certified_radius(network: ReluNetwork, x, label, *, clip=(0.0, 1.0), tolerance: float = 1e-4) -> float:
    """A sound lower bound on the eps at which any perturbation can change the answer ``label``.

    Interval bound propagation (Gowal et al. 2018), with the logit differences
    bounded through the last layer directly (tighter than two intervals): the
    largest eps, found by bisection to ``tolerance``, at which the lower bound
    of ``z_label - z_j`` stays positive for every j. 0 if the image is not read
    as ``label``.
    """
    image = as_one_image(x, "certified_radius of the network")
    label = as_digit(label, "label")
    clip = as_clip(clip)

    def safe(eps: float) -> bool:
        pre_low, pre_high, _, _ = interval_bounds(network, image, eps, clip)
        act_low, act_high = np.maximum(pre_low, 0), np.maximum(pre_high, 0)
        rows = network.W2[label] - network.W2  # (10, hidden): z_label - z_j = rows . act + (b_label - b_j)
        worst = np.where(rows > 0, rows * act_low, rows * act_high).sum(axis=1) + network.b2[label] - network.b2
        return bool((np.delete(worst, label) > 0).all())

    if not safe(0.0):
        return 0.0
    low, high = 0.0, MAX_EPS
    if safe(high):
        return high
    while high - low > tolerance:
        middle = (low + high) / 2
        low, high = (middle, high) if safe(middle) else (low, middle)
    return low


class NetworkOptimum(tuple):
    """``(eps, image)`` from :func:`optimal_epsilon`, with ``proven`` and ``bracket`` (lower, upper): when a time
    limit stops the search, ``eps`` is the best attack found and the optimum lies in the bracket."""

    def __new__(cls, eps: float, image: np.ndarray, proven: bool, bracket: tuple[float, float]):
        result = super().__new__(cls, (eps, image))
        result.proven, result.bracket = proven, bracket
        return result


def optimal_epsilon(network: ReluNetwork, x, target, *, clip=(0.0, 1.0), time_limit: float = 10.0,
                    margin: float = 1e-6) -> NetworkOptimum:  # fmt: skip
    """The smallest L-inf eps at which *some* perturbation makes the network say ``target``: a mixed-integer
    program (Tjeng, Xiao & Tedrake 2019), solved by scipy's HiGHS.

    One binary per hidden unit whose sign the box cannot fix; its big-M
    constants are interval bounds (:func:`interval_bounds`) over the box of the
    gradient sign step's own minimal eps, an attack that works, so the optimum
    is at most that. The target must lead every other class by ``margin``.
    Returns ``(eps, image)`` with ``.proven``; ``inf`` and the original where
    no eps up to 1 does it.
    """
    from scipy.optimize import Bounds, LinearConstraint, milp
    from scipy.sparse import csr_array, hstack, identity, vstack

    image = as_one_image(x, "optimal_epsilon of the network")
    target = as_digit(target, "target")
    clip = as_clip(clip)
    if network.predict(image) == target and np.sort(network.logits(image))[-2] < network.logits(image)[target]:
        return NetworkOptimum(0.0, image, True, (0.0, 0.0))
    ceiling = minimal_epsilon(network, image, target, clip=clip)
    ceiling = MAX_EPS if not np.isfinite(ceiling) else min(ceiling + 1e-6, MAX_EPS)
    pre_low, pre_high, _, _ = interval_bounds(network, image, ceiling, clip)
    n, hidden = len(image), network.hidden
    # variables: delta (n), eps, a (hidden), z (hidden; binary); rows: |delta_i| <= eps, the units, the target
    variables = n + 1 + 2 * hidden
    eps_at, a_at, z_at = n, n + 1, n + 1 + hidden
    ball = vstack([hstack([identity(n), csr_array(-np.ones((n, 1))), csr_array((n, 2 * hidden))]),
                   hstack([-identity(n), csr_array(-np.ones((n, 1))), csr_array((n, 2 * hidden))])])  # fmt: skip
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
        np.r_[np.maximum(box_low, -ceiling), 0.0, np.zeros(hidden), np.zeros(hidden)],
        np.r_[np.minimum(box_high, ceiling), ceiling, np.maximum(pre_high, 0), np.ones(hidden)],
    )
    cost = np.zeros(variables)
    cost[eps_at] = 1.0
    solved = milp(cost, constraints=LinearConstraint(matrix, lows, highs),
                  integrality=np.r_[np.zeros(n + 1 + hidden), np.ones(hidden)], bounds=bounds,
                  options={"time_limit": time_limit, "mip_rel_gap": 0.0})  # fmt: skip
    if solved.x is None:
        if solved.status == 2:  # infeasible within the ceiling: never up to 1
            return NetworkOptimum(np.inf, image, True, (np.inf, np.inf))
        step = sign_direction(network, image, target)  # the time limit came first: the sign step is an answer
        found = ceiling
        attacked = image + found * step if clip is None else np.clip(image + found * step, *clip)
        return NetworkOptimum(found, attacked, False, (float(getattr(solved, "mip_dual_bound", 0.0) or 0.0), found))
    delta = solved.x[:n]
    eps = max(float(solved.x[eps_at]), float(np.abs(delta).max()))  # HiGHS's tolerance (1e-6): what the image needs
    attacked = image + delta if clip is None else np.clip(image + delta, *clip)
    proven = solved.status == 0
    lower = eps if proven else float(getattr(solved, "mip_dual_bound", 0.0) or 0.0)
    return NetworkOptimum(eps, attacked, proven, (lower, eps))
