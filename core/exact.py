"""Exact answers about any attack on a softmax regression: the optimal epsilon and the certificate.

For one rival class j the best perturbation within ``|delta|_inf <= eps``
(the image kept inside the clip range) is a clipped sign step along
``w_j - w_y`` (:func:`clipped_sign_step`): each pixel moves toward its own
edge of the range and stops there, so the rival's best lead is increasing and
piecewise linear in eps. That gives the certified radius exactly
(:func:`robust_radius`), settles most optimal attacks in closed form
(:func:`optimal_epsilon`, the rest by a 9-row max-min, :mod:`core.maxmin`), the fewest pixels
are :mod:`core.fewest`. The gradient sign family these bound is
:mod:`core.attack`.
"""

from __future__ import annotations

import numpy as np

from core import stopping
from core.checks import MAX_EPS, as_clip, as_digit, as_images, as_labels, as_max_eps, as_one_image
from core.defense import worst_case_inputs, worst_case_logits
from core.errors import BadInput
from core.maxmin import NotConverged, optimal_by_max_min
from core.model import SoftmaxModel
from core.norms import smallest_change
from core.path import BLOCK, first_slope, on_all_cores

__all__ = ["clipped_sign_step", "minimal_perturbation", "optimal_epsilon", "robust_radius", "worst_case"]

NORMS = (1, 2, np.inf)  # the sizes minimal_perturbation measures a change by (L0, the fewest pixels: core.fewest)


def robust_radius(model: SoftmaxModel, x, labels, *, clip=(0.0, 1.0), max_eps: float = MAX_EPS) -> np.ndarray:
    """The certified radius: the exact smallest eps at which *some* perturbation changes the answer.

    Per image, the smallest ``eps`` such that a perturbation with
    ``|delta|_inf <= eps`` (keeping the image inside ``clip``) makes some class
    other than ``labels`` score at least as high: 0 for images already
    misclassified (or tied), ``inf`` if none up to ``max_eps``. Below it no
    attack of any kind (gradient sign, iterative, optimal) changes the answer.

    For one competitor j the best perturbation is a clipped sign step along
    ``w_j - w_y``: each pixel moves toward its own edge of the clip range and
    stops there, so the best margin is increasing and piecewise linear in eps,
    with a breakpoint where a grey pixel reaches its edge. The radius is the
    first root over the nine competitors, found exactly on sorted breakpoints.
    """
    images, single = as_images(x)
    labels = as_labels(labels, len(images))
    clip = as_clip(clip)
    max_eps = as_max_eps(max_eps)
    if len(images) > BLOCK:  # blocks side by side on all cores
        parts = on_all_cores(
            lambda start: robust_radius(
                model, images[start : start + BLOCK], labels[start : start + BLOCK], clip=clip, max_eps=max_eps
            ),
            list(range(0, len(images), BLOCK)),
        )
        return np.concatenate(parts)
    logits = model.logits(images)
    n = len(images)
    radius = np.full(n, np.inf)
    if n == 0:
        return radius
    rows = np.arange(n)
    tied = (logits >= logits[rows, labels][:, None]) & (np.arange(10)[None, :] != labels[:, None])
    radius[tied.any(axis=1)] = 0.0
    up, down, column, present, value, width = _grey_rows(images, clip)
    margin = logits - logits[rows, labels][:, None]  # (n, 10): each competitor's lead at eps = 0 (< 0)
    # before any pixel stops, every pixel with room moves toward its edge: the lead's slope, (n, 10)
    rise = np.empty((n, 10))
    for j in range(10):  # competitor j over each possible true class: ten leads, picked by label
        rise[:, j] = first_slope(up, down, (model.W[j] - model.W).T)[rows, labels]
    # the lead is concave in eps, so it never beats its first line: no root before -margin / rise.
    # Competitors are visited in the order of that bound and skipped once it passes the best root.
    with np.errstate(divide="ignore", invalid="ignore"):
        bound = np.where(rise > 0, -margin / rise, np.inf)
    bound[rows, labels] = np.inf
    bound[radius == 0] = np.inf
    for j, wanted in zip(np.argsort(bound, axis=1).T, np.sort(bound, axis=1).T):
        chosen = np.flatnonzero(wanted < np.minimum(radius, max_eps * (1 + 1e-12) + 1e-12))
        if not len(chosen):
            break
        radius[chosen] = np.minimum(
            radius[chosen],
            _first_root(model, clip, chosen, j[chosen], labels, margin, rise, column, present, value, width),
        )
    radius = np.where(radius <= max_eps, radius, np.inf)
    return float(radius[0]) if single else radius


