"""Section 9: all pairs: the 10x10 matrix, its memory, the page's reruns."""

from __future__ import annotations

import statistics
import tempfile
import time

import numpy as np

from benchmarks.common import FASHION, ROOT, Report, default_model, peak_extra_memory, timed


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
    from core.inputs.data import load_dataset
    from core.sweep import pair_attacks
    from core.training import train_softmax

    section = "9. All pairs"
    small = load_dataset("mnist-5k")
    model = default_model()
    repeats = 2 if quick else 5
    images, labels = (small.x_test[::5], small.y_test[::5]) if quick else (small.x_test, small.y_test)
    pair_attacks(model, small.x_test[:50], small.y_test[:50])  # warm
    took = timed(lambda: pair_attacks(model, images, labels), repeats)
    report.add(
        section,
        f"pair_matrix: {len(images):,} mnist-5k test images x 9 targets, exact minimal ε each",
        f"{took * 1000:.0f} ms",
        "<= 0.2 s",
        took <= 0.2 if not quick else None,
    )
    with_eps = timed(lambda: pair_attacks(model, images, labels, eps=0.1), repeats)
    report.add(section, "the same and the share fooled at one ε", f"{with_eps * 1000:.0f} ms")
    if FASHION.is_dir() and not quick:
        big = load_dataset(f"idx:{FASHION}")
        big_model = train_softmax(big).model
        took = timed(lambda: pair_attacks(big_model, big.x_test, big.y_test), 2)
        report.add(
            section,
            "pair_matrix: the 10,000 Fashion-MNIST test images (real IDX) x 9 targets",
            f"{took:.2f} s",
            "<= 2 s",
            took <= 2,
        )
        with tempfile.TemporaryDirectory() as folder:
            paths = [f"{folder}/images.npy", f"{folder}/labels.npy", f"{folder}/model.npz"]
            np.save(paths[0], big.x_test)
            np.save(paths[1], big.y_test)
            np.savez(paths[2], W=big_model.W, b=big_model.b)
            peak = peak_pairs_memory(*paths)
        report.add(
            section,
            "peak extra memory of pair_attacks with a share, 10,000 images",
            f"{peak:.0f} MB",
            "< 300 MB",
            peak < 300,
        )
    click, move = rerun_on_pairs(1 if quick else 10)
    report.add(
        section,
        "all-pairs page rerun after a click on a cell (AppTest, median)",
        f"{click * 1000:.0f} ms",
        "<= 150 ms",
        click <= 0.15,
    )
    report.add(
        section,
        "all-pairs page rerun after moving the ε slider (AppTest, median)",
        f"{move * 1000:.0f} ms",
        "<= 150 ms",
        move <= 0.15,
    )
