"""Altair chart builders: data in, ``alt.Chart`` out. No Streamlit here.

Colours: one fixed colour per digit (Tableau 10) on every chart, so a 6 is
the same colour everywhere; the source and target digits are drawn heavier.
Charts leave background and fonts to the host theme, so they read in light
and dark mode.
"""

from __future__ import annotations

import functools

import altair as alt
import numpy as np
import pandas as pd

DIGIT_COLOURS = [
    "#4e79a7",
    "#f28e2b",
    "#e15759",
    "#76b7b2",
    "#59a14f",
    "#edc948",
    "#b07aa1",
    "#ff9da7",
    "#9c755f",
    "#bab0ac",
]
CHOSEN_COLOUR = "#e8384f"  # the chosen epsilon, as in Streamlit's demos
MINIMAL_COLOUR = "#888888"
DIGITS = [str(d) for d in range(10)]


def _digit_colour(title: str = "digit") -> alt.Color:
    return alt.Color("digit:N", scale=alt.Scale(domain=DIGITS, range=DIGIT_COLOURS), title=title)


def _rule(eps: float | None, colour: str, label: str, dash=None, side: str = "right") -> list[alt.Chart]:
    """A vertical rule at ``eps`` labelled on one ``side``; nothing when eps is None or inf.

    Two rules close together (minimal and chosen epsilon) keep readable
    labels by putting them on opposite sides.
    """
    if eps is None or not np.isfinite(eps):
        return []
    frame = pd.DataFrame({"eps": [float(eps)], "label": [f"{label} {eps:.3f}"]})
    base = alt.Chart(frame)
    rule = base.mark_rule(color=colour, strokeWidth=2, strokeDash=dash or []).encode(
        x="eps:Q", tooltip=[alt.Tooltip("label:N", title="")]
    )
    text = base.mark_text(
        color=colour,
        align="left" if side == "right" else "right",
        dx=5 if side == "right" else -5,
        baseline="top",
        dy=4,
        fontSize=11,
        fontWeight="bold",
    ).encode(x="eps:Q", y=alt.value(0), text="label:N")
    return [rule, text]


def accuracy_chart(history) -> alt.Chart:
    frame = pd.DataFrame([{"epoch": h.epoch, "train": h.train_accuracy, "test": h.test_accuracy} for h in history])
    frame = frame.melt("epoch", ["train", "test"], var_name="set", value_name="accuracy")
    return (
        alt.Chart(frame, title="Accuracy per epoch")
        .mark_line(point=len(frame) < 120)
        .encode(
            x=alt.X("epoch:Q", title="epoch", axis=alt.Axis(tickMinStep=1)),
            y=alt.Y("accuracy:Q", title="accuracy", scale=alt.Scale(zero=False), axis=alt.Axis(format=".0%")),
            color=alt.Color("set:N", title="", scale=alt.Scale(domain=["train", "test"], range=["#4e79a7", "#f28e2b"])),
            tooltip=["epoch:Q", "set:N", alt.Tooltip("accuracy:Q", format=".2%")],
        )
        .properties(height=280)
    )


def loss_chart(history) -> alt.Chart:
    frame = pd.DataFrame([{"epoch": h.epoch, "loss": h.loss} for h in history])
    return (
        alt.Chart(frame, title="Mean training loss")
        .mark_line(point=len(frame) < 60, color="#59a14f")
        .encode(
            x=alt.X("epoch:Q", title="epoch", axis=alt.Axis(tickMinStep=1)),
            y=alt.Y("loss:Q", title="cross-entropy (nats)", scale=alt.Scale(zero=False)),
            tooltip=["epoch:Q", alt.Tooltip("loss:Q", format=".4f")],
        )
        .properties(height=280)
    )


