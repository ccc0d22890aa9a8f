"""Section 10: the attack lab: the optimal attack against one LP per image, the certificate, the MILP."""

from __future__ import annotations

import time

import numpy as np

from benchmarks.app import rerun_after_slider
from benchmarks.common import TARGET, Report, default_model, timed


def attack_lab(report: Report, quick: bool) -> None:
    from core.data import load_dataset
    from core.exact import fewest_pixels, optimal_epsilon, optimal_epsilon_lp, robust_radius
    from core.sweep import robustness_curve

    section = "10. The attack lab"
    small = load_dataset("mnist-5k")
    model = default_model()
    twos = small.x_test[small.test_indices(2)][: 10 if quick else 100].astype(np.float64)
    each = [timed(lambda x=x: optimal_epsilon(model, x, TARGET), 1) for x in twos]
    lp = [timed(lambda x=x: optimal_epsilon_lp(model, x, TARGET), 1) for x in twos]
    report.add(section, f"optimal_epsilon, per image (median of {len(twos)} test 2s)",
               f"{np.median(each) * 1000:.1f} ms", "<= 2 ms", np.median(each) <= 0.002)  # fmt: skip
    same = np.allclose(optimal_epsilon(model, twos, TARGET),
                       [optimal_epsilon_lp(model, x, TARGET)[0] for x in twos], atol=1e-6)  # fmt: skip
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
