"""Section 17: the lesson's steps, each visited first on a fresh server pinned to one core, beside the attack page.

A class opens a teacher's link to one step (``/lesson?step=k``): each visit here starts a server of its own on
CPU 0 with an empty cache folder (as a Community Cloud app woken from sleep, its shipped model kept), and
times the launch to the step fully drawn in Chromium (its question on the page, nothing running). The attack
page, the app's first page, is measured the same way in the same run: each step's ratio to it is the target.
"""

from __future__ import annotations

import os
import tempfile
import time
from pathlib import Path

from benchmarks.common import CHROMIUM, CHROMIUM_FLAGS, Report, free_port, start_server, wait_healthy, wait_rendered

SECTION = "17. The lesson: each step's first visit"
IDLE = "() => !document.querySelector('[data-testid=\"stStatusWidget\"]')"
TARGET = 3.0  # each step's first visit within this many times the attack page's


def first_visit(browser, path: str) -> float:
    """Seconds from launching a fresh one-core server to ``path`` fully drawn."""
    with tempfile.TemporaryDirectory() as home:
        env = {**os.environ, "ADVERSARIAL_DIGITS_HOME": home}
        port = free_port()
        started = time.perf_counter()
        server = start_server(port, env, one_core=True)
        try:
            page = browser.new_page()
            wait_healthy(port)
            page.goto(f"http://127.0.0.1:{port}/{path}", timeout=120_000)
            if path.startswith("lesson"):
                page.get_by_text("Question for the class").first.wait_for(timeout=300_000)
            else:
                wait_rendered(page)
            page.wait_for_function(IDLE, timeout=300_000)
            seconds = time.perf_counter() - started
            page.close()
            return seconds
        finally:
            server.terminate()
            server.wait()


def lesson(report: Report, quick: bool) -> None:
    if quick:
        report.add(SECTION, "first visits on fresh servers", "not measured in --quick")
        return
    if not Path(CHROMIUM).exists():
        report.add(SECTION, "first visits on fresh servers", "skipped: no Chromium")
        return
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_FLAGS)
        try:
            attack = first_visit(browser, "attack")
            report.add(SECTION, "the attack page (the baseline): launch to fully drawn, one core", f"{attack:.1f} s")
            steps = [first_visit(browser, f"lesson?step={step}") for step in range(1, 7)]
        finally:
            browser.close()
    for step, seconds in enumerate(steps, 1):
        ratio = seconds / attack
        report.add(
            SECTION,
            f"step {step}: launch to fully drawn, one core",
            f"{seconds:.1f} s ({ratio:.2f}× the attack page)",
            f"≤ {TARGET:g}× the attack page",
            ratio <= TARGET,
        )
    report.add(
        SECTION, "all six steps, one fresh server each", f"{sum(steps):.1f} s in all; slowest {max(steps):.1f} s"
    )
