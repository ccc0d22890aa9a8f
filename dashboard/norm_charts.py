"""The attack lab's charts in every norm: the usual attacks against the exact optimum, random noise against the
attack. Data in, ``alt.Chart`` out; no Streamlit. Colours and rules as in :mod:`dashboard.charts`."""

from __future__ import annotations

import altair as alt
import numpy as np
import pandas as pd

from dashboard.charts import CHOSEN_COLOUR, readable, rule

ATTACK_COLOURS = {"DeepFool": "#4e79a7", "Carlini & Wagner": "#f28e2b", "Gradient sign step": "#e15759"}
MODEL_COLOURS = {"linear": "#4e79a7", "defended": "#59a14f", "network": "#b07aa1"}
MODEL_NAMES = {"linear": "Linear", "defended": "Linear, defended", "network": "ReLU network"}
SQRT_D = 28.0  # sqrt(784): Fawzi et al.'s factor for a linear classifier


def _bars(values: dict, edges: np.ndarray, names: dict, what: str, side_by_side: bool = False) -> pd.DataFrame:
    """One histogram per entry of ``values`` on the same ``edges``; ``side_by_side``: each bin split between
    them (bars that would hide one another stand next to each other), its range kept for the tooltip."""
    rows = []
    parts = len(values) if side_by_side else 1
    for place, (key, array) in enumerate(values.items()):
        finite = np.asarray(array, float)
        finite = finite[np.isfinite(finite)]
        counts, _ = np.histogram(np.clip(finite, edges[0], edges[-1]), bins=edges)
        share = place % parts
        for a, b, c in zip(edges[:-1], edges[1:], counts):
            if c:
                left, right = a + (b - a) * share / parts, a + (b - a) * (share + 1) / parts
                rows.append(
                    {"start": left, "end": right, "from": a, "to": b, "images": int(c), what: names.get(key, key)}
                )
    return pd.DataFrame(rows, columns=["start", "end", "from", "to", "images", what])


def _legend(domain: list[str], colours: list[str], what: str) -> alt.Color:
    return alt.Color(
        f"{what}:N",
        title="",
        scale=alt.Scale(domain=domain, range=colours),
        legend=alt.Legend(orient="top", columns=1, labelLimit=260),
    )


def gap_strip(ratios: dict, norm_label: str) -> alt.Chart:
    """Each attack's size ÷ the smallest change, image by image: a row of ticks per attack, one tick per image."""
    finite = np.concatenate([np.asarray(r, float)[np.isfinite(r)] for r in ratios.values()] or [np.ones(1)])
    top = max(float(np.quantile(finite, 0.995)) if len(finite) else 1.05, 1.05)
    names = list(ratios)
    frame = pd.DataFrame(
        [
            {"attack": name, "ratio": min(float(value), top), "exact": float(value)}
            for name, array in ratios.items()
            for value in np.asarray(array, float)
            if np.isfinite(value)
        ],
        columns=["attack", "ratio", "exact"],
    )
    count = len(next(iter(ratios.values()))) if ratios else 0
    return (
        alt.Chart(frame, title=alt.Title(f"Each attack's {norm_label} size ÷ the smallest", subtitle=f"{count} images"))
        .mark_tick(thickness=2, opacity=0.45, size=26)
        .encode(
            x=alt.X("ratio:Q", title="× the smallest change (1: optimal)", scale=alt.Scale(domain=[1, top])),
            y=alt.Y("attack:N", title=None, sort=names, axis=alt.Axis(labelLimit=130)),
            color=alt.Color(
                "attack:N", legend=None, scale=alt.Scale(domain=names, range=[ATTACK_COLOURS[n] for n in names])
            ),
            tooltip=["attack:N", alt.Tooltip("exact:Q", format=".4f", title="× the smallest")],
        )
        .properties(
            height=alt.Step(48),  # a row per attack, whatever the width
            description=f"One tick per image and attack: each attack's {norm_label} size divided by the exact "
            f"smallest change, over {count} images, one row per attack: " + ", ".join(names) + ".",
        )
    )


def gap_table(ratios: dict) -> pd.DataFrame:
    """Per attack: the median ratio, the share within 1% of the optimum, the worst, and how many it never fooled."""
    rows = []
    for name, array in ratios.items():
        array = np.asarray(array, float)
        finite = array[np.isfinite(array)]
        rows.append(
            {
                "attack": name,
                "median": f"{np.median(finite):.3f}×" if len(finite) else "–",
                "within 1%": f"{np.mean(array <= 1.01):.0%}",
                "worst": f"{finite.max():.3f}×" if len(finite) else "–",
                "never": f"{int((~np.isfinite(array)).sum())}",
            }
        )
    return pd.DataFrame(rows).set_index("attack")


