"""Charts that compare: the all-pairs heatmap, the lab's ratio histogram and robustness curves, and the
defenses' curves and histograms of two models."""

from __future__ import annotations

import functools

import altair as alt
import numpy as np
import pandas as pd

from dashboard.charts import (
    CHOSEN_COLOUR,
    DIGIT_COLOURS,
    DIGITS,
    NO_VALUE,
    eps_and_accuracy,
    image_histogram,
    on_cell,
    rule,
)

PAIR_SELECTION = "pair"  # the name of the heatmap's click selection (fields: source, target)


def pair_heatmap(
    median: np.ndarray,
    lower: np.ndarray,
    upper: np.ndarray,
    share: np.ndarray,
    counts: np.ndarray,
    *,
    eps: float,
    show: str = "median",
    chosen: tuple[int, int] | None = None,
    own: np.ndarray | None = None,
) -> alt.LayerChart:
    """Which digit turns into which: source digits in rows, targets in columns, a value in each cell.

    ``show="median"``: the median exact minimal epsilon (darker is easier);
    ``show="share"``: the share of images fooled at ``eps``. ``own`` adds a
    row "yours" (the visitor's digit: its own minimal epsilon per target; NaN where there is none to show,
    the digit the model already reads it as, which is left blank as the diagonal is).
    A click selects a cell (selection :data:`PAIR_SELECTION`); ``chosen`` is outlined.
    The chart is made once per kind and given new data on every call (building
    an Altair chart costs tens of milliseconds, most of it validation).
    """
    sources = [*DIGITS, "yours"] if own is not None else DIGITS
    own_row = np.asarray(own, float)[None, :] if own is not None else np.zeros((0, 10))
    stack = lambda table, extra: np.vstack([np.asarray(table, float), extra]).ravel()  # noqa: E731
    frame = pd.DataFrame(
        {
            "source": np.repeat(sources, 10),
            "target": np.tile(DIGITS, len(sources)),
            "median": stack(median, own_row),
            "lower": stack(lower, own_row),
            "upper": stack(upper, own_row),
            "share": stack(share, np.full_like(own_row, np.nan)),
            "eps": float(eps),
            "images": np.repeat([*np.asarray(counts, int), *([1] if own is not None else [])], 10),
        }
    )
    never = np.isinf(frame["median"])
    for field, kind in (("median", "ε"), ("lower", "ε"), ("upper", "ε"), ("share", "%")):  # tooltips: words, not inf
        frame[f"{field}_shown"] = _shown(frame[field].to_numpy(), kind)
    frame.loc[frame["source"] == frame["target"], ["median_shown", "lower_shown", "upper_shown", "share_shown"]] = "—"
    frame["chosen"] = (frame["source"] == str(chosen[0])) & (frame["target"] == str(chosen[1])) if chosen else False
    if show == "share":
        frame["label"] = np.where(np.isnan(frame["share"]), "—", (frame["share"] * 100).round().map("{:.0f}%".format))
        frame["colour"] = frame["share"]
    else:
        frame["label"] = np.where(never, "never", frame["median"].map("{:.2f}".format))
        frame["colour"] = frame["median"].where(~never)  # never fooled: no colour of the scale, a grey of its own
    frame["never"] = never & (show != "share")
    frame.loc[(frame["source"] == frame["target"]) | frame["median"].isna(), "label"] = ""  # the diagonal, yours
    chart = _pair_template(show, len(sources)).copy(deep=False)
    chart.data = frame
    return chart


def _shown(values: np.ndarray, kind: str) -> np.ndarray:
    """Values as a tooltip says them: an epsilon to 3 places or "never" (no epsilon up to 1), a share in percent;
    "—" where there is none (the diagonal, your own digit's share)."""
    values = np.asarray(values, float)
    finite = np.isfinite(values)
    text = np.where(np.isinf(values), "never", "—").astype(object)
    text[finite] = [f"{v:.0%}" if kind == "%" else f"{v:.3f}" for v in values[finite]]
    return text


LABELS_FROM_WIDTH = 480  # the heatmap's cells carry their numbers from this chart width (px) up


