"""A small ReLU network beside the linear model: trained by scikit-learn, and its exact gradient sign attack.

:class:`core.model.ReluNetwork` is one hidden layer, ``logits(x) = W2 relu(W1 x + b1) + b2``.
Along the gradient sign ray ``x(eps) = clip(x + eps * s)`` every pixel moves
linearly until it stops at the clip range, and every hidden unit is linear
until it switches on or off, so the logits are piecewise linear in eps with
breakpoints that can be computed: :func:`ray_minimal_epsilon` walks them in order
and is exact, as the linear model's walk is (Goodfellow et al. 2015: networks
are fooled *because* they are piecewise linear). What holds for *any* attack
(certified bounds, the best attack) is in :mod:`core.network_exact`.
"""

from __future__ import annotations

import time

import numpy as np

from core.checks import MAX_EPS, as_clip, as_digit, as_one_image
from core.model import EpochMetrics, ReluNetwork, TrainingResult, evaluated

__all__ = ["ReluNetwork", "from_mlp", "ray_minimal_epsilon", "sign_direction", "sign_step", "train_mlp"]


def from_mlp(classifier) -> ReluNetwork:
    """The network of a fitted scikit-learn ``MLPClassifier`` with one ReLU hidden layer and ten classes."""
    if classifier.activation != "relu" or len(classifier.coefs_) != 2 or len(classifier.classes_) != 10:
        raise ValueError("need an MLPClassifier with one ReLU hidden layer and ten classes")
    (W1, W2), (b1, b2) = classifier.coefs_, classifier.intercepts_
    return ReluNetwork(
        W1.T.astype(np.float64).copy(),
        b1.astype(np.float64).copy(),
        W2.T.astype(np.float64).copy(),
        b2.astype(np.float64).copy(),
    )


def train_mlp(dataset, hidden: int = 64, seed: int = 0, epochs: int = 25, *, on_epoch=None) -> TrainingResult:
    """A one-hidden-layer ReLU network trained on ``dataset`` by scikit-learn's ``MLPClassifier``: Adam (step
    1e-3, batches of 100, its default L2 of 1e-4), one ``partial_fit`` pass per epoch, ``on_epoch(epoch, total,
    metrics)`` after each. Returns a :class:`core.model.TrainingResult` whose ``model`` is the network."""
    from sklearn.neural_network import MLPClassifier  # the app server never imports scikit-learn: the child does

    start = time.perf_counter()
    classifier = MLPClassifier(
        hidden_layer_sizes=(hidden,),
        activation="relu",
        solver="adam",
        batch_size=100,
        learning_rate_init=1e-3,
        random_state=np.random.RandomState(seed),
    )
    history, classes = [], np.arange(10)
    for epoch in range(1, epochs + 1):
        classifier.partial_fit(dataset.x_train, dataset.y_train, classes=classes)
        network = from_mlp(classifier)
        accuracy = [
            float(np.mean(network.predict(x) == y))
            for x, y in ((dataset.x_train, dataset.y_train), (dataset.x_test, dataset.y_test))
        ]
        history.append(EpochMetrics(epoch, float(classifier.loss_), *accuracy))
        if on_epoch is not None:
            on_epoch(epoch, epochs, history[-1])
    return evaluated(network, "adam", history, time.perf_counter() - start, dataset.x_test, dataset.y_test)


def sign_direction(network: ReluNetwork, x: np.ndarray, target: int) -> np.ndarray:
    """The targeted gradient sign direction at ``x``: ``-sign(grad of the loss toward target)``."""
    return -np.sign(network.input_gradient(x, target))


def sign_step(network: ReluNetwork, x: np.ndarray, target: int, eps: float, clip) -> np.ndarray:
    step = x + eps * sign_direction(network, x, target)
    return step if clip is None else np.clip(step, *clip)


def ray_minimal_epsilon(network: ReluNetwork, x, target, *, clip=(0.0, 1.0), max_eps: float = MAX_EPS) -> float:
    """The exact smallest eps at which the gradient sign step ``clip(x + eps * s)`` is read as ``target``.

    The infimum of the eps where the target's score is strictly the highest;
    ``inf`` if none up to ``max_eps``; 0 if the image is already read so. The
    path is walked piece by piece: a piece ends where a pixel stops at the
    clip range or a hidden unit switches, and on each piece every logit is a
    line in eps, so where the target first leads is solved exactly.
    """
    start = as_one_image(x, "ray_minimal_epsilon of the network")
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
