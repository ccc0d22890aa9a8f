"""Section 21: Beyond linear as a person meets it, in Chromium, on a fresh server pinned to one core.

First visits: each one a server of its own with an empty cache folder (as a Community Cloud app woken from sleep,
its shipped weights and tables kept), timed from the launch to the page fully drawn but for the network's best
attack (its proof fills in after: the table cell says "solving…" meanwhile); the attack page the same way, in the
same run, as the baseline. Then four visitors open the network page (64 units, four digits) at once, and a fifth
opens the attack page while their verifiers run: how long the fifth waits.
"""

from __future__ import annotations

import os
import tempfile
import time
from pathlib import Path

from benchmarks.common import CHROMIUM, CHROMIUM_FLAGS, Report, free_port, start_server, wait_healthy, wait_rendered

SECTION = "21. Beyond linear in the browser: first visits and a crowd"
TARGET = 3.0  # the network page's first visit within this many times the attack page's
CROWD_WAIT = 10.0  # seconds a fifth visitor's attack page may take while four others use the network page
IDLE = "() => !document.querySelector('[data-testid=\"stStatusWidget\"]')"


def network_drawn(page, timeout: float = 300_000) -> None:
    """Until Beyond linear shows everything but the best attack's proof: the transfer table and the verified
    table are drawn and nothing else is on its way."""
    page.get_by_text("Does the attack transfer?").wait_for(timeout=timeout)
    page.get_by_text("How robust is each model?").wait_for(timeout=timeout)
    page.wait_for_function(
        "() => ![...document.querySelectorAll('[data-testid=\"stAlert\"]')].some(a => "
        "/Attacking every one|Verifying the network/.test(a.textContent))",
        timeout=timeout,
    )


class FreshServer:
    """A one-core server with an empty cache folder, from its launch."""

    def __enter__(self):
        self.home = tempfile.TemporaryDirectory()
        self.port = free_port()
        self.started = time.perf_counter()
        self.server = start_server(self.port, {**os.environ, "ADVERSARIAL_DIGITS_HOME": self.home.name}, one_core=True)
        wait_healthy(self.port)
        return self

    def url(self, path: str) -> str:
        return f"http://127.0.0.1:{self.port}/{path}"

    def __exit__(self, *exc):
        self.server.terminate()
        self.server.wait()
        self.home.cleanup()


def first_visit(browser, path: str) -> float:
    with FreshServer() as fresh:
        page = browser.new_page(viewport={"width": 1400, "height": 1000})
        page.goto(fresh.url(path), timeout=120_000)
        if path.startswith("network"):
            network_drawn(page)
        else:
            wait_rendered(page)
            page.wait_for_function(IDLE, timeout=300_000)
        seconds = time.perf_counter() - fresh.started
        page.close()
        return seconds


def crowd(browser) -> float:
    """Four visitors on the network page (64 units) at once, then a fifth on the attack page once the first of
    them is solving its best attack: the fifth's wait from its click to its page drawn."""
    with FreshServer() as fresh:
        warm = browser.new_page()
        warm.goto(fresh.url("attack"), timeout=120_000)
        wait_rendered(warm)
        warm.close()
        crowd_pages = []
        for source in (3, 4, 5, 7):
            page = browser.new_page(viewport={"width": 1400, "height": 1000})
            page.goto(fresh.url(f"network?hidden=64&source={source}&target=8&image=1"), wait_until="commit")
            crowd_pages.append(page)
        crowd_pages[0].get_by_text("Solving the network's best attack").wait_for(timeout=120_000)
        fifth = browser.new_page(viewport={"width": 1400, "height": 1000})
        clicked = time.perf_counter()
        fifth.goto(fresh.url("attack?source=9&target=4&image=2"), timeout=120_000)
        wait_rendered(fifth)
        fifth.wait_for_function(IDLE, timeout=300_000)
        waited = time.perf_counter() - clicked
        for page in [*crowd_pages, fifth]:
            page.close()
        return waited


def network_visits(report: Report, quick: bool) -> None:
    if quick:
        report.add(SECTION, "first visits and a crowd on fresh servers", "not measured in --quick")
        return
    if not Path(CHROMIUM).exists():
        report.add(SECTION, "first visits and a crowd on fresh servers", "skipped: no Chromium")
        return
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_FLAGS)
        try:
            attack = first_visit(browser, "attack")
            visits = {hidden: first_visit(browser, f"network?hidden={hidden}") for hidden in (16, 64, 256)}
            waited = crowd(browser)
        finally:
            browser.close()
    report.add(SECTION, "the attack page (the baseline): launch to fully drawn, one core", f"{attack:.1f} s")
    for hidden, seconds in visits.items():
        ratio = seconds / attack
        report.add(
            SECTION,
            f"Beyond linear, {hidden} units: launch to all but the best attack's proof, one core",
            f"{seconds:.1f} s ({ratio:.2f}× the attack page)",
            f"≤ {TARGET:g}×" if hidden <= 64 else "",
            ratio <= TARGET if hidden <= 64 else None,
        )
    report.add(
        SECTION,
        "four visitors on Beyond linear (64 units) at once: a fifth's attack page, click to fully drawn",
        f"{waited:.1f} s",
        f"≤ {CROWD_WAIT:g} s",
        waited <= CROWD_WAIT,
    )
