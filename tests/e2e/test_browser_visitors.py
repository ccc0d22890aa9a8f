"""End to end in Chromium: visitors at once, the drawing pad, a click on a pair, a defense trained on demand."""

import asyncio
import json
import re
import time
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import pytest

from tests.e2e.conftest import CHROMIUM, FLAGS, OUTPUT
from tests.e2e.pages import (
    CHARTS_DRAWN,
    IMAGES_LOADED,
    PAGES,
    PICTURES,
    assert_no_errors,
    metric,
    wait_for_metric,
    wait_for_page,
)

pytestmark = pytest.mark.e2e


SESSIONS = 5  # every page once, four sliders moved at once (python -m benchmarks runs a bigger storm)


SESSION_PAGES = [name for name in PAGES if name != "defenses"]  # the defenses page has its own tests below


def test_sessions_at_once(server, playwright_module):
    """Browser sessions side by side on one server, each moving its own slider on its own page, all render."""

    async def session(browser, number: int) -> dict:
        name = SESSION_PAGES[number % len(SESSION_PAGES)]
        context = await browser.new_context(viewport={"width": 900, "height": 700})
        page = await context.new_page()
        page.set_default_timeout(120_000)
        image = number % 5
        await page.goto(f"{server.url}/{name}?image={image}")
        await page.wait_for_selector("[data-testid='stMetricValue']")
        await page.wait_for_function(CHARTS_DRAWN, arg=PAGES[name])
        moved = None
        if name != "training":
            slider = page.locator("[data-testid='stSlider']", has_text="Epsilon: how far").locator("input[type=range]")
            await slider.focus()
            await page.keyboard.press("PageUp")  # one step up from this image's own minimal epsilon
            await page.wait_for_function(
                "() => !document.querySelector('[data-testid=\"stStatusWidget\"]')", timeout=120_000
            )
            moved = await slider.input_value()
        await page.wait_for_function(CHARTS_DRAWN, arg=PAGES[name])
        errors = await page.locator("[data-testid='stException']").count()
        if number == 0:
            await page.screenshot(path=OUTPUT / "session-0.png")
        await context.close()
        return {"page": name, "image": image, "eps": moved, "errors": errors}

    async def main():
        from playwright.async_api import async_playwright

        async with async_playwright() as playwright:
            browser = await playwright.chromium.launch(executable_path=CHROMIUM, args=FLAGS)
            results = await asyncio.gather(*(session(browser, n) for n in range(SESSIONS)))
            await browser.close()
            return results

    # the session's synchronous Playwright owns this thread's event loop: run these in a thread of their own
    with ThreadPoolExecutor(max_workers=1) as thread:
        results = thread.submit(asyncio.run, main()).result()
    peak = server.peak_memory_mb()
    (OUTPUT / "concurrency.json").write_text(json.dumps({"sessions": results, "server_peak_mb": peak}, indent=2))
    print(f"{SESSIONS} sessions, server peak memory {peak:.0f} MB")
    assert len(results) == SESSIONS and all(r["errors"] == 0 for r in results)
    assert {r["page"] for r in results} == set(SESSION_PAGES)
    moved = [float(r["eps"]) for r in results if r["eps"] is not None]
    assert len(moved) >= 3 and len(set(np.round(moved, 3))) > 1  # each session kept its own epsilon


INKED_PAD = """canvas => {
    const pixels = canvas.getContext('2d').getImageData(0, 0, canvas.width, canvas.height).data;
    for (let i = 0; i < pixels.length; i += 4) if (pixels[i] > 128) return true;
    return false;
}"""


def draw_stroke(page, points) -> None:
    """Draw with the mouse through ``points`` given as fractions of the pad's width and height."""
    box = page.locator("canvas").first.bounding_box()
    (x0, y0), *rest = [(box["x"] + fx * box["width"], box["y"] + fy * box["height"]) for fx, fy in points]
    page.mouse.move(x0, y0)
    page.mouse.down()
    for x, y in rest:
        page.mouse.move(x, y, steps=12)
    page.mouse.up()


