"""End to end in Chromium: every page renders its charts, the slider flips the answer, uploads, links."""

import re

import pytest
from PIL import Image

from tests.e2e.conftest import OUTPUT
from tests.e2e.pages import (
    IMAGES_LOADED,
    PAGES,
    PICTURES,
    assert_no_errors,
    eps_slider,
    metric,
    wait_for_metric,
    wait_for_page,
)

pytestmark = pytest.mark.e2e


@pytest.mark.parametrize("name", list(PAGES))
def test_every_page_renders_its_charts(server, page, name):
    console = []
    page.on("console", lambda message: console.append(message.text))
    page.set_viewport_size({"width": 1400, "height": 2200})  # Streamlit scrolls inside the page: show it all
    page.goto(f"{server.url}/{name}")
    wait_for_page(page, PAGES[name], PICTURES[name])
    assert_no_errors(page)
    page.screenshot(path=OUTPUT / f"{name}.png")
    assert not [text for text in console if "Infinite extent" in text]  # no empty chart layers


def test_the_weights_that_came_with_the_app_are_trained_again_in_one_click(server, page):
    page.goto(f"{server.url}/training")
    wait_for_page(page, PAGES["training"], PICTURES["training"])
    assert metric(page, "Training time") == "shipped"
    assert "python -m core.shipped" in page.locator("[data-testid='stAlert']").first.inner_text()
    page.get_by_role("button", name="Train them here").click()
    page.get_by_text("to the last bit").wait_for(timeout=60_000)
    wait_for_page(page, PAGES["training"], PICTURES["training"])
    assert re.fullmatch(r"\d+\.\d\d s", metric(page, "Training time"))
    assert_no_errors(page)


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


def test_uploading_a_digit(server, page, tmp_path, dataset):
    from core.imaging import to_uint8

    digit = 255 - to_uint8(dataset.x_test[dataset.test_indices(2)[0]])
    path = tmp_path / "my-digit.png"
    Image.fromarray(digit).resize((200, 200)).save(path)
    page.goto(f"{server.url}/attack")
    wait_for_page(page, 1)
    page.get_by_text("Your upload").click()
    page.locator("[data-testid='stFileUploader'] input[type=file]").set_input_files(str(path))
    page.get_by_text("What the model sees").wait_for()
    page.get_by_text("Your upload my-digit.png.").wait_for()
    assert "reads it as 2" in page.locator("body").inner_text()
    assert metric(page, "Model's answer") == "6"
    assert_no_errors(page)
    page.wait_for_function(IMAGES_LOADED)
    page.screenshot(path=OUTPUT / "upload.png")


def test_a_bad_upload_is_explained(server, page, tmp_path):
    path = tmp_path / "broken.png"
    path.write_bytes(b"\x89PNG\r\n\x1a\n" + bytes(100))
    page.goto(f"{server.url}/attack")
    wait_for_page(page, 1)
    page.get_by_text("Your upload").click()
    page.locator("[data-testid='stFileUploader'] input[type=file]").set_input_files(str(path))
    page.get_by_text("broken.png:").wait_for()
    assert page.locator("[data-testid='stException']").count() == 0
    page.get_by_text("A test image").click()  # back to the test images: the page was never lost
    wait_for_metric(page, "Model's answer", "6")


def test_a_deep_link_reproduces_the_view(server, page):
    page.goto(f"{server.url}/epsilon?source=7&target=1&image=4&eps=0.25&clip=0")
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
