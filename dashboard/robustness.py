"""Robustness per model, shared by all sessions: certified numbers, accuracy under attack, charts, templates."""

from __future__ import annotations

import numpy as np
import streamlit as st

from core.attack import fgsm
from core.inputs import imaging
from core.inputs.settings import TrainingSettings
from core.jobs.work import checkpoint
from dashboard import comparison_charts
from dashboard.heavy import shared
from dashboard.resources import dataset, digit_minimal_epsilons, trained
from dashboard.view import clip_range

DEFENSE_GRID = np.linspace(0.0, 0.3, 61)
NAMES = ("Normal", "Defended")  # the two models, in every chart and caption


def test_set_robustness(settings: TrainingSettings, clip: bool):
    """The whole test set against epsilon (certified, and under the gradient sign attack) and each certified radius.

    Shared work (:func:`dashboard.heavy.shared`): computed once per server, stopped if nobody waits.
    """
    from core.exact import robust_radius
    from core.sweep import robustness_curve

    data, model = dataset(settings.dataset), trained(settings).model
    span = clip_range(clip)

    def compute():
        curve = robustness_curve(model, data.x_test, data.y_test, DEFENSE_GRID, clip=span, pgd_grid=[0.0])
        checkpoint()
        radius = robust_radius(model, data.x_test, data.y_test, clip=span)
        radius.flags.writeable = False
        return curve, radius

    return shared(("test set robustness", settings, clip), compute, "Certifying every test image…")


@st.cache_resource(show_spinner=False, max_entries=64)
def accuracy_under_fgsm(settings: TrainingSettings, clip: bool, eps: float) -> float:
    """Test accuracy under the untargeted gradient sign attack at ``eps``, exactly (not read off a grid).

    In the visitor's own page, not shared work: under half a second on 10,000 images, asked at every slider stop.
    """
    data, model = dataset(settings.dataset), trained(settings).model
    attacked = fgsm(model, data.x_test, eps, labels=data.y_test, clip=clip_range(clip))
    return float(np.mean(model.predict(attacked) == data.y_test))


@st.cache_resource(show_spinner=False, max_entries=16)
def defense_charts(normal: TrainingSettings, defended: TrainingSettings, clip: bool) -> tuple:
    """The defenses page's charts of the whole test set, without the chosen epsilon (made once: building one
    costs tens of milliseconds)."""

    numbers = {name: test_set_robustness(s, clip) for name, s in zip(NAMES, (normal, defended))}  # kept: at once
    return (
        comparison_charts.defense_chart({name: curve for name, (curve, _) in numbers.items()}),
        comparison_charts.model_histograms(
            {name: radius for name, (_, radius) in numbers.items()},
            title="Any attack: the smallest ε that changes each answer",
            x_title="certified radius (0: already wrong)",
        ),
    )


@st.cache_resource(show_spinner=False, max_entries=32)
def sign_histograms(normal: TrainingSettings, defended: TrainingSettings, source: int, target: int, clip: bool):
    """The gradient sign attack's exact minimal epsilon toward the target, per model, as overlaid histograms."""

    values = {name: digit_minimal_epsilons(each, source, target, clip) for name, each in zip(NAMES, (normal, defended))}
    title = f"Gradient sign: the smallest ε that makes a {source} a {target}"
    return comparison_charts.model_histograms(values, title=title, x_title="minimal epsilon")


@st.cache_resource(show_spinner=False, max_entries=16)
def template_strip(settings: TrainingSettings):
    """The model's ten weight templates as one picture (made once per model)."""

    return imaging.template_strip(trained(settings).model.W)
