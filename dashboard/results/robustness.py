"""The verified robustness table of Beyond linear: the network's (shipped, or computed on the server for other
settings) and the linear model's beside it, where every cell is exact.

Each result is declared with its cost class (:mod:`dashboard.results.jobs`).
"""

from __future__ import annotations

from core.jobs.robustness import load_linear_table, load_table
from core.network_table import EPSILONS, linear_rows, robustness_rows
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


@cached(max_entries=8)
def _shipped_linear(settings) -> dict | None:
    """The linear model's rows that came with the app (the first visit's model, every test image), or None."""
    return load_linear_table(settings)


@shared("Attacking and certifying the linear model on the test images…")
def _linear_rows(settings, clip: bool, count: int):
    data, model = dataset(settings.dataset), model_of(settings)
    images, labels = data.x_test[:count], data.y_test[:count]
    span = clip_range(clip)
    return (settings, clip, count), lambda: linear_rows(model, images, labels, EPSILONS, clip=span)


@instant
def linear_table(settings, clip: bool, count: int, *, wait: bool = True) -> list[dict] | None:
    """The linear model on the same first ``count`` test images as the network's table, per epsilon
    (:func:`core.network_table.linear_rows`): the shipped rows where they answer, else computed on the server
    (None while they are on their way, unless ``wait``)."""
    shipped = _shipped_linear(settings) if clip else None
    if shipped is not None and shipped["images"] == count:
        return shipped["rows"]
    return _linear_rows(settings, clip, count, wait=wait)
