"""Section 15: beyond linear: the ReLU network's training, its exact sign step walk, its certificates, its MILP, and
the page's first visit."""

from __future__ import annotations

import time

import numpy as np

from benchmarks.common import FASHION, ROOT, TARGET, Report, timed, trained


def network(report: Report, quick: bool) -> None:
    from core.inputs.data import load_dataset
    from core.inputs.settings import TrainingSettings
    from core.jobs.shipped import train
    from core.network import ray_minimal_epsilon
    from core.network_exact import certified_radius

    section = "15. Beyond linear: a ReLU network"
    small = load_dataset("mnist-5k")
    epochs = 2 if quick else 25
    networks = {}
    for hidden in (16, 64) if quick else (16, 64, 256):
        start = time.perf_counter()
        settings = TrainingSettings(hidden=hidden, epochs=epochs)
        result = train(settings)  # one BLAS thread, as the training child
        networks[hidden] = trained(settings, result=result)  # the later sections ask for it again
        report.add(
            section,
            f"training, {hidden} hidden units, {epochs} epochs, mnist-5k (4,000 images): time, test accuracy",
            f"{time.perf_counter() - start:.1f} s, {result.test_accuracy:.1%}",
        )
    if not quick and FASHION.is_dir():
        start = time.perf_counter()
        result = train(TrainingSettings(dataset=f"idx:{FASHION}", hidden=64, epochs=epochs))
        took = time.perf_counter() - start
        report.add(
            section,
            f"training, 64 hidden units, {epochs} epochs, 60,000 images (Fashion-MNIST IDX): time, test accuracy",
            f"{took:.1f} s, {result.test_accuracy:.1%}",
            "<= 120 s",
            took <= 120,
        )
    images, labels = (small.x_test[:20], small.y_test[:20]) if quick else (small.x_test, small.y_test)
    images = images.astype(np.float64)
    targets = np.where(labels == TARGET, 2, TARGET)  # every image toward 6 (the 6s toward 2)
    for hidden, model in networks.items():
        walked = timed(lambda m=model: [ray_minimal_epsilon(m, x, t) for x, t in zip(images, targets)], 1)
        report.add(
            section,
            f"sign step's exact minimal ε (the walk), {len(images):,} images, {hidden} units",
            f"{walked:.2f} s",
            "<= 3 s" if hidden <= 64 else "",
            walked <= 3 if hidden <= 64 else None,
        )
        answers = model.predict(images)
        certified = timed(lambda m=model, said=answers: [certified_radius(m, x, a) for x, a in zip(images, said)], 1)
        report.add(
            section,
            f"certified radius (CROWN), {len(images):,} images, {hidden} units",
            f"{certified:.2f} s",
            "<= 3 s" if hidden <= 64 else "",
            certified <= 3 if hidden <= 64 else None,
        )
    model = networks[64]
    answers = model.predict(images[:200])
    crown = np.array([certified_radius(model, x, a) for x, a in zip(images[:200], answers)])
    ibp = np.array([certified_radius(model, x, a, method="ibp") for x, a in zip(images[:200], answers)])
    report.add(
        section,
        "certified radius, 64 units, 200 images: CROWN ÷ IBP (median)",
        f"{np.median(crown[ibp > 0] / ibp[ibp > 0]):.2f}x",
    )
    twos = small.x_test[small.test_indices(2)].astype(np.float64)
    from dashboard.results import NETWORK_LIMIT

    limit = 0.3 if quick else NETWORK_LIMIT  # the page's limit; quick: a check of the harness only
    for hidden, count in ((16, 1 if quick else 20), (64, 1 if quick else 10)):
        milp(report, section, networks[hidden], twos[:count], hidden, limit)
    if not quick:
        visits = first_visit_ratio()
        report.add(
            section,
            "the page's first visit ÷ the attack page's, a digit not seen before (AppTest, median "
            "of five digits; the integer program fills in after)",
            f"{visits:.1f}x",
            "<= 3x",
            visits <= 3,
        )


def milp(report: Report, section: str, model, twos: np.ndarray, hidden: int, limit: float) -> None:
    """The integer program on the first test 2s toward 6, with the page's time limit: per-image time (median,
    total, worst), the share proven, and the gap that stays where it is not."""
    from core.network import ray_minimal_epsilon
    from core.network_exact import network_optimal_epsilon, target_bound

    seconds, proven, gaps, ordered = [], 0, [], True
    for x in twos:
        start = time.perf_counter()
        found = network_optimal_epsilon(model, x, TARGET, time_limit=limit)
        seconds.append(time.perf_counter() - start)
        proven += found.proven
        low, high = found.bracket
        if not found.proven and high > 0:
            gaps.append(1 - low / high)
        ordered &= target_bound(model, x, TARGET) <= low + 1e-6 and high <= ray_minimal_epsilon(model, x, TARGET) + 1e-5
    report.add(
        section,
        f"best attack (MILP, HiGHS, {limit:g} s limit), {hidden} units, {len(twos)} test 2s -> 6: median, total, worst",
        f"{np.median(seconds):.1f} s, {sum(seconds):.0f} s, {max(seconds):.1f} s",
    )
    bracket = f"; unproven brackets {np.median(gaps):.0%} wide (median)" if gaps else ""
    report.add(
        section,
        f"  proven within the limit ({hidden} units); certificate <= optimum <= sign step on every image",
        f"{proven} of {len(twos)}{bracket}",
        "ordered",
        ordered,
    )


def first_visit_ratio() -> float:
    """The network page's first visit over the attack page's for the same digit, each a fresh AppTest session in
    this process (the models and data warm), medians over five digits not visited before."""
    from streamlit.testing.v1 import AppTest

    def visit(page: str, source: int) -> float:
        app = AppTest.from_file(str(ROOT / "streamlit_app.py"), default_timeout=300)
        app.query_params.update({"page": page, "source": str(source), "target": str(TARGET)})
        return timed(app.run, 1)

    visit("attack", 2), visit("network", 2)  # warm: imports, both models, the defended model
    ratios = []
    for digit in (0, 1, 3, 4, 5):
        attack = visit("attack", digit)
        ratios.append(visit("network", digit) / attack)
    return float(np.median(ratios))
