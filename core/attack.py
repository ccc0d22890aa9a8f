"""The gradient sign method on a softmax regression, with exact answers.

Goodfellow, Shlens & Szegedy, "Explaining and Harnessing Adversarial
Examples", ICLR 2015 (https://arxiv.org/abs/1412.6572).

The model is linear, so the input gradient of the cross-entropy is
``W^T (p - onehot(label))`` in closed form, and along the attack path
``clip(x + eps * direction)`` every logit is piecewise linear in ``eps``:
pixel ``i`` moves at unit speed until it reaches the edge of the clip range
at ``eps = tau_i``, then stops. :func:`minimal_epsilon` walks those pieces
to find the exact smallest ``eps`` that fools the model.

Sign convention: a **positive** ``eps`` moves toward the target class,
``x_adv = clip(x - eps * sign(grad_x CE(x, target)))``.
"""

from __future__ import annotations

import warnings

import numpy as np

from core.checks import MAX_EPS, as_clip, as_digit, as_eps, as_images, as_labels, as_max_eps
from core.model import SoftmaxModel, gradient_from_logits
from core.path import BLOCK, first_slope, on_all_cores, over_blocks, walk_minimal_epsilon
from core.shared_work import checkpoint

SOURCE, TARGET = 2, 6  # the original experiment's pair: a 2 made into a 6; the default everywhere
CHUNK = 1024  # images attacked at once by fgsm and pgd: their float64 copies stay a few MB each

__all__ = [
    "MAX_EPS",
    "SOURCE",
    "TARGET",
    "attack_direction",
    "delta_prediction",
    "fewest_pixels",
    "fgsm",
    "input_gradient",
    "minimal_epsilon",
    "optimal_epsilon",
    "pgd",
    "robust_radius",
]


def input_gradient(model: SoftmaxModel, x, labels) -> np.ndarray:
    """Exact gradient of the cross-entropy with respect to the input pixels.

    Parameters
    ----------
    model : SoftmaxModel
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
    gradient = gradient_from_logits(model.W, model.logits(images), labels)
    return gradient[0] if single else gradient


def attack_direction(model: SoftmaxModel, x, target) -> np.ndarray:
    """The way each pixel moves as a positive ``eps`` grows: ``-sign(grad_x CE(x, target))``.

    Values in {-1, 0, 1} (float64); 0 where the gradient is exactly zero
    (pixels the training data never inked keep zero weights).
    """
    images, single = as_images(x)
    target = as_digit(target, "target")
    direction = -np.sign(input_gradient(model, images, target))
    return direction[0] if single else direction


def fgsm(model: SoftmaxModel, x, eps, *, target=None, labels=None, clip=(0.0, 1.0)) -> np.ndarray:
    """The fast gradient sign method.

    Parameters
    ----------
    model : SoftmaxModel
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
            adversarial[part] = fgsm(model, images[part], steps[part], target=target,
                                     labels=None if labels is None else labels[part], clip=clip)  # fmt: skip
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


def delta_prediction(model: SoftmaxModel, x, target) -> np.ndarray:
    """The class the model gives the attack direction image alone (the seed's "Delta")."""
    images, single = as_images(x)
    predicted = model.predict(attack_direction(model, images, target))
    return predicted[0] if single else predicted


