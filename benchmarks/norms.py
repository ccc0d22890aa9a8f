"""Section 18: every norm. The exact smallest L2 and L1 changes against a convex solver (cvxpy with Clarabel), the
usual attacks against them, and random noise against the attack for the linear, defended and network models."""

from __future__ import annotations

import time

import numpy as np

from benchmarks.common import Report, default_model, trained

SECTION = "18. Every norm: the smallest L2 and L1 changes, the usual attacks, and noise"
SPEED_TARGET = 20.0  # ours at least this many times faster than cvxpy, on total time


def workload(quick: bool):
    """The embedded test images, each asked toward a target it is not (the pairs vary as in tests/test_norms.py)."""
    from core.inputs.data import load_dataset

    data = load_dataset("mnist-5k")
    count = 6 if quick else len(data.x_test)
    images = data.x_test[:count].astype(np.float64)
    targets = (data.y_test[:count] + 1 + np.arange(count) % 9) % 10
    return data, images, targets


def convex_solver(model, x, target, norm):
    import cvxpy as cp

    others = [j for j in range(10) if j != target]
    rows = model.W[target] - model.W[others]
    need = -(rows @ x + model.b[target] - model.b[others]) + 1e-6
    delta = cp.Variable(784)
    problem = cp.Problem(cp.Minimize(cp.norm(delta, norm)), [rows @ delta >= need, x + delta >= 0, x + delta <= 1])
    problem.solve(solver="CLARABEL")
    return problem.value


def speed(report: Report, model, images, targets, quick: bool) -> None:
    from core.exact import minimal_perturbation

    reference = 4 if quick else 200  # cvxpy's images: tens of ms each
    for norm in (2, 1):
        started = time.perf_counter()
        ours = np.empty(len(images))
        for target in range(10):
            chosen = targets == target
            ours[chosen] = minimal_perturbation(model, images[chosen], target, norm=norm)[0]
        batched = time.perf_counter() - started
        singles = []
        for x, target in zip(images[:reference], targets[:reference]):
            began = time.perf_counter()
            minimal_perturbation(model, x, int(target), norm=norm)
            singles.append(time.perf_counter() - began)
        convex_solver(model, images[0], int(targets[0]), norm)  # warm: cvxpy's first solve compiles, not timed
        solver, answers = [], []
        for x, target in zip(images[:reference], targets[:reference]):
            began = time.perf_counter()
            answers.append(convex_solver(model, x, int(target), norm))
            solver.append(time.perf_counter() - began)
        # as the tests ask: within 1e-6 relative or 1e-7 absolute (the solver's own 0 is about 1e-10)
        same = bool(np.allclose(ours[:reference], answers, rtol=1e-6, atol=1e-7))
        gap = np.max(np.abs(ours[:reference] - answers))
        per_image = batched / len(images)
        report.add(
            SECTION,
            f"L{norm}: exact, {len(images)} test images toward varied targets, batched per target",
            f"{batched * 1e3:.0f} ms in all ({per_image * 1e3:.2f} ms an image)",
        )
        report.add(
            SECTION,
            f"L{norm}: exact, one image at a time ({reference} images): total, worst",
            f"{sum(singles) * 1e3:.0f} ms; worst {max(singles) * 1e3:.1f} ms",
        )
        report.add(
            SECTION,
            f"L{norm}: cvxpy with Clarabel, the same {reference} images: total, worst",
            f"{sum(solver):.2f} s; worst {max(solver) * 1e3:.0f} ms",
        )
        ratio = sum(solver) / sum(singles)
        report.add(
            SECTION,
            f"L{norm}: speed-up on total time, one image at a time; the same optima: {'yes' if same else 'no'} "
            f"(largest difference {gap:.1e})",
            f"{ratio:.0f}x",
            f">= {SPEED_TARGET:g}x",
            ratio >= SPEED_TARGET and same,
        )


