"""Sections 1, 2 and 6: the attack engine (the sweep, the minimal epsilon, memory)."""

from __future__ import annotations

import tempfile

import numpy as np

from benchmarks.common import FASHION, TARGET, Report, default_model, peak_extra_memory, timed


def baseline_curve(model, images, grid):
    """The straightforward way: attack every image and predict, once per epsilon."""
    from core.attack import fgsm

    shares, probabilities = [], []
    for eps in grid:
        p = model.predict_proba(fgsm(model, images, eps, target=TARGET))
        shares.append(np.mean(p.argmax(axis=1) == TARGET))
        probabilities.append(p[:, TARGET].mean())
    return np.array(shares), np.array(probabilities)


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
    from core.inputs.data import load_dataset
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
    grid = np.linspace(-1, 1, 51 if quick else 201)  # --quick: a check of the harness, not the numbers
    repeats = 1 if quick else 5
    success_curve(model, twos[:4], TARGET, grid)  # warm once, outside the timings
    minimal_epsilon(model, twos[:4], TARGET)

    section = f"1. Sweep engine ({len(grid)} eps)"
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
            section,
            f"speed-up, {label}; same numbers: {'yes' if same else 'NO'}",
            f"{slow / fast:.0f}x",
            f">= {target_ratio}x",
            slow / fast >= target_ratio and same,
        )
    with tempfile.TemporaryDirectory() as folder:
        images_path, model_path = f"{folder}/images.npy", f"{folder}/model.npz"
        np.save(images_path, big_images)
        np.savez(model_path, W=big_model.W, b=big_model.b)
        peak = peak_sweep_memory(images_path, model_path, 201)
    report.add(
        section, f"peak extra memory of the sweep, {len(big_images):,} images", f"{peak:.0f} MB", "< 300 MB", peak < 300
    )

    section = "2. Exact minimal epsilon"
    exact = timed(lambda: minimal_epsilon(model, twos, TARGET), repeats)
    step = 0.01 if quick else 0.001
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
    report.add(section, f"grid search, step {step:g} over [0, 1]", f"{slow * 1000:.0f} ms")
    report.add(section, "speed-up", f"{slow / exact:.0f}x", ">= 10x", slow / exact >= 10)
    report.add(
        section, "exact is never larger than the grid's answer", "yes" if never_larger else "NO", "", never_larger
    )
    report.add(section, "largest gap grid - exact (the grid's overshoot)", f"{np.max(found - minimal):.5f}")

    section = "6. How cost grows"
    pool = big_images
    one_pass = timed(lambda: big_model.logits(pool), repeats) / len(pool)
    for n in (100, 1000, 10000) if not quick else (100, 1000):
        n = min(n, len(pool))
        seconds = timed(lambda: success_curve(big_model, pool[:n], TARGET, grid), repeats)  # noqa: B023
        per_image = seconds / n
        report.add(
            section,
            f"{n:,} images x {len(grid)} eps",
            f"{seconds * 1000:.1f} ms",
            f"{per_image * 1e6:.1f} us/image = {per_image / one_pass:.0f}x one pass (W x)",
        )
    n = min(1000, len(pool))
    for points in (51, 201, 801):
        seconds = timed(lambda: success_curve(big_model, pool[:n], TARGET, np.linspace(-1, 1, points)), repeats)  # noqa: B023
        report.add(
            section,
            f"{n:,} images x {points} eps",
            f"{seconds * 1000:.1f} ms",
            f"{seconds / n / points * 1e9:.0f} ns per image and eps",
        )
    report.add(section, "one pass over the image data (logits W x), per image", f"{one_pass * 1e6:.2f} us")