def minimal_epsilon(model: SoftmaxModel, x, target, *, clip=(0.0, 1.0), max_eps: float = MAX_EPS) -> np.ndarray:
    """The exact smallest ``eps >= 0`` at which the attacked image is classified as ``target``.

    "Classified as" means the target's score is strictly the highest; the
    answer is the infimum of such ``eps`` (the model is fooled just above it,
    and the target ties the best other class at it). Exact: the logits are
    piecewise linear in ``eps``, with a breakpoint where a pixel stops at the
    clip range; on each piece the condition is a few linear inequalities.
    See :mod:`core.path`: a few array passes per block of images, blocks on all cores.

    Parameters
    ----------
    model : SoftmaxModel
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
    blocks = over_blocks(model, images, target, clip, walk_minimal_epsilon, target, as_max_eps(max_eps))
    result = np.concatenate(blocks) if blocks else np.zeros(0)
    return float(result[0]) if single else result


# --- beyond the gradient sign: the exact worst case, a certificate, iterative and fewest-pixel attacks ---------


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
        parts = on_all_cores(lambda start: robust_radius(model, images[start : start + BLOCK],
                                                         labels[start : start + BLOCK], clip=clip, max_eps=max_eps),
                             list(range(0, len(images), BLOCK)))  # fmt: skip
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
        radius[chosen] = np.minimum(radius[chosen], _first_root(model, clip, chosen, j[chosen], labels, margin,
                                                                 rise, column, present, value, width))  # fmt: skip
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


def pgd(model: SoftmaxModel, x, eps, *, target=None, labels=None, steps: int = 10, step_size=None,
        clip=(0.0, 1.0), random_start: bool = False, seed: int = 0) -> np.ndarray:  # fmt: skip
    """The iterative gradient sign method: BIM, or PGD with ``random_start``.

    Each of ``steps`` steps moves every pixel by ``step_size`` along the
    gradient sign (toward ``target``; away from ``labels``, by default the
    model's own answers, when untargeted), then projects back into the
    eps-ball around ``x`` and into ``clip``: IBM ART's
    ``BasicIterativeMethod`` / ``ProjectedGradientDescent`` semantics.
    ``step_size`` defaults to ``2.5 * eps / steps`` (Madry et al., 2018).
    For a linear model it can approach the exact optimum
    (:func:`optimal_epsilon`) but never beat it.
    """
    images, single = as_images(x)
    clip = as_clip(clip)
    steps_ = as_eps(eps, len(images))[:, None]
    if not isinstance(steps, int) or isinstance(steps, bool) or steps < 1:
        raise ValueError(f"steps must be a whole number of at least 1, got {steps!r}")
    size = 2.5 * steps_ / steps if step_size is None else as_eps(step_size, len(images))[:, None]
    if target is not None:
        target = as_digit(target, "target")
    else:
        labels = model.predict(images) if labels is None else as_labels(labels, len(images))
    if len(images) > CHUNK:  # a whole test set: float64 copies of one chunk at a time, not of all of it
        adversarial = np.empty(images.shape, images.dtype)
        for begin in range(0, len(images), CHUNK):
            part = slice(begin, begin + CHUNK)
            adversarial[part] = pgd(model, images[part], steps_[part, 0], target=target,
                                    labels=None if labels is None else labels[part], steps=steps,
                                    step_size=size[part, 0], clip=clip, random_start=random_start,
                                    seed=seed + begin)  # fmt: skip
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
    for _ in range(steps):
        step = size * np.sign(gradient_from_logits(model.W, model.logits(current), toward))
        if target is not None:
            current -= step
        else:
            current += step
        np.clip(current, start - radius, start + radius, out=current)  # back into the eps-ball
        if clip is not None:
            np.clip(current, *clip, out=current)
    adversarial = current.astype(images.dtype, copy=False)
    return adversarial[0] if single else adversarial


def optimal_epsilon(model: SoftmaxModel, x, target, *, clip=(0.0, 1.0), max_eps: float = MAX_EPS,
                    return_images: bool = False, margin: float = 0.0):  # fmt: skip
    """The exact smallest L-inf epsilon at which *any* perturbation makes ``target`` score at least as high as all.

    The linear program: minimise eps subject to ``|delta_i| <= eps``,
    ``x + delta`` inside ``clip`` and, for every other class j,
    ``(w_t - w_j) . (x + delta) + b_t - b_j >= 0``. Most images are settled
    in closed form, all at once: each class alone needs a known eps (a
    clipped sign step, as in :func:`robust_radius`), so the optimum is at
    least the largest of these, and it is that value whenever that class's
    sign step leaves every other class behind too (one binding class). The
    rest get the LP itself (scipy's HiGHS), one per image. It is never above
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
    result, optimal, solved = _optimal_one_rival(model, images, target, clip, margin)
    for i in np.flatnonzero(~solved):  # more than one class binds: the linear program
        checkpoint()  # a shared computation nobody waits for stops here
        image = images[i].astype(np.float64)
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
    """The optimum where one class binds, in closed form; which images it settles.

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
        root = _first_root(model, clip, np.arange(n), targets, np.full(n, rival), margin, rise, column, present,
                           value, width)  # fmt: skip
        roots[:, rival] = np.where(margin[:, target] >= 0, 0.0, root)
    binding = roots.argmax(axis=1)
    eps = roots[np.arange(n), binding]
    step = clipped_sign_step(pixels, model.W[target][None, :] - model.W[binding], eps[:, None], clip)
    attacked = pixels + np.where(np.isfinite(eps)[:, None], step, 0.0)
    z = model.logits(attacked)
    others = [j for j in range(10) if j != target]
    settled = np.isfinite(eps) & ((z[:, [target]] - z[:, others]).min(axis=1) >= slack - 1e-9)
    settled |= eps == 0
    return np.where(settled, eps, np.inf), np.where(settled[:, None], attacked, pixels), settled


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
    rows = vstack([
        hstack([csr_array(-lead), csr_array((9, 1))]),
        hstack([identity(n, format="csr"), csr_array(-ones)]),
        hstack([-identity(n, format="csr"), csr_array(-ones)]),
    ]).tocsr()  # fmt: skip
    bounds = [(clip[0] - v, clip[1] - v) for v in x] if clip is not None else [(None, None)] * n
    solved = linprog(
        np.r_[np.zeros(n), 1.0], A_ub=rows, b_ub=np.r_[margin, np.zeros(2 * n)],
        bounds=[*bounds, (0.0, max_eps)], method="highs",
    )  # fmt: skip
    if solved.status == 2:  # infeasible: not within max_eps
        return np.inf, None
    if solved.status != 0:
        raise RuntimeError(f"the linear program did not solve: {solved.message}")
    return float(solved.x[-1]), solved.x[:-1]


class FewestPixels(tuple):
    """``(count, image)`` from :func:`fewest_pixels`, and ``proven``: False if a time limit stopped the search."""

    def __new__(cls, count: int, image: np.ndarray, proven: bool):
        result = super().__new__(cls, (count, image))
        result.proven = proven
        return result


def fewest_pixels(model: SoftmaxModel, x, target, *, clip=(0.0, 1.0), time_limit: float = 10.0) -> FewestPixels:
    """The fewest pixels that must change (each freely within ``clip``) for ``target`` to win; and such an image.

    A mixed-integer program (scipy's HiGHS ``milp``): one binary per pixel
    that may move, ``|delta_i| <= range_i * used_i``, every other class at
    most tied by the target (with a margin of 1e-6, so the target really
    wins), minimise the number used. Exact unless ``time_limit`` (seconds)
    stops HiGHS first: then the result's ``proven`` is False (the best found,
    not proven the fewest; a warning says so).

    Returns
    -------
    (count, image) : int, ndarray (784,) float64, with ``.proven``. ``count``
    is -1 and the image the original if no change of any number of pixels
    makes ``target`` win (unclipped: always possible).
    """
    from scipy.optimize import Bounds, LinearConstraint, milp

    images, single = as_images(x)
    if not single:
        raise ValueError("fewest_pixels takes one image")
    target = as_digit(target, "target")
    clip = as_clip(clip) or (-1e6, 1e6)
    image = images[0].astype(np.float64)
    others = [j for j in range(10) if j != target]
    lead = model.W[target] - model.W[others]
    margin = lead @ image + model.b[target] - model.b[others]
    if (margin > 0).all():
        return FewestPixels(0, images[0].astype(np.float64), True)
    n = len(image)
    low, high = clip[0] - image, clip[1] - image
    reach = np.maximum(high, -low)  # the most a pixel can move either way
    eye = np.eye(n)
    constraints = [
        LinearConstraint(np.hstack([lead, np.zeros((9, n))]), lb=1e-6 - margin),  # the target wins
        LinearConstraint(np.hstack([eye, -np.diag(reach)]), ub=0.0),  # delta_i <= reach_i * used_i
        LinearConstraint(np.hstack([eye, np.diag(reach)]), lb=0.0),  # -delta_i <= reach_i * used_i
    ]
    solved = milp(
        np.r_[np.zeros(n), np.ones(n)], constraints=constraints,
        integrality=np.r_[np.zeros(n), np.ones(n)], bounds=Bounds(np.r_[low, np.zeros(n)], np.r_[high, np.ones(n)]),
        options={"time_limit": time_limit},
    )  # fmt: skip
    if solved.x is None:
        if solved.status == 2:
            return FewestPixels(-1, images[0].astype(np.float64), True)
        raise RuntimeError(f"the mixed-integer program did not solve: {solved.message}")
    delta = solved.x[:n]
    delta[solved.x[n:] < 0.5] = 0.0  # a pixel not used does not move
    adversarial = np.clip(image + delta, *clip)  # float64: the target's win may be narrower than float32
    if solved.status != 0:
        warnings.warn(f"fewest_pixels: the time limit ({time_limit} s) stopped the search; the count is the best found",
                      stacklevel=2)  # fmt: skip
    return FewestPixels(int(np.count_nonzero(adversarial != image)), adversarial, solved.status == 0)
