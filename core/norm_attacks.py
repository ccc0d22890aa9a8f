"""The attacks people use to find a small L2 change, written for these models, to be measured against the optimum.

- **DeepFool** (Moosavi-Dezfooli, Fawzi & Frossard, CVPR 2016): step to the
  linearised boundary between the target and its strongest rival, again
  until the target wins, the total pushed 2% further (its overshoot) and
  kept in the clip range. On a linear model the linearisation is the model
  itself, so one or two steps do it.
- **Carlini & Wagner L2** (IEEE S&P 2017): minimise ``|delta|_2^2 + c *
  max(max_j z_j - z_t, -kappa)`` by Adam in tanh space (the box for free),
  with a binary search over ``c``; the smallest successful change is kept.
- **The gradient sign step** at its own smallest eps (:func:`core.attack.minimal_epsilon`), measured in any norm.

Each returns ``(distance (n,), images (n, 784))``: ``inf`` and the original
where it did not make the model read ``target``. The exact optimum they are
compared with is :func:`core.exact.minimal_perturbation`.
"""

from __future__ import annotations

import numpy as np

from core import stopping
from core.attack import fgsm, minimal_epsilon
from core.checks import as_clip, as_digit, as_images
from core.model import Classifier

__all__ = ["carlini_wagner", "deepfool", "sign_step_distance", "size_where_reached"]


def size_where_reached(model: Classifier, images, adversarial, target: int, norm):
    """Each change's size in ``norm``, and the images: ``inf`` (and the original image) where the model does not
    read ``target``. One image or a batch (the last axis holds the pixels)."""
    images = np.asarray(images, dtype=np.float64)
    won = np.asarray(model.predict(adversarial) == target)
    distance = np.where(won, np.linalg.norm(adversarial - images, ord=norm, axis=-1), np.inf)
    return distance, np.where(won[..., None], adversarial, images)


def _answer(result, single):
    distance, images = result
    return (float(distance[0]), images[0]) if single else result


def deepfool(model: Classifier, x, target, *, clip=(0.0, 1.0), overshoot: float = 0.02, steps: int = 50):
    """Targeted DeepFool (L2): toward ``target``'s boundary with its strongest rival, step by step."""
    images, single = as_images(x)
    target = as_digit(target, "target")
    clip = as_clip(clip)
    pixels = images.astype(np.float64)
    total = np.zeros_like(pixels)
    current = pixels.copy()
    for _ in range(steps):
        stopping.check()
        z = model.logits(current)
        rivals = np.where(np.arange(10) == target, -np.inf, z).argmax(axis=1)
        lead = z[:, target] - z[np.arange(len(z)), rivals]
        going = np.flatnonzero(lead <= 0)
        if not len(going):
            break
        gradient = model.lead_gradient(current[going], target, rivals[going])
        size = np.maximum((gradient * gradient).sum(axis=1), 1e-300)
        total[going] += ((1e-6 - lead[going]) / size)[:, None] * gradient  # onto the boundary, just past it
        current[going] = pixels[going] + (1 + overshoot) * total[going]
        if clip is not None:
            current[going] = np.clip(current[going], *clip)
    return _answer(size_where_reached(model, pixels, current, target, 2), single)


def carlini_wagner(
    model: Classifier,
    x,
    target,
    *,
    clip=(0.0, 1.0),
    searches: int = 6,
    steps: int = 200,
    rate: float = 0.05,
    first_c: float = 1.0,
    kappa: float = 0.0,
):
    """Carlini & Wagner's L2 attack, targeted: Adam on ``tanh`` variables, ``searches`` halvings of ``c``."""
    images, single = as_images(x)
    target = as_digit(target, "target")
    clip = as_clip(clip)
    pixels = images.astype(np.float64)
    n = len(pixels)
    low, high = clip if clip is not None else (0.0, 1.0)

    def to_image(w):
        return low + (high - low) * (np.tanh(w) + 1) / 2 if clip is not None else w

    def slope(w):  # d image / d w
        return (high - low) * (1 - np.tanh(w) ** 2) / 2 if clip is not None else np.ones_like(w)

    start = np.arctanh(np.clip((pixels - low) / (high - low) * 2 - 1, -1 + 1e-6, 1 - 1e-6)) if clip else pixels
    c = np.full(n, first_c)
    below, above = np.zeros(n), np.full(n, np.inf)  # the binary search's bracket on c
    best, best_image = np.full(n, np.inf), pixels.copy()
    for _ in range(searches):
        stopping.check()
        w, moment, second = start.copy(), np.zeros_like(pixels), np.zeros_like(pixels)
        won_now = np.zeros(n, bool)
        for step in range(1, steps + 1):
            image = to_image(w)
            z = model.logits(image)
            rivals = np.where(np.arange(10) == target, -np.inf, z).argmax(axis=1)
            lead = z[:, target] - z[np.arange(n), rivals]
            won = lead > 0
            size = ((image - pixels) ** 2).sum(axis=1)
            better = won & (size < best**2)
            best[better], best_image[better] = np.sqrt(size[better]), image[better]
            won_now |= won
            pushing = (-lead > -kappa)[:, None]  # the hinge is active: the rival still leads (or by less than kappa)
            gradient = 2 * (image - pixels) - np.where(
                pushing, c[:, None] * model.lead_gradient(image, target, rivals), 0
            )
            gradient *= slope(w)
            moment = 0.9 * moment + 0.1 * gradient
            second = 0.999 * second + 0.001 * gradient**2
            w -= rate * (moment / (1 - 0.9**step)) / (np.sqrt(second / (1 - 0.999**step)) + 1e-8)
        above = np.where(won_now, np.minimum(above, c), above)
        below = np.where(won_now, below, np.maximum(below, c))
        c = np.where(np.isfinite(above), (below + above) / 2, c * 10)
    return _answer(size_where_reached(model, pixels, best_image, target, 2), single)


def sign_step_distance(model: Classifier, x, target, *, norm, clip=(0.0, 1.0)):
    """The gradient sign step at its own smallest eps toward ``target`` (a hair past it, so the target wins), and
    its size in ``norm`` (1, 2 or inf)."""
    images, single = as_images(x)
    target = as_digit(target, "target")
    eps = np.atleast_1d(minimal_epsilon(model, images, target, clip=clip))
    reached = np.isfinite(eps)
    # a hair past the smallest eps (where the target only ties), so the image is read as the target
    past = np.minimum(np.where(reached, eps + 1e-9, 0.0), 1.0)
    stepped = fgsm(model, images, past, target=target, clip=clip).astype(np.float64)
    pixels = images.astype(np.float64)
    distance = np.where(reached, np.linalg.norm(stepped - pixels, ord=norm, axis=1), np.inf)
    return _answer((distance, np.where(reached[:, None], stepped, pixels)), single)
