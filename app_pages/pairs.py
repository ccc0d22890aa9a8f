"""All pairs: which digit turns into which, at a glance, and a click away from its attack."""

import io

import numpy as np
import streamlit as st

from core.attack import fgsm, minimal_epsilon
from core.inputs import classes
from core.inputs.imaging import grid_figure, to_uint8
from core.inputs.settings import TrainingSettings
from dashboard import comparison_charts, heavy, resources, widgets
from dashboard.sidebar import sidebar
from dashboard.state import WidgetKey, own_digit
from dashboard.view import View, clip_range, snap_eps


def easiest(median: np.ndarray) -> tuple[int, int]:
    """The pair with the smallest median minimal ε."""
    return np.unravel_index(np.nanargmin(np.where(np.isfinite(median), median, np.nan)), median.shape)


def reading(median: np.ndarray) -> str:
    """Two plain sentences that read the matrix: its easiest and its hardest pair."""
    finite = np.where(np.isfinite(median), median, np.nan)
    easy = easiest(median)
    never = [(s, t) for s, t in zip(*np.nonzero(np.isinf(median)))]
    text = (
        f"The easiest pair is **{easy[0]} → {easy[1]}**: half of the {easy[0]}s become a {easy[1]} "
        f"by ε = {median[easy]:.3f}. "
    )
    if never:
        s, t = never[0]
        others = f" ({len(never) - 1} more pairs like it)" if len(never) > 1 else ""
        return text + f"The hardest is **{s} → {t}**: most {s}s never become a {t}, even at ε = 1{others}."
    hard = np.unravel_index(np.nanargmax(finite), median.shape)
    return text + f"The hardest is **{hard[0]} → {hard[1]}**, at a median ε of {median[hard]:.3f}."


GRID_HALF = 340  # px: below this, the grid's two halves go one above the other


@st.cache_resource(show_spinner=False, max_entries=32)
def test_rows(settings: TrainingSettings, clip: bool, position: int, _pairs) -> list:
    """The grid's rows of test images: one of each digit, made into every other digit (pictures, captions).

    ``_pairs`` is :func:`heavy.all_pairs` of the model and clipping (not hashed: they decide it).
    """
    data = resources.dataset(settings.dataset)
    model = resources.trained(settings).model
    pairs = _pairs
    rows = []
    sources = [(digit, data.test_indices(digit)) for digit in range(10)]
    for digit, indices in sources:
        if not len(indices):
            continue
        index = indices[min(position, len(indices) - 1)]
        rows.append(_grid_row(model, clip, data.x_test[index], pairs.minimal[index], f"{digit}"))
    return rows


@st.cache_resource(show_spinner=False, max_entries=32)
def test_grid(settings: TrainingSettings, clip: bool, position: int, _pairs) -> tuple[bytes, bytes, bytes]:
    """The grid of test images alone, as PNGs (:func:`_pngs`)."""
    return _pngs(test_rows(settings, clip, position, _pairs))


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


def image_grid(view: View, model, position: int, own, toward, pairs) -> tuple[bytes, bytes, bytes]:
    """One test image of each digit (and the visitor's own, with its minimal ε ``toward`` each digit) made into
    every other digit at its own minimal ε, as PNGs (:func:`_pngs`)."""
    if own is None:
        return test_grid(view.training, view.clip, position, pairs)
    yours = _grid_row(model, view.clip, own.pixels, toward, "yours", int(model.predict(own.pixels)))
    rows = [*test_rows(view.training, view.clip, position, pairs), yours]
    return _pngs(rows)


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
    chart = comparison_charts.pair_heatmap(
        pairs.median,
        pairs.quantile(0.25),
        pairs.quantile(0.75),
        share,
        pairs.counts,
        eps=eps,
        show=show,
        chosen=(view.source, view.target),
        own=toward,
    )
    selection = comparison_charts.PAIR_SELECTION
    st.altair_chart(
        chart,
        key=WidgetKey.PAIRS_CHART,
        on_select=lambda: widgets.pick_pair(selection),
        selection_mode=selection,
        width="stretch",
    )
    st.markdown(reading(pairs.median))
    widgets.attack_link(view, f"Attack a {view.source} → {view.target} image by image")


def median_csv(median: np.ndarray) -> bytes:
    header = "source," + ",".join(f"to {t}" for t in range(10))
    rows = [
        f"{s}," + ",".join("" if np.isnan(v) else ("inf" if np.isinf(v) else f"{v:.6f}") for v in median[s])
        for s in range(10)
    ]
    return "\n".join([header, *rows]).encode()


def grid_ui(view: View, model, pairs, own, toward) -> None:
    """One test image of each digit (and your own) made into every other digit, with the downloads."""
    st.subheader("Every digit made into every other")
    data = resources.dataset(view.training.dataset)
    count = min(len(data.test_indices(d)) for d in range(10) if len(data.test_indices(d))) if data.n_test else 1
    position = widgets.position_picker(count)
    png, *halves = image_grid(view, model, position, own, toward, pairs)
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
    st.title(f"All pairs: which {classes.kind(view.dataset)} turns into which")
    st.caption(
        "Every test image attacked toward every other digit, each at its exact minimal ε. "
        "Click a cell to make it the sidebar's pair."
    )
    model = resources.trained(view.training).model
    pairs = heavy.all_pairs(view.training, view.clip)
    image = widgets.chosen_image(view)
    left, right = st.columns([2, 3], vertical_alignment="bottom")
    with left:
        show = widgets.show_choice()
    with right:
        eps = widgets.eps_slider(widgets.chosen(view, image).minimal, key_suffix="_pairs")
    share = heavy.pair_share(view.training, view.clip, eps)
    summary_ui(view, pairs.median, share, eps)
    own = own_digit(view)
    toward = None
    if own is not None:  # your own digit's row; blank where the model already reads it (its 0 would set the scale)
        toward = np.array([minimal_epsilon(model, own.pixels, t, clip=view.clip_range) for t in range(10)])
        toward[int(model.predict(own.pixels))] = np.nan
    heatmap_ui(view, pairs, share, eps, show, toward)
    grid_ui(view, model, pairs, own, toward)


main(sidebar())