def noise_histogram(noise: np.ndarray, attack: float, norm_label: str) -> alt.LayerChart:
    """How far each random direction goes before the answer changes, with the attack's distance beside it."""
    finite = noise[np.isfinite(noise)]
    top = float(finite.max()) * 1.02 if len(finite) else max(attack * 2, 1.0)
    edges = np.linspace(0.0, top, 31)
    frame = _bars({"noise": finite}, edges, {"noise": "random noise"}, "what")
    changed = f"{len(finite)} of {len(noise)} directions change the answer"
    bars = (
        alt.Chart(frame)
        .mark_bar(color="#9c755f", opacity=0.85)
        .encode(
            x=alt.X(
                "start:Q", bin="binned", title=f"{norm_label} size of the change", scale=alt.Scale(domain=[0, top])
            ),
            x2="end:Q",
            y=alt.Y("images:Q", title="directions"),
            tooltip=[
                alt.Tooltip("from:Q", format=".3f"),
                alt.Tooltip("to:Q", format=".3f"),
                alt.Tooltip("images:Q", title="directions"),
            ],
        )
    )
    median = float(np.median(noise)) if len(noise) else np.inf
    layers = [
        bars,
        *rule(attack, CHOSEN_COLOUR, "attack"),
        *rule(median, "#4e79a7", "noise median", dash=[5, 3], side="left"),
    ]
    return alt.layer(*layers).properties(
        title=alt.Title(f"Random noise from this image, in {norm_label}", subtitle=changed),
        height=300,
        description=f"Histogram of the {norm_label} size at which each of {len(noise)} random directions changes the "
        f"answer ({changed}), with the smallest change that does it at {attack:.3f}.",
    )


def noise_ratio_chart(ratios: dict, norm_label: str) -> alt.LayerChart:
    """Per test image and model: how many times further random noise must go than the attack (log scale)."""
    finite = np.concatenate([np.asarray(r, float)[np.isfinite(r) & (np.asarray(r) > 0)] for r in ratios.values()])
    # the middle 98% of the images and 28 within the range; the rest counted in its end bars
    low = min(float(np.quantile(finite, 0.01)) if len(finite) else 1.0, SQRT_D / 2) * 0.9
    high = max(float(np.quantile(finite, 0.99)) if len(finite) else 100.0, SQRT_D * 2) * 1.1
    edges = np.geomspace(low, high, 21)
    frame = _bars(ratios, edges, MODEL_NAMES, "model", side_by_side=True)
    names = [MODEL_NAMES[n] for n in ratios]
    bars = (
        alt.Chart(frame)
        .mark_bar(opacity=0.75)
        .encode(
            x=alt.X(
                "start:Q",
                bin="binned",
                title="× the attack's distance (log scale)",
                scale=alt.Scale(type="log", domain=[low, high]),
            ),
            x2="end:Q",
            y=alt.Y("images:Q", title="images", stack=None),
            color=_legend(names, [MODEL_COLOURS[n] for n in ratios], "model"),
            tooltip=[
                "model:N",
                alt.Tooltip("from:Q", format=".1f"),
                alt.Tooltip("to:Q", format=".1f"),
                "images:Q",
            ],
        )
    )
    sqrt_d = pd.DataFrame({"x": [SQRT_D], "label": ["√784 = 28"]})
    mark = alt.Chart(sqrt_d).mark_rule(color="#888888", strokeDash=[4, 3], strokeWidth=2).encode(x="x:Q")
    label = (
        alt.Chart(sqrt_d)
        .mark_text(
            color=readable("#666666"), align="left", dx=5, baseline="bottom", dy=-3, fontSize=11, fontWeight="bold"
        )
        .encode(x="x:Q", y=alt.value(0), text="label:N")
    )
    return alt.layer(bars, mark, label).properties(
        title=alt.Title(f"Noise ÷ attack, in {norm_label}", subtitle="the median over random directions, per image"),
        height=300,
        description=f"Histogram per model of how many times further random noise must go than the smallest "
        f"change ({norm_label}) before the answer changes, with sqrt(784) = 28 marked.",
    )
