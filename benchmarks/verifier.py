"""Section 19: the network's complete verifier on the robustness table's question (untargeted, a fixed ε): the
share of test images settled (proven robust or attacked) within 10 s each on one core, total and worst times."""

from __future__ import annotations

import time

import numpy as np

from benchmarks.common import Report, trained

SECTION = "19. The network's complete verifier: the robustness table's question"
EPSILONS = (0.01, 0.02, 0.05, 0.1)
SIZES = {16: 100, 64: 100, 256: 20}  # units -> test images asked (the first of the embedded test set)
TARGET = {16: 0.99, 64: 0.99, 256: 0.90}  # the share settled within the limit
LIMIT = 10.0  # seconds per image (--quick: 0.2 s)


def verifier(report: Report, quick: bool) -> None:
    from threadpoolctl import threadpool_limits

    from core.inputs.data import load_dataset
    from core.inputs.settings import TrainingSettings
    from core.network_exact import verify_robust

    data = load_dataset("mnist-5k")
    limit = 0.2 if quick else LIMIT
    for hidden, count in SIZES.items():
        if quick and hidden == 256:
            continue
        count = 2 if quick else count
        network = trained(TrainingSettings(hidden=hidden, epochs=2 if quick else 25))
        images, labels = data.x_test[:count].astype(np.float64), data.y_test[:count]
        clean = float(np.mean(network.predict(images) == labels))
        for eps in EPSILONS[:2] if quick else EPSILONS:
            started = time.perf_counter()
            with threadpool_limits(1):  # one core, as a Community Cloud app
                verdicts = [verify_robust(network, x, int(y), eps, time_limit=limit) for x, y in zip(images, labels)]
            total = time.perf_counter() - started
            statuses = [v.status for v in verdicts]
            robust, attacked = statuses.count("robust"), statuses.count("attacked")
            settled = (robust + attacked) / len(verdicts)
            seconds = [v.seconds for v in verdicts]
            report.add(
                SECTION,
                f"{hidden} units, ε = {eps:g}, {count} test images (clean {clean:.0%}): verified robust, attacked, "
                "unknown; median, worst and total time",
                f"{robust / count:.0%}, {attacked / count:.0%}, {statuses.count('unknown')}; "
                f"{np.median(seconds):.2f} s, {max(seconds):.1f} s, {total:.0f} s",
                f"≥ {TARGET[hidden]:.0%} settled",
                settled >= TARGET[hidden],
            )
        if hidden <= 64:
            milp_baseline(report, network, images[: 1 if quick else 10], labels[: 1 if quick else 10], hidden, limit)


def milp_baseline(report: Report, network, images: np.ndarray, labels: np.ndarray, hidden: int, limit: float) -> None:
    """The same question by the integer program it replaced: per image, the smallest ε toward each rival in turn
    (Tjeng's MILP, whatever is left of the image's limit, 10 s), settled once a rival is reached within ε (attacked) or
    every rival's bracket starts above ε (robust)."""
    from threadpoolctl import threadpool_limits

    from core.network_exact import network_optimal_epsilon

    for eps in (0.05, 0.1):
        settled, seconds = 0, []
        with threadpool_limits(1):
            for x, label in zip(images, labels):
                started = time.perf_counter()
                outcome = "robust" if network.predict(x) == label else "attacked"
                for rival in [j for j in range(10) if j != label] if outcome == "robust" else []:
                    left = limit - (time.perf_counter() - started)
                    if left <= 0:
                        outcome = "unknown"
                        break
                    found = network_optimal_epsilon(network, x, rival, time_limit=left, margin=0.0)
                    if found[0] <= eps:
                        outcome = "attacked"
                        break
                    if found.bracket[0] <= eps:  # stopped with eps inside the bracket: not settled
                        outcome = "unknown"
                        break
                settled += outcome != "unknown"
                seconds.append(time.perf_counter() - started)
        report.add(
            SECTION,
            f"  the integer program (the old baseline), {hidden} units, ε = {eps:g}, {len(images)} test images: "
            "settled; median, worst and total time",
            f"{settled / len(images):.0%}; {np.median(seconds):.2f} s, {max(seconds):.1f} s, {sum(seconds):.0f} s",
        )
