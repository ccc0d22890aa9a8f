"""Figures more than one page draws the same way: the original experiment's grid of ten and the all-pairs heatmap
(the pairs page and the lesson). Each draws with Streamlit from what the results layer answers."""

from __future__ import annotations

import numpy as np
import streamlit as st

from dashboard import comparison_charts, pictures, results, widgets
from dashboard.state import WidgetKey
from dashboard.view import View, snap_eps

SCALE = 8  # 28 px -> 224 px, as the attack page's pictures


def first_ten(view: View, images: np.ndarray, minimal_all: np.ndarray, eps: float | None) -> None:
    """The first ten test images of the source digit attacked toward the target, at ``eps``, or (None) each at the
    first slider stop past its own exact minimal epsilon: the original, its direction, the adversarial image."""
    count = min(10, len(images))
    steps = np.array([snap_eps(m) for m in minimal_all[:count]]) if eps is None else np.full(count, eps)
    adversarial, directions, before, after = results.first_ten(view, images[:count], steps)
    cells = st.grid(10, min_column_width=76)  # ten in a row on a desktop, four on a phone
    for i in range(count):
        cells.image(
            [
                pictures.picture(images[i], True, SCALE),
                pictures.direction(directions[i], 4),
                pictures.picture(adversarial[i], view.clip, SCALE),
            ],
            caption=[
                f"confidence of {view.target}: {before[i]:.1%}",
                "direction",
                f"confidence of {view.target}: {after[i, view.target]:.1%} (says {after[i].argmax()})",
            ],
            alt=[
                f"Test image #{i}, confidence of {view.target} {before[i]:.1%}.",
                f"Its attack direction toward {view.target}.",
                f"Test image #{i} attacked: confidence of {view.target} {after[i, view.target]:.1%}, "
                f"the model says {after[i].argmax()}.",
            ],
            width="stretch",
        )
    st.caption(
        f"Rows: the original; the attack direction; the adversarial image at "
        f"{'its own minimal ε' if eps is None else f'ε = {eps:.3f}'}, with what the model says."
    )


def pair_heatmap(view: View, pairs, share: np.ndarray, eps: float, show: str, own: np.ndarray | None) -> None:
    """The 10x10 heatmap of every digit made into every other (and your own digit's row); a click on a cell makes
    it the view's pair."""
    chart = comparison_charts.pair_heatmap(
        pairs.median,
        pairs.quantile(0.25),
        pairs.quantile(0.75),
        share,
        pairs.counts,
        eps=eps,
        show=show,
        chosen=(view.source, view.target),
        own=own,
    )
    selection = comparison_charts.PAIR_SELECTION
    st.altair_chart(
        chart,
        key=WidgetKey.PAIRS_CHART,
        on_select=lambda: widgets.pick_pair(selection),
        selection_mode=selection,
        width="stretch",
    )