def per_class_accuracy_chart(per_class: np.ndarray, highlight=()) -> alt.Chart:
    """Test accuracy of every digit, as bars labelled with their value."""
    frame = pd.DataFrame({"digit": DIGITS, "accuracy": np.asarray(per_class, dtype=float)})
    frame["emphasis"] = frame["digit"].isin([str(d) for d in highlight])
    base = alt.Chart(frame, title="Test accuracy per digit").encode(
        x=alt.X("digit:N", title="digit", axis=alt.Axis(labelAngle=0)),
        y=alt.Y("accuracy:Q", title="test accuracy", scale=alt.Scale(domain=[0, 1]), axis=alt.Axis(format=".0%")),
        tooltip=["digit:N", alt.Tooltip("accuracy:Q", format=".1%")],
    )
    bars = base.mark_bar().encode(
        color=_digit_colour(),
        opacity=alt.condition("datum.emphasis", alt.value(1.0), alt.value(0.55)),
    )
    labels = base.mark_text(dy=-6, fontSize=11, fontWeight="bold").encode(
        text=alt.Text("accuracy:Q", format=".0%"),
        color=alt.Color("digit:N", scale=alt.Scale(domain=DIGITS, range=DIGIT_COLOURS), legend=None),
    )  # in the bar's own colour: readable on light and dark backgrounds
    return (bars + labels).properties(height=280)


def confusion_chart(confusion: np.ndarray) -> alt.Chart:
    """Counts of (true digit, predicted digit) on the test set, with the count in each cell."""
    confusion = np.asarray(confusion)
    true, predicted = np.indices(confusion.shape)
    frame = pd.DataFrame(
        {"true": true.ravel().astype(str), "predicted": predicted.ravel().astype(str), "count": confusion.ravel()}
    )
    frame["share"] = frame["count"] / np.maximum(confusion.sum(axis=1)[true.ravel()], 1)
    base = alt.Chart(frame, title="Confusion matrix (test set)").encode(
        x=alt.X("predicted:N", title="predicted digit", axis=alt.Axis(labelAngle=0, orient="top")),
        y=alt.Y("true:N", title="true digit"),
        tooltip=["true:N", "predicted:N", "count:Q", alt.Tooltip("share:Q", format=".1%", title="share of row")],
    )
    cells = base.mark_rect().encode(
        color=alt.Color(
            "share:Q",
            title="share of row",
            scale=alt.Scale(scheme="blues", type="sqrt", domain=[0, 1]),
            legend=alt.Legend(values=[0, 0.1, 0.25, 0.5, 1], format=".0%"),  # evenly spaced on the sqrt scale
        )
    )
    counts = base.mark_text(fontSize=11).encode(
        text=alt.condition("datum.count > 0", "count:Q", alt.value("")),
        color=alt.condition("datum.share > 0.45", alt.value("white"), alt.value("#333333")),
    )
    return (cells + counts).properties(height=340)


def probability_bars(before: np.ndarray, after: np.ndarray, source: int, target: int) -> alt.Chart:
    """The ten class probabilities of the original and the adversarial image, side by side."""
    frame = pd.concat(
        [
            pd.DataFrame({"digit": DIGITS, "image": "original", "probability": np.asarray(before, float)}),
            pd.DataFrame({"digit": DIGITS, "image": "adversarial", "probability": np.asarray(after, float)}),
        ]
    )
    return (
        alt.Chart(frame, title="Class probabilities")
        .mark_bar()
        .encode(
            x=alt.X("digit:N", title="class", axis=alt.Axis(labelAngle=0)),
            xOffset=alt.XOffset("image:N", sort=["original", "adversarial"]),
            y=alt.Y("probability:Q", title="probability", scale=alt.Scale(domain=[0, 1]), axis=alt.Axis(format=".0%")),
            color=alt.Color(
                "image:N",
                title="",
                sort=["original", "adversarial"],
                scale=alt.Scale(
                    domain=["original", "adversarial"], range=[DIGIT_COLOURS[source], DIGIT_COLOURS[target]]
                ),
            ),
            tooltip=["image:N", "digit:N", alt.Tooltip("probability:Q", format=".2%")],
        )
        .properties(height=260)
    )


