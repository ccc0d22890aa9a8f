"""Defenses: training a softmax regression on the exact worst case inside the eps-ball, and L1 weight decay.

For a linear model the attack that most helps a rival class ``j`` over the
true class ``y`` within ``|delta|_inf <= eps`` (and the clip range) has a
closed form: each pixel moves by eps along the sign of ``w_j - w_y`` and
stops at the edge of the range (:func:`core.exact.clipped_sign_step`). It
is what the gradient sign attack does on the two-class model of ``y``
against ``j``, and it raises the rival's logit by

    max over delta of (w_j - w_y) . delta = relu(w_j - w_y) . up + relu(w_y - w_j) . down

(``up``/``down`` how far each pixel may move up/down: ``min(eps, room)``).
These are the *worst-case logits* (:func:`worst_case_logits`); the true
class wins all of them exactly when no perturbation of size ``eps`` changes
the answer, so training on them is training for the certified accuracy
itself. Goodfellow, Shlens & Szegedy (2015, section 5) derive the same
L1-like penalty for logistic regression; the gradient sign attack on the
full ten-class model only approximates it (each step's image is a guess at
one worst case for all nine rivals at once).
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from core.checks import as_clip, as_eps, as_images, as_labels
from core.model import SoftmaxModel, softmax


def _reach(images: np.ndarray, eps: float, clip) -> np.ndarray:
    """How far each pixel may move up, then down, within ``eps`` and the clip range: (n, 2 * 784), all >= 0."""
    pixels = images.shape[1]
    reach = np.empty((len(images), 2 * pixels))
    if clip is None:
        reach.fill(eps)
    else:  # written in place: up = min(eps, high - x), down = min(eps, x - low)
        np.subtract(clip[1], images, out=reach[:, :pixels])
        np.subtract(images, clip[0], out=reach[:, pixels:])
        np.minimum(reach, eps, out=reach)
    return reach


def _worst_case(W: np.ndarray, z: np.ndarray, images: np.ndarray, labels: np.ndarray, eps: float, clip):
    """The worst-case logits of images sorted by label (``z`` their logits), and what their gradient needs.

    Images of one class ``c`` share their nine leads ``w_j - w_c``: the best
    perturbation raises rival j's logit by ``rise . up + fall . down`` (the
    lead's positive and negative parts), one matrix product per class over
    the class's rows side by side with both rooms (``reach``, (n, 2 * 784)).
    """
    reach = _reach(images, eps, clip)
    lead = W[None, :, :] - W[:, None, :]  # (10, 10, 784): [c, j] is w_j - w_c
    rise = np.maximum(lead, 0.0)
    parts = np.concatenate([rise, rise.transpose(1, 0, 2)], axis=2)  # and the negative part: [j, c] is w_c - w_j
    edges = np.concatenate([[0], np.cumsum(np.bincount(labels, minlength=10))])
    z = z.copy()
    for c in range(10):
        if edges[c + 1] > edges[c]:
            rows = slice(edges[c], edges[c + 1])
            z[rows] += reach[rows] @ parts[c].T
    return z, reach, lead, edges


def worst_case_logits(model: SoftmaxModel, x, labels, eps, *, clip=(0.0, 1.0)) -> np.ndarray:
    """Per image, each rival's logit at the perturbation that helps it most against the true class: (n, 10).

    Column ``labels[i]`` keeps the true logit. Column ``j`` is ``z_j`` at
    ``x + delta_j`` minus the change of ``z_y`` there, i.e. ``z_y`` plus the
    best lead of ``j`` over ``y`` within ``|delta| <= eps`` inside ``clip``.
    The true class scores strictly highest in a row exactly when no
    perturbation of size ``eps`` can change the answer.
    """
    images, single = as_images(x)
    labels = as_labels(labels, len(images))
    step = float(as_eps(eps, 1)[0])
    order = np.argsort(labels, kind="stable")
    sorted_images = images[order].astype(np.float64)
    z = np.empty((len(images), 10))
    z[order] = _worst_case(
        model.W, model.logits(sorted_images), sorted_images, labels[order], abs(step), as_clip(clip)
    )[0]
    return z[0] if single else z


def worst_case_inputs(model: SoftmaxModel, x, labels, eps, *, clip=(0.0, 1.0)) -> np.ndarray:
    """The worst-case input against each rival: (n, 10, 784); the true class's own slot holds the image itself."""
    images, _ = as_images(x)
    labels = as_labels(labels, len(images))
    images = images.astype(np.float64)
    up, down = np.split(_reach(images, abs(float(as_eps(eps, 1)[0])), as_clip(clip)), 2, axis=1)
    lead = model.W[None, :, :] - model.W[labels][:, None, :]  # (n, 10, 784)
    return images[:, None, :] + np.where(lead > 0, up[:, None, :], np.where(lead < 0, -down[:, None, :], 0.0))


