"""The gradient sign method on a softmax regression, with exact answers.

Goodfellow, Shlens & Szegedy, "Explaining and Harnessing Adversarial
Examples", ICLR 2015 (https://arxiv.org/abs/1412.6572).

The exact answers about *any* attack (the optimal epsilon, the certified
radius, the fewest pixels) are in :mod:`core.exact`.

The model is linear, so the input gradient of the cross-entropy is
``W^T (p - onehot(label))`` in closed form, and along the attack path
``clip(x + eps * direction)`` every logit is piecewise linear in ``eps``:
pixel ``i`` moves at unit speed until it reaches the edge of the clip range
at ``eps = tau_i``, then stops. :func:`minimal_epsilon` walks those pieces
to find the exact smallest ``eps`` that fools the model.

Every function here takes either model: the :class:`core.model.SoftmaxModel` or the ReLU network of
:mod:`core.network` (``logits``, ``predict``, ``predict_proba``, ``input_gradient``); for the network,
:func:`minimal_epsilon` walks its unit switches too (:func:`core.network.ray_minimal_epsilon`).

Sign convention: a **positive** ``eps`` moves toward the target class,
``x_adv = clip(x - eps * sign(grad_x CE(x, target)))``.
"""

from __future__ import annotations

import numpy as np

from core import network
from core.checks import MAX_EPS, as_clip, as_digit, as_eps, as_images, as_labels, as_max_eps
from core.errors import BadInput
from core.model import Classifier
from core.path import over_blocks, walk_minimal_epsilon

Model = Classifier  # what every attack here takes: the softmax model or the ReLU network
SOURCE, TARGET = 2, 6  # the original experiment's pair: a 2 made into a 6; the default everywhere
CHUNK = 1024  # images attacked at once by fgsm and pgd: their float64 copies stay a few MB each

__all__ = [
    "MAX_EPS",
    "SOURCE",
    "TARGET",
    "attack_direction",
    "delta_prediction",
    "fgsm",
    "input_gradient",
    "minimal_epsilon",
    "pgd",
]


def input_gradient(model: Model, x, labels) -> np.ndarray:
    """Exact gradient of the cross-entropy with respect to the input pixels.

    Parameters
    ----------
    model : SoftmaxModel or ReluNetwork
    x : ndarray of shape (n, 784) or (784,), pixels in [0, 1]
    labels : int or ndarray of shape (n,)
        The label the cross-entropy is taken against (the target for a
        targeted attack).

    Returns
    -------
    ndarray of shape (n, 784) (or (784,)), float64: ``W^T (p - onehot(labels))`` per image.
    """
    images, single = as_images(x)
    labels = as_labels(labels, len(images))
    gradient = model.input_gradient(images, labels)
    return gradient[0] if single else gradient


def attack_direction(model: Model, x, target) -> np.ndarray:
    """The way each pixel moves as a positive ``eps`` grows: ``-sign(grad_x CE(x, target))``.

    Values in {-1, 0, 1} (float64); 0 where the gradient is exactly zero
    (pixels the training data never inked keep zero weights).
    """
    images, single = as_images(x)
    target = as_digit(target, "target")
    direction = -np.sign(input_gradient(model, images, target))
    return direction[0] if single else direction


def fgsm(model: Model, x, eps, *, target=None, labels=None, clip=(0.0, 1.0)) -> np.ndarray:
    """The fast gradient sign method.

    Parameters
    ----------
    model : SoftmaxModel or ReluNetwork
    x : ndarray of shape (n, 784) or (784,), pixels in [0, 1]; never mutated.
    eps : float or ndarray of shape (n,)
        Step size in pixel units, in [-1, 1]. Positive moves toward ``target``
        (targeted) or away from the true label (untargeted).
    target : int, optional
        Targeted attack: ``x - eps * sign(grad_x CE(x, target))``.
    labels : int or ndarray of shape (n,), optional
        Untargeted attack against these labels: ``x + eps * sign(grad_x CE(x, labels))``;
        defaults to the model's own predictions. Ignored with ``target``.
    clip : (low, high) or None
        Keep pixels in range; ``None`` reproduces the seed (pixels may leave [0, 1]).

    Returns
    -------
    ndarray of the same shape as ``x`` (float64 for float64 input, else float32).
    """
    images, single = as_images(x)
    clip = as_clip(clip)
    steps = as_eps(eps, len(images))
    if len(images) > CHUNK:  # a whole test set: float64 copies of one chunk at a time, not of all of it
        if target is None:
            labels = model.predict(images) if labels is None else as_labels(labels, len(images))
        adversarial = np.empty(images.shape, images.dtype)
        for start in range(0, len(images), CHUNK):
            part = slice(start, start + CHUNK)
            adversarial[part] = fgsm(
                model,
                images[part],
                steps[part],
                target=target,
                labels=None if labels is None else labels[part],
                clip=clip,
            )
        return adversarial
    if target is not None:
        direction = attack_direction(model, images, target)
    else:
        labels = model.predict(images) if labels is None else labels
        direction = np.sign(input_gradient(model, images, labels))
    adversarial = images + steps[:, None] * direction
    if clip is not None:
        np.clip(adversarial, *clip, out=adversarial)
    adversarial = adversarial.astype(images.dtype, copy=False)
    return adversarial[0] if single else adversarial


def delta_prediction(model: Model, x, target) -> np.ndarray:
    """The class the model gives the attack direction image alone (the seed's "Delta")."""
    images, single = as_images(x)
    predicted = model.predict(attack_direction(model, images, target))
    return predicted[0] if single else predicted


