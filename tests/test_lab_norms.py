"""The attack lab in every norm, through AppTest: each answer the page shows against the core's own, the link."""

import numpy as np
import pytest

from core.exact import minimal_perturbation
from core.inputs.data import load_dataset
from core.inputs.settings import TrainingSettings
from core.jobs.shipped import load_shipped
from tests.apptest import assert_clean, image_captions, metric, settled, start, widget


@pytest.fixture(scope="module")
def chosen():
    data = load_dataset("mnist-5k")
    model = load_shipped(TrainingSettings()).model
    return model, data.x_test[data.test_indices(2)[3]].astype(np.float64)


def nearest_other(model, x, truth=2, norm=2):
    return min(minimal_perturbation(model, x, c, norm=norm, margin=0.0)[0] for c in range(10) if c != truth)


@pytest.mark.parametrize("norm", ["2", "1"])
def test_the_lab_in_l2_and_l1_shows_the_exact_optimum_the_certificate_and_the_attacks_gaps(chosen, norm):
    model, x = chosen
    order = int(norm)
    app = settled(start({"page": "lab", "image": "3", "norm": norm}))
    assert_clean(app)
    name = f"L{norm}"
    optimal, image = minimal_perturbation(model, x, 6, norm=order)
    assert metric(app, f"Smallest {name} change") == f"{optimal:.3f}"
    assert metric(app, f"Certified below {name}") == f"{nearest_other(model, x, norm=order):.3f}"
    assert f"Smallest {name}, {name} {optimal:.3f}: says 6" in image_captions(app)
    assert any(f"no change of {name} size below **{optimal:.3f}**" in m.value for m in app.markdown)
    table = app.table[0].value  # every test 2: each attack against the optimum
    assert list(table.index) == ["DeepFool", "Carlini & Wagner", "Gradient sign step"]
    assert all(float(cell.rstrip("×")) >= 1.0 for cell in table["median"])  # never below the optimum
    assert app.query_params["norm"] == norm and app.query_params["image"] == "3"
    assert any("times** the smallest change" in m.value for m in app.markdown)  # noise beside the attack


def test_the_norm_picker_turns_the_page_and_l0_counts_pixels(chosen):
    from core.attack import fgsm, minimal_epsilon

    model, x = chosen
    app = settled(start({"page": "lab", "image": "3"}))
    assert "norm" not in app.query_params  # L-inf: the default, not written
    assert metric(app, "Best attack needs ε")
    widget(app, "button_group", "_widget_norm").set_value("0").run()
    assert_clean(app)
    eps = minimal_epsilon(model, x, 6)
    stepped = fgsm(model, x, eps, target=6)
    assert metric(app, "Sign step changes") == f"{np.count_nonzero(np.abs(stepped - x) > 1e-9)} pixels"
    assert app.query_params["norm"] == "0"
    widget(app, "button_group", "_widget_norm").set_value("2").run()
    assert metric(app, "Smallest L2 change") == f"{minimal_perturbation(model, x, 6, norm=2)[0]:.3f}"
    assert not app.slider  # an L2 answer has no ε to choose


def test_an_epsilon_in_the_link_is_kept_while_the_lab_answers_in_l2():
    app = start({"page": "lab", "image": "3", "norm": "2", "eps": "0.12"})
    assert_clean(app)
    assert not app.slider and app.query_params["eps"] == "0.12"
    widget(app, "button_group", "_widget_norm").set_value("inf").run()
    assert app.slider[0].value == pytest.approx(0.12)


def test_a_norm_the_lab_does_not_know_is_refused_with_a_notice():
    app = start({"page": "lab", "norm": "3"})
    assert any("norm=`3` is not one of inf, 2, 1, 0; using inf" in w.value for w in app.warning)
    assert metric(app, "Best attack needs ε")
