"""How far random noise must go before the answer changes, against the smallest change that does it.

Fawzi, Fawzi & Frossard ("Analysis of classifiers' robustness to adversarial
perturbations", Machine Learning 107, 2018) prove that for a linear
classifier the distance to the boundary along a random direction exceeds
the smallest (adversarial) distance by a factor of about ``sqrt(d)``
(``sqrt(784) = 28``): almost every direction is nearly parallel to the
boundary, and the attack's is the one that is not.

Along ``clip(x + t u)`` (a random unit direction ``u``) each pixel moves at
speed ``|u_i|`` until it reaches its edge of the clip range and stops, so on
a linear model every logit is piecewise linear in ``t``:
:func:`noise_distance` walks those pieces for many directions at once and
finds exactly where another class first ties the original answer. On the
network the logits bend at its units too: there the walk is a fine grid and
bisection (to 1e-9 in ``t``), not a proof.
"""

from __future__ import annotations

import numpy as np

from core import stopping
from core.checks import as_clip, as_images, as_labels, as_one_image
from core.errors import BadInput
from core.exact import minimal_perturbation
from core.model import Classifier
from core.norm_attacks import deepfool, size_where_reached

__all__ = ["nearest_answer", "noise_distance", "random_directions"]

GRID = 400  # the network's walk: points along each direction before bisection
UNCLIPPED_REACH = 1000.0  # the network's walk without a clip range looks this far along each direction


def random_directions(count: int, norm, seed: int = 0) -> np.ndarray:
    """``count`` random unit directions (count, 784): uniform on the L2 sphere, or random signs for L-inf."""
    if not (isinstance(count, int) and 1 <= count <= 10_000):
        raise BadInput(f"count must be a whole number from 1 to 10,000, got {count!r}")
    generator = np.random.default_rng(seed)
    if norm == 2:
        u = generator.standard_normal((count, 784))
        return u / np.linalg.norm(u, axis=1, keepdims=True)
    if norm == np.inf:
        return generator.choice([-1.0, 1.0], size=(count, 784))
    raise BadInput(f"norm must be 2 or inf, got {norm!r}")


def nearest_answer(model: Classifier, x, labels, *, norm, clip=(0.0, 1.0)):
    """The smallest change (in ``norm``) after which another class ties or beats ``labels``: what random noise is
    set against. Exact on the linear model (:func:`core.exact.minimal_perturbation` toward each other class: the
    certified radius in that norm); on the network, DeepFool's toward each other class, an upper bound.

    Returns ``(distance, image, class)``, per image (floats and (784,) for one image).
    """
    images, single = as_images(x)
    labels = as_labels(labels, len(images))
    clip = as_clip(clip)
    distance, found, rival = np.full(len(images), np.inf), images.astype(np.float64), labels.copy()
    for other in range(10):
        stopping.check()
        if model.linear:
            size, image = minimal_perturbation(model, images, other, norm=norm, clip=clip, margin=0.0)
        else:
            size, image = size_where_reached(model, images, deepfool(model, images, other, clip=clip)[1], other, norm)
        better = (labels != other) & (size < distance)
        distance[better], found[better], rival[better] = size[better], image[better], other
    return (float(distance[0]), found[0], int(rival[0])) if single else (distance, found, rival)


def noise_distance(model: Classifier, x, directions: np.ndarray, *, norm, clip=(0.0, 1.0)) -> np.ndarray:
    """For one image, the size (in ``norm``) of the change ``clip(x + t u) - x`` where the answer first changes.

    Per direction ``u`` (rows of ``directions``): the smallest ``t`` at which
    some class ties or beats the model's answer at ``x``, and the change's
    size there. ``inf`` where it never does (every pixel stops at its edge
    first). Exact on the linear model; a grid and bisection on the network.
    """
    image = as_one_image(x, "noise_distance").astype(np.float64)
    clip = as_clip(clip)
    try:
        u = np.atleast_2d(np.asarray(directions, dtype=np.float64))
    except (TypeError, ValueError):
        raise BadInput("directions must be rows of 784 numbers") from None
    if u.ndim != 2 or u.shape[1] != 784 or not np.isfinite(u).all():
        raise BadInput(f"directions must be finite rows of 784, got shape {u.shape}")
    label = int(model.predict(image))
    if clip is None:
        stop = np.full(u.shape, np.inf)
    else:
        room = np.where(u > 0, clip[1] - image, image - clip[0])
        with np.errstate(divide="ignore", invalid="ignore"):
            stop = np.where(u != 0, room / np.abs(u), np.inf)
    t = _crossing_linear(model, image, u, stop, label) if model.linear else _crossing_grid(model, image, u, stop, label)
    change = np.minimum(np.where(np.isfinite(t), t, 0.0)[:, None], stop) * u  # each pixel stops at its edge
    return np.where(np.isfinite(t), np.linalg.norm(change, ord=norm, axis=1), np.inf)