def class_scores_chart(
    eps: np.ndarray,
    scores: np.ndarray,
    *,
    source: int,
    target: int,
    score_name: str = "logit",
    minimal_eps: float | None = None,
    chosen_eps: float | None = None,
) -> alt.LayerChart:
    """The seed's chart: every class score against epsilon, one line per digit.

    The source and target lines are heavy, the other eight light; a dashed
    rule marks the exact minimal epsilon and a red rule the chosen one.
    Hovering shows all ten scores at the nearest epsilon.
    """
    scores = np.asarray(scores, dtype=float)
    frame = pd.DataFrame(
        {
            "eps": np.repeat(np.asarray(eps, float), 10),
            "digit": np.tile(DIGITS, len(eps)),
            "score": scores.ravel(),
        }
    )
    frame["role"] = np.where(
        frame["digit"] == str(target), "target", np.where(frame["digit"] == str(source), "source", "other")
    )
    is_probability = score_name == "probability"
    y_axis = alt.Axis(format=".0%") if is_probability else alt.Axis()
    hover = alt.selection_point(fields=["eps"], nearest=True, on="pointerover", empty=False)
    # Explicit domains: the hovered dots' layer is empty until a hover, and Vega would warn
    # "Infinite extent" computing a domain from it.
    low, high = (0.0, 1.0) if is_probability else (float(scores.min()), float(scores.max()))
    base = alt.Chart(frame).encode(
        x=alt.X("eps:Q", title="epsilon (positive moves toward the target)",
                scale=alt.Scale(domain=[float(np.min(eps)), float(np.max(eps))])),
        y=alt.Y("score:Q", title="class probability" if is_probability else "class score (logit)", axis=y_axis,
                scale=alt.Scale(domain=[low, high], nice=True)),
        color=_digit_colour(),
    )  # fmt: skip
    lines = base.mark_line().encode(
        strokeWidth=alt.condition("datum.role != 'other'", alt.value(3.5), alt.value(1.5)),
        opacity=alt.condition("datum.role != 'other'", alt.value(1.0), alt.value(0.6)),
        detail="digit:N",
    )
    score_format = ".2%" if is_probability else ".3f"
    tooltip = [alt.Tooltip("eps:Q", format=".3f", title="epsilon")] + [
        alt.Tooltip(
            f"{d}:Q",
            format=score_format,
            title=f"{d}{' (source)' if int(d) == source else ''}{' (target)' if int(d) == target else ''}",
        )
        for d in DIGITS
    ]
    wide = frame.pivot(index="eps", columns="digit", values="score").reset_index()
    hover_rule = (
        alt.Chart(wide)
        .mark_rule(color="#999999")
        .encode(x="eps:Q", opacity=alt.condition(hover, alt.value(0.6), alt.value(0)), tooltip=tooltip)
        .add_params(hover)
    )
    dots = base.mark_point(filled=True, size=40).encode(opacity=alt.condition(hover, alt.value(1), alt.value(0)))
    dots = dots.transform_filter(hover)
    layers = [lines, hover_rule, dots]
    chosen_side = "right" if chosen_eps is None or minimal_eps is None or chosen_eps >= minimal_eps else "left"
    layers += _rule(
        minimal_eps, MINIMAL_COLOUR, "minimal ε", dash=[6, 4], side="left" if chosen_side == "right" else "right"
    )
    layers += _rule(chosen_eps, CHOSEN_COLOUR, "chosen ε", side=chosen_side)
    return alt.layer(*layers).properties(height=420)


def success_chart(eps, fooled_share, mean_target_probability, *, target: int, median_eps=None, chosen_eps=None):
    """Share of images classified as the target and the mean target probability against epsilon."""
    frame = pd.DataFrame(
        {
            "eps": np.asarray(eps, float),
            f"classified as {target}": np.asarray(fooled_share, float),
            f"mean probability of {target}": np.asarray(mean_target_probability, float),
        }
    ).melt("eps", var_name="measure", value_name="value")
    lines = (
        alt.Chart(frame)
        .mark_line(strokeWidth=2.5)
        .encode(
            x=alt.X("eps:Q", title="epsilon"),
            y=alt.Y(
                "value:Q",
                title="share of images / probability",
                scale=alt.Scale(domain=[0, 1]),
                axis=alt.Axis(format=".0%"),
            ),
            color=alt.Color(
                "measure:N",
                title="",
                scale=alt.Scale(range=[DIGIT_COLOURS[target], "#4e79a7"]),
                legend=alt.Legend(orient="bottom"),
            ),
            strokeDash=alt.StrokeDash(
                "measure:N", title="", scale=alt.Scale(range=[[1, 0], [5, 3]]), legend=alt.Legend(orient="bottom")
            ),
            tooltip=[
                alt.Tooltip("eps:Q", format=".3f", title="epsilon"),
                "measure:N",
                alt.Tooltip("value:Q", format=".1%"),
            ],
        )
    )
    chosen_side = "right" if chosen_eps is None or median_eps is None or chosen_eps >= median_eps else "left"
    layers = [lines] + _rule(
        median_eps, MINIMAL_COLOUR, "median", dash=[6, 4], side="left" if chosen_side == "right" else "right"
    )
    layers += _rule(chosen_eps, CHOSEN_COLOUR, "chosen ε", side=chosen_side)
    return alt.layer(*layers).properties(height=320, width="container")


