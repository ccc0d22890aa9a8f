"""Section 17: the lesson's steps, each visited first on a fresh server pinned to one core, beside the attack page.

A class opens a teacher's link to one step (``/lesson?step=k``): each visit here starts a server of its own on
CPU 0 with an empty cache folder (as a Community Cloud app woken from sleep, its shipped model kept), and
times the launch to the step fully drawn in Chromium (its question on the page, nothing running). The attack
page, the app's first page, is measured the same way in the same run: each step's ratio to it is the target.
"""

from __future__ import annotations

from benchmarks.common import IDLE, Report, chromium, first_visit, no_browser

SECTION = "17. The lesson: each step's first visit"
TARGET = 3.0  # each step's first visit within this many times the attack page's


def question_drawn(page) -> None:
    page.get_by_text("Question for the class").first.wait_for(timeout=300_000)
    page.wait_for_function(IDLE, timeout=300_000)


def lesson(report: Report, quick: bool) -> None:
    reason = no_browser(quick)
    if reason:
        report.add(SECTION, "first visits on fresh servers", reason)
        return
    with chromium() as browser:
        attack = first_visit(browser, "attack")
        report.add(SECTION, "the attack page (the baseline): launch to fully drawn, one core", f"{attack:.1f} s")
        steps = [first_visit(browser, f"lesson?step={step}", question_drawn) for step in range(1, 7)]
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
