"""All pairs: which digit turns into which, at a glance, and a click away from its attack."""

import io
from urllib.parse import urlencode

import numpy as np
import streamlit as st
from streamlit.errors import StreamlitPageNotFoundError

from core.attack import fgsm, minimal_epsilon
from core.imaging import grid_figure, to_uint8
from dashboard import comparison_charts, heavy, resources, widgets
from dashboard.state import SHOWS, View, WidgetKey, change, clamp, own_digit, snap_eps, widget_key


def _picked() -> None:
    """A click on a cell: that pair becomes the sidebar's source and target."""
    chosen = st.session_state[WidgetKey.PAIRS_CHART]["selection"].get(comparison_charts.PAIR_SELECTION) or []
    if not chosen:
        return
    source, target = chosen[0].get("source"), chosen[0].get("target")
    if source == target or target is None:
        return
    if source not in (None, "yours"):
        if int(source) == st.session_state["target"]:  # keep the two digits different on the way
            change("target", (int(source) + 1) % 10)
        change("source", int(source))
    change("target", int(target))


def _shown() -> None:
    if st.session_state[widget_key("show")] is not None:  # a click on the chosen option keeps it
        change("show", st.session_state[widget_key("show")])


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


@st.cache_resource(show_spinner=False, max_entries=32)
def test_rows(view: View, position: int, _pairs) -> list:
    """The grid's rows of test images: one of each digit, made into every other digit (pictures, captions).

    ``_pairs`` is :func:`heavy.all_pairs` of the view (not hashed: the view decides it).
    """
    data = resources.dataset(view.training.dataset)
    model = resources.trained(view.training).model
    pairs = _pairs
    rows = []
    sources = [(digit, data.test_indices(digit)) for digit in range(10)]
    for digit, indices in sources:
        if not len(indices):
            continue
        index = indices[min(position, len(indices) - 1)]
        rows.append(_grid_row(model, view, data.x_test[index], pairs.minimal[index], f"{digit}"))
    return rows


@st.cache_resource(show_spinner=False, max_entries=32)
def test_grid(view: View, position: int, _pairs) -> bytes:
    """The grid of test images alone, as PNG."""
    return _png(grid_figure(test_rows(view, position, _pairs), scale=3))


def _png(figure) -> bytes:
    buffer = io.BytesIO()
    figure.save(buffer, format="PNG")
    return buffer.getvalue()


def image_grid(view: View, model, position: int, own, toward, pairs) -> bytes:
    """One test image of each digit (and the visitor's own, with its minimal ε ``toward`` each digit) made into
    every other digit at its own minimal ε, as PNG."""
    view = View(view.training, 0, 1, view.clip)  # the same for every chosen pair
    if own is None:
        return test_grid(view, position, pairs)
    pixels, _ = own
    yours = _grid_row(model, view, pixels, toward, "yours", int(model.predict(pixels)))
    rows = [*test_rows(view, position, pairs), yours]
    return _png(grid_figure(rows, scale=3))


def _grid_row(model, view, x, minimal, name, own_class=None):
    pictures, captions = [], []
    home = int(name) if own_class is None else own_class
    for target in range(10):
        if target == home:
            pictures.append(to_uint8(x))
            captions.append("original")
            continue
        eps = snap_eps(float(minimal[target]))  # the first slider stop past the minimal: fooled
        adversarial = fgsm(model, x, eps, target=target, clip=view.clip_range)
        said = int(model.predict(adversarial))
        pictures.append(to_uint8(adversarial) if view.clip else to_uint8(adversarial, None, None))
        captions.append(f"{eps:.3f} says {said}" if np.isfinite(minimal[target]) else f"never: {said}")
    return pictures, captions


def attack_link(view: View) -> None:
    """A link to the per-image attack on the chosen pair: in this session, and as a link that works when copied."""
    params = {"source": str(view.source), "target": str(view.target), "clip": "1" if view.clip else "0"}
    label = f"Attack a {view.source} → {view.target} image by image"
    try:
        st.page_link("app_pages/attack.py", label=label, icon=":material/target:", query_params=params)
    except StreamlitPageNotFoundError:  # this page opened on its own, without the app's navigation
        st.markdown(f"[{label}](attack?{urlencode(params)})")


