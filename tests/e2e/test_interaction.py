"""End to end in Chromium: the slider, uploads, the pad, a click on a pair, a phone, a defense trained."""

import re

import pytest
from PIL import Image

from tests.e2e.conftest import DESKTOP, OUTPUT
from tests.e2e.pages import (
    IMAGES_LOADED,
    PAGES,
    PICTURES,
    assert_no_errors,
    eps_slider,
    metric,
    wait_for_metric,
    wait_for_page,
    wait_for_sidebar_away,
)
from tests.waiting import soon

pytestmark = pytest.mark.e2e


def test_moving_the_slider_flips_the_answer(server, page):
    page.goto(f"{server.url}/attack")
    wait_for_page(page, 1)
    assert metric(page, "Model's answer") == "6"  # opens at the minimal epsilon, fooled
    slider = eps_slider(page)
    slider.focus()
    page.keyboard.press("Home")  # epsilon 0: the untouched image
    wait_for_metric(page, "Model's answer", "2")
    assert metric(page, "Model's answer") == "2"
    assert float(slider.input_value()) == 0
    slider.focus()
    page.keyboard.press("End")  # epsilon 1
    wait_for_metric(page, "Model's answer", "6")
    assert metric(page, "Model's answer") == "6"
    page.wait_for_url(re.compile(r"eps=1(&|$)"))
    assert_no_errors(page)


def test_a_bad_upload_is_explained_and_a_good_one_is_read(server, page, tmp_path, dataset):
    """A broken file gets a message and the page is not lost; then a photo of a 2 is read as a 2 and attacked."""
    from core.inputs.imaging import to_uint8

    broken = tmp_path / "broken.png"
    broken.write_bytes(b"\x89PNG\r\n\x1a\n" + bytes(100))
    digit = 255 - to_uint8(dataset.x_test[dataset.test_indices(2)[0]])
    path = tmp_path / "my-digit.png"
    Image.fromarray(digit).resize((200, 200)).save(path)
    page.goto(f"{server.url}/attack")
    wait_for_page(page, 1)
    page.get_by_text("Your upload").click()
    page.locator("[data-testid='stFileUploader'] input[type=file]").set_input_files(str(broken))
    page.get_by_text("broken.png:").wait_for()
    assert page.locator("[data-testid='stException']").count() == 0
    page.get_by_text("A test image").click()  # back to the test images: the page was never lost
    wait_for_metric(page, "Model's answer", "6")

    page.get_by_text("Your upload").click()
    page.locator("[data-testid='stFileUploader'] input[type=file]").set_input_files(str(path))
    page.get_by_text("What the model sees").wait_for()
    page.get_by_text("Your upload my-digit.png.").wait_for()
    assert "reads it as 2" in page.locator("body").inner_text()
    assert metric(page, "Model's answer") == "6"
    assert_no_errors(page)
    page.wait_for_function(IMAGES_LOADED)
    page.screenshot(path=OUTPUT / "upload.png")


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
    before = page.locator("canvas").first.bounding_box()
    draw_stroke(page, [(0.5, 0.12), (0.5, 0.88)])  # a straight stroke down
    page.get_by_text("The model reads it as 1").first.wait_for()
    wait_for_page(page, PAGES["attack"])
    after = page.locator("canvas").first.bounding_box()
    assert abs(after["y"] - before["y"]) < 1 and abs(after["x"] - before["x"]) < 1, (before, after)  # kept still
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
        # the strokes are on the pad again
        assert soon(lambda: pad.evaluate(INKED_PAD), 10), "the drawing did not come back on the pad"
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
    wait_for_sidebar_away(page)
    page.screenshot(path=OUTPUT / "defenses-phone.png")
    page.set_viewport_size(DESKTOP)
    page.get_by_role("link", name="Attack the defended model image by image").click()
    page.wait_for_url(re.compile(r"/attack\?.*defense=adversarial&adversarial_eps=0.1"))
    wait_for_page(page, PAGES["attack"])
    assert_no_errors(page)


def test_the_menu_switches_the_theme(server, browser):
    """The menu at the top right offers System, Light and Dark; Dark turns the page dark, and it stays so on the
    app's other pages. The choice is kept in the browser's storage: a browser profile of its own, so the other
    tests' pages still follow the system's theme."""
    context = browser.new_context(viewport=DESKTOP, color_scheme="light")
    try:
        page = context.new_page()
        page.set_default_timeout(60_000)
        page.goto(f"{server.url}/lesson")
        page.get_by_text("Question for the class").wait_for()
        background = "() => getComputedStyle(document.querySelector('[data-testid=\"stApp\"]')).backgroundColor"
        light = page.evaluate(background)
        page.locator("[data-testid='stMainMenu']").click()
        page.get_by_role("menuitemradio", name="Dark").click()
        page.wait_for_function(f"() => ({background})() !== {light!r}")
        page.get_by_role("link", name="Training accuracy").first.click()  # on to another page of the app
        page.wait_for_selector("[data-testid='stMetricValue']")
        assert page.evaluate(background) != light
        assert_no_errors(page)
    finally:
        context.close()