@functools.cache
def _pair_template(show: str, rows: int) -> alt.LayerChart:
    """The heatmap without its data: cells (with the click selection and the tooltip), then their labels."""
    click = alt.selection_point(name=PAIR_SELECTION, fields=["source", "target"], on="click", clear=False)
    base = alt.Chart().encode(
        x=alt.X("target:N", title="made into (target)", sort=DIGITS, axis=alt.Axis(labelAngle=0, orient="top")),
        y=alt.Y("source:N", title="source digit", sort=[*DIGITS, "yours"]),
    )
    if show == "share":
        colour = alt.Color(
            "colour:Q",
            title="share fooled at the chosen ε",
            scale=alt.Scale(scheme="reds", domain=[0, 1]),
            legend=alt.Legend(format=".0%"),
        )
    else:
        colour = alt.Color(
            "colour:Q", title="median minimal ε", scale=alt.Scale(scheme="viridis"), legend=alt.Legend(format=".2f")
        )
    cells = (
        base.mark_rect()
        .encode(
            color=colour,
            stroke=alt.condition("datum.chosen", alt.value(CHOSEN_COLOUR), alt.value("white")),
            strokeWidth=alt.condition("datum.chosen", alt.value(3), alt.value(1)),
            tooltip=[
                alt.Tooltip("source:N", title="source"),
                alt.Tooltip("target:N", title="target"),
                alt.Tooltip("median_shown:N", title="median minimal ε"),
                alt.Tooltip("lower_shown:N", title="quartiles from"),
                alt.Tooltip("upper_shown:N", title="to"),
                alt.Tooltip("share_shown:N", title="fooled at the chosen ε"),
                alt.Tooltip("eps:Q", format=".3f", title="chosen ε"),
                alt.Tooltip("images:Q", title="images"),
            ],
        )
        .add_params(click)
    )
    # the labels have no tooltip, so they stay out of the way of clicks on the cells
    # on a narrow screen (a phone) the cells are too small for their labels: the tooltip still says them
    labels = base.mark_text(fontSize=12, aria=False, color=on_cell("colour")).encode(
        text="label:N",
        opacity=alt.condition(f"width < {LABELS_FROM_WIDTH}", alt.value(0), alt.value(1)),
    )
    never = base.mark_rect(color=NO_VALUE, stroke="white", strokeWidth=1).transform_filter("datum.never")
    what = "the share fooled at the chosen ε" if show == "share" else "the median minimal ε"
    about = (
        f"Heatmap of {what} for every pair of source digit (rows) and target (columns); grey cells: never (no ε up "
        "to 1 makes most of the digit's images the target); the diagonal is blank; click a cell to pick it."
    )
    return alt.layer(never, cells, labels).properties(height=34 * rows + 20, description=about)


def ratio_histogram(ratios: np.ndarray, *, target: int) -> alt.Chart:
    """How much more epsilon the gradient sign step needs than the best attack: minimal / optimal, per image."""
    ratios = np.asarray(ratios, float)
    ratios = ratios[np.isfinite(ratios)]
    optimal_share = float(np.mean(ratios <= 1 + 1e-6)) if len(ratios) else 0.0  # the LP solves to about 1e-7
    top = max(float(ratios.max()) if len(ratios) else 1.05, 1.05)
    bins = 24
    first = 1.0 + (top - 1.0) / bins  # the first bar's right edge: the bar at 1 holds more than the exact ones
    near_share = float(np.mean(ratios < first)) if len(ratios) else 0.0
    title = alt.Title(
        "Gradient sign ε ÷ optimal ε",
        subtitle=f"{optimal_share:.0%} of {len(ratios)} exactly optimal, {near_share:.0%} below {first:.2f}×",
    )  # a title and a subtitle: two lines, so a narrow chart cuts neither
    return image_histogram(
        ratios,
        bins,
        (1.0, top),
        title=title,
        colour=DIGIT_COLOURS[target],
        x_title="× the optimal ε (1: the sign step is optimal)",
    ).properties(
        height=300,
        description=f"Histogram of gradient sign ε ÷ optimal ε over {len(ratios)} images: "
        f"{optimal_share:.0%} exactly optimal.",
    )