def gaps(report: Report, model, images, targets) -> None:
    from core.exact import minimal_perturbation
    from core.norm_attacks import carlini_wagner, deepfool, sign_step_distance, size_where_reached

    # DeepFool and Carlini & Wagner do not depend on the norm they are measured in: each runs once per target
    attacked = {
        target: {
            "DeepFool": deepfool(model, chosen, target)[1],
            "Carlini & Wagner": carlini_wagner(model, chosen, target)[1],
        }
        for target in range(10)
        if len(chosen := images[targets == target])
    }
    for norm in (2, 1, np.inf):
        name = "L∞" if norm == np.inf else f"L{norm}"
        ratios = {"DeepFool": [], "Carlini & Wagner": [], "gradient sign step": []}
        for target, found in attacked.items():
            chosen = images[targets == target]
            best, _ = minimal_perturbation(model, chosen, target, norm=norm, margin=0.0)
            moved = best > 0
            distances = {
                attack: size_where_reached(model, chosen, image, target, norm)[0] for attack, image in found.items()
            }
            distances["gradient sign step"] = sign_step_distance(model, chosen, target, norm=norm)[0]
            for attack, distance in distances.items():
                with np.errstate(divide="ignore", invalid="ignore"):
                    ratios[attack].append((distance / best)[moved])
        for attack, parts in ratios.items():
            r = np.concatenate(parts)
            finite = r[np.isfinite(r)]
            missed = int((~np.isfinite(r)).sum())
            report.add(
                SECTION,
                f"{name}: {attack} ÷ the optimum, {len(r)} images: median, within 1%, worst, never reached",
                f"{np.median(finite):.4f}; {np.mean(r <= 1.01):.0%}; {finite.max():.3f}; {missed}",
            )


def _garbage(model, images, directions) -> str:
    ends = np.clip(images[0] + 1e9 * directions, 0.0, 1.0)
    said = np.bincount(model.predict(ends), minlength=10)
    return ", ".join(f"{digit}: {count}" for digit, count in enumerate(said) if count) + f" of {len(ends)}"


def _shown(value: float) -> str:
    return f"{value:.1f}" if np.isfinite(value) else "never"


def noise(report: Report, data, quick: bool) -> None:
    from core.inputs.settings import TrainingSettings
    from core.noise import nearest_answer, noise_distance, random_directions

    twos = data.x_test[data.test_indices(2)][: 4 if quick else None].astype(np.float64)
    epochs = 2 if quick else 25
    models = {
        "linear": default_model(),
        "linear, adversarially trained at ε = 0.1": trained(TrainingSettings(adversarial_eps=0.1, epochs=epochs)),
        "ReLU network, 16 units": trained(TrainingSettings(hidden=16, epochs=epochs)),
    }
    directions = random_directions(4 if quick else 40, 2, seed=1)
    for name, model in models.items():
        for clip in ((0.0, 1.0), None):
            started = time.perf_counter()
            attack = nearest_answer(model, twos, model.predict(twos), norm=2, clip=clip)[0]
            medians = np.array([np.median(noise_distance(model, x, directions, norm=2, clip=clip)) for x in twos])
            ratio = medians / attack  # inf: most directions never change the answer
            low, mid, high = (_shown(q) for q in np.quantile(ratio, [0.25, 0.5, 0.75], method="lower"))
            where = "within [0, 1]" if clip else "no pixel range"
            never = int(np.isinf(ratio).sum())
            report.add(
                SECTION,
                f"noise ÷ attack (L2), {name}, {where}, {len(twos)} test 2s × {len(directions)} directions: "
                "median (quartiles); images where most directions never change the answer; time",
                f"{mid} ({low}-{high}); {never}; {time.perf_counter() - started:.1f} s",
                "about √784 = 28 (Fawzi et al., linear, no range)" if clip is None and model.linear else "",
            )
        if not model.linear:
            report.add(
                SECTION,
                f"{name}: what it says of a random half-white image (every pixel of the 2 pushed to 0 or 1)",
                _garbage(model, twos, directions),
            )


def norms(report: Report, quick: bool) -> None:
    model = default_model()
    data, images, targets = workload(quick)
    speed(report, model, images, targets, quick)
    gaps(report, model, images, targets)
    noise(report, data, quick)
