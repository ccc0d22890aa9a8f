"""The attack lab's exact answers, each against an independent computation: an LP solver, brute force, plain loops."""

import itertools

import numpy as np
import pytest
from scipy.optimize import linprog

from core.attack import fgsm, minimal_epsilon, pgd
from core.exact import optimal_epsilon, robust_radius
from core.fewest import fewest_pixels
from core.model import SoftmaxModel
from core.sweep import robustness_curve

TARGET = 6


def dense_lp(model, x, target, clip=True):
    """The optimal attack as one dense LP over (delta, eps): the textbook formulation, solved by HiGHS."""
    others = [j for j in range(10) if j != target]
    lead = model.W[target] - model.W[others]
    n = len(x)
    eye = np.eye(n)
    rows = np.block([[-lead, np.zeros((9, 1))], [eye, -np.ones((n, 1))], [-eye, -np.ones((n, 1))]])
    limits = np.r_[lead @ x + model.b[target] - model.b[others], np.zeros(2 * n)]
    bounds = [(-v, 1 - v) if clip else (None, None) for v in x] + [(0, 1)]
    solved = linprog(np.r_[np.zeros(n), 1.0], A_ub=rows, b_ub=limits, bounds=bounds, method="highs")
    return solved.x[-1] if solved.status == 0 else np.inf


def test_the_optimal_epsilon_is_the_lp_optimum_and_never_above_the_gradient_sign(model, twos):
    images = twos[:6]
    optimal, adversarial = optimal_epsilon(model, images, TARGET, return_images=True)
    for x, eps in zip(images, optimal):
        assert eps == pytest.approx(dense_lp(model, x, TARGET), abs=1e-6)
    assert (optimal <= minimal_epsilon(model, images, TARGET) + 1e-9).all()
    assert (np.abs(adversarial - images).max(axis=1) <= optimal + 1e-7).all()  # in the ball
    assert adversarial.min() >= 0 and adversarial.max() <= 1  # in the clip range
    logits = model.logits(adversarial)
    assert np.allclose(logits[:, TARGET], logits.max(axis=1), atol=1e-6)  # the target ties at the optimum
    winning, pictures = optimal_epsilon(model, images, TARGET, return_images=True, margin=1e-4)
    assert (model.predict(pictures) == TARGET).all() and (winning >= optimal - 1e-9).all()  # just above: it wins


def test_the_certified_radius_is_exact_and_no_attack_beats_it(model, dataset):
    images, labels = dataset.x_test[::10].astype(np.float64), dataset.y_test[::10]
    radius = robust_radius(model, images, labels)
    assert (radius[model.predict(images) != labels] == 0).all()

    def best_lead(x, y, j, eps):  # brute force per competitor: the clipped sign step along w_j - w_y
        lead = model.W[j] - model.W[y]
        step = np.where(lead > 0, np.minimum(eps, 1 - x), -np.minimum(eps, x))
        return lead @ (x + step) + model.b[j] - model.b[y]

    for x, y, r in zip(images, labels, radius):
        if 0 < r < np.inf:
            leads = [best_lead(x, y, j, r) for j in range(10) if j != y]
            assert max(leads) == pytest.approx(0, abs=1e-9)  # some class ties at the radius
            assert max(best_lead(x, y, j, r * (1 - 1e-7)) for j in range(10) if j != y) < 0  # none before
    below = np.where(np.isfinite(radius), radius * 0.999, 1.0)
    safe = np.isfinite(radius) & (radius > 0)
    assert (model.predict(fgsm(model, images, below, labels=labels))[safe] == labels[safe]).all()
    assert (model.predict(pgd(model, images, below, labels=labels, steps=20))[safe] == labels[safe]).all()
    for target in range(10):  # nor the optimal targeted attack
        mine = (labels != target) & safe
        optimal = optimal_epsilon(model, images[mine][:4], target)
        assert (optimal >= radius[mine][:4] - 1e-7).all()


