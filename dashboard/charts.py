"""Altair charts, the parts every chart shares, and the training page's charts: data in, ``alt.Chart`` out.

Colours: one fixed colour per digit (Tableau 10) on every chart, so a 6 is
the same colour everywhere; the source and target digits are drawn heavier.
Charts leave background and fonts to the host theme, so they read in light
and dark mode. The per-image and epsilon charts are in
:mod:`dashboard.attack_charts`, the lab's, all pairs' and the defenses' in
:mod:`dashboard.comparison_charts`. No Streamlit in any of them.
"""

from __future__ import annotations

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


# Text on a chart in the theme's colours at WCAG AA contrast: Streamlit draws axis and legend labels in #808495
# on its light theme (3.7:1 on white) and a subtitle in black on either. A Vega expression reads the chart's
# background (Streamlit's, light or dark) and picks a colour that passes on it; the theme below puts it on every
# chart the app draws (Streamlit lets a chart's own config win over its theme).
INK = {"expr": "luminance(background) > 0.5 ? '#50535f' : '#e6eaf1'"}  # 7.6:1 on white, 15:1 on #0e1117
LIGHT_PAGE, DARK_PAGE = (255, 255, 255), (14, 17, 23)  # the two themes' backgrounds (#0e1117)


def _luminance(rgb) -> float:
    channels = [c / 255 for c in rgb]
    linear = [c / 12.92 if c <= 0.03928 else ((c + 0.055) / 1.055) ** 2.4 for c in channels]
    return 0.2126 * linear[0] + 0.7152 * linear[1] + 0.0722 * linear[2]


def _contrast(a, b) -> float:
    high, low = sorted((_luminance(a), _luminance(b)), reverse=True)
    return (high + 0.05) / (low + 0.05)


def _toward(rgb, end, page) -> str:
    """``rgb`` mixed toward ``end`` just enough to read at 5.2:1 on ``page``, as #rrggbb."""
    for step in range(0, 101):
        mixed = [round(c + (e - c) * step / 100) for c, e in zip(rgb, end)]
        if _contrast(mixed, page) >= 5.2:  # a margin: the dark theme's page is a shade lighter than #0e1117
            break
    return "#" + "".join(f"{c:02x}" for c in mixed)


def readable(colour: str) -> dict:
    """Text in (about) ``colour`` at WCAG AA on either theme: darkened on a light page, lightened on a dark one
    (a Vega expression on the chart's background, as :data:`INK`)."""
    rgb = [int(colour[i : i + 2], 16) for i in (1, 3, 5)]
    on_light, on_dark = _toward(rgb, (0, 0, 0), LIGHT_PAGE), _toward(rgb, (255, 255, 255), DARK_PAGE)
    return {"expr": f"luminance(background) > 0.5 ? '{on_light}' : '{on_dark}'"}


def on_cell(field: str, scale: str = "color") -> dict:
    """Text on a cell coloured by ``scale`` from ``field``: dark on a light cell, white on a dark one (the cell's
    own colour decides, whatever the theme: black or white, whichever reads better, is at least 4.58:1 on any
    colour); a cell with no value is drawn in :data:`NO_VALUE`."""
    return {
        "expr": f"datum.{field} == null || !isFinite(datum.{field}) ? '#000000' : "
        f"(luminance(scale('{scale}', datum.{field})) > 0.179 ? '#000000' : '#ffffff')"
    }


NO_VALUE = "#c4c4c4"  # a cell whose value is "never": grey in either theme, unlike the blank diagonal


@alt.theme.register("adversarial_digits", enable=True)
def _readable() -> alt.theme.ThemeConfig:
    labels = {"labelColor": INK, "titleColor": INK}
    return alt.theme.ThemeConfig(config={"axis": labels, "legend": labels, "title": {"subtitleColor": INK}})


def digit_colour(title: str = "digit") -> alt.Color:
    return alt.Color("digit:N", scale=alt.Scale(domain=DIGITS, range=DIGIT_COLOURS), title=title)


def rule(eps: float | None, colour: str, label: str, dash=None, side: str = "right") -> list[alt.Chart]:
    """A vertical rule at ``eps`` labelled on one ``side``; nothing when eps is None or inf.

    The label sits above the plot, where there is no data, tick or curve to
    collide with; two rules close together (minimal and chosen epsilon) keep
    readable labels by putting them on opposite sides.
    """
    if eps is None or not np.isfinite(eps):
        return []
    frame = pd.DataFrame({"eps": [float(eps)], "label": [f"{label} {eps:.3f}"]})
    base = alt.Chart(frame)
    rule = base.mark_rule(color=colour, strokeWidth=2, strokeDash=dash or []).encode(
        x="eps:Q", tooltip=[alt.Tooltip("label:N", title="")]
    )
    text = base.mark_text(
        color=readable(colour),
        align="left" if side == "right" else "right",
        dx=5 if side == "right" else -5,
        baseline="bottom",
        dy=-3,
        fontSize=11,
        fontWeight="bold",
    ).encode(x="eps:Q", y=alt.value(0), text="label:N")
    return [rule, text]


def image_histogram(
    values: np.ndarray, bins: int, span: tuple[float, float], *, title: str | alt.Title, x_title: str, colour: str
) -> alt.Chart:
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


def eps_and_accuracy() -> dict:
    """The x and y of an accuracy-against-epsilon chart."""
    return {
        "x": alt.X("eps:Q", title="epsilon"),
        "y": alt.Y("accuracy:Q", title="accuracy", scale=alt.Scale(domain=[0, 1]), axis=alt.Axis(format=".0%")),
    }


def with_chosen_eps(chart: alt.TopLevelMixin, eps: float) -> alt.LayerChart:
    """``chart`` with the chosen-epsilon rule on top: a chart made once can be cached, the rule changes."""
    return alt.layer(chart, *rule(eps, CHOSEN_COLOUR, "chosen ε"))


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
        .properties(
            height=280,
            description=f"Line chart of train and test accuracy over {len(history)} epochs: "
            f"test accuracy {history[-1].test_accuracy:.1%} at the last.",
        )
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
        .properties(
            height=280,
            description=f"Line chart of the mean training loss over {len(history)} epochs: "
            f"{history[0].loss:.3f} at the first, {history[-1].loss:.3f} at the last.",
        )
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
        color=digit_colour(),
        opacity=alt.condition("datum.emphasis", alt.value(1.0), alt.value(0.55)),
    )
    labels = base.mark_text(dy=-6, fontSize=11, fontWeight="bold", color=INK).encode(
        text=alt.Text("accuracy:Q", format=".0%"),
    )  # above the bar, on the page: in the theme's ink
    words = ", ".join(f"{d}: {a:.0%}" for d, a in zip(DIGITS, frame["accuracy"]))
    return (bars + labels).properties(height=280, description=f"Bar chart of test accuracy per digit: {words}.")


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
    counts = base.mark_text(fontSize=11, color=on_cell("share")).encode(
        text=alt.condition("datum.count > 0", "count:Q", alt.value("")),
    )
    right = np.trace(confusion) / max(confusion.sum(), 1)
    about = (
        f"Confusion matrix of the test set: {right:.1%} on the diagonal (right); each cell counts a true digit "
        "(row) against the model's answer (column)."
    )
    return (cells + counts).properties(height=340, description=about)
