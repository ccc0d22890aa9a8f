"""End to end in Chromium: the attack lab's norm picker turns the page, and the L2 view is seen four ways (desktop
and phone, light and dark: axe-core, the chart text, the fit); its screenshots are docs/'s."""

import numpy as np
import pytest

from core.exact import minimal_perturbation
from core.inputs.data import load_dataset
from core.inputs.settings import TrainingSettings
from core.jobs.shipped import load_shipped
from tests.e2e.conftest import DESKTOP, OUTPUT
from tests.e2e.pages import PICTURES, assert_no_errors, metric, wait_for_metric, wait_for_page
from tests.e2e.test_accessibility import seen_four_ways

pytestmark = pytest.mark.e2e

CHARTS = 3  # every test image's attacks against the optimum; random noise from the image and from every test image


def test_the_norm_picker_turns_the_lab_and_its_l2_view_reads_four_ways(server, page):
    data = load_dataset("mnist-5k")
    model = load_shipped(TrainingSettings()).model
    x = data.x_test[data.test_indices(2)[1]].astype(np.float64)
    found = {}
    page.goto(f"{server.url}/lab?image=1&norm=2")
    wait_for_page(page, CHARTS, PICTURES["lab"], "Random noise does almost nothing")
    assert metric(page, "Smallest L2 change") == f"{minimal_perturbation(model, x, 6, norm=2)[0]:.3f}"
    table = page.locator("[data-testid='stTable']").first.inner_text()
    assert "DeepFool" in table and "Carlini & Wagner" in table and "Gradient sign step" in table
    page.set_viewport_size({"width": 1400, "height": 2600})
    page.screenshot(path=OUTPUT / "lab-norms.png")
    page.set_viewport_size(DESKTOP)
    seen_four_ways(page, found, "lab?norm=2", tablet=False, phone_shot=OUTPUT / "phone-lab-norms.png")
    page.set_viewport_size(DESKTOP)
    page.locator("[data-testid='stButtonGroup'] button", has_text="L1 (total)").click()
    page.wait_for_url("**norm=1**")
    wait_for_metric(page, "Smallest L1 change", f"{minimal_perturbation(model, x, 6, norm=1)[0]:.3f}")
    assert_no_errors(page)
    assert not found, found