def minimal_epsilon(model: Model, x, target, *, clip=(0.0, 1.0), max_eps: float = MAX_EPS) -> np.ndarray:
    """The exact smallest ``eps >= 0`` at which the attacked image is classified as ``target``.

    "Classified as" means the target's score is strictly the highest; the
    answer is the infimum of such ``eps`` (the model is fooled just above it,
    and the target ties the best other class at it). Exact: the logits are
    piecewise linear in ``eps``, with a breakpoint where a pixel stops at the
    clip range; on each piece the condition is a few linear inequalities.
    See :mod:`core.path`: a few array passes per block of images, blocks on all cores.

    Parameters
    ----------
    model : SoftmaxModel or ReluNetwork
    x : ndarray of shape (n, 784) or (784,)
    target : int
    clip : (low, high) or None
    max_eps : float in [0, 1]
        Search up to this value; beyond it the answer is ``inf``.

    Returns
    -------
    ndarray of shape (n,) float64 (a float for one image); ``inf`` where no
    ``eps`` in [0, max_eps] fools the model.
    """
    images, single = as_images(x)
    target = as_digit(target, "target")
    clip = as_clip(clip)
    if not model.linear:  # its own walk: unit switches as well as pixel stops, one image at a time
        result = np.array(
            [network.ray_minimal_epsilon(model, image, target, clip=clip, max_eps=max_eps) for image in images]
        )
        return float(result[0]) if single else result
    blocks = over_blocks(model, images, target, clip, walk_minimal_epsilon, target, as_max_eps(max_eps))
    result = np.concatenate(blocks) if blocks else np.zeros(0)
    return float(result[0]) if single else result


# --- iterated: BIM / PGD (the exact worst case, the certificate and the fewest pixels are in core.exact) ------


def pgd(
    model: Model,
    x,
    eps,
    *,
    target=None,
    labels=None,
    steps: int = 10,
    step_size=None,
    clip=(0.0, 1.0),
    random_start: bool = False,
    seed: int = 0,
    keep_best: bool = False,
) -> np.ndarray:
    """The iterative gradient sign method: BIM, or PGD with ``random_start``.

    Each of ``steps`` steps moves every pixel by ``step_size`` along the
    gradient sign (toward ``target``; away from ``labels``, by default the
    model's own answers, when untargeted), then projects back into the
    eps-ball around ``x`` and into ``clip``: IBM ART's
    ``BasicIterativeMethod`` / ``ProjectedGradientDescent`` semantics.
    ``step_size`` defaults to ``2.5 * eps / steps`` (Madry et al., 2018).
    For a linear model it can approach the exact optimum
    (:func:`optimal_epsilon`) but never beat it.

    Its steps of ``2.5 * eps / steps`` can overshoot and come back, so the
    last iterate may do worse than one gradient sign step of ``eps``. With
    ``keep_best`` it starts from that sign step instead and returns, per
    image, the best of its iterates (the start included): the one with the
    largest lead of the target over every other class (untargeted: of the best
    other class over the label). It is then never worse than the sign step.
    """
    images, single = as_images(x)
    clip = as_clip(clip)
    steps_ = as_eps(eps, len(images))[:, None]
    if not isinstance(steps, int) or isinstance(steps, bool) or steps < 1:
        raise BadInput(f"steps must be a whole number of at least 1, got {steps!r}")
    size = 2.5 * steps_ / steps if step_size is None else as_eps(step_size, len(images))[:, None]
    if target is not None:
        target = as_digit(target, "target")
    else:
        labels = model.predict(images) if labels is None else as_labels(labels, len(images))
    if len(images) > CHUNK:  # a whole test set: float64 copies of one chunk at a time, not of all of it
        adversarial = np.empty(images.shape, images.dtype)
        for begin in range(0, len(images), CHUNK):
            part = slice(begin, begin + CHUNK)
            adversarial[part] = pgd(
                model,
                images[part],
                steps_[part, 0],
                target=target,
                labels=None if labels is None else labels[part],
                steps=steps,
                step_size=size[part, 0],
                clip=clip,
                random_start=random_start,
                seed=seed + begin,
                keep_best=keep_best,
            )
        return adversarial
    start = images.astype(np.float64)
    radius = np.abs(steps_)
    current = start.copy()
    if random_start:  # a uniform point of the eps-ball
        current += np.random.default_rng(seed).uniform(-1.0, 1.0, current.shape) * radius
        if clip is not None:
            np.clip(current, *clip, out=current)
    # The iterates are ours, not a visitor's input: without clipping they leave [0, 1] by design, so the
    # gradient is taken straight from the logits rather than through input_gradient's range check.
    toward = np.full(len(images), target) if target is not None else labels
    sign = -1.0 if target is not None else 1.0  # down the loss toward the target, up it away from the label

    def step_from(point: np.ndarray, by: np.ndarray) -> np.ndarray:
        point = point + sign * by * np.sign(model.input_gradient(point, toward))
        np.clip(point, start - radius, start + radius, out=point)  # back into the eps-ball
        return np.clip(point, *clip, out=point) if clip is not None else point

    def lead(point: np.ndarray) -> np.ndarray:
        z = model.logits(point)
        mine = z[np.arange(len(z)), toward]
        z[np.arange(len(z)), toward] = -np.inf
        return (mine - z.max(axis=1)) * -sign  # targeted: the target's lead; untargeted: the best rival's

    if keep_best:
        if random_start:
            raise BadInput("keep_best starts from the gradient sign step: it takes no random start")
        current = step_from(current, radius)  # the gradient sign step itself
        best, best_lead = current.copy(), lead(current)
    for _ in range(steps):
        current = step_from(current, size)
        if keep_best:
            now = lead(current)
            better = now > best_lead
            best[better], best_lead[better] = current[better], now[better]
    adversarial = (best if keep_best else current).astype(images.dtype, copy=False)
    return adversarial[0] if single else adversarial
