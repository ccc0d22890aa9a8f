"""Section 8: a sleeping Community Cloud app wakes (a fresh install on one core) against a bare Streamlit app."""

from __future__ import annotations

import os
import shutil
import statistics
import tempfile
import time
from pathlib import Path

from benchmarks.common import (
    CHART_DRAWN,
    CHROMIUM,
    CHROMIUM_FLAGS,
    ROOT,
    Report,
    free_port,
    server_peak_mb,
    start_server,
    wait_healthy,
)

BARE_APP = """import altair as alt
import pandas as pd
import streamlit as st


def page(number):
    def draw():
        st.title(f"Page {number}")
        data = pd.DataFrame({"x": range(20), "y": [i * number for i in range(20)]})
        st.altair_chart(alt.Chart(data).mark_line().encode(x="x", y="y"))

    return draw


pages = [st.Page(page(n), title=f"Page {n}", url_path=f"page{n}", default=n == 1) for n in (1, 2, 3)]
st.navigation(pages).run()
"""


def wake(browser, folder: Path, script: str) -> tuple[float, float]:
    """Seconds from launching a server pinned to one core, as a fresh deployment, to its first chart drawn;
    and the server's peak memory (MB) by then.

    Fresh: a new HOME (no saved weights, nothing cached) and
    a new, empty bytecode folder (every module is compiled from source, as
    after an install with uv, which does not precompile).
    """
    with tempfile.TemporaryDirectory() as home, tempfile.TemporaryDirectory() as bytecode:
        env = {key: value for key, value in os.environ.items() if key != "ADVERSARIAL_DIGITS_HOME"}
        env.update(HOME=home, PYTHONPYCACHEPREFIX=bytecode)
        port = free_port()
        started = time.perf_counter()
        server = start_server(port, env, folder=folder, script=script, one_core=True)
        try:
            page = browser.new_page()
            wait_healthy(port, timeout=120)
            page.goto(f"http://127.0.0.1:{port}/", timeout=120_000)
            page.wait_for_selector(CHART_DRAWN, timeout=180_000)
            elapsed = time.perf_counter() - started
            page.close()
            return elapsed, server_peak_mb(server)
        finally:
            server.terminate()
            server.wait()


def install_size_mb(requirements: Path = ROOT / "requirements.txt") -> tuple[float, dict[str, float]]:
    """What ``pip install -r requirements.txt`` puts on disk (MB, from the installed files), and the largest parts."""
    import re
    from importlib import metadata

    def name_of(requirement: str) -> str:
        return re.split(r"[\s\[<>=!~;]", requirement.strip(), maxsplit=1)[0].lower().replace("_", "-")

    wanted = [name_of(line) for line in requirements.read_text().splitlines() if line.strip() and line[0] != "#"]
    sizes, seen = {}, set()
    while wanted:
        name = wanted.pop()
        if name in seen:
            continue
        seen.add(name)
        try:
            distribution = metadata.distribution(name)
        except metadata.PackageNotFoundError:
            continue
        sizes[name] = sum((file.size or 0) for file in distribution.files or ()) / 1e6
        wanted += [name_of(r) for r in distribution.requires or () if "extra ==" not in r]
    return sum(sizes.values()), dict(sorted(sizes.items(), key=lambda item: -item[1])[:4])


def cold_wake(report: Report, quick: bool) -> None:
    """This app against a bare three-page Streamlit app, each woken as a fresh deployment on one core."""
    section = "8. A sleeping app wakes (fresh deployment, one core)"
    if quick or not Path(CHROMIUM).exists() or shutil.which("taskset") is None:
        report.add(section, "first chart after a fresh deployment", "not measured in --quick or without taskset")
        return
    from playwright.sync_api import sync_playwright

    bare, ours = [], []
    with sync_playwright() as playwright, tempfile.TemporaryDirectory() as folder:
        (Path(folder) / "bare_app.py").write_text(BARE_APP)
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_FLAGS)
        for _ in range(2):  # side by side, alternating
            bare.append(wake(browser, Path(folder), "bare_app.py"))
            ours.append(wake(browser, ROOT, "streamlit_app.py"))
        browser.close()
    (bare, bare_memory), (ours, our_memory) = zip(*bare), zip(*ours)
    gap = statistics.median(ours) - statistics.median(bare)
    report.add(
        section,
        "bare three-page Streamlit app, one Altair chart a page: launch to first chart",
        " / ".join(f"{t:.1f} s" for t in bare),
    )
    report.add(
        section,
        "this app (attack page, its model and its charts): launch to first chart",
        " / ".join(f"{t:.1f} s" for t in ours),
    )
    report.add(section, "this app minus the bare app (medians)", f"{gap:+.1f} s", "<= +3 s", gap <= 3)
    report.add(
        section,
        "server memory after the first visit: bare app / this app (peak)",
        f"{max(bare_memory):.0f} MB / {max(our_memory):.0f} MB",
        "< 690 MB (the smallest cloud app)",
        max(our_memory) < 690,
    )
    total, largest = install_size_mb()
    report.add(
        section,
        "installed size of requirements.txt and everything it pulls in",
        f"{total:.0f} MB",
        "largest: " + ", ".join(f"{name} {size:.0f} MB" for name, size in largest.items()),
    )