def main(view: View) -> None:
    st.title("All pairs: which digit turns into which")
    st.caption(
        "Every test image attacked toward every other digit, each at its exact minimal ε. "
        "Click a cell to make it the sidebar's pair."
    )
    model = resources.trained(view.training).model
    pairs = heavy.all_pairs(view.training, view.clip)
    median = pairs.median
    image = widgets.chosen_image(view)
    left, right = st.columns([2, 3], vertical_alignment="bottom")
    st.session_state[widget_key("show")] = show = st.session_state["show"]
    left.segmented_control("Show", list(SHOWS), format_func=SHOWS.get, key=widget_key("show"), on_change=_shown)
    with right:
        eps = widgets.eps_slider(widgets.chosen(view, image).minimal, key_suffix="_pairs")
    share = heavy.pair_share(view.training, view.clip, eps)
    off = ~np.eye(10, dtype=bool)
    easy = easiest(median)
    columns = st.columns(4)
    columns[0].metric(
        "Easiest pair", f"{easy[0]} → {easy[1]}", f"median ε {median[easy]:.3f}", delta_color="off", delta_arrow="off"
    )
    columns[1].metric("Median ε over all 90 pairs", f"{np.median(median[off]):.3f}")
    columns[2].metric(f"Fooled at ε = {eps:.3f}", f"{np.nanmean(share[off]):.0%}", help="Mean over the 90 pairs")
    columns[3].metric(f"{view.source} → {view.target} fooled at ε", f"{share[view.source, view.target]:.0%}")
    own = own_digit()
    toward = None
    if own is not None:
        toward = np.array([minimal_epsilon(model, own[0], t, clip=view.clip_range) for t in range(10)])
    chart = comparison_charts.pair_heatmap(
        median, pairs.quantile(0.25), pairs.quantile(0.75), share, pairs.counts,
        eps=eps, show=show, chosen=(view.source, view.target), own=toward,
    )  # fmt: skip
    st.altair_chart(
        chart,
        key=WidgetKey.PAIRS_CHART,
        on_select=_picked,
        selection_mode=comparison_charts.PAIR_SELECTION,
        width="stretch",
    )
    st.markdown(reading(median))
    attack_link(view)

    st.subheader("Every digit made into every other")
    data = resources.dataset(view.training.dataset)
    count = min(len(data.test_indices(d)) for d in range(10) if len(data.test_indices(d))) if data.n_test else 1
    position = int(clamp(st.session_state.setdefault(WidgetKey.PAIRS_IMAGE, 0), 0, max(count - 1, 0)))
    st.session_state[WidgetKey.PAIRS_IMAGE] = position
    st.number_input(
        f"Which test image of each digit (0-{count - 1})", 0, max(count - 1, 0), step=1, key=WidgetKey.PAIRS_IMAGE
    )
    png = image_grid(view, model, position, own, toward, pairs)
    st.image(png, width="stretch")
    st.caption(
        f"Row: the source digit (its test image #{position}); column: the target. Each image is attacked at the "
        "first slider stop above its own exact minimal ε, and labelled with that ε and what the model then says "
        "(never: no ε up to 1 makes it the target); the diagonal is the original."
    )
    left, right = st.columns(2)
    left.download_button("Download the grid (PNG)", png, "all-pairs-grid.png", "image/png", on_click="ignore",
                         width="stretch")  # fmt: skip
    table = "source," + ",".join(f"to {t}" for t in range(10)) + "\n" + "\n".join(
        f"{s}," + ",".join("" if np.isnan(v) else ("inf" if np.isinf(v) else f"{v:.6f}") for v in median[s])
        for s in range(10)
    )  # fmt: skip
    right.download_button("Download the matrix (CSV)", table.encode(), "all-pairs-median-eps.csv", "text/csv",
                          on_click="ignore", width="stretch")  # fmt: skip


main(widgets.sidebar())