def reference_pgd(model, images, eps, step, steps, clip):
    """Targeted PGD written plainly: softmax, its gradient, a sign step, back into the ball (and the range)."""
    current = images.copy()
    for _ in range(steps):
        logits = model.logits(current)
        p = np.exp(logits - logits.max(axis=1, keepdims=True))
        p /= p.sum(axis=1, keepdims=True)
        p[:, TARGET] -= 1
        current = np.clip(current - step * np.sign(p @ model.W), images - eps, images + eps)
        if clip:
            current = current.clip(0, 1)
    return current


def test_pgd_equals_a_plain_reference_loop(model, twos):
    images, eps, step = twos[:8], 0.1, 0.03
    reference = reference_pgd(model, images, eps, step, 7, clip=True)
    np.testing.assert_allclose(pgd(model, images, eps, target=TARGET, steps=7, step_size=step), reference, atol=1e-12)
    one = pgd(model, images, eps, target=TARGET, steps=1, step_size=eps)
    np.testing.assert_allclose(one, fgsm(model, images, eps, target=TARGET), atol=1e-6)  # one full step is FGSM
    started = pgd(model, images, eps, target=TARGET, random_start=True, seed=3)
    assert np.abs(started - images).max() <= eps + 1e-9 and started.min() >= 0


def test_unclipped_pgd_leaves_the_pixel_range_and_equals_the_plain_loop(model, twos):
    """Without clipping the iterates leave [0, 1] by design; PGD must not refuse its own iterates (a crash once)."""
    images, eps, step = twos[:8], 0.3, 0.075
    reference = reference_pgd(model, images, eps, step, 10, clip=False)
    attacked = pgd(model, images, eps, target=TARGET, clip=None)
    assert attacked.min() < 0 or attacked.max() > 1  # it really left the range
    np.testing.assert_allclose(attacked, reference, atol=1e-12)
    untargeted = pgd(model, images, eps, labels=np.full(len(images), 2), clip=None)
    assert np.abs(untargeted - images).max() <= eps + 1e-9


def test_fewest_pixels_matches_brute_force_on_a_small_model():
    rng = np.random.default_rng(1)
    W = np.zeros((10, 784))
    live = [100, 200, 300, 400, 500, 600]
    W[:, live] = rng.normal(size=(10, 6))
    model = SoftmaxModel(W, rng.normal(size=10) * 0.3)
    x = np.zeros(784)
    x[live] = rng.uniform(0.2, 0.8, 6)
    for target in range(10):
        count, image = result = fewest_pixels(model, x, target)
        assert result.proven and (count == -1 or np.count_nonzero(image != x) == count)
        if count > 0:
            assert model.predict(image) == target

        def feasible(subset, target=target):  # can these pixels alone, each anywhere in [0, 1], make it win?
            others = [j for j in range(10) if j != target]
            lead = (W[target] - W[others])[:, subset]
            rest = (W[target] - W[others]) @ x - lead @ x[subset] + model.b[target] - model.b[others]
            if not subset:
                return bool((rest >= 1e-6).all())
            solved = linprog(np.zeros(len(subset)), A_ub=-lead, b_ub=rest - 1e-6, bounds=[(0, 1)] * len(subset))
            return solved.status == 0

        fewest = next((k for k in range(7) for s in itertools.combinations(live, k) if feasible(list(s))), -1)
        assert count == fewest, target


def test_the_robustness_curve_agrees_with_plain_attacks(model, dataset):
    images, labels = dataset.x_test[::20], dataset.y_test[::20]
    grid = np.linspace(0, 0.3, 7)
    curve = robustness_curve(model, images, labels, grid, pgd_grid=[0.0, 0.1, 0.2])
    for eps, accuracy in zip(grid, curve.fgsm):
        assert accuracy == np.mean(model.predict(fgsm(model, images, eps, labels=labels)) == labels)
    for eps, accuracy in zip([0.0, 0.1, 0.2], curve.pgd):
        assert accuracy == np.mean(model.predict(pgd(model, images, eps, labels=labels)) == labels)
    radius = robust_radius(model, images, labels)
    assert (curve.worst == [np.mean(radius > eps) for eps in grid]).all()
    assert (curve.worst[[0, 2, 4]] <= curve.pgd + 1e-12).all()  # no attack beats the worst case
    assert (curve.worst <= curve.fgsm + 1e-12).all()


