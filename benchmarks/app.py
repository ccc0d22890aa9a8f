"""Section 5: the app: a cold start in Chromium, reruns after the slider and the pad."""

from __future__ import annotations

import os
import statistics
import tempfile
import time
from pathlib import Path

from benchmarks.common import (
    CHROMIUM,
    CHROMIUM_FLAGS,
    FASHION,
    ROOT,
    Report,
    free_port,
    server_peak_mb,
    start_server,
    wait_healthy,
    wait_rendered,
)


def cold_start(browser, env: dict) -> float:
    """Seconds from launching the server to the attack page fully drawn in Chromium."""
    port = free_port()
    started = time.perf_counter()
    server = start_server(port, env)
    try:
        page = browser.new_page()
        wait_healthy(port)
        page.goto(f"http://127.0.0.1:{port}/")
        wait_rendered(page)
        return time.perf_counter() - started
    finally:
        server.terminate()
        server.wait()


def app(report: Report, quick: bool) -> None:
    section = "5. The app"
    rerun = rerun_after_slider(3 if quick else 30)
    report.add(
        section,
        "rerun after moving the epsilon slider (attack page, AppTest, median)",
        f"{rerun * 1000:.0f} ms",
        "< 150 ms",
        rerun < 0.15,
    )
    stroke = rerun_after_stroke(3 if quick else 20)
    report.add(
        section,
        "rerun after a stroke on the drawing pad (PNG read and prepared, page drawn; median)",
        f"{stroke * 1000:.0f} ms",
        "< 150 ms",
        stroke < 0.15,
    )
    if quick:  # the smoke run: no server starts (python -m benchmarks measures them)
        report.add(section, "cold start and server memory", "not measured in --quick")
        return
    if not Path(CHROMIUM).exists():
        report.add(section, "cold start and server memory", "skipped: no Chromium")
        return
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright, tempfile.TemporaryDirectory() as home:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_FLAGS)
        env = {**os.environ, "ADVERSARIAL_DIGITS_HOME": home}  # an app home of its own: nothing saved
        fresh = cold_start(browser, env)
        report.add(
            section, "cold start: launch to first page drawn (empty cache folder)", f"{fresh:.2f} s", "< 5 s", fresh < 5
        )
        warm = cold_start(browser, env)
        report.add(section, "cold start of a restarted server (cache folder kept)", f"{warm:.2f} s", "< 5 s", warm < 5)
        if FASHION.is_dir() and not quick:
            env = {
                **env,
                "ADVERSARIAL_DIGITS_IDX_FOLDERS": str(FASHION),
                "ADVERSARIAL_DIGITS_DATASET": f"idx:{FASHION}",
            }
            port = free_port()
            server = start_server(port, env)
            try:
                page = browser.new_page()
                wait_healthy(port)
                page.goto(f"http://127.0.0.1:{port}/epsilon", timeout=60_000)
                wait_rendered(page, charts=3, timeout=300_000)
                page.goto(f"http://127.0.0.1:{port}/training", timeout=60_000)
                page.wait_for_selector("[data-testid='stMetricValue']", timeout=60_000)
                page.goto(f"http://127.0.0.1:{port}/attack", timeout=60_000)
                wait_rendered(page)
                peak = server_peak_mb(server)
            finally:
                server.terminate()
                server.wait()
            report.add(
                section,
                "server peak memory, 70,000-image set loaded and trained, all pages visited",
                f"{peak:.0f} MB",
                "< 600 MB",
                peak < 600,
            )
        browser.close()


def rerun_after_slider(repeats: int, params: dict | None = None) -> float:
    """A page's rerun after moving the epsilon slider (AppTest, median, caches warm); ``params``: the link's."""
    from streamlit.testing.v1 import AppTest

    app = AppTest.from_file(str(ROOT / "streamlit_app.py"), default_timeout=240)
    app.query_params.update(params or {})
    app.run()
    times = []
    for i in range(repeats):
        slider = next(w for w in app.slider if w.key.startswith("_widget_eps"))
        slider.set_value(round(0.05 + 0.013 * i, 3))
        start = time.perf_counter()
        app.run()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def rerun_after_stroke(repeats: int) -> float:
    """A stroke on the drawing pad: reading and preparing the pad's PNG, then the attack page's rerun with it."""
    import base64
    import io

    from PIL import Image, ImageDraw
    from streamlit.testing.v1 import AppTest

    from core.inputs.imaging import preprocess_drawing, read_drawing

    app = AppTest.from_file(str(ROOT / "streamlit_app.py"), default_timeout=120)
    app.query_params.update({"page": "attack", "input": "draw"})
    app.run()
    times = []
    for i in range(repeats):
        canvas = Image.new("RGBA", (280, 280), (0, 0, 0, 255))
        ImageDraw.Draw(canvas).line([(120 + 3 * i, 40), (150, 240)], fill=(255, 255, 255, 255), width=18)
        buffer = io.BytesIO()
        canvas.save(buffer, format="PNG")
        sent = "data:image/png;base64," + base64.b64encode(buffer.getvalue()).decode()
        start = time.perf_counter()
        app.session_state["drawing"] = preprocess_drawing(read_drawing(sent))  # what the pad's callback does
        app.session_state["eps"] = None
        app.run()
        times.append(time.perf_counter() - start)
    return statistics.median(times)
