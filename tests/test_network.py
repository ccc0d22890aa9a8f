"""The small ReLU network (core/network.py): its gradient against finite differences, its exact minimal epsilon
along the gradient sign ray against a brute-force grid, and its certified radius against attacks."""

import numpy as np
import pytest

from core.network import certified_radius, from_mlp, minimal_epsilon, optimal_epsilon, sign_direction, train_mlp


@pytest.fixture(scope="module")
def network(dataset):
    return train_mlp(dataset, hidden=32, epochs=20)


@pytest.fixture(scope="module")
def twos(dataset):
    return dataset.x_test[dataset.test_indices(2)][:8].astype(np.float64)


def test_the_network_learns_mnist(network, dataset):
    assert network.hidden == 32
    assert np.mean(network.predict(dataset.x_test) == dataset.y_test) > 0.85


def test_the_input_gradient_is_backpropagation_checked_by_finite_differences(network, twos):
    rng = np.random.default_rng(1)
    for x, label in zip(twos[:3], (2, 6, 0)):
        gradient = network.input_gradient(x, label)
        for i in rng.choice(784, 25, replace=False):
            bump = np.zeros(784)
            bump[i] = 1e-6
            up, down = network.predict_proba(x + bump)[label], network.predict_proba(x - bump)[label]
            assert (np.log(down) - np.log(up)) / 2e-6 == pytest.approx(gradient[i], abs=1e-6)


@pytest.mark.parametrize("clip", [(0.0, 1.0), None], ids=["clipped", "unclipped"])
def test_the_minimal_epsilon_along_the_sign_ray_is_exact(network, twos, clip):
    """Walking the activation switches: never the target below it (a grid of 4,000 points), the target just
    above it."""
    found = 0
    for x in twos:
        eps = minimal_epsilon(network, x, 6, clip=clip)
        step = sign_direction(network, x, 6)
        grid = np.linspace(0.0, min(eps, 1.0), 4001)[:-1, None]
        walked = x + grid * step if clip is None else np.clip(x + grid * step, *clip)
        assert not (network.predict(walked) == 6).any()
        if np.isfinite(eps):
            found += 1
            above = x + (eps + 1e-7) * step
            assert network.predict(above if clip is None else np.clip(above, *clip)) == 6
    assert found >= 6


def test_an_image_already_read_as_the_target_needs_no_epsilon(network, dataset):
    sixes = dataset.x_test[dataset.test_indices(6)][:20].astype(np.float64)
    x = next(x for x in sixes if network.predict(x) == 6)
    assert minimal_epsilon(network, x, 6) == 0.0


def test_the_certified_radius_is_sound(network, twos):
    """No attack below the radius changes the answer: not the gradient sign step toward any class, not 300 random
    corners of the box at the radius."""
    rng = np.random.default_rng(2)
    for x in twos[:4]:
        label = int(network.predict(x))
        radius = certified_radius(network, x, label)
        assert 0 < radius < 0.2
        for target in (t for t in range(10) if t != label):
            assert radius <= minimal_epsilon(network, x, target)
        corners = np.clip(x + radius * rng.choice([-1.0, 1.0], (300, 784)), 0, 1)
        assert (network.predict(corners) == label).all()


@pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")  # one pass: only its shape matters
def test_only_a_one_hidden_layer_relu_classifier_is_taken(dataset):
    from sklearn.neural_network import MLPClassifier

    two_layers = MLPClassifier(hidden_layer_sizes=(8, 8), max_iter=1).fit(dataset.x_train[:200], dataset.y_train[:200])
    with pytest.raises(ValueError, match="one ReLU hidden layer"):
        from_mlp(two_layers)


def pattern_lp(network, x, target, on, margin=1e-6):
    """The smallest eps with the hidden units on exactly where ``on`` says: one LP (HiGHS), inf if none."""
    from scipy.optimize import linprog

    n, others = len(x), [j for j in range(10) if j != target]
    h0 = network.W1 @ x + network.b1
    mask = np.where(on, 1.0, 0.0)
    # the target's lead, linear in delta for this pattern: lead0 + G delta >= margin
    lead0 = (network.W2[target] - network.W2[others]) @ (mask * h0) + network.b2[target] - network.b2[others]
    gain = ((network.W2[target] - network.W2[others]) * mask) @ network.W1
    sign = np.where(on, -1.0, 1.0)[:, None]  # on: h >= 0 -> -W1 delta <= h0; off: W1 delta <= -h0
    rows = np.vstack([np.c_[-gain, np.zeros(9)], np.c_[sign * network.W1, np.zeros(len(on))],
                      np.c_[np.eye(n), -np.ones(n)], np.c_[-np.eye(n), -np.ones(n)]])  # fmt: skip
    limits = np.r_[lead0 - margin, np.where(on, h0, -h0), np.zeros(2 * n)]
    bounds = [(-v, 1 - v) for v in x] + [(0, 1)]
    solved = linprog(np.r_[np.zeros(n), 1.0], A_ub=rows, b_ub=limits, bounds=bounds, method="highs")
    return solved.x[-1] if solved.status == 0 else np.inf


def test_the_optimal_epsilon_is_the_best_over_every_activation_pattern(dataset):
    """On a network of three hidden units, the integer program's optimum equals the best of the eight LPs, one per
    pattern of active units (an independent computation), and lies between the certificate and the sign step."""
    import itertools

    tiny = train_mlp(dataset, hidden=3, epochs=5)
    answers = np.unique(tiny.predict(dataset.x_test))  # three units tell only a few classes apart
    assert len(answers) >= 3
    checked = 0
    for x in dataset.x_test[:20].astype(np.float64):
        label = int(tiny.predict(x))
        target = int(next(a for a in np.roll(answers, -1 - int(np.searchsorted(answers, label))) if a != label))
        found = optimal_epsilon(tiny, x, target, time_limit=30)
        best = min(pattern_lp(tiny, x, target, np.array(on)) for on in itertools.product([False, True], repeat=3))
        assert found.proven
        if np.isinf(best):
            assert np.isinf(found[0])
            continue
        checked += 1
        assert found[0] == pytest.approx(best, abs=1e-5)  # HiGHS's feasibility tolerance is 1e-6
        assert tiny.predict(found[1]) == target and np.abs(found[1] - x).max() <= found[0] + 1e-12
        assert certified_radius(tiny, x, label) <= found[0] + 1e-9 <= minimal_epsilon(tiny, x, target) + 1e-5
    assert checked >= 8