def test_fgsm_and_pgd_on_a_whole_test_set_equal_the_same_image_by_image_in_small_batches(model, dataset):
    """Over 1,024 images both work a chunk at a time (bounded memory); the answers are those of small batches."""
    images = np.concatenate([dataset.x_test, dataset.x_test[:300]])  # 1,300 float32 images: two chunks
    labels = np.concatenate([dataset.y_test, dataset.y_test[:300]])
    eps = np.linspace(0.0, 0.3, len(images))
    parts = [slice(start, start + 650) for start in range(0, len(images), 650)]
    for attack in (fgsm, pgd):
        whole = attack(model, images, eps, labels=labels)
        assert whole.dtype == np.float32 and whole.shape == images.shape
        np.testing.assert_array_equal(
            whole, np.concatenate([attack(model, images[p], eps[p], labels=labels[p]) for p in parts])
        )
        targeted = attack(model, images, 0.1, target=TARGET)
        np.testing.assert_array_equal(
            targeted, np.concatenate([attack(model, images[p], 0.1, target=TARGET) for p in parts])
        )
    own = fgsm(model, images, 0.1)  # untargeted against the model's own answers
    np.testing.assert_array_equal(own, np.concatenate([fgsm(model, images[p], 0.1) for p in parts]))


@pytest.mark.parametrize("clip", [(0.0, 1.0), None])
def test_the_worst_case_at_the_certified_radius_ties_a_rival_and_nothing_in_the_box_does_better(model, twos, clip):
    from core.exact import worst_case

    rng = np.random.default_rng(5)
    for x in twos[:6]:
        label = int(model.predict(x))  # what the model answers: the certificate is about that answer
        radius = robust_radius(model, x, label, clip=clip)
        image, rival = worst_case(model, x, label, radius, clip=clip)
        z = model.logits(image)
        assert rival != label and z[rival] == pytest.approx(z[label], abs=1e-7)  # tied exactly at the radius
        assert np.abs(image - x).max() <= radius + 1e-12
        if clip is not None:
            assert image.min() >= 0 and image.max() <= 1
        for _ in range(50):  # no random perturbation of the same size gets the rival further
            delta = rng.uniform(-radius, radius, x.shape)
            other = np.clip(x + delta, 0, 1) if clip is not None else x + delta
            zz = model.logits(other)
            assert zz[rival] - zz[label] <= z[rival] - z[label] + 1e-9


def test_unclipped_the_optimal_epsilon_is_the_unbounded_lp_optimum(model, twos):
    images = twos[:6]
    optimal, adversarial = optimal_epsilon(model, images, TARGET, clip=None, return_images=True)
    for x, eps in zip(images, optimal):
        assert eps == pytest.approx(dense_lp(model, x, TARGET, clip=False), abs=1e-6)
    assert (optimal <= optimal_epsilon(model, images, TARGET) + 1e-9).all()  # no range to respect: never harder
    assert (optimal <= minimal_epsilon(model, images, TARGET, clip=None) + 1e-9).all()
    logits = model.logits(adversarial)
    assert np.allclose(logits[:, TARGET], logits.max(axis=1), atol=1e-6)


def test_unclipped_the_certified_radius_is_the_closed_form(model, dataset):
    """Without a range every pixel moves the full eps: the lead of j over y grows by eps * |w_j - w_y|_1."""
    images, labels = dataset.x_test[::25].astype(np.float64), dataset.y_test[::25]
    radius = robust_radius(model, images, labels, clip=None)
    logits = model.logits(images)
    for y, r, z in zip(labels, radius, logits):
        times = [(z[y] - z[j]) / np.abs(model.W[j] - model.W[y]).sum() for j in range(10) if j != y]
        expected = max(min(times), 0.0)
        assert r == pytest.approx(expected, abs=1e-9) if expected <= 1 else r == np.inf
    assert (radius <= robust_radius(model, images, labels) + 1e-9).all()  # clipping only takes room away


