"""Section 16: what a training costs, predicted before it starts and measured in its child process.

Each setting is trained the way the app trains it (a child process of the
job system, one BLAS thread) on one core; its CPU seconds are the child's own
(its forking process reads them as it reaps it). The prediction is :func:`core.jobs.cost.expected`, whose
constants were measured the same way.
"""

from __future__ import annotations

import os
import tempfile

import numpy as np

from benchmarks.common import FASHION, Report

SECTION = "16. The cost of a training, predicted before it starts"
SMALL = "mnist-5k"


def settings_grid(quick: bool) -> list[tuple[str, dict]]:
    big = f"idx:{FASHION}" if FASHION.is_dir() else SMALL
    grid = [
        (SMALL, {"epochs": 25}),
        (SMALL, {"epochs": 100, "batch_size": 10}),
        (SMALL, {"epochs": 100, "batch_size": 1000}),
        (SMALL, {"solver": "lbfgs", "epochs": 50}),
        (SMALL, {"epochs": 25, "adversarial_eps": 0.1}),
        (SMALL, {"epochs": 50, "l1": 0.001, "batch_size": 20}),
        (SMALL, {"epochs": 25, "hidden": 16}),
        (SMALL, {"epochs": 50, "hidden": 64}),
        (SMALL, {"epochs": 25, "hidden": 256}),
        (big, {"epochs": 5}),
        (big, {"epochs": 3, "batch_size": 10}),
        (big, {"solver": "lbfgs", "epochs": 10}),
        (big, {"epochs": 2, "adversarial_eps": 0.05}),
        (big, {"epochs": 3, "hidden": 16}),
        (big, {"epochs": 2, "hidden": 256}),
        (big, {"epochs": 10, "hidden": 256}),
        (big, {"solver": "lbfgs", "epochs": 25}),
    ]
    quick_grid = [(SMALL, {"epochs": 2, "hidden": 16})]  # the harness, not the model
    return quick_grid if quick else grid


def measure(quick: bool) -> list[tuple[object, float, float]]:
    """``(settings, predicted, measured)`` for each setting of the grid, each trained in a fresh child."""
    from core.inputs.data import load_dataset
    from core.inputs.settings import TrainingSettings
    from core.jobs import models
    from core.jobs.cost import expected
    from core.jobs.models import Trainings

    children, start_child = [], models.start_child

    def started(settings, path):  # each training's child, to read the CPU time it took
        children.append(start_child(settings, path))
        return children[-1]

    models.start_child, rows = started, []
    with tempfile.TemporaryDirectory() as home:
        os.environ["ADVERSARIAL_DIGITS_HOME"] = home  # nothing saved before: every setting trains
        trainings = Trainings(slots=1, time_limit=600)
        try:
            for name, changes in settings_grid(quick):
                settings = TrainingSettings(dataset=name, **changes)
                data = load_dataset(name)
                trainings.train(settings)
                measured = children[-1].cpu_seconds
                rows.append((settings, expected(settings, data.n_train, data.n_test).seconds, measured))
        finally:
            trainings.stop_all()
            models.start_child = start_child
            os.environ.pop("ADVERSARIAL_DIGITS_HOME", None)
    return rows


def described(settings) -> str:
    data = "60,000 Fashion-MNIST" if settings.dataset.startswith("idx:") else "4,000 MNIST"
    if settings.hidden:
        kind = f"network, {settings.hidden} units"
    elif settings.solver == "lbfgs":
        kind = "L-BFGS"
    elif settings.adversarial_eps:
        kind = f"adversarial training ε {settings.adversarial_eps:g}, batch {settings.batch_size}"
    elif settings.l1:
        kind = f"L1 {settings.l1:g}, batch {settings.batch_size}"
    else:
        kind = f"SGD, batch {settings.batch_size}"
    return f"{kind}, {settings.epochs} epochs, {data}"


def cost(report: Report, quick: bool) -> None:
    if quick:
        os.environ.setdefault("OMP_NUM_THREADS", "1")
    rows = measure(quick)
    worst = 0.0
    for settings, predicted, measured in rows:
        error = predicted / measured - 1
        worst = max(worst, abs(error))
        report.add(
            SECTION,
            described(settings),
            f"predicted {predicted:.1f} s, measured {measured:.1f} s ({error:+.0%})",
            "within ±30%",
            abs(error) <= 0.3,
        )
    total_predicted, total_measured = sum(r[1] for r in rows), sum(r[2] for r in rows)
    report.add(
        SECTION,
        f"all {len(rows)} trainings",
        f"predicted {total_predicted:.0f} s, measured {total_measured:.0f} s; worst error {worst:.0%}",
    )
    ratios = np.array([measured / predicted for _, predicted, measured in rows])
    spread = f"{np.median(ratios):.2f} ({ratios.min():.2f}-{ratios.max():.2f})"
    report.add(SECTION, "measured ÷ predicted, median and range", spread)
