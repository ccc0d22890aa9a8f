"""The per-image attack's and the epsilon chart's Altair charts: class probabilities, class scores against
epsilon, the success curve and the histogram of minimal epsilons."""

from __future__ import annotations

import altair as alt
import numpy as np
import pandas as pd

from dashboard.charts import (
    CHOSEN_COLOUR,
    DIGIT_COLOURS,
    DIGITS,
    MINIMAL_COLOUR,
    digit_colour,
    image_histogram,
    rule,
)
from dashboard.wording import article


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
        .properties(
            height=260,
            description=f"Bar chart of the ten class probabilities: the original image reads as "
            f"{int(np.argmax(before))} ({np.max(before):.0%}), the adversarial one as {int(np.argmax(after))} "
            f"({np.max(after):.0%}).",
        )
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
        x=alt.X(
            "eps:Q",
            title="epsilon (positive moves toward the target)",
            scale=alt.Scale(domain=[float(np.min(eps)), float(np.max(eps))]),
        ),
        y=alt.Y(
            "score:Q",
            title="class probability" if is_probability else "class score (logit)",
            axis=y_axis,
            scale=alt.Scale(domain=[low, high], nice=True),
        ),
        color=digit_colour(),
    )
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
    # the hovered dots are hidden from screen readers (aria=False): the tooltip and the chart's description say it
    dots = base.mark_point(filled=True, size=40, aria=False).encode(
        opacity=alt.condition(hover, alt.value(1), alt.value(0))
    )
    dots = dots.transform_filter(hover)
    layers = [lines, hover_rule, dots]
    chosen_side = "right" if chosen_eps is None or minimal_eps is None or chosen_eps >= minimal_eps else "left"
    layers += rule(
        minimal_eps, MINIMAL_COLOUR, "minimal ε", dash=[6, 4], side="left" if chosen_side == "right" else "right"
    )
    layers += rule(chosen_eps, CHOSEN_COLOUR, "chosen ε", side=chosen_side)
    crossing = "" if minimal_eps is None or not np.isfinite(minimal_eps) else f", crossing at ε {minimal_eps:.3f}"
    about = (
        f"Line chart of the ten class scores against epsilon from {float(np.min(eps)):.2f} to "
        f"{float(np.max(eps)):.2f}: the source {source} against the target {target}{crossing}."
    )
    return alt.layer(*layers).properties(height=420, description=about)


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
    layers = [lines] + rule(
        median_eps, MINIMAL_COLOUR, "median", dash=[6, 4], side="left" if chosen_side == "right" else "right"
    )
    layers += rule(chosen_eps, CHOSEN_COLOUR, "chosen ε", side=chosen_side)
    last, share = float(np.asarray(eps)[-1]), float(np.asarray(fooled_share)[-1])
    about = (
        f"Line chart of the share of images read as {target} and its mean probability against epsilon: "
        f"{share:.0%} read as {target} at ε {last:.2f}."
    )
    return alt.layer(*layers).properties(height=320, width="container", description=about)


def minimal_eps_histogram(minimal: np.ndarray, *, target: int, chosen_eps=None, bins: int = 30) -> alt.LayerChart:
    """How many images need how much epsilon; images never fooled are left out and counted in the title."""
    minimal = np.asarray(minimal, float)
    finite = minimal[np.isfinite(minimal)]
    upper = max(float(finite.max()) if finite.size else 1.0, 1e-3)
    never = len(minimal) - len(finite)
    title = f"Minimal ε of {len(minimal)} images" + (f" ({never} never become {article(target)})" if never else "")
    colour = DIGIT_COLOURS[target]
    bars = image_histogram(finite, bins, (0.0, upper), title=title, x_title="minimal epsilon", colour=colour)
    finite = np.asarray(minimal, float)[np.isfinite(minimal)]
    about = f"Histogram of the exact minimal epsilon of {len(minimal)} images toward {target}" + (
        f": median {np.median(finite):.3f}." if finite.size else ": none is ever fooled."
    )
    return alt.layer(bars, *rule(chosen_eps, CHOSEN_COLOUR, "chosen ε")).properties(height=320, description=about)