def test_unclipped_fewest_pixels_matches_brute_force():
    """Pixels free to leave [0, 1], each by at most 1 either way (as far as any attack here moves one): brute force
    over subsets agrees."""
    rng = np.random.default_rng(4)
    W = np.zeros((10, 784))
    live = [10, 20, 30, 40, 50]
    W[:, live] = rng.normal(size=(10, 5))
    model = SoftmaxModel(W, rng.normal(size=10))
    x = np.zeros(784)
    x[live] = rng.uniform(0.1, 0.9, 5)
    for target in range(10):
        count, image = result = fewest_pixels(model, x, target, clip=None)
        assert result.proven
        if count > 0:
            assert model.predict(image) == target and np.count_nonzero(image != x) == count

        def feasible(subset, target=target):
            others = [j for j in range(10) if j != target]
            lead = (W[target] - W[others])[:, subset]
            rest = (W[target] - W[others]) @ x + model.b[target] - model.b[others]
            if not subset:
                return bool((rest >= 1e-6).all())
            solved = linprog(np.zeros(len(subset)), A_ub=-lead, b_ub=rest - 1e-6, bounds=[(-1, 1)] * len(subset))
            return solved.status == 0

        fewest = next((k for k in range(6) for s in itertools.combinations(live, k) if feasible(list(s))), -1)
        assert count == fewest, target


def test_fewest_pixels_stopped_by_its_time_limit_says_so_and_still_answers(model, twos):
    """A tiny time limit: the best found so far, a warning, ``proven`` False, and still an image the target wins."""
    hard = twos[2]
    with pytest.warns(UserWarning, match="time limit"):
        result = fewest_pixels(model, hard, TARGET, time_limit=1e-3)
    count, image = result
    assert not result.proven
    if count > 0:  # HiGHS found some answer before stopping
        assert model.predict(image) == TARGET and np.count_nonzero(image != hard) == count
        assert count >= fewest_pixels(model, hard, TARGET)[0]  # never fewer than the proven count


@pytest.mark.parametrize("clip", [True, False], ids=["clipped", "unclipped"])
def test_where_several_classes_bind_the_max_min_finds_the_lp_optimum(model, dataset, clip):
    """The images no single class settles (two to six classes bind at the optimum) are solved by the max-min
    (a 9-row simplex and Newton's method on epsilon), not by a general LP: the same optimum as HiGHS's dense LP,
    and an image in the ball, in range, where the target ties."""
    from core.exact import _optimal_one_rival

    span = (0.0, 1.0) if clip else None
    hard = []
    for source, target in [(3, 6), (7, 1), (5, 6)]:
        images = dataset.x_test[dataset.test_indices(source)].astype(np.float64)
        settled = _optimal_one_rival(model, images, target, span, 0.0)[2]
        hard += [(x, target) for x in images[~settled][:12]]
    assert len(hard) == 36
    for x, target in hard:
        eps, image = optimal_epsilon(model, x, target, clip=span, return_images=True)
        assert eps == pytest.approx(dense_lp(model, x, target, clip=clip), abs=1e-8)
        assert np.abs(image - x).max() <= eps + 1e-9
        if clip:
            assert image.min() >= 0 and image.max() <= 1
        z = model.logits(image)
        assert z[target] >= np.delete(z, target).max() - 1e-7


def test_the_max_min_falls_back_to_the_lp_if_its_simplex_stalls(model, dataset, monkeypatch):
    from core import maxmin

    images = dataset.x_test[dataset.test_indices(7)][:20].astype(np.float64)
    expected = optimal_epsilon(model, images, 1)
    monkeypatch.setattr(maxmin, "MAX_PIVOTS", 1)
    assert optimal_epsilon(model, images, 1) == pytest.approx(expected, abs=1e-7)