def mean_pair_reach(model: SoftmaxModel) -> float:
    """How far a perturbation of size 1 can move one class's logit past another's, without clipping, on average
    over the 90 ordered pairs: the mean of ``|w_j - w_k|_1`` (an attack of size eps moves it eps times as far).

    A defense that shrinks this number makes every unclipped attack of a given size move the scores less.
    """
    W = np.asarray(model.W, dtype=np.float64)
    return float(np.abs(W[:, None, :] - W[None, :, :]).sum() / (len(W) * (len(W) - 1)))


def loss_and_gradient(W: np.ndarray, b: np.ndarray, images: np.ndarray, labels: np.ndarray, adversarial_eps: float):
    """The training loss of one mini-batch and its gradient with respect to ``W`` and ``b``.

    The loss is the mean cross-entropy of the clean images, plus (with
    ``adversarial_eps > 0``) the mean cross-entropy of their worst-case
    logits inside [0, 1]: each image counts twice, as it is and at its worst.
    Where a lead is exactly zero (a pixel no class has weighed yet) its
    worst case does not move it, so such weights stay zero.
    """
    if adversarial_eps > 0:  # grouped by class (the mean does not care about the order)
        order = np.argsort(labels, kind="stable")
        images, labels = images[order], labels[order]
    n, rows = len(labels), np.arange(len(labels))
    z = images @ W.T + b
    p = softmax(z)
    loss = -np.log(p[rows, labels]).mean()
    residual = p
    residual[rows, labels] -= 1.0
    if adversarial_eps > 0:
        worst, reach, lead, edges = _worst_case(W, z, images, labels, adversarial_eps, (0.0, 1.0))
        worst = softmax(worst)
        loss += -np.log(worst[rows, labels]).mean()
        worst[rows, labels] -= 1.0
        residual += worst  # z'_j = w_j.(x + delta_j) - w_c.delta_j, delta_j = +up or -down per pixel
        pulls = np.zeros((10, 10, reach.shape[1]))  # [c, j]: rival j's residuals times both rooms, over class c
        for c in range(10):
            if edges[c + 1] > edges[c]:
                chosen = slice(edges[c], edges[c + 1])
                np.matmul(worst[chosen].T, reach[chosen], out=pulls[c])
        pixels = lead.shape[2]
        rising = lead > 0  # and lead[c, j] < 0 exactly where lead[j, c] > 0
        moved = rising * pulls[:, :, :pixels] - rising.transpose(1, 0, 2) * pulls[:, :, pixels:]
        extra = moved.sum(axis=0) - moved.sum(axis=1)  # + for the rival j, - for the true class c
    residual /= n
    grad_W, grad_b = residual.T @ images, residual.sum(axis=0)
    if adversarial_eps > 0:
        grad_W += extra / n
    return float(loss), grad_W, grad_b


def defended_sgd(
    x_train: np.ndarray,
    y_train: np.ndarray,
    *,
    epochs: int,
    learning_rate: float,
    batch_size: int,
    seed: int,
    adversarial_eps: float,
    l1: float,
    on_epoch: Callable[[int, SoftmaxModel, float], None],
) -> SoftmaxModel:
    """Mini-batch SGD from zero weights on :func:`loss_and_gradient`, with L1 weight decay ``l1``.

    The seed's recipe (zero start, shuffled batches, the learning rate) with
    two changes a defense needs: the rate decays linearly to zero over the
    epochs (the worst-case loss keeps moving; a decaying rate lets it settle),
    and L1 decay is a proximal step after each update (weights shrink by
    ``rate * l1`` toward zero and stop there, so unused pixels end exactly at
    zero). scikit-learn has no loss at an attacked input, so this loop is
    ours; ``on_epoch(epoch, model, loss)`` after each epoch.
    """
    rng = np.random.default_rng(seed)
    W, b = np.zeros((10, x_train.shape[1])), np.zeros(10)
    n = len(y_train)
    for epoch in range(1, epochs + 1):
        rate = learning_rate * (1 - (epoch - 1) / epochs)
        order = rng.permutation(n)
        total = 0.0
        for start in range(0, n, batch_size):
            chosen = order[start : start + batch_size]
            loss, grad_W, grad_b = loss_and_gradient(
                W, b, x_train[chosen].astype(np.float64), y_train[chosen], adversarial_eps
            )
            W -= rate * grad_W
            b -= rate * grad_b
            if l1 > 0:
                W = np.sign(W) * np.maximum(np.abs(W) - rate * l1, 0.0)
            total += loss * len(chosen)
        on_epoch(epoch, SoftmaxModel(W, b), total / n + l1 * float(np.abs(W).sum()))
    return SoftmaxModel(W, b)