def robustness_chart(curve, *, chosen_eps: float | None = None) -> alt.LayerChart:
    """Accuracy against epsilon under the gradient sign method, PGD, and in the exact worst case (certified)."""
    frame = pd.concat(
        [
            pd.DataFrame({"eps": curve.eps, "accuracy": curve.fgsm, "attack": "FGSM"}),
            pd.DataFrame({"eps": curve.pgd_eps, "accuracy": curve.pgd, "attack": "PGD, 10 steps"}),
            pd.DataFrame({"eps": curve.eps, "accuracy": curve.worst, "attack": "worst case"}),
        ]
    )
    names = ["FGSM", "PGD, 10 steps", "worst case"]
    lines = (
        alt.Chart(frame, title=f"Accuracy of {curve.n_images} test images under attack")
        .mark_line(strokeWidth=2.5)
        .encode(
            **eps_and_accuracy(),
            color=alt.Color(
                "attack:N",
                title="",
                sort=names,
                scale=alt.Scale(domain=names, range=["#4e79a7", "#f28e2b", "#59a14f"]),
                legend=alt.Legend(orient="top"),
            ),
            strokeDash=alt.StrokeDash(
                "attack:N", sort=names, legend=None, scale=alt.Scale(domain=names, range=[[1, 0], [5, 3], [1, 0]])
            ),
            tooltip=[
                alt.Tooltip("eps:Q", format=".3f", title="epsilon"),
                "attack:N",
                alt.Tooltip("accuracy:Q", format=".1%"),
            ],
        )
    )
    about = (
        f"Line chart of the accuracy of {curve.n_images} test images against epsilon under the gradient sign "
        "method, under PGD, and in the exact worst case (certified)."
    )
    return alt.layer(lines, *rule(chosen_eps, CHOSEN_COLOUR, "chosen ε")).properties(height=320, description=about)


MODEL_COLOURS = ["#9c9c9c", "#2a9d8f"]  # the normal model in grey, the defended one in teal


def defense_chart(curves: dict, *, chosen_eps: float | None = None) -> alt.LayerChart:
    """Certified accuracy (solid) and accuracy under the gradient sign attack (dashed) against epsilon, per model."""
    frame = pd.concat(
        [
            pd.DataFrame({"eps": curve.eps, "accuracy": values, "model": name, "measure": measure})
            for name, curve in curves.items()
            for measure, values in (("certified", curve.worst), ("under the gradient sign attack", curve.fgsm))
        ]
    )
    names, measures = list(curves), ["certified", "under the gradient sign attack"]
    n_images = next(iter(curves.values())).n_images
    lines = (
        alt.Chart(frame, title=f"Accuracy of {n_images:,} test images against ε")
        .mark_line(strokeWidth=2.5)
        .encode(
            **eps_and_accuracy(),
            color=alt.Color(
                "model:N",
                title="",
                sort=names,
                scale=alt.Scale(domain=names, range=MODEL_COLOURS),
                legend=alt.Legend(orient="top"),
            ),
            strokeDash=alt.StrokeDash(
                "measure:N",
                title="",
                sort=measures,  # below: two legends overflow a phone
                legend=alt.Legend(orient="bottom", labelLimit=320),
                scale=alt.Scale(domain=measures, range=[[1, 0], [6, 4]]),
            ),
            detail="measure:N",
            tooltip=[
                "model:N",
                "measure:N",
                alt.Tooltip("eps:Q", format=".3f", title="epsilon"),
                alt.Tooltip("accuracy:Q", format=".1%"),
            ],
        )
    )
    about = (
        f"Line chart of certified accuracy and accuracy under the gradient sign attack against epsilon, for "
        f"{' and '.join(names)}, on {n_images:,} test images."
    )
    return alt.layer(lines, *rule(chosen_eps, CHOSEN_COLOUR, "chosen ε")).properties(height=340, description=about)


def model_histograms(
    values: dict, *, title: str, x_title: str, chosen_eps: float | None = None, bins: int = 40
) -> alt.LayerChart:
    """Per model, how many images need how much epsilon, overlaid; images never changed are left out (in the title)."""
    names = list(values)
    finite = [v[np.isfinite(v)] for v in values.values()]
    top = max([0.05, *(float(f.max()) for f in finite if f.size)])
    never = [len(v) - len(f) for v, f in zip(values.values(), finite)]
    if any(never):
        title += " (never: " + ", ".join(f"{name.lower()} {count}" for name, count in zip(names, never)) + ")"
    frames = []
    for name, each in zip(names, finite):
        counts, edges = np.histogram(each, bins=bins, range=(0.0, top))
        frames.append(pd.DataFrame({"start": edges[:-1], "end": edges[1:], "images": counts, "model": name}))
    bars = (
        alt.Chart(pd.concat(frames), title=title)
        .mark_bar(opacity=0.6, binSpacing=0)
        .encode(
            x=alt.X("start:Q", bin="binned", title=x_title),
            x2="end:Q",
            y=alt.Y("images:Q", title="images", stack=None),
            color=alt.Color(
                "model:N",
                title="",
                sort=names,
                scale=alt.Scale(domain=names, range=MODEL_COLOURS),
                legend=alt.Legend(orient="top"),
            ),
            tooltip=[
                "model:N",
                alt.Tooltip("start:Q", format=".3f", title="from"),
                alt.Tooltip("end:Q", format=".3f", title="to"),
                "images:Q",
            ],
        )
    )
    about = f"Overlaid histograms of {x_title} per model ({', '.join(names)}): {title}."
    return alt.layer(bars, *rule(chosen_eps, CHOSEN_COLOUR, "chosen ε")).properties(height=300, description=about)


