"""Section 20: the Beyond linear page's question, the smallest ε at which the network says the target (test 2s -> 6,
the page's 20 s), answered by the complete verifier's bisection and by the integer program it replaced, on the
same images in the same process: the share proven, the unproven brackets' width, median, total and worst time."""

from __future__ import annotations

import time

import numpy as np

from benchmarks.common import Report, trained

SECTION = "20. The network's best attack on the page: the verifier against the integer program"
SIZES = {16: 10, 64: 10, 256: 5}  # units -> test 2s asked (the first of the embedded test set)
TARGET = 6


def verifier_page(report: Report, quick: bool) -> None:
    from threadpoolctl import threadpool_limits

    from core.inputs.data import load_dataset
    from core.inputs.settings import TrainingSettings
    from core.network_exact import network_optimal_epsilon, optimal_epsilon
    from dashboard.results import NETWORK_LIMIT

    data = load_dataset("mnist-5k")
    twos = data.x_test[data.test_indices(2)].astype(np.float64)
    limit = 0.2 if quick else NETWORK_LIMIT
    for hidden, count in SIZES.items():
        if quick and hidden == 256:
            continue
        count = 1 if quick else count
        network = trained(TrainingSettings(hidden=hidden, epochs=2 if quick else 25))
        found = {"verifier": [], "MILP": []}
        with threadpool_limits(1):  # one core, as a Community Cloud app
            for x in twos[:count]:
                for name, solve in (("verifier", optimal_epsilon), ("MILP", network_optimal_epsilon)):
                    started = time.perf_counter()
                    answer = solve(network, x, TARGET, time_limit=limit)
                    found[name].append((answer, time.perf_counter() - started))
        holds = all(  # where the integer program proves its optimum, the verifier's bracket holds it
            milp.bracket[0] - 1e-5 <= mine.bracket[1] and (not milp.proven or mine.bracket[0] <= milp[0] + 1e-5)
            for (mine, _), (milp, _) in zip(found["verifier"], found["MILP"], strict=True)
        )
        for name, answers in found.items():
            seconds = [s for _, s in answers]
            proven = sum(a.proven for a, _ in answers)
            widths = [0.0 if a.proven or a.bracket[1] <= 0 else 1 - a.bracket[0] / a.bracket[1] for a, _ in answers]
            met = None
            if name == "verifier" and hidden == 16:
                met = proven == count and max(seconds) <= 2.0
            elif name == "verifier" and hidden == 64:
                met = proven >= count / 2 and np.median(widths) <= 0.10
            report.add(
                SECTION,
                f"{hidden} units, {count} test 2s -> {TARGET}, {name}: proven; bracket width (median, widest); "
                "median, total, worst time",
                f"{proven} of {count}; {np.median(widths):.0%}, {max(widths):.0%}; "
                f"{np.median(seconds):.1f} s, {sum(seconds):.0f} s, {max(seconds):.1f} s",
                {16: "all, each ≤ 2 s", 64: "≥ half; median ≤ 10%"}.get(hidden, "") if name == "verifier" else "",
                met,
            )
        report.add(
            SECTION,
            f"  {hidden} units: the verifier's bracket holds every optimum the MILP proves",
            "yes" if holds else "NO",
            "holds",
            holds,
        )
