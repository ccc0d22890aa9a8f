"""End to end in Chromium: every page renders with all open at once, the shipped weights trained again, links."""

import asyncio
import json
import re
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import pytest

from tests.e2e.conftest import CHROMIUM, FLAGS, OUTPUT
from tests.e2e.pages import (
    CHARTS_DRAWN,
    IDLE,
    IMAGES_LOADED,
    PAGES,
    PICTURES,
    READY,
    TABLES_DRAWN,
    assert_no_errors,
    eps_slider,
    metric,
    wait_for_page,
)

pytestmark = pytest.mark.e2e


SLIDER_PAGES = ("attack", "epsilon", "lab")  # each moves its own slider


def test_every_page_renders_its_charts_with_all_pages_open_at_once(server, playwright_module):
    """Every page open at once in its own session (a browser tab each): each draws its charts and pictures without
    an error, and the three with a slider each keep their own epsilon. The screenshots are docs/'s."""

    async def session(browser, name: str) -> dict:
        # the whole page in view
        context = await browser.new_context(viewport={"width": 1400, "height": 2200}, reduced_motion="reduce")
        page = await context.new_page()
        page.set_default_timeout(120_000)
        console = []
        page.on("console", lambda message: console.append(message.text))
        await page.goto(f"{server.url}/{name}")
        await page.wait_for_selector("[data-testid='stMetricValue']")
        if name in READY:
            await page.get_by_text(READY[name]).first.wait_for()
        await page.wait_for_function(CHARTS_DRAWN, arg=PAGES[name])
        await page.wait_for_function(IDLE)
        await page.wait_for_function(IMAGES_LOADED, arg=PICTURES[name])
        await page.wait_for_function(TABLES_DRAWN)
        await page.screenshot(path=OUTPUT / f"{name}.png")
        moved = None
        if name in SLIDER_PAGES:  # each on an image of its own (its own minimal epsilon), one step up from there
            await page.goto(f"{server.url}/{name}?image={SLIDER_PAGES.index(name)}")
            await page.wait_for_function(CHARTS_DRAWN, arg=PAGES[name])
            await page.wait_for_function(IDLE)
            slider = page.locator("[data-testid='stSlider']", has_text="Epsilon: how far").locator("input[type=range]")
            await slider.first.focus()
            await page.keyboard.press("PageUp")
            await page.wait_for_function(IDLE)
            await page.wait_for_function(CHARTS_DRAWN, arg=PAGES[name])
            moved = await slider.first.input_value()
        text = await page.locator("body").inner_text()
        errors = await page.locator("[data-testid='stException']").count()
        errors += "Traceback" in text or "Error:" in text.replace("IDX", "")
        await context.close()
        return {
            "page": name,
            "eps": moved,
            "errors": errors,
            "empty layers": sum("Infinite extent" in t for t in console),
        }

    async def main():
        from playwright.async_api import async_playwright

        async with async_playwright() as playwright:
            browser = await playwright.chromium.launch(executable_path=CHROMIUM, args=FLAGS)
            results = await asyncio.gather(*(session(browser, name) for name in PAGES))
            await browser.close()
            return results

    # the session's synchronous Playwright owns this thread's event loop: run these in a thread of their own
    with ThreadPoolExecutor(max_workers=1) as thread:
        results = thread.submit(asyncio.run, main()).result()
    peak = server.peak_memory_mb()
    (OUTPUT / "concurrency.json").write_text(json.dumps({"sessions": results, "server_peak_mb": peak}, indent=2))
    assert [r["page"] for r in results] == list(PAGES)
    assert all(r["errors"] == 0 and r["empty layers"] == 0 for r in results), results  # no empty chart layers
    moved = [float(r["eps"]) for r in results if r["eps"] is not None]
    assert len(moved) == 3 and len(set(np.round(moved, 3))) > 1  # each session kept its own epsilon


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


def test_a_hostile_link_is_shown_as_inert_text(server, page):
    """Markdown in link values makes no link, no image (no request to a tracker), no heading."""
    requested = []
    page.on("request", lambda request: requested.append(request.url))
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