NETWORK_COLOURS = ["#4e79a7", "#e15759", "#59a14f"]  # linear blue, the network red, its certificate green


def success_by_model(curves: dict, *, target: int, chosen_eps: float | None = None) -> alt.LayerChart:
    """The share of the source digit's test images the gradient sign step makes the target, per model, against ε."""
    names = list(curves)
    frame = pd.concat(
        [
            pd.DataFrame({"eps": curve.eps, "fooled": curve.fooled_share, "model": name})
            for name, curve in curves.items()
        ]
    )
    n_images = next(iter(curves.values())).n_images
    lines = (
        alt.Chart(
            frame,
            title=alt.Title(
                f"Gradient sign step: share read as {target}",
                subtitle=f"{n_images} test images, each model on its own gradient",
            ),
        )
        .mark_line(strokeWidth=2.5)
        .encode(
            x=alt.X("eps:Q", title="epsilon", scale=alt.Scale(domain=[0, float(frame["eps"].max())])),
            y=alt.Y(
                "fooled:Q", title=f"share read as {target}", axis=alt.Axis(format="%"), scale=alt.Scale(domain=[0, 1])
            ),
            color=alt.Color(
                "model:N",
                title="",
                sort=names,
                scale=alt.Scale(domain=names, range=NETWORK_COLOURS[: len(names)]),
                legend=alt.Legend(orient="top", direction="vertical", labelLimit=260),  # stacked: fits a phone
            ),
            strokeDash=alt.StrokeDash(
                "model:N",
                sort=names,
                legend=None,
                scale=alt.Scale(domain=names, range=[[1, 0], [6, 3], [2, 2]][: len(names)]),
            ),
            tooltip=[
                "model:N",
                alt.Tooltip("eps:Q", format=".3f", title="epsilon"),
                alt.Tooltip("fooled:Q", format=".1%", title=f"read as {target}"),
            ],
        )
    )
    about = (
        f"Line chart of the share of {n_images} test images the gradient sign step makes read as {target}, "
        f"against epsilon, for {' and '.join(names)}."
    )
    return alt.layer(lines, *rule(chosen_eps, CHOSEN_COLOUR, "chosen ε")).properties(height=320, description=about)


def bracket_histogram(ratios: dict, *, bins: int = 24) -> alt.Chart:
    """Per model, the sign step's ε ÷ the certified lower bound, per image: 1 where the bound is the answer."""
    names = list(ratios)
    finite = {name: np.asarray(r, float)[np.isfinite(r)] for name, r in ratios.items()}
    top = max([1.05, *(float(np.quantile(f, 0.98)) for f in finite.values() if f.size)])
    frames = []
    for name, each in finite.items():
        counts, edges = np.histogram(np.minimum(each, top), bins=bins, range=(1.0, top))
        frames.append(pd.DataFrame({"start": edges[:-1], "end": edges[1:], "images": counts, "model": name}))
    short = lambda name: "network" if "network" in name.lower() else "linear"  # noqa: E731
    medians = ", ".join(f"{short(name)} {np.median(f):.2f}×" for name, f in finite.items() if f.size)
    bars = (
        alt.Chart(pd.concat(frames), title=alt.Title("Sign step ε ÷ certified bound", subtitle=f"median: {medians}"))
        .mark_bar(opacity=0.65, binSpacing=0)
        .encode(
            x=alt.X("start:Q", bin="binned", title="× the certified bound (1: the bound is the answer)"),
            x2="end:Q",
            y=alt.Y("images:Q", title="images", stack=None),
            color=alt.Color(
                "model:N",
                title="",
                sort=names,
                scale=alt.Scale(domain=names, range=NETWORK_COLOURS[: len(names)]),
                legend=alt.Legend(orient="top", direction="vertical", labelLimit=260),  # stacked: fits a phone
            ),
            tooltip=[
                "model:N",
                alt.Tooltip("start:Q", format=".2f", title="from ×"),
                alt.Tooltip("end:Q", format=".2f", title="to ×"),
                "images:Q",
            ],
        )
    )
    about = (
        f"Overlaid histograms of the gradient sign step's epsilon divided by the certified lower bound, per "
        f"image, for {' and '.join(names)}; median {medians}."
    )
    return bars.properties(height=300, description=about)