def clipped_sign_step(pixels: np.ndarray, lead: np.ndarray, eps, clip) -> np.ndarray:
    """The perturbation that raises ``lead . x`` most within ``|delta| <= eps``: each pixel moves by eps along the
    sign of its weight, stopping at the clip range (no clip: all the way)."""
    if clip is None:
        return np.sign(lead) * eps
    low, high = clip
    return np.where(lead > 0, np.minimum(eps, high - pixels), -np.minimum(eps, pixels - low))


def _grey_rows(images: np.ndarray, clip):
    """Which pixels have room up and down (n, 784 floats), and each image's grey pixels in a row of its own.

    The rows (column index, presence, value; padding: column 0, absent) hold
    the pixels strictly inside ``clip``: the only ones that stop on the way.
    """
    pixels = images.astype(np.float64)
    n = len(pixels)
    low, high = clip if clip is not None else (-np.inf, np.inf)
    up, down = (pixels < high).astype(np.float64), (pixels > low).astype(np.float64)  # room to move up / down
    grey = (up * down > 0) if clip is not None else np.zeros(up.shape, bool)
    width = int(grey.sum(axis=1).max(initial=0))
    rank = np.cumsum(grey, axis=1) - 1
    column = np.zeros((n, max(width, 1)), np.int64)
    present = np.zeros((n, max(width, 1)), bool)
    r, c = np.nonzero(grey)
    column[r, rank[r, c]], present[r, rank[r, c]] = c, True
    return up, down, column, present, np.take_along_axis(pixels, column, axis=1), width


def _first_root(model, clip, chosen, rival, labels, margin, rise, column, present, value, width) -> np.ndarray:
    """Where the best lead of class ``rival`` over the true class first reaches 0, for the images ``chosen``."""
    lead0, slope0 = margin[chosen, rival], rise[chosen, rival]
    if clip is None:  # nothing ever stops: one straight line
        with np.errstate(divide="ignore", invalid="ignore"):
            return np.where(slope0 > 0, -lead0 / slope0, np.inf)
    low, high = clip
    column, present, value = column[chosen], present[chosen], value[chosen]
    weight = model.W[rival[:, None], column] - model.W[labels[chosen][:, None], column]
    room = np.where(present, np.where(weight > 0, high - value, value - low), 2.0 * (high - low) + 1.0)
    weight = np.where(present, np.abs(weight), 0.0)  # padding: a pixel of no weight, beyond every stop
    order = np.argsort(room, axis=1)
    room, weight = np.take_along_axis(room, order, axis=1), np.take_along_axis(weight, order, axis=1)
    stopped = np.cumsum(weight, axis=1)  # slope lost once each pixel has stopped
    gained = np.cumsum(weight * room, axis=1)
    at_stop = lead0[:, None] + gained + room * (slope0[:, None] - stopped)
    reached = (at_stop >= 0) & np.take_along_axis(present, order, axis=1)
    piece = np.where(reached.any(axis=1), reached.argmax(axis=1), width)  # the piece where 0 is reached
    before = np.arange(len(chosen)), piece  # the sums over the stops before that piece
    slope = slope0 - np.pad(stopped, ((0, 0), (1, 0)))[before]
    level = lead0 + np.pad(gained, ((0, 0), (1, 0)))[before]  # the piece's line: level + eps * slope
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(level >= 0, 0.0, np.where(slope > 0, -level / slope, np.inf))


