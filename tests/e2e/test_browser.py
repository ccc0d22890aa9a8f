"""End to end in Chromium: the shipped weights trained again, links (every page open at once, its screenshots and
its accessibility: tests/e2e/test_accessibility.py)."""

import re

import pytest

from tests.e2e.pages import (
    PAGES,
    PICTURES,
    assert_no_errors,
    eps_slider,
    metric,
    wait_for_page,
)

pytestmark = pytest.mark.e2e


def test_the_weights_that_came_with_the_app_are_trained_again_in_one_click(own_server, page):
    """On a server of its own: the others (and their screenshots) meet the weights that came with the app."""
    page.goto(f"{own_server.url}/training")
    wait_for_page(page, PAGES["training"], PICTURES["training"])
    assert metric(page, "Training time") == "shipped"
    assert "python -m core.jobs.shipped" in page.locator("[data-testid='stAlert']").first.inner_text()
    page.get_by_role("button", name="Train them here").click()
    page.get_by_text("the same weights as those that came with the app").wait_for(timeout=60_000)
    wait_for_page(page, PAGES["training"], PICTURES["training"])
    assert re.fullmatch(r"\d+\.\d\d s", metric(page, "Training time"))
    assert_no_errors(page)


def test_a_deep_link_reproduces_the_view(server, page):
    page.goto(f"{server.url}/epsilon?source=7&target=1&image=0&eps=0.25&clip=0")
    wait_for_page(page, 3)
    assert page.locator("h1").first.inner_text().startswith("Class scores against epsilon: 7 → 1")
    assert float(eps_slider(page).input_value()) == 0.25
    assert page.locator("[data-testid='stAlert']").count() == 0
    assert_no_errors(page)


def test_a_tampered_link_gets_notices_not_a_crash(server, page):
    page.goto(f"{server.url}/attack?eps=abc&image=99999&target=12")
    wait_for_page(page, 1)
    alerts = page.locator("[data-testid='stAlert']").all_inner_texts()
    assert any("eps=abc" in a for a in alerts) and any("target=12" in a for a in alerts)
    assert any("#99999" in a for a in alerts)
    assert_no_errors(page)


def test_a_hostile_link_is_shown_as_inert_text(server, page, request):
    """Markdown in link values makes no link, no image (no request to a tracker), no heading."""
    requested = []

    def note(sent):
        requested.append(sent.url)

    page.on("request", note)
    request.addfinalizer(lambda: page.remove_listener("request", note))  # the tab goes on to the next test
    hostile = (
        "/attack?eps=**Session%20expired.**%20[Log%20in%20again](https://evil.example/login)"
        "%20![](http://127.0.0.2:8799/t.png)&source=x%0A===%0A&target=www.evil.co"
    )
    page.goto(server.url + hostile)
    wait_for_page(page, 1)
    alerts = page.locator("[data-testid='stAlert']")
    assert alerts.count() >= 3
    for tag in ("a", "img", "h1", "h2", "strong"):
        assert alerts.locator(tag).count() == 0, tag
    assert "eps=**Session expired.** [Log in again" in " ".join(alerts.all_inner_texts())  # the characters as typed
    assert all(len(a) < 250 for a in alerts.all_inner_texts())
    assert not [url for url in requested if not url.startswith(server.url)]  # nothing fetched from elsewhere
    assert_no_errors(page)


def test_a_page_that_does_not_exist_is_named(server, page):
    page.goto(f"{server.url}/nosuchpage?source=3")
    wait_for_page(page, 1)
    alerts = " ".join(page.locator("[data-testid='stAlert']").all_inner_texts())
    assert "There is no page /nosuchpage here" in alerts
    assert page.locator("h1").first.inner_text().startswith("Turn a 3 into a 6")  # the link's view is kept
    assert_no_errors(page)