@pytest.mark.parametrize("size", [(1400, 1000), (390, 844)], ids=["desktop", "phone"])
def test_drawing_a_digit_and_attacking_it(server, page, size):
    page.set_viewport_size({"width": size[0], "height": size[1]})
    page.goto(f"{server.url}/attack?input=draw")
    page.get_by_text("Draw one digit").wait_for()  # an empty pad: a hint, not an error
    page.locator("canvas").first.scroll_into_view_if_needed()
    draw_stroke(page, [(0.5, 0.12), (0.5, 0.88)])  # a straight stroke down
    page.get_by_text("The model reads it as 1").first.wait_for()
    wait_for_page(page, PAGES["attack"])
    assert page.get_by_role("heading", name="Turn your 1 into a 6").count() == 1
    wait_for_metric(page, "Model's answer", "6")  # attacked at its own minimal epsilon
    assert "input=draw" in page.url and "data:" not in page.url  # the drawing itself never enters the URL
    assert_no_errors(page)
    if size[0] > 1000:
        page.set_viewport_size({"width": 1400, "height": 1500})
        page.wait_for_function(IMAGES_LOADED)
        page.screenshot(path=OUTPUT / "draw.png")
    if size[0] > 1000:  # (on a phone the page links sit in the closed sidebar)
        # The server keeps only the 28x28 digit; the strokes come back from the tab itself when the page is reopened.
        page.get_by_role("link", name="Epsilon chart").first.click()
        wait_for_page(page, PAGES["epsilon"])
        page.get_by_role("link", name="Per-image attack").first.click()
        page.get_by_text("The model reads it as 1").first.wait_for()
        pad = page.locator("canvas[aria-label^='Drawing pad']")
        deadline = time.monotonic() + 10
        while not pad.evaluate(INKED_PAD):  # the strokes are on the pad again
            assert time.monotonic() < deadline, "the drawing did not come back on the pad"
            time.sleep(0.1)
    page.get_by_role("button", name="Clear").click()
    page.get_by_text("Draw one digit").wait_for()
    page.wait_for_function("() => !document.querySelector('[data-testid=\"stMetric\"]')", timeout=30_000)
    assert_no_errors(page)


def test_a_click_on_a_pair_makes_it_the_pair_and_opens_its_attack(server, page):
    page.set_viewport_size({"width": 1400, "height": 2400})
    page.goto(f"{server.url}/pairs")
    wait_for_page(page, PAGES["pairs"], PICTURES["pairs"])
    assert_no_errors(page)
    page.screenshot(path=OUTPUT / "pairs.png")
    cell = page.locator("[data-testid='stVegaLiteChart'] svg .mark-rect path[aria-label*='source: 3; target: 5;']")
    cell.first.click()
    page.wait_for_url(re.compile(r"source=3&target=5"))
    page.get_by_role("link", name="Attack a 3 → 5 image by image").wait_for()
    page.get_by_role("link", name="Attack a 3 → 5 image by image").click()
    page.get_by_role("heading", name="Turn a 3 into a 5").wait_for()
    wait_for_page(page, PAGES["attack"])
    assert re.search(r"/attack\?.*source=3&target=5", page.url)
    assert_no_errors(page)


def test_the_all_pairs_page_on_a_phone(server, page):
    page.set_viewport_size({"width": 390, "height": 844})
    page.goto(f"{server.url}/pairs?show=share&eps=0.1")
    wait_for_page(page, PAGES["pairs"], PICTURES["pairs"])
    assert "share fooled at the chosen ε" in page.locator("[data-testid='stVegaLiteChart']").first.inner_html()
    wait_for_metric(page, "Fooled at ε = 0.100", metric(page, "Fooled at ε = 0.100"))  # the link's ε is the page's
    assert_no_errors(page)


DEFENDED_PICTURES = 10  # two strips of ten weight templates, eight transferred images


def test_training_a_defense_shows_both_models_side_by_side(server, page):
    page.set_viewport_size({"width": 1400, "height": 3000})
    page.goto(f"{server.url}/defenses")
    wait_for_page(page, PAGES["defenses"])
    pick = page.locator("[data-testid='stButtonGroup'] button", has_text="Adversarial training")
    pick.click()  # trains it, with a progress bar
    page.wait_for_url(re.compile(r"defense=adversarial&adversarial_eps=0.1"), timeout=120_000)
    page.get_by_text("raised the certified accuracy").wait_for(timeout=120_000)
    wait_for_page(page, 3, DEFENDED_PICTURES)
    assert re.fullmatch(r"\d+\.\d%", metric(page, "Certified at ε = 0.100"))
    legend = page.locator("[data-testid='stVegaLiteChart']").first.inner_html()
    assert "Normal" in legend and "Defended" in legend
    assert page.get_by_text("Normal model: the templates of 0 to 9").count() == 1
    assert page.get_by_text("Defended model: the templates of 0 to 9").count() == 1
    assert_no_errors(page)
    page.screenshot(path=OUTPUT / "defenses.png")
    page.set_viewport_size({"width": 390, "height": 844})  # and on a phone
    page.get_by_text("raised the certified accuracy").wait_for()
    wait_for_page(page, 3)
    page.screenshot(path=OUTPUT / "defenses-phone.png")
    page.set_viewport_size({"width": 1400, "height": 1000})
    page.get_by_role("link", name="Attack the defended model image by image").click()
    page.wait_for_url(re.compile(r"/attack\?.*defense=adversarial&adversarial_eps=0.1"))
    wait_for_page(page, PAGES["attack"])
    assert_no_errors(page)
