"""Section 13: the server's footprint: full MNIST's 70,000 images on a tour of every page, and a defenses storm.

Full MNIST cannot be downloaded here, so its cache file is stood in for by one
of the same shape and type: Fashion-MNIST's 70,000 real 28x28 images (Debian's
``dataset-fashion-mnist``), written where the app keeps the MNIST download.
It is labelled as the stand-in it is wherever its numbers appear.
"""

from __future__ import annotations

import asyncio
import os
import tempfile
import time
from pathlib import Path

import numpy as np

SECTION = "13. Footprint"
TOUR = {"training": 4, "attack": 1, "epsilon": 3, "lab": 2, "pairs": 1, "defenses": 1}  # page -> charts on it


def stand_in_mnist(home: Path) -> None:
    """Fashion-MNIST's 60,000 + 10,000 images in full MNIST's cache file (same shape, dtype and split)."""
    from benchmarks.common import FASHION
    from core.inputs.data import IDX_FILES, find_idx_file, read_idx

    arrays = {
        key: read_idx(find_idx_file(FASHION, stem), images=key.startswith("x")) for key, stem in IDX_FILES.items()
    }
    pixels = np.round(np.concatenate([arrays["x_train"], arrays["x_test"]]) * 255).astype(np.uint8)
    labels = np.concatenate([arrays["y_train"], arrays["y_test"]]).astype(np.int64)
    (home / "mnist").mkdir(parents=True, exist_ok=True)
    np.savez_compressed(home / "mnist" / "mnist_784.npz", pixels=pixels, labels=labels)


def process_mb(pid: int, field: str) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(f"{field}:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def page_done(page, charts: int = 0, timeout: float = 900_000):
    """Until the page has its metrics and ``charts`` charts, and nothing runs or waits on it."""
    return page.wait_for_function(
        """n => document.querySelector('[data-testid="stMetricValue"], [data-testid="stAlert"]')
               && document.querySelectorAll('[data-testid="stVegaLiteChart"]').length >= n
               && !document.querySelector('[data-testid="stStatusWidget"]')
               && !document.querySelector('[data-testid="stProgress"]')""",
        arg=charts,
        timeout=timeout,
    )


def full_mnist_tour(report, launch) -> None:
    """Every page on the 70,000-image dataset: the server process's own peak memory."""
    from benchmarks.common import free_port, start_server, wait_healthy

    with tempfile.TemporaryDirectory() as home:
        stand_in_mnist(Path(home))
        env = {**os.environ, "ADVERSARIAL_DIGITS_HOME": home, "ADVERSARIAL_DIGITS_DATASET": "mnist"}
        port = free_port()
        server = start_server(port, env)
        try:
            wait_healthy(port, timeout=120)

            async def main():
                async with launch() as browser:
                    page = await browser.new_page(viewport={"width": 1200, "height": 900})
                    errors = 0
                    for name, charts in TOUR.items():
                        await page.goto(f"http://127.0.0.1:{port}/{name}", timeout=900_000)
                        await page_done(page, charts)
                        await asyncio.sleep(1)
                        await page_done(page, charts)
                        errors += await page.locator("[data-testid='stException']").count()
                    return errors

            started = time.perf_counter()
            errors = asyncio.run(main())
            took = time.perf_counter() - started
            peak, now = process_mb(server.pid, "VmHWM"), process_mb(server.pid, "VmRSS")
        finally:
            server.terminate()
            server.wait()
    report.add(
        SECTION,
        "full MNIST (stand-in: Fashion-MNIST's 70,000 images in its cache file), every page "
        f"visited ({took:.0f} s): server process peak / after",
        f"{peak:.0f} / {now:.0f} MB",
        "< 500 MB (806 MB before)",
        peak < 500,
    )
    report.add(SECTION, "exceptions on that tour", f"{errors}", "0", errors == 0)


def defenses_storm(report, launch) -> None:
    """Six visitors each ask for their own defense strength on Fashion-MNIST's 60,000 training images."""
    from benchmarks.common import FASHION, free_port, start_server, wait_healthy
    from benchmarks.shared_server_tools import Sampler

    strengths = (0.02, 0.05, 0.08, 0.1, 0.15, 0.2)
    with tempfile.TemporaryDirectory() as home:
        env = {
            **os.environ,
            "ADVERSARIAL_DIGITS_HOME": home,
            "ADVERSARIAL_DIGITS_IDX_FOLDERS": str(FASHION),
            "ADVERSARIAL_DIGITS_DATASET": f"idx:{FASHION}",
        }
        port = free_port()
        server = start_server(port, env)
        try:
            wait_healthy(port, timeout=120)

            async def visitor(browser, strength: float):
                context = await browser.new_context(viewport={"width": 1200, "height": 900})
                page = await context.new_page()
                started = time.perf_counter()
                await page.goto(
                    f"http://127.0.0.1:{port}/defenses?defense=adversarial&adversarial_eps={strength}", timeout=900_000
                )
                await page.get_by_text("Adversarial training at ε").first.wait_for(timeout=900_000)
                await page_done(page)
                waited, errors = (
                    time.perf_counter() - started,
                    await page.locator("[data-testid='stException']").count(),
                )
                await context.close()
                return waited, errors

            async def main():
                async with launch() as browser:
                    page = await browser.new_page()  # the normal Fashion model first, as a server up a while has it
                    await page.goto(f"http://127.0.0.1:{port}/attack", timeout=900_000)
                    await page_done(page)
                    await page.close()
                    return await asyncio.gather(*(visitor(browser, s) for s in strengths))

            with Sampler(server.pid) as sampler:
                results = asyncio.run(main())
            server_peak = process_mb(server.pid, "VmHWM")
            models = sorted((Path(home) / "models").glob("*.npz"))
            size = sum(p.stat().st_size for p in models)
        finally:
            server.terminate()
            server.wait()
    waits = sorted(w for w, _ in results)
    report.add(
        SECTION,
        "six visitors each train their own defense on Fashion-MNIST (60,000 images): each waited",
        f"{waits[0]:.0f}-{waits[-1]:.0f} s",
        "two trainings at a time",
    )
    report.add(
        SECTION,
        "peak memory of the server and its training children in that storm (the server alone)",
        f"{sampler.peak:.0f} MB ({server_peak:.0f} MB)",
        "< 1,000 MB (1,120-1,244 MB before)",
        sampler.peak < 1000,
    )
    errors = sum(e for _, e in results)
    report.add(SECTION, "exceptions in those pages", f"{errors}", "0", errors == 0)
    report.add(
        SECTION, "models saved in that storm", f"{len(models)} files, {size / 1e6:.2f} MB", "under the 200 MB cap"
    )


def footprint(report, quick: bool) -> None:
    from benchmarks.common import CHROMIUM, FASHION
    from benchmarks.shared_server_tools import launch

    if quick or not Path(CHROMIUM).exists() or not FASHION.is_dir():
        report.add(SECTION, "full-MNIST tour and defenses storm", "not measured in --quick (or no Chromium/Fashion)")
        return
    full_mnist_tour(report, launch)
    defenses_storm(report, launch)
