"""Section 21: Beyond linear as a person meets it, in Chromium, on a fresh server pinned to one core.

First visits: each one a server of its own with an empty cache folder (as a Community Cloud app woken from sleep,
its shipped weights and tables kept), timed from the launch to the page fully drawn but for the network's best
attack (its proof fills in after: the table cell says "solving…" meanwhile); the attack page the same way, in the
same run, as the baseline. Then four visitors open the network page (64 units, four digits) at once, and a fifth
opens the attack page while their verifiers run: how long the fifth waits. The fifth has a browser of its own, as
every visitor has: in the four's browser its page load queued behind their four tabs (15-24 s, most of it the
browser's own queue, not the server's).
"""

from __future__ import annotations

import time

from benchmarks.common import (
    FreshServer,
    Report,
    chromium,
    drawn_and_idle,
    first_visit,
    launch,
    no_browser,
    wait_rendered,
)

SECTION = "21. Beyond linear in the browser: first visits and a crowd"
TARGET = 3.0  # the network page's first visit within this many times the attack page's
CROWD_WAIT = 10.0  # seconds a fifth visitor's attack page may take while four others use the network page
DESKTOP = {"width": 1400, "height": 1000}


def network_drawn(page, timeout: float = 300_000) -> None:
    """Until Beyond linear shows everything but the best attack's proof: the transfer table and the verified
    table are drawn and nothing else is on its way."""
    page.get_by_text("Does the attack transfer?").wait_for(timeout=timeout)
    page.get_by_text("How robust is each model?").wait_for(timeout=timeout)
    page.wait_for_function(
        "() => ![...document.querySelectorAll('[data-testid=\"stAlert\"]')].some(a => "
        "/Attacking every one|the table will fill in here/.test(a.textContent))",
        timeout=timeout,
    )


def crowd(browser, own) -> float:
    """Four visitors on the network page (64 units) at once (in ``browser``), then a fifth on the attack page (in
    ``own``, a browser of its own) once the first of them is solving its best attack: the fifth's wait from its
    click to its page drawn."""
    with FreshServer() as fresh:
        warm = own.new_page()
        warm.goto(fresh.url("attack"), timeout=120_000)
        wait_rendered(warm)
        warm.close()
        crowd_pages = []
        for source in (3, 4, 5, 7):
            page = browser.new_page(viewport=DESKTOP)
            page.goto(fresh.url(f"network?hidden=64&source={source}&target=8&image=1"), wait_until="commit")
            crowd_pages.append(page)
        crowd_pages[0].get_by_text("Solving the network's best attack").wait_for(timeout=120_000)
        fifth = own.new_page(viewport=DESKTOP)
        clicked = time.perf_counter()
        fifth.goto(fresh.url("attack?source=9&target=4&image=2"), timeout=120_000)
        drawn_and_idle(fifth)
        waited = time.perf_counter() - clicked
        for page in [*crowd_pages, fifth]:
            page.close()
        return waited


def network_visits(report: Report, quick: bool) -> None:
    reason = no_browser(quick)
    if reason:
        report.add(SECTION, "first visits and a crowd on fresh servers", reason)
        return
    with chromium() as browser:
        attack = first_visit(browser, "attack", viewport=DESKTOP)
        visits = {
            hidden: first_visit(browser, f"network?hidden={hidden}", network_drawn, DESKTOP) for hidden in (16, 64, 256)
        }
        own = launch(browser.browser_type)  # the fifth visitor's own browser
        try:
            waited = crowd(browser, own)
        finally:
            own.close()
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
        "four visitors on Beyond linear (64 units) at once: a fifth's attack page (a browser of its own), click to "
        "fully drawn",
        f"{waited:.1f} s",
        f"≤ {CROWD_WAIT:g} s",
        waited <= CROWD_WAIT,
    )