def minimal_eps_histogram(minimal: np.ndarray, *, target: int, chosen_eps=None, bins: int = 30) -> alt.LayerChart:
    """How many images need how much epsilon; images never fooled are left out and counted in the title."""
    minimal = np.asarray(minimal, float)
    finite = minimal[np.isfinite(minimal)]
    upper = max(float(finite.max()) if finite.size else 1.0, 1e-3)
    never = len(minimal) - len(finite)
    title = f"Minimal ε of {len(minimal)} images" + (f" ({never} never become a {target})" if never else "")
    colour = DIGIT_COLOURS[target]
    bars = _image_histogram(finite, bins, (0.0, upper), title=title, x_title="minimal epsilon", colour=colour)
    return alt.layer(bars, *_rule(chosen_eps, CHOSEN_COLOUR, "chosen ε")).properties(height=320)


def _image_histogram(values: np.ndarray, bins: int, span: tuple[float, float], *, title: str, x_title: str,
                     colour: str) -> alt.Chart:  # fmt: skip
    """Bars counting images per bin of ``values`` over ``span``, with the bin's edges in the tooltip."""
    counts, edges = np.histogram(values, bins=bins, range=span)
    frame = pd.DataFrame({"start": edges[:-1], "end": edges[1:], "images": counts})
    return (
        alt.Chart(frame, title=title)
        .mark_bar(color=colour, opacity=0.85)
        .encode(
            x=alt.X("start:Q", bin="binned", title=x_title),
            x2="end:Q",
            y=alt.Y("images:Q", title="images"),
            tooltip=[
                alt.Tooltip("start:Q", format=".3f", title="from"),
                alt.Tooltip("end:Q", format=".3f", title="to"),
                "images:Q",
            ],
        )
    )


def diverging_rgb(weights: np.ndarray) -> np.ndarray:
    """A weight template as an RGB picture: blue negative, white zero, red positive (symmetric scale)."""
    weights = np.asarray(weights, float).reshape(28, 28)
    scale = np.abs(weights).max() or 1.0
    t = np.clip(weights / scale, -1, 1)[..., None]
    red, white, blue = np.array([178, 24, 43]), np.array([247, 247, 247]), np.array([33, 102, 172])
    rgb = np.where(t > 0, white + t * (red - white), white + (-t) * (blue - white))
    return np.round(rgb).astype(np.uint8)


PAIR_SELECTION = "pair"  # the name of the heatmap's click selection (fields: source, target)


def template_picture(weights: np.ndarray, scale: int = 6):
    """A weight template as a PIL image, ``scale`` screen pixels per pixel."""
    from PIL import Image

    image = Image.fromarray(diverging_rgb(weights), mode="RGB")
    return image.resize((28 * scale, 28 * scale), Image.Resampling.NEAREST)


