"""What the browser tests share: the pages and what is on them, and waiting for a page to be drawn."""

PAGES = {"training": 4, "attack": 1, "epsilon": 3, "pairs": 1, "lab": 4, "defenses": 1, "network": 2}  # page -> charts
# page -> pictures on it (grids included)
PICTURES = {"training": 10, "attack": 35, "epsilon": 0, "pairs": 1, "lab": 6, "defenses": 0, "network": 5}
# page -> a text that appears only once the page is complete (what comes after its charts, pictures and tables)
READY = {"network": "Accuracy of the first", "lab": "the smallest change that changes the answer. Medians"}
CHARTS_DRAWN = """n => {
    const charts = [...document.querySelectorAll('[data-testid="stVegaLiteChart"]')];
    const drawn = charts.filter(c => [...c.querySelectorAll('canvas')].some(x => x.width > 0 && x.height > 0)
                                  || c.querySelectorAll('svg .mark-line, svg .mark-rect, svg path').length > 0);
    return drawn.length >= n;
}"""


TABLES_DRAWN = """() => [...document.querySelectorAll('[data-testid="stDataFrame"]')]
    .every(table => table.querySelector('[role=gridcell]'))"""  # a table's cells are drawn a moment after it
IDLE = "() => !document.querySelector('[data-testid=\"stStatusWidget\"]')"  # no script running
IMAGES_LOADED = """(n = 0) => {
    const pictures = [...document.querySelectorAll('[data-testid="stImage"] img')];
    return pictures.length >= n && pictures.every(i => i.complete && i.naturalWidth > 0);
}"""


def wait_for_page(
    page, charts: int, pictures: int = 0, ready: str | None = None, *, shown: str = "[data-testid='stMetricValue']"
) -> None:
    """Until the page shows ``shown`` (its first number, unless said), ``ready`` (a text), ``charts`` charts drawn
    and ``pictures`` pictures loaded, its tables drawn and no script running."""
    page.wait_for_selector(shown)
    if ready:
        page.get_by_text(ready).first.wait_for(timeout=120_000)
    page.wait_for_function(CHARTS_DRAWN, arg=charts)
    page.wait_for_function(IDLE, timeout=60_000)
    page.wait_for_function(IMAGES_LOADED, arg=pictures)  # every picture there, arrived and decoded
    page.wait_for_function(TABLES_DRAWN)


def assert_no_errors(page) -> None:
    assert page.locator("[data-testid='stException']").count() == 0
    text = page.locator("body").inner_text()
    assert "Traceback" not in text and "Error:" not in text.replace("IDX", "")


def metric(page, label: str) -> str:
    card = page.locator("[data-testid='stMetric']", has_text=label).first
    return card.locator("[data-testid='stMetricValue']").inner_text().strip()


def wait_for_metric(page, label: str, value: str) -> None:
    page.wait_for_function(
        """([label, value]) => [...document.querySelectorAll('[data-testid="stMetric"]')].some(m =>
            m.innerText.includes(label)
            && m.querySelector('[data-testid="stMetricValue"]').innerText.trim() === value)""",
        arg=[label, value],
    )


def eps_slider(page):
    return page.locator("[data-testid='stSlider']", has_text="Epsilon: how far").locator("input[type=range]")


SIDEBAR_AWAY = """() => {
    const bar = document.querySelector('[data-testid="stSidebar"]');
    return !bar || bar.getBoundingClientRect().right <= 0;
}"""  # a phone-sized window closes the sidebar with a slide: a screenshot waits until it is gone


def wait_for_sidebar_away(page) -> None:
    page.wait_for_function(SIDEBAR_AWAY, timeout=10_000)
    page.wait_for_timeout(100)  # the last frame of the slide is painted
