"""All pairs: which digit turns into which, at a glance, and a click away from its attack."""

import numpy as np
import streamlit as st

from dashboard import figures, results, widgets
from dashboard.sidebar import sidebar
from dashboard.state import own_digit
from dashboard.view import View
from dashboard.wording import article, easiest, kind, reading

GRID_HALF = 340  # px: below this, the grid's two halves go one above the other


def summary_ui(view: View, median: np.ndarray, share: np.ndarray, eps: float) -> None:
    """Four numbers that read the matrix: the easiest pair, the median, the share fooled, the sidebar's pair."""
    off = ~np.eye(10, dtype=bool)
    easy = easiest(median)
    columns = st.columns(4)
    columns[0].metric(
        "Easiest pair", f"{easy[0]} → {easy[1]}", f"median ε {median[easy]:.3f}", delta_color="off", delta_arrow="off"
    )
    columns[1].metric("Median ε over all 90 pairs", f"{np.median(median[off]):.3f}")
    columns[2].metric(f"Fooled at ε = {eps:.3f}", f"{np.nanmean(share[off]):.0%}", help="Mean over the 90 pairs")
    columns[3].metric(
        f"{view.source} → {view.target} fooled at ε = {eps:.3f}", f"{share[view.source, view.target]:.0%}"
    )


def heatmap_ui(view: View, pairs, share: np.ndarray, eps: float, show: str, toward) -> None:
    """The 10x10 heatmap (and your own digit's row); a click on a cell makes it the sidebar's pair."""
    figures.pair_heatmap(view, pairs, share, eps, show, toward)
    st.markdown(reading(pairs.median))
    widgets.attack_link(view, f"Attack {article(view.source)} → {view.target} image by image")


def median_csv(median: np.ndarray) -> bytes:
    header = "source," + ",".join(f"to {t}" for t in range(10))
    rows = [
        f"{s}," + ",".join("" if np.isnan(v) else ("inf" if np.isinf(v) else f"{v:.6f}") for v in median[s])
        for s in range(10)
    ]
    return "\n".join([header, *rows]).encode()


def grid_ui(view: View, pairs, own, toward) -> None:
    """One test image of each digit (and your own) made into every other digit, with the downloads."""
    st.subheader("Every digit made into every other")
    data = results.dataset(view.training.dataset)
    count = min(len(data.test_indices(d)) for d in range(10) if len(data.test_indices(d))) if data.n_test else 1
    position = widgets.position_picker(count)
    png, *halves = results.image_grid(view, position, own, toward, pairs)
    alt = (
        f"A grid of adversarial images: test image #{position} of each digit (rows) made into every other "
        "digit (columns) at its own minimal ε, labelled with it and the answer."
    )
    cells = st.grid(2, min_column_width=GRID_HALF)  # side by side on a desktop, one above the other on a phone
    for half, targets in zip(halves, ("0 to 4", "5 to 9")):
        cells.image(half, width="stretch", alt=f"{alt} Targets {targets}.")
    st.caption(
        f"Row: the source digit (its test image #{position}); column: the target. Each image is attacked at the "
        "first slider stop above its own exact minimal ε, and labelled with that ε and what the model then says "
        "(never: no ε up to 1 makes it the target); the diagonal is the original."
    )
    left, right = st.columns(2)
    left.download_button(
        "Download the grid (PNG)", png, "all-pairs-grid.png", "image/png", on_click="ignore", width="stretch"
    )
    right.download_button(
        "Download the matrix (CSV)",
        median_csv(pairs.median),
        "all-pairs-median-eps.csv",
        "text/csv",
        on_click="ignore",
        width="stretch",
    )


def main(view: View) -> None:
    st.title(f"All pairs: which {kind(view.dataset)} turns into which")
    st.caption(
        "Every test image attacked toward every other digit, each at its exact minimal ε. "
        "Click a cell to make it the sidebar's pair."
    )
    results.trained(view.training)
    pairs = results.all_pairs(view.training, view.clip)
    image = widgets.chosen_image(view)
    left, right = st.columns([2, 3], vertical_alignment="bottom")
    with left:
        show = widgets.show_choice()
    with right:
        eps = widgets.eps_slider(results.chosen(view, image).minimal, key_suffix="_pairs")
    share = results.pair_share(view.training, view.clip, eps)
    summary_ui(view, pairs.median, share, eps)
    own = own_digit(view)
    toward = None
    if own is not None:  # your own digit's row; blank where the model already reads it (its 0 would set the scale)
        toward = results.own_toward(view, own.pixels)
    heatmap_ui(view, pairs, share, eps, show, toward)
    grid_ui(view, pairs, own, toward)


main(sidebar())
