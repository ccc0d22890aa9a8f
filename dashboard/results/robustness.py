"""The verified robustness table of Beyond linear: the network's (shipped, or computed on the server for other
settings) and the linear model's beside it, where every cell is exact.

Each result is declared with its cost class (:mod:`dashboard.results.jobs`).
"""

from __future__ import annotations

import numpy as np

from core import stopping
from core.attack import fgsm, pgd
from core.exact import robust_radius
from core.jobs.robustness import load_table
from core.network_table import EPSILONS, robustness_rows
from dashboard.results.jobs import cached, instant, shared
from dashboard.results.models import dataset, model_of
from dashboard.view import clip_range

LIVE_IMAGES = 100  # a network not shipped: its table on this many test images, computed on the server
LIVE_LIMIT = 2.0  # seconds the verifier gets per image and epsilon there


@cached(max_entries=8)
def _shipped_table(settings) -> dict | None:
    """The table that came with the app for the network ``settings`` (every test image), or None."""
    return load_table(settings)


@shared("Verifying the network on the test images…")
def _live_table(settings, clip: bool):
    """The table of a network the app did not ship: its first :data:`LIVE_IMAGES` test images, the verifier given
    :data:`LIVE_LIMIT` seconds for each question."""
    data, network = dataset(settings.dataset), model_of(settings)
    images, labels = data.x_test[:LIVE_IMAGES], data.y_test[:LIVE_IMAGES]
    span = clip_range(clip)

    def compute():
        rows = robustness_rows(network, images, labels, EPSILONS, clip=span, time_limit=LIVE_LIMIT)
        return {"images": len(images), "time_limit": LIVE_LIMIT, "rows": rows}

    return (settings, clip), compute


@instant
def network_table(view, *, wait: bool = False) -> dict | None:
    """The network's table for the page's view: the shipped one where the view is what it was made for (the
    default settings, images kept in range), else the server's own (None while it is being computed)."""
    if view.clip:
        table = _shipped_table(view.network)
        if table is not None:
            return table
    return _live_table(view.network, view.clip, wait=wait)


@shared("Attacking and certifying the linear model on the test images…")
def linear_table(settings, clip: bool, count: int):
    """The linear model on the same first ``count`` test images, per epsilon: clean accuracy, under the sign
    step and PGD, and robust accuracy, exact (the certified radius, a closed form, is the best attack's)."""
    data, model = dataset(settings.dataset), model_of(settings)
    images, labels = data.x_test[:count].astype(np.float64), data.y_test[:count]
    span = clip_range(clip)

    def compute() -> list[dict]:
        radius = robust_radius(model, images, labels, clip=span)
        clean = float(np.mean(model.predict(images) == labels))
        rows = []
        for eps in EPSILONS:
            stopping.check()
            stepped = fgsm(model, images, eps, labels=labels, clip=span)
            iterated = pgd(model, images, eps, labels=labels, steps=20, clip=span, keep_best=True)
            rows.append(
                {
                    "eps": eps,
                    "clean": clean,
                    "sign_step": float(np.mean(model.predict(stepped) == labels)),
                    "pgd": float(np.mean(model.predict(iterated) == labels)),
                    "robust": float(np.mean(radius > eps)),
                }
            )
        return rows

    return (settings, clip, count), compute
