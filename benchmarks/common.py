"""What every benchmark section shares: the paths, the timer, the machine, the report, the servers."""

from __future__ import annotations

import contextlib
import os
import platform
import socket
import statistics
import subprocess
import sys
import tempfile
import textwrap
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
FASHION = Path("/usr/share/datasets/fashion-mnist")  # real IDX files of MNIST's shape (Debian)
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
TARGET = 6


def timed(function, repeats: int) -> float:
    """Median wall time of ``function()`` in seconds."""
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        function()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def machine() -> str:
    cpu = "unknown CPU"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    memory = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30
    return (
        f"{cpu}, {os.cpu_count()} cores, {memory:.0f} GiB RAM; {platform.platform()}; "
        f"Python {platform.python_version()}, numpy {np.__version__}"
    )


class Report:
    """The measured rows. A ``quick`` report (small workloads: a check of the harness) judges no target."""

    def __init__(self, quick: bool = False):
        self.rows: list[tuple[str, str, str, str]] = []  # section, measure, value, target/status
        self.quick = quick

    def add(self, section: str, measure: str, value: str, target: str = "", met: bool | None = None):
        status = "" if met is None or self.quick else ("met" if met else "**missed**")
        self.rows.append((section, measure, value, f"{target} {status}".strip()))
        print(f"  {measure:<62} {value:>22}  {target} {status}", flush=True)


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


CHART_DRAWN = "[data-testid='stVegaLiteChart'] canvas, [data-testid='stVegaLiteChart'] svg"


def start_server(
    port: int, env: dict, *, folder: Path = ROOT, script: str = "streamlit_app.py", one_core: bool = False
) -> subprocess.Popen:
    """A Streamlit server for ``script`` in ``folder``; ``one_core`` pins it to CPU 0 (as a small cloud app)."""
    pin = ["taskset", "-c", "0"] if one_core else []
    return subprocess.Popen(
        [
            *pin,
            sys.executable,
            "-m",
            "streamlit",
            "run",
            script,
            "--server.port",
            str(port),
            "--server.headless",
            "true",
            "--browser.gatherUsageStats",
            "false",
        ],
        cwd=folder,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )


def wait_healthy(port: int, timeout: float = 60) -> None:
    """Until the server answers its health check."""
    import urllib.request

    deadline = time.perf_counter() + timeout
    while True:
        try:
            urllib.request.urlopen(f"http://127.0.0.1:{port}/_stcore/health", timeout=1).close()
            return
        except OSError:
            if time.perf_counter() > deadline:
                raise
            time.sleep(0.02)


def wait_rendered(page, charts: int = 1, timeout: float = 120_000) -> None:
    """Until the attack page shows its metrics and its chart has drawn."""
    page.wait_for_selector("[data-testid='stMetricValue']", timeout=timeout)
    page.wait_for_function(
        f'document.querySelectorAll(\'[data-testid="stVegaLiteChart"] canvas, '
        f'[data-testid="stVegaLiteChart"] svg\').length >= {charts}',
        timeout=timeout,
    )


IDLE = "() => !document.querySelector('[data-testid=\"stStatusWidget\"]')"  # the page runs nothing


class FreshServer:
    """A one-core server with an empty cache folder (as a Community Cloud app woken from sleep, its shipped
    weights and tables kept), timed from its launch: ``started``, ``url(path)``."""

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


def drawn_and_idle(page) -> None:
    """The attack page's metrics and chart are drawn, and the page runs nothing."""
    wait_rendered(page)
    page.wait_for_function(IDLE, timeout=300_000)


def first_visit(browser, path: str, drawn=drawn_and_idle, viewport: dict | None = None) -> float:
    """Seconds from launching a fresh one-core server to ``path`` drawn, as ``drawn(page)`` waits for it."""
    with FreshServer() as fresh:
        page = browser.new_page(viewport=viewport) if viewport else browser.new_page()
        page.goto(fresh.url(path), timeout=120_000)
        drawn(page)
        seconds = time.perf_counter() - fresh.started
        page.close()
        return seconds


