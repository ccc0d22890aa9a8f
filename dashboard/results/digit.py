"""Every test image of the source digit: exact minimal epsilons, success and robustness curves, the optimum for
each, the network's answers, and what transfers between models.

Each result is declared with its cost class (:mod:`dashboard.results.jobs`).
"""

from __future__ import annotations

import numpy as np

from core import stopping
from core.attack import fgsm, minimal_epsilon
from core.exact import optimal_epsilon
from core.network import ray_minimal_epsilon
from core.network_exact import target_bound
from core.sweep import SuccessCurve, robustness_curve, success_curve
from dashboard.results.jobs import cached, instant, read_only, shared
from dashboard.results.models import dataset, digit_images, model_of, source_images
from dashboard.view import View, clip_range

NETWORK_GRID = (0.0, 0.4, 81)  # the network page's success curves: from, to, how many (the linear model's too)


def minimal_epsilons(view: View) -> np.ndarray:
    """The exact minimal epsilon of every test image of the source digit (read-only)."""
    return digit_minimal_epsilons(view.training, view.source, view.target, view.clip)


@cached()
def digit_minimal_epsilons(settings, source: int, target: int, clip: bool) -> np.ndarray:
    """:func:`minimal_epsilons` of any model: every test image of ``source`` toward ``target`` (read-only)."""
    _, images = digit_images(settings.dataset, source)
    return read_only(minimal_epsilon(model_of(settings), images, target, clip=clip_range(clip)))


@instant
def fooled_share(view: View, eps: float) -> float:
    """The share of the source digit's test images the gradient sign step at exactly ``eps`` makes the target
    (the all-pairs page's number for the same pair, not a value read off a curve between grid points)."""
    _, images = source_images(view)
    if not len(images):
        return float("nan")
    model = model_of(view.training)
    attacked = fgsm(model, images, eps, target=view.target, clip=view.clip_range)
    return float(np.mean(model.predict(attacked) == view.target))


def source_success_curve(view: View, low: float, high: float, points: int) -> SuccessCurve:
    """The success curve of all test images of the source digit on a grid (read-only arrays)."""
    return _source_success_curve(view.training, view.source, view.target, view.clip, low, high, points)


@cached()
def _source_success_curve(settings, source: int, target: int, clip: bool, low, high, points) -> SuccessCurve:
    _, images = digit_images(settings.dataset, source)
    grid = np.linspace(low, high, points)
    curve = success_curve(model_of(settings), images, target, grid, clip=clip_range(clip))
    for array in (curve.eps, curve.fooled_share, curve.mean_target_probability):
        read_only(array)
    return curve


@shared("Solving the optimal attack for every test image of the digit…")
def optimal_epsilons(view: View):
    """The exact optimal (any-attack) epsilon of every test image of the source digit (read-only)."""
    _, images = source_images(view)
    model, target, span = model_of(view.training), view.target, view.clip_range

    def compute() -> np.ndarray:
        return read_only(optimal_epsilon(model, images, target, clip=span))

    return (view.training, view.clip, view.source, view.target), compute


@shared("Attacking every test image of the digit at every epsilon…")
def source_robustness(view: View):
    """Accuracy against epsilon of the source digit's test images: FGSM, PGD, the certified worst case."""
    _, images = source_images(view)
    model, source, span = model_of(view.training), view.source, view.clip_range

    def compute():
        grid = np.linspace(0.0, 0.4, 101)
        return robustness_curve(model, images, np.full(len(images), source), grid, clip=span)

    return (view.training, view.clip, view.source), compute


@shared("Attacking the whole test set at ε = 0.25…")
def goodfellow_table(settings):
    """Untargeted gradient sign at eps = 0.25 on the whole test set: error rate and mean confidence of the wrong
    answers, unclipped (as the paper) and clipped."""
    data, model = dataset(settings.dataset), model_of(settings)

    def compute() -> list[tuple[str, float, float]]:
        rows = []
        for name, clip in (("unclipped (as the paper)", None), ("clipped to [0, 1]", (0.0, 1.0))):
            stopping.check()
            adversarial = fgsm(model, data.x_test, 0.25, labels=data.y_test, clip=clip)
            probabilities = model.predict_proba(adversarial)
            wrong = probabilities.argmax(axis=1) != data.y_test
            confidence = float(probabilities.max(axis=1)[wrong].mean()) if wrong.any() else float("nan")
            rows.append((name, float(wrong.mean()), confidence))
        return rows

    return (settings,), compute


@shared("Attacking every test image of the digit on the network…")
def network_digit(view: View):
    """Every test image of the source digit on the network: its exact sign step epsilon, its certified bound toward
    the target and its success curve (read-only arrays). The linear model's are :func:`minimal_epsilons`,
    :func:`optimal_epsilons` and :func:`source_success_curve`."""
    _, images = source_images(view)
    network, span, target = model_of(view.network), view.clip_range, view.target

    def compute() -> dict:
        walked, bounds = [], []
        for image in images.astype(np.float64):  # one image at a time: a visitor who leaves stops it here
            stopping.check()
            walked.append(ray_minimal_epsilon(network, image, target, clip=span))
            bounds.append(target_bound(network, image, target, clip=span))
        return {
            "network_minimal": read_only(np.array(walked)),
            "network_bound": read_only(np.array(bounds)),
            "network_curve": success_curve(network, images, target, np.linspace(*NETWORK_GRID), clip=span),
        }

    return (view.network, view.clip, view.source, view.target), compute


@instant
def transfer_shares(view: View, settings: dict, eps: float) -> dict:
    """Adversarial images made on each model (``settings``: name -> training settings) shown to every other: the
    share of the source digit's test images each reads as the target, ``shares[made][shown_to]``."""
    _, images = source_images(view)
    models = {name: model_of(each) for name, each in settings.items()}
    shares = {}
    for made, maker in models.items():
        attacked = fgsm(maker, images, eps, target=view.target, clip=view.clip_range)
        shares[made] = {to: float(np.mean(model.predict(attacked) == view.target)) for to, model in models.items()}
    return shares


@instant
def shown_to_both(view: View, maker, other, eps: float) -> tuple[np.ndarray, list[np.ndarray]]:
    """The source digit's test images attacked on the model ``maker`` (settings) at ``eps``, and what ``maker`` and
    ``other`` say of them."""
    _, images = source_images(view)
    models = [model_of(maker), model_of(other)]
    attacked = fgsm(models[0], images, eps, target=view.target, clip=view.clip_range)
    return attacked, [model.predict(attacked) for model in models]
