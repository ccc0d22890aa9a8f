"""The charts' data: what a tooltip or a label shows is a number or a word, never Infinity or NaN.

Streamlit sends a chart's data as it is (Arrow), so an ``inf`` in a tooltip field reaches the visitor as
"Infinity" and a NaN as "NaN". Every chart is built here from the values the pages give it, the awkward ones
included (a pair never fooled, the diagonal, your own digit's row, an image never fooled).
"""

import numpy as np
import pandas as pd
import pytest

from core.sweep import robustness_curve
from dashboard import attack_charts, charts, comparison_charts


def tooltip_fields(spec) -> set[str]:
    """Every field a tooltip or a text mark shows, anywhere in a Vega-Lite spec."""
    found = set()
    if isinstance(spec, dict):
        for key, value in spec.items():
            if key in ("tooltip", "text"):
                for each in value if isinstance(value, list) else [value]:
                    if isinstance(each, dict) and "field" in each:
                        found.add(each["field"])
            found |= tooltip_fields(value)
    elif isinstance(spec, list):
        for value in spec:
            found |= tooltip_fields(value)
    return found


def frames(chart) -> list[pd.DataFrame]:
    parts = [chart, *getattr(chart, "layer", [])]
    return [part.data for part in parts if isinstance(getattr(part, "data", None), pd.DataFrame)]


def assert_shown_plainly(chart) -> None:
    fields = tooltip_fields(chart.to_dict(validate=False))
    assert fields
    data = frames(chart)
    assert data
    for frame in data:
        for field in fields & set(frame.columns):
            column = frame[field]
            if pd.api.types.is_numeric_dtype(column):
                assert np.isfinite(column.to_numpy(float)).all(), field
            else:
                assert not column.astype(str).isin(["inf", "nan", "Infinity", "NaN", "-inf"]).any(), field


@pytest.fixture(scope="module")
def pairs(model, dataset):
    from core.sweep import pair_attacks

    return pair_attacks(model, dataset.x_test[::4], dataset.y_test[::4], eps=0.1)


@pytest.mark.parametrize("show", ["median", "share"])
@pytest.mark.parametrize("own", [False, True])
def test_the_heatmap_says_never_and_leaves_the_diagonal_blank(pairs, show, own):
    median = pairs.median.copy()
    median[3, 5] = np.inf  # a pair never fooled
    toward = np.r_[np.inf, np.nan, np.linspace(0.05, 0.4, 8)] if own else None  # yours: read as 1 already
    upper = np.where(np.isfinite(median), 1.0, np.inf)
    chart = comparison_charts.pair_heatmap(
        median, pairs.quantile(0.25), upper, pairs.share, pairs.counts, eps=0.1, show=show, chosen=(2, 6), own=toward
    )
    assert_shown_plainly(chart)
    frame = chart.data
    cell = frame[(frame["source"] == "3") & (frame["target"] == "5")].iloc[0]
    if show == "median":
        assert cell["label"] == "never"
    assert cell["median_shown"] == "never" and cell["upper_shown"] == "never"
    diagonal = frame[frame["source"] == frame["target"]]
    assert (diagonal["label"] == "").all() and (diagonal["median_shown"] == "—").all()
    if own:  # the column your digit is already read as: blank, no colour, so the scale is the test images'
        yours = frame[(frame["source"] == "yours") & (frame["target"] == "1")].iloc[0]
        assert yours["label"] == "" and np.isnan(yours["colour"]) and yours["median_shown"] == "—"
        assert show == "share" or frame["colour"].min() > 0  # the median scale starts at the test images' own


def test_the_attack_charts_show_numbers(model, twos):
    from core.attack import minimal_epsilon
    from core.sweep import score_sweep, success_curve

    p = model.predict_proba(twos[:2])
    assert_shown_plainly(attack_charts.probability_bars(p[0], p[1], 2, 6))
    grid = np.linspace(-1, 1, 21)
    sweep = score_sweep(model, twos[0], 6, grid)
    for minimal in (0.18, np.inf):
        chart = attack_charts.class_scores_chart(
            grid, sweep.logits, source=2, target=6, score_name="logit", minimal_eps=minimal, chosen_eps=0.2
        )
        assert_shown_plainly(chart)
    curve = success_curve(model, twos, 6, np.linspace(0, 1, 21))
    assert_shown_plainly(
        attack_charts.success_chart(
            curve.eps, curve.fooled_share, curve.mean_target_probability, target=6, median_eps=0.2, chosen_eps=0.3
        )
    )
    minimal = minimal_epsilon(model, twos, 6)
    minimal[:3] = np.inf  # images never fooled
    assert_shown_plainly(attack_charts.minimal_eps_histogram(minimal, target=6, chosen_eps=0.2))


def test_the_comparison_charts_show_numbers(model, twos):
    curve = robustness_curve(model, twos, 2, np.linspace(0, 0.4, 11), pgd_grid=[0.0, 0.2])
    assert_shown_plainly(comparison_charts.robustness_chart(curve, chosen_eps=0.1))
    assert_shown_plainly(comparison_charts.defense_chart({"normal": curve, "defended": curve}, chosen_eps=0.1))
    assert_shown_plainly(comparison_charts.ratio_histogram(np.r_[np.ones(10), 1.3, np.inf, np.nan], target=6))
    radii = np.r_[np.zeros(3), np.linspace(0, 0.3, 20), np.inf]
    assert_shown_plainly(
        comparison_charts.model_histograms(
            {"normal": radii, "defended": radii * 2}, title="t", x_title="x", chosen_eps=0.1
        )
    )


def test_the_training_charts_show_numbers(training):
    assert_shown_plainly(charts.accuracy_chart(training.history))
    assert_shown_plainly(charts.loss_chart(training.history))
    assert_shown_plainly(charts.per_class_accuracy_chart(training.per_class_accuracy, highlight=(2, 6)))
    assert_shown_plainly(charts.confusion_chart(training.confusion))


def test_the_ratio_histogram_title_agrees_with_its_bars():
    """Its first bar holds more than the exactly optimal images (the bar is wider than "exactly"): the title says
    both shares, and the second is the first bar's own count."""
    ratios = np.r_[np.ones(22), np.full(58, 1.02), np.linspace(1.3, 2.0, 20)]
    chart = comparison_charts.ratio_histogram(ratios, target=6)
    spec = chart.to_dict()
    title = spec["title"]["subtitle"]
    bars = next(iter(spec["datasets"].values()))
    first = min(bars, key=lambda bar: bar["start"])
    assert "22% of 100 exactly optimal" in title
    assert f"{first['images']}% below {first['end']:.2f}×" in title and first["images"] == 80
