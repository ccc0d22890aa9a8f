"""The lab's answers in every norm: the smallest L2 and L1 changes, the usual attacks against them, and noise.

Each result is declared with its cost class (:mod:`dashboard.results.jobs`): one image's answers are
cached (tens of milliseconds), every test image of a digit is shared work.
"""

from __future__ import annotations

import numpy as np

from core import stopping
from core.exact import minimal_perturbation
from core.noise import nearest_answer, noise_distance, random_directions
from core.norm_attacks import carlini_wagner, deepfool, sign_step_distance, size_where_reached
from dashboard import norm_charts
from dashboard.results.jobs import cached, own_copy, read_only, shared
from dashboard.results.models import model_of, source_images
from dashboard.view import View, clip_range

ORDERS = {"inf": np.inf, "2": 2, "1": 1, "0": 0}  # norm= in a link -> the order numpy's norm takes
ATTACKS = ("DeepFool", "Carlini & Wagner", "Gradient sign step")  # measured against the optimum, in this order
DIRECTIONS = 200  # random directions from the chosen image
DIGIT_DIRECTIONS = 24  # from each test image of the digit: its median, a fifth of a second per 10 images


def noise_norm(norm: str) -> str:
    """The norm the noise is measured in: the lab's own where noise has one (L2, L-inf), else L2."""
    return norm if norm in ("2", "inf") else "2"


def _attack(name: str, model, images, target: int, order, span):
    """One attack's distances (in ``order``) toward ``target``, inf where it does not get there, and its images."""
    if name == "Gradient sign step":
        return sign_step_distance(model, images, target, norm=order, clip=span)
    attack = deepfool if name == "DeepFool" else carlini_wagner
    return size_where_reached(model, images, attack(model, images, target, clip=span)[1], target, order)


@cached()
def norm_answers(settings, clip: bool, target: int, truth: int, norm: str, pixels: np.ndarray) -> dict:
    """One image in the L2 or L1 norm: the smallest change toward the target and its image, the certified radius
    (the nearest other answer), each usual attack's size and image (tens of milliseconds)."""
    model, span, order = model_of(settings), clip_range(clip), ORDERS[norm]
    x = np.array(pixels, dtype=np.float64)
    optimal, optimal_image = minimal_perturbation(model, x, target, norm=order, clip=span)
    radius, worst, rival = nearest_answer(model, x, truth, norm=order, clip=span)
    attacks = {}
    for name in ATTACKS:
        distance, image = _attack(name, model, x, target, order, span)
        attacks[name] = (float(distance), read_only(np.array(image)))
    return {
        "optimal": optimal,
        "optimal_image": read_only(optimal_image),
        "radius": radius,
        "worst": (read_only(worst), rival),
        "attacks": attacks,
    }


@shared("Measuring every attack against the smallest change, image by image…")
def norm_gaps(view: View):
    """For every test image of the source digit: each usual attack's size ÷ the smallest change toward the target,
    in the lab's norm (L2 or L1): ``{attack: ratios}``, 1 = optimal, inf where the attack does not get there."""
    _, images = source_images(view)
    model, span, target, order = model_of(view.training), view.clip_range, view.target, ORDERS[view.norm]

    def compute() -> dict:
        optimal, _ = minimal_perturbation(model, images, target, norm=order, clip=span, margin=0.0)
        moved = optimal > 0
        ratios = {}
        for name in ATTACKS:
            stopping.check()
            distance, _ = _attack(name, model, images, target, order, span)
            with np.errstate(divide="ignore", invalid="ignore"):
                ratios[name] = read_only(np.where(moved, distance / optimal, 1.0)[np.isfinite(optimal)])
        return ratios

    return (view.training, view.clip, view.source, view.target, view.norm), compute


@shared("Walking random directions from the image…")
def noise_image(view: View, pixels: np.ndarray):
    """Random noise from one image: the size of the change where the answer first changes, along each of
    :data:`DIRECTIONS` random directions, and the smallest change that changes it (the attack)."""
    model, span, norm = model_of(view.training), view.clip_range, noise_norm(view.norm)
    x, digest = own_copy(pixels)
    order = ORDERS[norm]

    def compute() -> dict:
        noise = noise_distance(model, x, random_directions(DIRECTIONS, order, seed=0), norm=order, clip=span)
        attack, _, _ = nearest_answer(model, x, int(model.predict(x)), norm=order, clip=span)
        return {"noise": read_only(noise), "attack": attack}

    return (view.training, view.clip, norm, digest), compute


@cached()
def noise_figures(noise: np.ndarray, attack: float, ratios: tuple, label: str):
    """The noise section's two charts, made once per answer (a rerun at a slider stop draws them again only)."""
    return norm_charts.noise_histogram(noise, attack, label), norm_charts.noise_ratio_chart(dict(ratios), label)


@shared("Walking random directions from every test image of the digit…")
def noise_digit(view: View, models: tuple[str, ...]):
    """For every test image of the source digit and each model named (``linear``, ``defended``, ``network``): the
    median distance along :data:`DIGIT_DIRECTIONS` random directions ÷ the attack's distance (``{name: ratios}``).
    The linear models' attack is their exact smallest change; the network's is DeepFool toward the nearest class,
    an upper bound (so its ratios are at least as large as shown)."""
    _, images = source_images(view)
    norm = noise_norm(view.norm)
    order, span = ORDERS[norm], view.clip_range
    chosen = {"linear": view.linear, "defended": view.defended, "network": view.network}
    settings = {name: chosen[name] for name in models}
    loaded = {name: model_of(each) for name, each in settings.items()}
    directions = random_directions(DIGIT_DIRECTIONS, order, seed=1)

    def compute() -> dict:
        ratios = {}
        for name, model in loaded.items():
            attack, _, _ = nearest_answer(model, images, model.predict(images), norm=order, clip=span)
            medians = np.array([np.median(noise_distance(model, x, directions, norm=order, clip=span)) for x in images])
            with np.errstate(divide="ignore", invalid="ignore"):
                ratios[name] = read_only(medians / attack)
        return ratios

    return (*settings.values(), view.clip, view.source, norm), compute
