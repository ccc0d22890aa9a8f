"""End to end in Chromium: the lesson walked as a class would, step by step with Next, at a desktop's and a phone's
size in the light and the dark theme: each step's picture or chart, its question and answer, its link to the full
page, no error, no serious accessibility violation, nothing wider than the phone; its screenshots are docs/'s."""

import pytest

from tests.e2e.conftest import OUTPUT
from tests.e2e.pages import CHARTS_DRAWN, IDLE, IMAGES_LOADED, assert_no_errors
from tests.e2e.test_accessibility import seen_four_ways

pytestmark = pytest.mark.e2e

STEP_WINDOW = {"width": 1400, "height": 1500}  # step 1's grid of ten and its question in view
SHOWN = {1: (0, 30), 2: (0, 4), 3: (1, 0), 4: (1, 0), 5: (1, 0), 6: (0, 3)}  # step -> (charts, pictures)
FULL_PAGE = {1: "attack", 2: "training", 3: "epsilon", 4: "pairs", 5: "lab", 6: "network"}


def wait_for_step(page, step: int) -> None:
    page.locator("h2", has_text=f"{step}.").first.wait_for(timeout=120_000)
    page.get_by_text("Question for the class").first.wait_for()
    page.wait_for_function(IDLE, timeout=120_000)
    charts, pictures = SHOWN[step]
    page.wait_for_function(CHARTS_DRAWN, arg=charts)
    page.wait_for_function(IMAGES_LOADED, arg=pictures)


def test_the_lesson_is_walked_with_next_at_both_sizes_in_both_themes(server, page):
    page.set_viewport_size(STEP_WINDOW)
    found = {}
    page.goto(f"{server.url}/lesson")
    for step in range(1, 7):
        wait_for_step(page, step)
        assert f"step={step}" in page.url
        main = page.locator("[data-testid='stMain']")
        main.get_by_text("Show the answer").click()
        answer = main.locator("[data-testid='stExpanderDetails']").first
        answer.wait_for()
        assert len(answer.inner_text()) > 80  # a computed answer, not an empty box
        link = main.locator("a[data-testid='stPageLink-NavLink']", has_text="Open").first
        href = link.get_attribute("href")
        assert href.rsplit("/", 1)[-1].startswith(f"{FULL_PAGE[step]}?") and "source=2" in href, href
        assert_no_errors(page)
        if step == 1:
            page.screenshot(path=OUTPUT / "lesson.png")
        shot = OUTPUT / "phone-lesson.png" if step == 1 else None
        seen_four_ways(page, found, f"step {step}", tablet=False, phone_shot=shot)
        page.set_viewport_size(STEP_WINDOW)
        if step < 6:
            main.get_by_role("button", name="Next").click()
            page.wait_for_url(f"**step={step + 1}**")
    assert main.get_by_role("button", name="Next").is_disabled()
    assert not found, found


def test_a_teachers_link_opens_its_step_and_a_bad_one_says_so(server, page):
    page.goto(f"{server.url}/lesson?step=4&source=7&target=1")
    wait_for_step(page, 4)
    assert "7 → 1" in page.locator("[data-testid='stMain']").inner_text() or "source=7" in page.url
    page.goto(f"{server.url}/lesson?step=<b>9</b>")
    wait_for_step(page, 1)
    text = page.locator("body").inner_text()
    assert "is not a step of the lesson (1 to 6)" in text and "<b>9</b>" in text  # shown inert, as typed
    assert_no_errors(page)
