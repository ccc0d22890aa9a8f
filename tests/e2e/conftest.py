"""A real Streamlit server and Debian's Chromium, driven by Playwright.

The server runs ``streamlit run streamlit_app.py`` on a free localhost port
with a cache folder of its own, and is stopped after the tests. One server
serves every browser test file, whichever test worker runs it (the first to
ask starts it, the run's end stops it): a page computed for one file is
warm for the next, as on a real server. A test that changes what the server
holds, or measures it, starts one of its own. In CI (``CI=true``) these
tests must run: a missing browser is a failure there; on a developer
machine without Chromium they skip with the reason.
"""

import fcntl
import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
OUTPUT = ROOT / "test-output" / "e2e"
CHROMIUM = os.environ.get("CHROMIUM", "/usr/bin/chromium")
DESKTOP = {"width": 1400, "height": 1000}  # the window the browser tests open, unless they say
FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]


def _unavailable(reason: str):
    if os.environ.get("CI"):
        pytest.fail(f"browser tests must run in CI: {reason}")
    pytest.skip(reason)


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


class Server:
    def __init__(self, home: Path | None = None, *, url: str = "", pid: int = 0):
        if home is None:  # one already running: see ``shared_server``
            self.url, self.pid, self.process = url, pid, None
            return
        self.port = _free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        env = {**os.environ, "ADVERSARIAL_DIGITS_HOME": str(home)}
        self.log = open(home / "server.log", "w")  # noqa: SIM115
        self.process = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "streamlit",
                "run",
                "streamlit_app.py",
                "--server.port",
                str(self.port),
                "--server.headless",
                "true",
                "--browser.gatherUsageStats",
                "false",
            ],
            cwd=ROOT,
            env=env,
            stdout=self.log,
            stderr=subprocess.STDOUT,
        )
        self.pid = self.process.pid
        deadline = time.monotonic() + 90
        while True:
            try:
                urllib.request.urlopen(f"{self.url}/_stcore/health", timeout=2).close()
                return
            except OSError:
                if self.process.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError(f"the app server did not start: {(home / 'server.log').read_text()}") from None
                time.sleep(0.1)

    def peak_memory_mb(self) -> float:
        for line in Path(f"/proc/{self.pid}/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
        return float("nan")

    def stop(self):
        self.process.terminate()
        try:
            self.process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            self.process.kill()
        self.log.close()


SHARED = "e2e-server.json"  # in the run's temporary folder, which every test worker's own folder is inside


def run_folder(tmp_path_factory) -> Path:
    """The temporary folder of the whole run: a worker's own is inside it; without workers it is the one."""
    base = tmp_path_factory.getbasetemp()
    return base.parent if os.environ.get("PYTEST_XDIST_WORKER") else base


def shared_server(tmp_path_factory) -> Server:
    """The run's one app server: started by the first worker to ask (the others wait on the lock and join it)."""
    folder = run_folder(tmp_path_factory)
    with open(folder / "e2e-server.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        state = folder / SHARED
        if state.exists():
            known = json.loads(state.read_text())
            return Server(url=known["url"], pid=known["pid"])
        home = folder / "e2e-home"
        home.mkdir(exist_ok=True)
        started = Server(home)
        state.write_text(json.dumps({"url": started.url, "pid": started.pid}))
        return started


def stop_shared_server(folder: Path) -> None:
    """At the run's end (called by the run's own process, tests/conftest.py): stop the shared server if one ran."""
    state = folder / SHARED
    if not state.exists():
        return
    pid = json.loads(state.read_text())["pid"]
    state.unlink()
    try:
        os.kill(pid, signal.SIGTERM)
        for _ in range(200):  # up to 20 s, as Server.stop
            os.kill(pid, 0)
            if Path(f"/proc/{pid}/stat").read_text().split(") ")[-1].startswith("Z"):
                break
            time.sleep(0.1)
        else:
            os.kill(pid, signal.SIGKILL)
    except (ProcessLookupError, FileNotFoundError):
        pass


@pytest.fixture(scope="session")
def server(tmp_path_factory):
    """The shared app server (see the module's docstring)."""
    return shared_server(tmp_path_factory)


@pytest.fixture
def own_server(tmp_path_factory):
    """An app server of the test's own, for a test that changes what the server holds or measures the server."""
    app_server = Server(tmp_path_factory.mktemp("own-home"))
    yield app_server
    app_server.stop()


@pytest.fixture(scope="session")
def playwright_module():
    if not Path(CHROMIUM).exists():
        _unavailable(f"no Chromium at {CHROMIUM} (Debian: apt-get install chromium)")
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        _unavailable("Playwright for Python is not installed (pip install -r requirements-dev.txt)")
    OUTPUT.mkdir(parents=True, exist_ok=True)
    return playwright


@pytest.fixture(scope="session")
def browser(playwright_module):
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=CHROMIUM, args=FLAGS)
        yield chromium
        chromium.close()


@pytest.fixture(scope="session")
def context(browser):
    """One browser profile for the tests, as one visitor's browser: the app's scripts are fetched and compiled
    once, not once per test. The tests that take ``page`` share one tab (``tab``); each page they open is a Streamlit
    session of its own."""
    shared = browser.new_context(viewport=DESKTOP)
    yield shared
    shared.close()


@pytest.fixture(scope="session")
def tab(context):
    """One tab for the tests that take ``page``, as a visitor goes from link to link: a new tab costs Chromium a
    renderer of its own (about 0.7 CPU-seconds each). Each test opens its page in it (a Streamlit session of its
    own)."""
    shared = context.new_page()
    yield shared
    shared.close()


@pytest.fixture
def page(tab):
    """The shared tab as a test finds a new one: the desktop's size, the light theme, nothing open."""
    tab.set_default_timeout(60_000)
    tab.set_viewport_size(DESKTOP)
    tab.emulate_media(color_scheme="light")
    yield tab
    tab.goto("about:blank")  # its Streamlit session ends: nothing left running behind the next test
