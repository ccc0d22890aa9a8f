"""Section 12's tools: a server of this app with its own cache folder, its memory sampled, pages drawn, browsers."""

from __future__ import annotations

import contextlib
import os
import tempfile
import threading
import time

SECTION = "12. A shared server"
LAB_DIGITS = (0, 1, 2, 3, 4, 5, 7, 8)  # toward the default target 6


def cpu_seconds(pid: int) -> float:
    """User plus system CPU time of one process so far (its threads included, its children not)."""
    from core.jobs.models import child_cpu_seconds

    return child_cpu_seconds(pid)


class Sampler:
    """The server's process tree memory, sampled every 0.2 s in a thread."""

    def __init__(self, pid: int):
        from benchmarks.common import family_rss_mb

        self.pid, self.rss = pid, family_rss_mb
        self.peak, self.stopping = 0.0, threading.Event()
        self.thread = threading.Thread(target=self._run, daemon=True)

    def _run(self):
        while not self.stopping.is_set():
            self.peak = max(self.peak, self.rss(self.pid))
            time.sleep(0.2)

    def __enter__(self):
        self.thread.start()
        return self

    def __exit__(self, *exc):
        self.stopping.set()
        self.thread.join()


class Server:
    """A server of this app on the Fashion-MNIST IDX files (or the embedded digits), its own cache folder."""

    def __init__(self, fashion: bool):
        from benchmarks.common import FASHION, free_port, start_server, wait_healthy

        self.home = tempfile.TemporaryDirectory()
        env = {**os.environ, "ADVERSARIAL_DIGITS_HOME": self.home.name}
        if fashion:
            env |= {"ADVERSARIAL_DIGITS_IDX_FOLDERS": str(FASHION), "ADVERSARIAL_DIGITS_DATASET": f"idx:{FASHION}"}
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.process = start_server(self.port, env)
        wait_healthy(self.port, timeout=120)

    def close(self):
        self.process.terminate()
        self.process.wait()
        self.home.cleanup()


async def lab_drawn(page, timeout: float = 600_000) -> None:
    """Until the lab's two charts and its table are drawn and nothing runs."""
    await page.wait_for_function(
        """() => document.querySelectorAll('[data-testid="stVegaLiteChart"]').length >= 2
                 && document.querySelector('[data-testid="stDataFrame"]')
                 && !document.querySelector('[data-testid="stStatusWidget"]')""",
        timeout=timeout,
    )


async def errors_on(page) -> int:
    return await page.locator("[data-testid='stException']").count()


async def warm_up(browser, url: str) -> None:
    """A server that has been up a while: the model trained, the attack page drawn once."""
    from benchmarks.common import CHART_DRAWN

    page = await browser.new_page()
    await page.goto(f"{url}/attack", timeout=600_000)
    await page.wait_for_selector(CHART_DRAWN, timeout=600_000)
    await page.close()


@contextlib.asynccontextmanager
async def launch():
    """Debian's Chromium, driven by Playwright, for one ``asyncio.run``; closed at the end."""
    from playwright.async_api import async_playwright

    from benchmarks.common import CHROMIUM, CHROMIUM_FLAGS

    async with async_playwright() as playwright:
        browser = await playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_FLAGS)
        try:
            yield browser
        finally:
            await browser.close()