def template_strip(W: np.ndarray, scale: int = 4, gap: int = 6):
    """The ten weight templates side by side in one picture (0 to 9, left to right), ``gap`` pixels apart."""
    from PIL import Image

    side = 28 * scale
    strip = Image.new("RGB", (10 * side + 9 * gap, side), "white")
    for digit in range(10):
        strip.paste(template_picture(W[digit], scale), (digit * (side + gap), 0))
    return strip


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
    row "yours" (the visitor's digit: its own minimal epsilon per target).
    A click selects a cell (selection :data:`PAIR_SELECTION`); ``chosen`` is outlined.
    The chart is made once per kind and given new data on every call (building
    an Altair chart costs tens of milliseconds, most of it validation).
    """
    sources = [*DIGITS, "yours"] if own is not None else DIGITS
    own_row = np.asarray(own, float)[None, :] if own is not None else np.zeros((0, 10))
    stack = lambda table, extra: np.vstack([np.asarray(table, float), extra]).ravel()  # noqa: E731
    frame = pd.DataFrame({
        "source": np.repeat(sources, 10), "target": np.tile(DIGITS, len(sources)),
        "median": stack(median, own_row), "lower": stack(lower, own_row), "upper": stack(upper, own_row),
        "share": stack(share, np.full_like(own_row, np.nan)), "eps": float(eps),
        "images": np.repeat([*np.asarray(counts, int), *([1] if own is not None else [])], 10),
    })  # fmt: skip
    never = np.isinf(frame["median"])
    frame["chosen"] = (frame["source"] == str(chosen[0])) & (frame["target"] == str(chosen[1])) if chosen else False
    if show == "share":
        frame["label"] = np.where(np.isnan(frame["share"]), "—", (frame["share"] * 100).round().map("{:.0f}%".format))
        frame["colour"] = frame["share"]
        frame["dark"] = frame["share"] > 0.5
    else:
        frame["label"] = np.where(never, "never", frame["median"].map("{:.2f}".format))
        frame["colour"] = frame["median"].where(~never)  # never fooled: no colour, the word
        frame["dark"] = frame["colour"] < 0.55 * frame["colour"].max()
    frame.loc[frame["source"] == frame["target"], "label"] = ""
    chart = _pair_template(show, len(sources)).copy(deep=False)
    chart.data = frame
    return chart


@functools.cache
def _pair_template(show: str, rows: int) -> alt.LayerChart:
    """The heatmap without its data: cells (with the click selection and the tooltip), then their labels."""
    click = alt.selection_point(name=PAIR_SELECTION, fields=["source", "target"], on="click", clear=False)
    base = alt.Chart().encode(
        x=alt.X("target:N", title="made into (target)", sort=DIGITS, axis=alt.Axis(labelAngle=0, orient="top")),
        y=alt.Y("source:N", title="source digit", sort=[*DIGITS, "yours"]),
    )
    if show == "share":
        colour = alt.Color("colour:Q", title="share fooled at the chosen ε",
                           scale=alt.Scale(scheme="reds", domain=[0, 1]), legend=alt.Legend(format=".0%"))  # fmt: skip
    else:
        colour = alt.Color("colour:Q", title="median minimal ε", scale=alt.Scale(scheme="viridis"),
                           legend=alt.Legend(format=".2f"))  # fmt: skip
    cells = (
        base.mark_rect()
        .encode(
            color=colour,
            stroke=alt.condition("datum.chosen", alt.value(CHOSEN_COLOUR), alt.value("white")),
            strokeWidth=alt.condition("datum.chosen", alt.value(3), alt.value(1)),
            tooltip=[
                alt.Tooltip("source:N", title="source"),
                alt.Tooltip("target:N", title="target"),
                alt.Tooltip("median:Q", format=".3f", title="median minimal ε"),
                alt.Tooltip("lower:Q", format=".3f", title="quartiles from"),
                alt.Tooltip("upper:Q", format=".3f", title="to"),
                alt.Tooltip("share:Q", format=".0%", title="fooled at the chosen ε"),
                alt.Tooltip("eps:Q", format=".3f", title="chosen ε"),
                alt.Tooltip("images:Q", title="images"),
            ],
        )
        .add_params(click)
    )
    # the labels have no tooltip, so they stay out of the way of clicks on the cells
    labels = base.mark_text(fontSize=12).encode(
        text="label:N", color=alt.condition("datum.dark", alt.value("white"), alt.value("#333333"))
    )
    return alt.layer(cells, labels).properties(height=34 * rows + 20)


def ratio_histogram(ratios: np.ndarray, *, target: int) -> alt.Chart:
    """How much more epsilon the gradient sign step needs than the best attack: minimal / optimal, per image."""
    ratios = np.asarray(ratios, float)
    ratios = ratios[np.isfinite(ratios)]
    optimal_share = float(np.mean(ratios <= 1 + 1e-6)) if len(ratios) else 0.0  # the LP solves to about 1e-7
    top = max(float(ratios.max()) if len(ratios) else 1.05, 1.05)
    title = f"Gradient sign ε ÷ optimal ε ({optimal_share:.0%} of {len(ratios)} exactly optimal)"
    return _image_histogram(
        ratios, 24, (1.0, top), title=title, colour=DIGIT_COLOURS[target],
        x_title="how many times the optimal ε (1 = the sign step is optimal)",
    ).properties(height=300)  # fmt: skip


def _eps_and_accuracy() -> dict:
    """The x and y of an accuracy-against-epsilon chart."""
    return {
        "x": alt.X("eps:Q", title="epsilon"),
        "y": alt.Y("accuracy:Q", title="accuracy", scale=alt.Scale(domain=[0, 1]), axis=alt.Axis(format=".0%")),
    }


def robustness_chart(curve, *, chosen_eps: float | None = None) -> alt.LayerChart:
    """Accuracy against epsilon under the gradient sign method, PGD, and in the exact worst case (certified)."""
    frame = pd.concat([
        pd.DataFrame({"eps": curve.eps, "accuracy": curve.fgsm, "attack": "FGSM"}),
        pd.DataFrame({"eps": curve.pgd_eps, "accuracy": curve.pgd, "attack": "PGD, 10 steps"}),
        pd.DataFrame({"eps": curve.eps, "accuracy": curve.worst, "attack": "worst case"}),
    ])  # fmt: skip
    names = ["FGSM", "PGD, 10 steps", "worst case"]
    lines = (
        alt.Chart(frame, title=f"Accuracy of {curve.n_images} test images under attack")
        .mark_line(strokeWidth=2.5)
        .encode(
            **_eps_and_accuracy(),
            color=alt.Color("attack:N", title="", sort=names,
                            scale=alt.Scale(domain=names, range=["#4e79a7", "#f28e2b", "#59a14f"]),
                            legend=alt.Legend(orient="top")),
            strokeDash=alt.StrokeDash("attack:N", sort=names, legend=None,
                                      scale=alt.Scale(domain=names, range=[[1, 0], [5, 3], [1, 0]])),
            tooltip=[alt.Tooltip("eps:Q", format=".3f", title="epsilon"), "attack:N",
                     alt.Tooltip("accuracy:Q", format=".1%")],
        )
    )  # fmt: skip
    return alt.layer(lines, *_rule(chosen_eps, CHOSEN_COLOUR, "chosen ε")).properties(height=320)


MODEL_COLOURS = ["#9c9c9c", "#2a9d8f"]  # the normal model in grey, the defended one in teal


def defense_chart(curves: dict, *, chosen_eps: float | None = None) -> alt.LayerChart:
    """Certified accuracy (solid) and accuracy under the gradient sign attack (dashed) against epsilon, per model."""
    frame = pd.concat([
        pd.DataFrame({"eps": curve.eps, "accuracy": values, "model": name, "measure": measure})
        for name, curve in curves.items()
        for measure, values in (("certified", curve.worst), ("under the gradient sign attack", curve.fgsm))
    ])  # fmt: skip
    names, measures = list(curves), ["certified", "under the gradient sign attack"]
    n_images = next(iter(curves.values())).n_images
    lines = (
        alt.Chart(frame, title=f"Accuracy of {n_images:,} test images against ε")
        .mark_line(strokeWidth=2.5)
        .encode(
            **_eps_and_accuracy(),
            color=alt.Color("model:N", title="", sort=names, scale=alt.Scale(domain=names, range=MODEL_COLOURS),
                            legend=alt.Legend(orient="top")),
            strokeDash=alt.StrokeDash("measure:N", title="", sort=measures,  # below: two legends overflow a phone
                                      legend=alt.Legend(orient="bottom", labelLimit=320),
                                      scale=alt.Scale(domain=measures, range=[[1, 0], [6, 4]])),
            detail="measure:N",
            tooltip=["model:N", "measure:N", alt.Tooltip("eps:Q", format=".3f", title="epsilon"),
                     alt.Tooltip("accuracy:Q", format=".1%")],
        )
    )  # fmt: skip
    return alt.layer(lines, *_rule(chosen_eps, CHOSEN_COLOUR, "chosen ε")).properties(height=340)


def with_chosen_eps(chart: alt.TopLevelMixin, eps: float) -> alt.LayerChart:
    """``chart`` with the chosen-epsilon rule on top: a chart made once can be cached, the rule changes."""
    return alt.layer(chart, *_rule(eps, CHOSEN_COLOUR, "chosen ε"))


def model_histograms(values: dict, *, title: str, x_title: str, chosen_eps: float | None = None,
                     bins: int = 40) -> alt.LayerChart:  # fmt: skip
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
            color=alt.Color("model:N", title="", sort=names, scale=alt.Scale(domain=names, range=MODEL_COLOURS),
                            legend=alt.Legend(orient="top")),
            tooltip=["model:N", alt.Tooltip("start:Q", format=".3f", title="from"),
                     alt.Tooltip("end:Q", format=".3f", title="to"), "images:Q"],
        )
    )  # fmt: skip
    return alt.layer(bars, *_rule(chosen_eps, CHOSEN_COLOUR, "chosen ε")).properties(height=300)
