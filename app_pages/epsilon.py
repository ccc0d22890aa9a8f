"""Epsilon chart: the seed's class-score chart for one image, and the attack's success on all of them."""

import numpy as np
import streamlit as st

from dashboard import attack_charts, results, wording
from dashboard.sidebar import sidebar
from dashboard.state import WidgetKey
from dashboard.view import View
from dashboard.widgets import image_and_eps
from dashboard.wording import the_class

RESOLUTIONS = [21, 51, 101, 201, 401, 1001]


def sweep_controls() -> tuple[float, float, int, str]:
    left, middle, right = st.columns([2, 1, 1])
    low, high = left.slider("Epsilon range", -1.0, 1.0, (-1.0, 1.0), step=0.05, key=WidgetKey.SWEEP_RANGE)
    if high - low < 0.05:  # a slider cannot produce this, a stale state could: keep a usable range
        low, high = -1.0, 1.0
    points = middle.select_slider("Points", RESOLUTIONS, value=101, key=WidgetKey.SWEEP_POINTS)
    scale = right.segmented_control("Scores", ["logits", "probabilities"], default="logits", key=WidgetKey.SWEEP_SCALE)
    return low, high, points, scale or "logits"


def scores_ui(view: View, selected, eps: float) -> None:
    """The seed's chart: every class's score as every pixel moves by epsilon."""
    low, high, points, scale = sweep_controls()
    grid = np.linspace(low, high, points)
    sweep = results.class_scores(view, selected.pixels, grid)
    chart = attack_charts.class_scores_chart(
        grid,
        sweep.logits if scale == "logits" else sweep.probabilities,
        source=view.source,
        target=view.target,
        score_name="logit" if scale == "logits" else "probability",
        minimal_eps=selected.minimal,
        chosen_eps=eps,
    )
    st.altair_chart(chart, width="stretch")
    st.caption(
        f"{selected.label[0].upper()}{selected.label[1:]}. Each line is one class's score as every pixel moves by ε; "
        + wording.crossing(view.target, selected.minimal, view.clip)
    )


def all_images_ui(view: View, count: int, eps: float) -> None:
    """The attack on every test image of the source digit: share fooled, confidence, minimal epsilons."""
    st.subheader(f"All {count} test images of {the_class(view.dataset, view.source)}")
    minimal_all = results.minimal_epsilons(view)
    never = int(np.count_nonzero(~np.isfinite(minimal_all)))
    median = float(np.median(minimal_all)) if len(minimal_all) else float("nan")
    curve = results.source_success_curve(view, 0.0, 1.0, 201)
    columns = st.columns(3)
    columns[0].metric("Median minimal ε", f"{median:.4f}" if np.isfinite(median) else "none")
    columns[1].metric(f"Fooled into {view.target} at ε = {eps:.3f}", f"{results.fooled_share(view, eps):.0%}")
    columns[2].metric("Never fooled up to ε = 1", f"{never}")
    left, right = st.columns(2)
    left.altair_chart(
        attack_charts.success_chart(
            curve.eps,
            curve.fooled_share,
            curve.mean_target_probability,
            target=view.target,
            median_eps=median,
            chosen_eps=eps,
        ),
        width="stretch",
    )
    left.caption(f"Share of images the model calls {view.target}, and its mean confidence, at each ε (201 points).")
    right.altair_chart(
        attack_charts.minimal_eps_histogram(minimal_all, target=view.target, chosen_eps=eps), width="stretch"
    )
    right.caption("Exact minimal ε of every image: the smallest step that makes the model change its mind.")


def main(view: View) -> None:
    heading = st.empty()
    results.trained(view.training)
    _, images = results.source_images(view)
    selected, eps = image_and_eps(view, key_suffix="_epsilon")
    heading.title(f"Class scores against epsilon: {selected.pair(view)}")
    scores_ui(view, selected, eps)
    all_images_ui(view, len(images), eps)


main(sidebar())
