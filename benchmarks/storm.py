"""Section 7: many visitors at once: eight trainings, and an idle visitor meanwhile."""

from __future__ import annotations

import os
import statistics
import tempfile
import time
from pathlib import Path

from benchmarks.common import (
    CHART_DRAWN,
    CHROMIUM,
    CHROMIUM_FLAGS,
    FASHION,
    Report,
    family_rss_mb,
    free_port,
    start_server,
    training_children,
    wait_healthy,
)


def storm(report: Report, quick: bool) -> None:
    """Eight visitors start eight different trainings at once; a ninth, idle one opens the app meanwhile."""
    section = "7. Many visitors at once"
    if quick:  # a server, nine browsers and real trainings: python -m benchmarks only
        report.add(section, "training storm", "not measured in --quick")
        return
    if not Path(CHROMIUM).exists():
        report.add(section, "training storm", "skipped: no Chromium")
        return
    import asyncio
    import threading

    from playwright.async_api import async_playwright

    big = FASHION.is_dir() and not quick
    dataset = f"idx:{FASHION}" if big else "mnist-5k"
    visitors = 8 if not quick else 3
    with tempfile.TemporaryDirectory() as home:
        env = {**os.environ, "ADVERSARIAL_DIGITS_HOME": home, "ADVERSARIAL_DIGITS_DATASET": dataset}
        if big:
            env["ADVERSARIAL_DIGITS_IDX_FOLDERS"] = str(FASHION)
        port = free_port()
        server = start_server(port, env)
        url = f"http://127.0.0.1:{port}"
        peak, sampling = [0.0], threading.Event()
        training_started, all_training = [], None

        def sample():
            while not sampling.is_set():
                peak[0] = max(peak[0], family_rss_mb(server.pid))
                time.sleep(0.1)

        async def training_page_done(page) -> float:
            await page.wait_for_function(
                """() => !document.querySelector('[data-testid="stProgress"]')
                      && !document.querySelector('[data-testid="stStatusWidget"]')
                      && [...document.querySelectorAll('[data-testid="stMetric"]')]
                           .some(m => m.innerText.includes('Training time'))""",
                timeout=600_000,
            )
            card = page.locator("[data-testid='stMetric']", has_text="Training time").first
            return float((await card.locator("[data-testid='stMetricValue']").inner_text()).split()[0])

        async def visitor(browser, number: int) -> dict:
            context = await browser.new_context(viewport={"width": 1200, "height": 900})
            page = await context.new_page()
            await page.goto(f"{url}/training", timeout=120_000)
            alone = await training_page_done(page)
            await page.get_by_text("Training settings").first.click()
            seed = page.get_by_role("spinbutton", name="Random seed")
            await seed.fill(str(100 + number))
            started = time.perf_counter()
            await seed.press("Enter")
            await page.wait_for_selector("[data-testid='stProgress']", timeout=60_000)
            training_started.append(number)
            if len(training_started) == visitors:
                all_training.set()
            reported = await training_page_done(page)
            waited = time.perf_counter() - started
            await context.close()
            return {"alone": alone, "reported": reported, "waited": waited}

        async def idle_visitor(browser) -> float:
            await all_training.wait()  # every visitor's training is asked for: the storm is on
            context = await browser.new_context(viewport={"width": 1200, "height": 900})
            page = await context.new_page()
            started = time.perf_counter()
            await page.goto(f"{url}/attack", timeout=120_000)
            await page.wait_for_selector("[data-testid='stMetricValue']", timeout=120_000)
            await page.wait_for_selector(CHART_DRAWN, timeout=120_000)
            served = time.perf_counter() - started
            await context.close()
            return served

        async def impatient_visitor(browser) -> int:
            """Changes the seed five times, 1.5 s apart, then closes the tab; how many trainings are left after 5 s."""
            context = await browser.new_context(viewport={"width": 1200, "height": 900})
            page = await context.new_page()
            await page.goto(f"{url}/training", timeout=120_000)
            await training_page_done(page)
            await page.get_by_text("Training settings").first.click()
            for seed in range(500, 505):
                await page.get_by_role("spinbutton", name="Random seed").fill(str(seed))
                await page.get_by_role("spinbutton", name="Random seed").press("Enter")
                await asyncio.sleep(1.5)
            await context.close()
            await asyncio.sleep(5)
            return training_children(server.pid)

        async def main():
            nonlocal all_training
            all_training = asyncio.Event()
            async with async_playwright() as playwright:
                browser = await playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_FLAGS)
                page = await browser.new_page()  # a server that has been up a while: default model loaded
                for name in ("attack", "epsilon"):
                    await page.goto(f"{url}/{name}", timeout=300_000)
                    await page.wait_for_selector(CHART_DRAWN, timeout=120_000)
                await page.close()
                results = await asyncio.gather(idle_visitor(browser), *(visitor(browser, n) for n in range(visitors)))
                left = await impatient_visitor(browser)
                await browser.close()
                return results[0], results[1:], left

        sampler = threading.Thread(target=sample, daemon=True)
        try:
            wait_healthy(port)
            sampler.start()
            idle, sessions, left = asyncio.run(main())
        finally:
            sampling.set()
            server.terminate()
            server.wait()
    alone = statistics.median(s["alone"] for s in sessions)
    label = "Fashion-MNIST IDX, 60,000 training images" if big else "mnist-5k"
    report.add(
        section,
        f"{visitors} visitors each start a different training ({label}): last one done",
        f"{max(s['waited'] for s in sessions):.1f} s",
        "bounded",
    )
    report.add(
        section, "an idle visitor arriving during that storm: attack page drawn", f"{idle:.1f} s", "< 10 s", idle < 10
    )
    report.add(
        section, "peak memory of the server and all its children", f"{peak[0]:.0f} MB", "< 1,500 MB", peak[0] < 1500
    )
    own = max(s["reported"] / s["waited"] for s in sessions)
    report.add(
        section,
        "reported training time / time its visitor waited (largest)",
        f"{own:.2f}",
        "<= 1: waiting is not counted",
        own <= 1,
    )
    report.add(
        section,
        "reported training time in the storm / the same training alone (median)",
        f"{statistics.median(s['reported'] for s in sessions) / alone:.2f}x",
        "two trainings share 2 cores",
    )
    report.add(
        section,
        "a visitor changes the seed 5 times and leaves: trainings still running 5 s later",
        f"{left}",
        "0",
        left == 0,
    )
