"""All pairs: every test image toward every other digit, the share fooled at epsilon, and the grid of images.

Each result is declared with its cost class (:mod:`dashboard.results.jobs`).
"""

from __future__ import annotations

import io

import numpy as np

from core.attack import fgsm, minimal_epsilon
from core.inputs.imaging import grid_figure, to_uint8
from core.sweep import PairAttacks, by_pair, fooled_toward_each, pair_attacks
from dashboard.results.jobs import cached, instant, read_only, shared
from dashboard.results.models import dataset, model_of
from dashboard.view import View, clip_range, snap_eps


@shared("Attacking every test image toward every other digit…")
def all_pairs(settings, clip: bool):
    """Every test image's exact minimal epsilon toward each other digit (read-only): a :class:`PairAttacks`."""
    data, model = dataset(settings.dataset), model_of(settings)

    def compute() -> PairAttacks:
        result = pair_attacks(model, data.x_test, data.y_test, clip=clip_range(clip))
        read_only(result.minimal)
        return result

    return (settings, clip), compute


@cached()
def pair_share(settings, clip: bool, eps: float) -> np.ndarray:
    """Share of the test images of each digit that ``eps`` turns into each other digit, (10, 10) (read-only).

    Cached, not shared work: a fraction of a second even on 10,000 images, asked again at every slider stop,
    so it runs in the visitor's own page at full speed (the queue and its lower priority would double a rerun).
    """
    data, model = dataset(settings.dataset), model_of(settings)
    fooled = fooled_toward_each(model, data.x_test, data.y_test, eps, clip=clip_range(clip))
    return read_only(by_pair(fooled, data.y_test, np.mean))


@instant
def own_toward(view: View, pixels: np.ndarray) -> np.ndarray:
    """The visitor's own digit's exact minimal epsilon toward each digit; NaN where the model already reads it
    as that digit (its 0 would set the heatmap's scale)."""
    model = model_of(view.training)
    toward = np.array([minimal_epsilon(model, pixels, t, clip=view.clip_range) for t in range(10)])
    toward[int(model.predict(pixels))] = np.nan
    return toward


@cached(max_entries=32)
def test_rows(settings, clip: bool, position: int, _pairs) -> list:
    """The grid's rows of test images: one of each digit, made into every other digit (pictures, captions).

    ``_pairs`` is :func:`all_pairs` of the model and clipping (not hashed: they decide it).
    """
    data, model = dataset(settings.dataset), model_of(settings)
    rows = []
    for digit in range(10):
        indices = data.test_indices(digit)
        if not len(indices):
            continue
        index = indices[min(position, len(indices) - 1)]
        rows.append(_grid_row(model, clip, data.x_test[index], _pairs.minimal[index], f"{digit}"))
    return rows


@cached(max_entries=32)
def test_grid(settings, clip: bool, position: int, _pairs) -> tuple[bytes, bytes, bytes]:
    """The grid of test images alone, as PNGs (:func:`_pngs`)."""
    return _pngs(test_rows(settings, clip, position, _pairs))


@instant
def image_grid(view: View, position: int, own, toward, pairs) -> tuple[bytes, bytes, bytes]:
    """One test image of each digit (and the visitor's own, with its minimal epsilon ``toward`` each digit) made
    into every other digit at its own minimal epsilon, as PNGs: the whole grid, targets 0-4 and 5-9."""
    if own is None:
        return test_grid(view.training, view.clip, position, pairs)
    model = model_of(view.training)
    yours = _grid_row(model, view.clip, own.pixels, toward, "yours", int(model.predict(own.pixels)))
    return _pngs([*test_rows(view.training, view.clip, position, pairs), yours])


def _pngs(rows: list) -> tuple[bytes, bytes, bytes]:
    """The whole grid (the download), and its targets 0-4 and 5-9 as two halves (the page: side by side on a
    desktop, one above the other on a phone, with labels a phone can read)."""
    parts = (slice(0, 5), slice(5, 10))
    halves = [[(pictures[part], captions[part]) for pictures, captions in rows] for part in parts]
    return _png(grid_figure(rows, scale=3)), *(_png(grid_figure(half, scale=3)) for half in halves)


def _png(figure) -> bytes:
    buffer = io.BytesIO()
    figure.save(buffer, format="PNG")
    return buffer.getvalue()


def _grid_row(model, clip: bool, x, minimal, name, own_class=None):
    pictures, captions = [], []
    home = int(name) if own_class is None else own_class
    for target in range(10):
        if target == home:
            pictures.append(to_uint8(x))
            captions.append("original")
            continue
        eps = snap_eps(float(minimal[target]))  # the first slider stop past the minimal: fooled
        adversarial = fgsm(model, x, eps, target=target, clip=clip_range(clip))
        said = int(model.predict(adversarial))
        pictures.append(to_uint8(adversarial) if clip else to_uint8(adversarial, None, None))
        captions.append(f"{eps:.3f} says {said}" if np.isfinite(minimal[target]) else f"never: {said}")
    return pictures, captions
