"""The verified robustness table: its columns ordered as bounds must be, its per-image verdicts the verifier's own,
and the tables shipped with the app what this repository's code computes again."""

import json

import numpy as np
import pytest

from core.inputs.settings import TrainingSettings
from core.jobs import robustness
from core.jobs.models import ModelStore
from core.jobs.shipped import FIRST, SHIPPED
from core.network_exact import verify_robust
from core.network_table import EPSILONS, linear_rows, robustness_rows

NETWORKS = [settings for settings in SHIPPED if settings.hidden]


@pytest.fixture(scope="module")
def network16():
    return ModelStore.load_saved(TrainingSettings(hidden=16)).model


@pytest.fixture(scope="module")
def rows16(network16, dataset):
    return robustness_rows(network16, dataset.x_test[:60], dataset.y_test[:60], EPSILONS, time_limit=5.0)


def test_the_columns_are_ordered_as_bounds_and_the_verdicts_add_up(rows16, network16, dataset):
    clean = np.mean(network16.predict(dataset.x_test[:60]) == dataset.y_test[:60])
    for row in rows16:
        assert row.images == 60 and row.clean == pytest.approx(clean)
        # proven below, attacked above: certified <= verified <= PGD <= sign step <= clean
        assert row.certified <= row.verified <= row.pgd <= row.sign_step <= row.clean
        counts = {status: row.statuses.count(status) for status in "craux"}
        assert sum(counts.values()) == 60
        assert row.certified == pytest.approx(counts["c"] / 60)
        assert row.verified == pytest.approx((counts["c"] + counts["r"]) / 60)
        assert row.settled == pytest.approx(1 - counts["u"] / 60)
        assert counts["x"] == round((1 - clean) * 60)
    shares = [row.verified for row in rows16]
    assert shares == sorted(shares, reverse=True) and shares[0] > shares[-1]  # a larger box proves less


def test_each_images_verdict_is_the_verifiers_own(rows16, network16, dataset):
    for row in rows16:
        for place in (0, 7, 19, 33, 58):
            x, label = dataset.x_test[place].astype(np.float64), int(dataset.y_test[place])
            status = row.statuses[place]
            if status == "x":
                assert network16.predict(x) != label
                continue
            verdict = verify_robust(network16, x, label, row.eps, time_limit=5.0)
            assert verdict.status == {"c": "robust", "r": "robust", "a": "attacked"}[status], (row.eps, place)
            if verdict.status == "attacked":  # a real attack: in the box, in range, another answer
                assert np.abs(verdict.image - x).max() <= row.eps + 1e-9 and verdict.image.min() >= 0
                assert network16.predict(verdict.image) != label


@pytest.mark.parametrize("settings", NETWORKS, ids=lambda s: f"{s.hidden}-units")
def test_the_shipped_tables_are_what_this_code_computes(settings, dataset):
    """Every shipped network has its table; its shares are its own verdicts'; a sample of images, verified again
    here, gets the same verdicts (an unknown may be settled on a faster machine, never turned around)."""
    table = robustness.load_table(settings)
    assert table is not None and table["images"] == len(dataset.x_test)
    network = ModelStore.load_saved(settings).model
    places = np.random.default_rng(settings.hidden).choice(table["images"], 6, replace=False)
    for row in table["rows"]:
        assert len(row.statuses) == table["images"]
        assert row.verified == pytest.approx(sum(row.statuses.count(s) for s in "cr") / table["images"])
        for place in places:
            status = row.statuses[place]
            x, label = dataset.x_test[place].astype(np.float64), int(dataset.y_test[place])
            if status == "x":
                assert network.predict(x) != label
                continue
            again = verify_robust(network, x, label, row.eps, time_limit=2.0).status
            if status != "u" and again != "unknown":
                assert again == ("attacked" if status == "a" else "robust"), (settings.hidden, row.eps, place)


def test_a_corrupt_shipped_table_is_no_table(tmp_path, monkeypatch, caplog):
    monkeypatch.setattr(robustness, "FOLDER", tmp_path)
    settings = NETWORKS[0]
    robustness.table_path(settings).write_text(json.dumps({"images": 3, "rows": [{"eps": 0.1}]}))
    with caplog.at_level("WARNING", logger="adversarial_digits"):
        assert robustness.load_table(settings) is None
    assert "cannot be read" in caplog.text
    robustness.table_path(settings).write_text("not json")
    assert robustness.load_table(settings) is None


def test_the_linear_models_shipped_rows_are_recomputed_exactly(dataset):
    """Beside the networks' tables: the first visit's linear model on every test image, the same numbers here;
    its robust accuracy (exact) below PGD's, below the sign step's, below the clean accuracy."""
    shipped = robustness.load_linear_table(FIRST)
    model = ModelStore.load_saved(FIRST).model
    assert shipped["images"] == len(dataset.x_test)
    again = linear_rows(model, dataset.x_test, dataset.y_test, EPSILONS)
    assert again == shipped["rows"]
    for row in again:
        assert row["robust"] <= row["pgd"] <= row["sign_step"] <= row["clean"]
    assert robustness.load_linear_table(TrainingSettings(hidden=16)) is None  # a network's table is not this