def no_browser(quick: bool) -> str | None:
    """Why a section that needs Chromium measures nothing here (``--quick``, or no Chromium), else None."""
    if quick:
        return "not measured in --quick"
    if not Path(CHROMIUM).exists():
        return "skipped: no Chromium"
    return None


def launch(browser_type):
    """One more Debian Chromium from Playwright's ``browser_type`` (``browser.browser_type`` of a running one)."""
    return browser_type.launch(executable_path=CHROMIUM, args=CHROMIUM_FLAGS)


@contextlib.contextmanager
def chromium():
    """Debian's Chromium driven by Playwright, closed after."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = launch(playwright.chromium)
        try:
            yield browser
        finally:
            browser.close()


def server_peak_mb(process: subprocess.Popen) -> float:
    for line in Path(f"/proc/{process.pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def family_rss_mb(pid: int) -> float:
    """Resident memory of a process and all its descendants, in MB. A child forked by a process of the family
    (its command line is its parent's: the forking processes of core.jobs) shares the pages it has not written
    with its parent, whose resident memory counts them already: it adds only its own (private) pages."""
    parents = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
            parents[int(stat.parent.name)] = int(fields[1])
        except (OSError, IndexError, ValueError):
            continue
    family, grew = {pid}, True
    while grew:
        grown = family | {child for child, parent in parents.items() if parent in family}
        grew, family = grown != family, grown
    total = 0
    for member in family:
        try:
            if member != pid and _command(member) == _command(parents[member]):  # forked: its own pages
                source, fields = f"/proc/{member}/smaps_rollup", ("Private_Clean:", "Private_Dirty:")
            else:
                source, fields = f"/proc/{member}/status", ("VmRSS:",)
            total += sum(
                int(line.split()[1]) for line in Path(source).read_text().splitlines() if line.startswith(fields)
            )
        except (OSError, KeyError):
            continue
    return total / 1024


def _command(pid: int) -> bytes:
    return Path(f"/proc/{pid}/cmdline").read_bytes()


def training_children(pid: int) -> int:
    """Training processes the server has running now: the children of its forking process
    (:mod:`core.jobs.training_forker`), which is one itself."""
    forkers, parents = set(), []
    for folder in Path("/proc").glob("[0-9]*"):
        try:
            if b"core.jobs.training_forker" not in (folder / "cmdline").read_bytes():
                continue
            status = (folder / "status").read_text()
        except OSError:
            continue
        forkers.add(int(folder.name))
        parents.append(int(status.split("PPid:")[1].split()[0]))
    return sum(parent in forkers for parent in parents)


def default_model():
    """The first visit's model: the weights that come with the app (a test checks they equal training here)."""
    from core.inputs.settings import TrainingSettings
    from core.jobs.shipped import load_shipped

    return load_shipped(TrainingSettings()).model


_TRAINED: dict = {}  # settings -> model, for this run of the benchmarks


def trained(settings, *, result=None):
    """The model of ``settings`` trained here as the training child does, once per run of the benchmarks (several
    sections ask for the same networks). A section that times a training passes its ``result`` to keep it."""
    if result is not None:
        _TRAINED[settings] = result.model
    if settings not in _TRAINED:
        from core.jobs.shipped import train

        _TRAINED[settings] = train(settings).model
    return _TRAINED[settings]


def peak_extra_memory(setup: str, warm: str, measured: str) -> float:
    """Peak extra resident memory (MB) of the call ``measured``, in a fresh process after ``setup`` and ``warm``."""
    code = "\n".join(
        [
            "import numpy as np",
            "from core.model import SoftmaxModel",
            setup,
            warm,
            textwrap.dedent("""
            def rss(key):
                for line in open("/proc/self/status"):
                    if line.startswith(key):
                        return int(line.split()[1]) / 1024
            open("/proc/self/clear_refs", "w").write("5")  # reset the peak
            before = rss("VmRSS:")
            """),
            measured,
            'print(rss("VmHWM:") - before)',
        ]
    )
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=True)
    return float(out.stdout.strip().splitlines()[-1])
