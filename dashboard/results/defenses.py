"""Robustness per model for the defenses page: certified numbers, accuracy under attack, charts and templates.

Each result is declared with its cost class (:mod:`dashboard.results.jobs`).
"""

from __future__ import annotations

import numpy as np

from core import stopping
from core.attack import fgsm
from core.defense import mean_pair_reach
from core.exact import robust_radius
from core.inputs import imaging
from core.sweep import robustness_curve
from dashboard import comparison_charts
from dashboard.results.digit import digit_minimal_epsilons
from dashboard.results.jobs import cached, instant, read_only, shared
from dashboard.results.models import dataset, model_of, trained
from dashboard.view import clip_range
from dashboard.wording import article

DEFENSE_GRID = np.linspace(0.0, 0.3, 61)
NAMES = ("Normal", "Defended")  # the two models, in every chart and caption


@shared("Certifying every test image…")
def test_set_robustness(settings, clip: bool):
    """The whole test set against epsilon (certified, and under the gradient sign attack) and each certified
    radius (read-only)."""
    data, model = dataset(settings.dataset), model_of(settings)
    span = clip_range(clip)

    def compute():
        curve = robustness_curve(model, data.x_test, data.y_test, DEFENSE_GRID, clip=span, pgd_grid=[0.0])
        stopping.check()
        return curve, read_only(robust_radius(model, data.x_test, data.y_test, clip=span))

    return (settings, clip), compute


@cached()
def accuracy_under_fgsm(settings, clip: bool, eps: float) -> float:
    """Test accuracy under the untargeted gradient sign attack at ``eps``, exactly (not read off a grid).

    Cached in the visitor's own page, not shared work: under half a second on 10,000 images, asked at every
    slider stop."""
    data, model = dataset(settings.dataset), model_of(settings)
    attacked = fgsm(model, data.x_test, eps, labels=data.y_test, clip=clip_range(clip))
    return float(np.mean(model.predict(attacked) == data.y_test))


@instant
def defense_numbers(normal, defended, clip: bool, eps: float) -> tuple[tuple, tuple, tuple]:
    """What a defense bought and cost at ``eps``, each as (normal, defended): clean accuracy, certified accuracy
    (no perturbation of size ``eps`` changes the answer) and accuracy under the gradient sign attack."""
    settings = (normal, defended)
    clean = tuple(float(trained(each).test_accuracy) for each in settings)
    certified = tuple(float(np.mean(test_set_robustness(each, clip)[1] > eps)) for each in settings)
    attacked = tuple(accuracy_under_fgsm(each, clip, eps) for each in settings)
    return clean, certified, attacked


def defense_charts(normal, defended, clip: bool) -> tuple:
    """The defenses page's charts of the whole test set, without the chosen epsilon: both models' robustness
    curves, and their certified radii as histograms."""
    numbers = tuple(test_set_robustness(each, clip) for each in (normal, defended))  # kept: at once when ready
    return _defense_charts(normal, defended, clip, numbers)


@cached(max_entries=16)
def _defense_charts(normal, defended, clip: bool, _numbers: tuple) -> tuple:
    """Made once per pair of models (building one costs tens of milliseconds); ``_numbers`` are decided by the
    settings (not hashed)."""
    return (
        comparison_charts.defense_chart({name: curve for name, (curve, _) in zip(NAMES, _numbers)}),
        comparison_charts.model_histograms(
            {name: radius for name, (_, radius) in zip(NAMES, _numbers)},
            title="Any attack: the smallest ε that changes each answer",
            x_title="certified radius (0: already wrong)",
        ),
    )


@cached(max_entries=32)
def sign_histograms(normal, defended, source: int, target: int, clip: bool):
    """The gradient sign attack's exact minimal epsilon toward the target, per model, as overlaid histograms."""
    values = {name: digit_minimal_epsilons(each, source, target, clip) for name, each in zip(NAMES, (normal, defended))}
    title = f"Gradient sign: the smallest ε that makes {article(source)} {article(target)}"
    return comparison_charts.model_histograms(values, title=title, x_title="minimal epsilon")


@cached(max_entries=16)
def template_strip(settings):
    """The model's ten weight templates as one picture (made once per model)."""
    return imaging.template_strip(model_of(settings).W)


@instant
def pair_reach(settings) -> float:
    """How far epsilon moves a class's lead over another at most, on average over the 90 pairs (per unit of
    epsilon): the L1 norm of the difference of their templates (:func:`core.defense.mean_pair_reach`)."""
    return mean_pair_reach(model_of(settings))