def optimal_epsilon(
    model: SoftmaxModel,
    x,
    target,
    *,
    clip=(0.0, 1.0),
    max_eps: float = MAX_EPS,
    return_images: bool = False,
    margin: float = 0.0,
):
    """The exact smallest L-inf epsilon at which *any* perturbation makes ``target`` score at least as high as all.

    The linear program: minimise eps subject to ``|delta_i| <= eps``,
    ``x + delta`` inside ``clip`` and, for every other class j,
    ``(w_t - w_j) . (x + delta) + b_t - b_j >= 0``. Most images are settled
    in closed form, all at once: each class alone needs a known eps (a
    clipped sign step, as in :func:`robust_radius`), so the optimum is at
    least the largest of these, and it is that value whenever that class's
    sign step leaves every other class behind too (one binding class). The
    rest, where several classes bind, are solved exactly by the max-min of
    :mod:`core.maxmin` (a 9-row simplex and Newton's method on eps), with
    the general LP (scipy's HiGHS) only as a safety net. It is never above
    :func:`minimal_epsilon` (the gradient sign step is one such perturbation)
    and never below :func:`robust_radius` toward that class. ``inf`` where no
    eps up to ``max_eps`` does it; 0 where the target already wins (or ties).

    Returns
    -------
    ndarray of shape (n,) (a float for one image); with ``return_images``,
    also the optimal adversarial images, float64 (the original where inf).
    At the optimum the target ties the best other class; ``margin`` > 0
    asks for a strict win by that much (an image the model calls ``target``).
    """
    images, single = as_images(x)
    target = as_digit(target, "target")
    clip = as_clip(clip)
    max_eps = as_max_eps(max_eps)
    result, optimal, solved, bound, binding = _optimal_one_rival(model, images, target, clip, margin)
    others = [j for j in range(10) if j != target]
    rows = model.W[target] - model.W[others]
    for i in np.flatnonzero(~solved):  # more than one class binds: the max-min, from the one-class bound up
        stopping.check()  # a computation nobody waits for any more stops here
        image = images[i].astype(np.float64)
        leads = rows @ image + model.b[target] - model.b[others] - margin
        try:
            first = int(binding[i]) - int(binding[i] > target)  # the class that needs the most, among the others
            eps, delta = optimal_by_max_min(rows, leads, image, clip, bound[i], max_eps, first)
        except NotConverged:  # a safety net never seen on MNIST or Fashion-MNIST: the general LP
            eps, delta = _optimal_lp(model, image, target, clip, max_eps, margin)
        result[i] = eps
        optimal[i] = image if delta is None else image + delta
    if clip is not None:
        np.clip(optimal, *clip, out=optimal)
    result = np.where(result <= max_eps, result, np.inf)
    optimal[np.isinf(result)] = images[np.isinf(result)]
    if single:
        return (float(result[0]), optimal[0]) if return_images else float(result[0])
    return (result, optimal) if return_images else result


def _optimal_one_rival(model, images, target, clip, slack):
    """The optimum where one class binds, in closed form; which images it settles; every image's lower bound.

    Each other class j alone needs at least eps_j: the first root of the
    target's best lead over j, a clipped sign step along ``w_t - w_j`` (as in
    :func:`robust_radius`). So the optimum is at least ``max_j eps_j``; when
    the sign step for the class that needs the most leaves every other class
    behind too, that bound is reached and is the exact optimum.
    """
    n = len(images)
    pixels = images.astype(np.float64)
    logits = model.logits(images)
    up, down, column, present, value, width = _grey_rows(images, clip)
    roots = np.full((n, 10), -np.inf)
    targets = np.full(n, target)
    for rival in range(10):
        if rival == target:
            continue
        lead = model.W[target] - model.W[rival]
        margin, rise = np.zeros((n, 10)), np.zeros((n, 10))
        margin[:, target] = logits[:, target] - logits[:, rival] - slack
        rise[:, target] = first_slope(up, down, lead[:, None])[:, 0]
        root = _first_root(
            model, clip, np.arange(n), targets, np.full(n, rival), margin, rise, column, present, value, width
        )
        roots[:, rival] = np.where(margin[:, target] >= 0, 0.0, root)
    binding = roots.argmax(axis=1)
    eps = roots[np.arange(n), binding]
    step = clipped_sign_step(pixels, model.W[target][None, :] - model.W[binding], eps[:, None], clip)
    attacked = pixels + np.where(np.isfinite(eps)[:, None], step, 0.0)
    z = model.logits(attacked)
    others = [j for j in range(10) if j != target]
    settled = np.isfinite(eps) & ((z[:, [target]] - z[:, others]).min(axis=1) >= slack - 1e-9)
    settled |= eps == 0
    return np.where(settled, eps, np.inf), np.where(settled[:, None], attacked, pixels), settled, eps, binding