def _crossing_linear(model, image, u, stop, label) -> np.ndarray:
    """The exact first ``t`` where a rival ties ``label`` along each direction, piece by piece (all at once).

    The leads are known at the end of every piece (where a pixel stops); the first piece whose end has a rival
    level or ahead holds the tie, and on that piece every lead is a line in ``t``.
    """
    k = len(u)
    order = np.argsort(stop, axis=1)
    stop = np.take_along_axis(stop, order, axis=1)
    speed = np.take_along_axis(u, order, axis=1)
    lead_rows = model.W - model.W[label]  # (10, 784): each class's lead over the answer, per pixel
    logits = model.logits(image)
    lead0 = logits - logits[label]  # (10,), <= 0
    crossing = np.full(k, np.inf)
    for start in range(0, k, 64):  # (64, 784, 10) at a time: a few MB each
        stopping.check()
        part = slice(start, start + 64)
        rate = speed[part, :, None] * lead_rows.T[order[part]]  # each pixel's rate of change of each lead
        ends = stop[part]
        finite = np.isfinite(ends)
        reach = np.where(finite, ends, 0.0)[:, :, None]
        held = np.cumsum(rate * reach, axis=1)  # the stopped pixels' part, once each has stopped
        total = rate.sum(axis=1)  # (c, 10): the rate while every pixel moves
        moving = total[:, None, :] - np.cumsum(rate, axis=1)  # the rate once the pixels up to here have stopped
        at_end = lead0 + held + reach * moving  # each lead where each piece ends
        at_end[:, :, label] = -np.inf
        crossed = (at_end >= 0).any(axis=2) & finite
        piece = np.where(crossed.any(axis=1), crossed.argmax(axis=1), finite.sum(axis=1))  # (c,)
        rows = np.arange(len(ends))
        before = piece - 1  # the piece starts where the pixel before it stopped (none: at 0)
        first = before < 0
        begin = np.where(first, 0.0, ends[rows, np.maximum(before, 0)])
        base = lead0 + np.where(first[:, None], 0.0, held[rows, np.maximum(before, 0)])
        slope = np.where(first[:, None], total, moving[rows, np.maximum(before, 0)])
        with np.errstate(divide="ignore", invalid="ignore"):
            root = np.where(slope > 0, -base / slope, np.inf)
            root = np.where(base + begin[:, None] * slope >= 0, begin[:, None], root)
        root[:, label] = np.inf
        root = np.where(root >= begin[:, None], root, np.inf)
        crossing[part] = root.min(axis=1)
    return crossing


def _crossing_grid(model, image, u, stop, label) -> np.ndarray:
    """The first ``t`` where a rival ties ``label``: a grid up to where every pixel has stopped (its points at
    quantiles of the pixels' stops), then bisection (every direction's at once)."""
    k = len(u)
    share = np.linspace(0.0, 1.0, GRID + 1)[1:]
    points = np.empty((GRID, u.shape[1]))  # one buffer for every direction's grid: no fresh pages each time

    def changed(logits: np.ndarray) -> np.ndarray:
        own = logits[:, label].copy()
        logits[:, label] = -np.inf
        return logits.max(axis=1) >= own

    low, high = np.zeros(k), np.full(k, np.inf)
    for i in range(k):
        stopping.check()
        # points spread over where the pixels stop (each stop a bend of the path), and up to the last of them
        stops = stop[i][np.isfinite(stop[i])]
        ts = np.quantile(stops, share) * 1.0001 if len(stops) else UNCLIPPED_REACH * share
        np.minimum(ts[:, None], stop[i], out=points)
        points *= u[i]
        points += image
        hit = np.flatnonzero(changed(model.logits(points)))
        if len(hit):
            low[i], high[i] = (ts[hit[0] - 1] if hit[0] > 0 else 0.0), ts[hit[0]]
    open_ = np.isfinite(high)
    while (rows := np.flatnonzero(open_ & (high - low > 1e-9 * np.maximum(high, 1.0)))).size:
        stopping.check()
        middle = (low[rows] + high[rows]) / 2
        point = image + np.minimum(middle[:, None], stop[rows]) * u[rows]
        flipped = changed(model.logits(point))
        high[rows[flipped]], low[rows[~flipped]] = middle[flipped], middle[~flipped]
    return high
