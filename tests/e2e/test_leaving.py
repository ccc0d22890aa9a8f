"""Nothing runs for nobody: a visitor who closes the tab while the network's verifier runs frees the core."""

import time
from pathlib import Path

import pytest

from core.jobs.models import child_cpu_seconds
from tests.e2e.conftest import DESKTOP, Server

pytestmark = pytest.mark.e2e

IDLE = 0.05  # CPU seconds per second of the whole server (its children included) that count as idle


def family(pid: int) -> list[int]:
    """``pid`` and every process below it."""
    children: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                parent = int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1])
            except (OSError, IndexError, ValueError):
                continue
            children.setdefault(parent, []).append(int(entry.name))
    found, queue = [], [pid]
    while queue:
        each = queue.pop()
        found.append(each)
        queue += children.get(each, [])
    return found


def cpu_seconds(pids: list[int]) -> float:
    total = 0.0
    for pid in pids:
        try:
            total += child_cpu_seconds(pid)
        except OSError:  # a process that ended meanwhile counts no more
            continue
    return total


def busy(pid: int, window: float = 0.25) -> float:
    """The server's CPU use (seconds per second) over the next ``window`` seconds."""
    pids = family(pid)
    before = cpu_seconds(pids)
    time.sleep(window)
    return (cpu_seconds(pids) - before) / window


def test_closing_the_tab_during_the_networks_best_attack_frees_the_core_within_two_seconds(browser, tmp_path_factory):
    server = Server(tmp_path_factory.mktemp("leaving-home"))
    try:
        page = browser.new_page(viewport=DESKTOP)
        page.goto(f"{server.url}/network?hidden=64&image=3", timeout=120_000)
        page.get_by_text("Solving the network's best attack, by branch and bound").wait_for(timeout=120_000)
        # The verifier is at work: well above idle. It shares the two cores with the other test worker, its
        # processes and Chromium, so a half-second of little CPU is not the end of it: looked at until seen.
        seen = time.monotonic() + 10
        while busy(server.process.pid, 0.5) <= 4 * IDLE:
            assert time.monotonic() < seen, "the verifier was never seen at work"
        page.close()
        closed = time.monotonic()
        while busy(server.process.pid) > IDLE:
            assert time.monotonic() - closed < 2.0, "the server still works for a visitor who left"
        idle_after = time.monotonic() - closed
        assert idle_after < 2.0
        time.sleep(1.0)
        assert busy(server.process.pid, 1.0) < IDLE  # and stays idle: nothing starts again for nobody
    finally:
        server.stop()