def minimal_perturbation(model: SoftmaxModel, x, target, *, norm, clip=(0.0, 1.0), margin: float = 1e-6):
    """The exact smallest change, measured in ``norm`` (1, 2 or inf), that makes the model read ``target``.

    The image stays inside ``clip`` and the target wins by ``margin`` (in
    logits), so ``predict`` gives it. L-inf is :func:`optimal_epsilon` (up to
    eps 1, the whole pixel range); L2 and L1 are :mod:`core.norms`, each
    exact for the linear model and batched. The fewest pixels (L0) are
    :func:`core.fewest.fewest_pixels`, one image at a time.

    Returns
    -------
    (distance, image): ndarray (n,) and (n, 784) float64 (a float and (784,) for one image); ``inf`` and the
    original image where no image in the clip range is read as ``target``; 0 where it already is.
    """
    images, single = as_images(x)
    target = as_digit(target, "target")
    clip = as_clip(clip)
    if norm not in NORMS or isinstance(norm, bool):
        raise BadInput(f"norm must be 1, 2 or inf, got {norm!r} (the fewest pixels: core.fewest.fewest_pixels)")
    if not (isinstance(margin, (int, float)) and 0 <= margin < 1):
        raise BadInput(f"margin must be a number in [0, 1), got {margin!r}")
    if norm == np.inf:
        distance, image = optimal_epsilon(model, images, target, clip=clip, return_images=True, margin=margin)
    else:
        distance, delta = smallest_change(model, images, target, clip, int(norm), margin)
        image = images.astype(np.float64) + delta
        if clip is not None:
            np.clip(image, *clip, out=image)
    return (float(distance[0]), image[0]) if single else (distance, image)


def optimal_epsilon_lp(model: SoftmaxModel, x, target, *, clip=(0.0, 1.0), max_eps: float = MAX_EPS):
    """:func:`optimal_epsilon` of one image by the general linear program alone (scipy's HiGHS): the reference.

    Returns ``(eps, image)``: ``inf`` and the original where no eps up to ``max_eps`` makes ``target`` tie or win.
    """
    image = as_one_image(x, "optimal_epsilon_lp")
    eps, delta = _optimal_lp(model, image, as_digit(target, "target"), as_clip(clip), as_max_eps(max_eps))
    return eps, image if delta is None else image + delta


def _optimal_lp(model, x, target, clip, max_eps, slack=0.0):
    from scipy.optimize import linprog
    from scipy.sparse import csr_array, hstack, identity, vstack

    others = [j for j in range(10) if j != target]
    lead = model.W[target] - model.W[others]  # (9, 784)
    margin = lead @ x + model.b[target] - model.b[others] - slack
    if (margin >= 0).all():
        return 0.0, np.zeros_like(x)
    n = len(x)
    ones = np.ones((n, 1))
    # rows: -lead . delta <= margin (each class at most tied), then |delta_i| <= eps
    rows = vstack(
        [
            hstack([csr_array(-lead), csr_array((9, 1))]),
            hstack([identity(n, format="csr"), csr_array(-ones)]),
            hstack([-identity(n, format="csr"), csr_array(-ones)]),
        ]
    ).tocsr()
    bounds = [(clip[0] - v, clip[1] - v) for v in x] if clip is not None else [(None, None)] * n
    solved = linprog(
        np.r_[np.zeros(n), 1.0],
        A_ub=rows,
        b_ub=np.r_[margin, np.zeros(2 * n)],
        bounds=[*bounds, (0.0, max_eps)],
        method="highs",
    )
    if solved.status == 2:  # infeasible: not within max_eps
        return np.inf, None
    if solved.status != 0:
        raise RuntimeError(f"the linear program did not solve: {solved.message}")
    return float(solved.x[-1]), solved.x[:-1]


def worst_case(model: SoftmaxModel, x, label: int, eps: float, *, clip=(0.0, 1.0)) -> tuple[np.ndarray, int]:
    """The perturbation of size ``eps`` that brings a rival class closest to ``label``, applied; and that class.

    At the certified radius (:func:`robust_radius`) the rival ties ``label``:
    the image no attack of that size can go past. One image (784,), float64.
    It is the worst case adversarial training trains on
    (:func:`core.defense.worst_case_logits` picks the rival,
    :func:`core.defense.worst_case_inputs` gives its input).
    """
    images, single = as_images(x)
    if not single:
        raise BadInput("worst_case takes one image")
    labels = [as_digit(label, "label")]
    leads = worst_case_logits(model, images, labels, eps, clip=clip)[0]
    leads[labels[0]] = -np.inf
    rival = int(leads.argmax())
    return worst_case_inputs(model, images, labels, eps, clip=clip)[0, rival], rival
