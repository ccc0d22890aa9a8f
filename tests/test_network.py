"""The small ReLU network (core/network.py): its gradient against finite differences, its exact minimal epsilon
along the gradient sign ray against a brute-force grid, and its certified radius against attacks."""

import numpy as np
import pytest

from core.inputs.settings import TrainingSettings
from core.network import from_mlp, ray_minimal_epsilon, sign_direction, train_mlp
from core.network_exact import certified_radius, network_optimal_epsilon


@pytest.fixture(scope="module")
def network(dataset):
    return train_mlp(dataset, hidden=32, epochs=20).model


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
        eps = ray_minimal_epsilon(network, x, 6, clip=clip)
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
    assert ray_minimal_epsilon(network, x, 6) == 0.0


def test_the_certified_radius_is_sound(network, twos):
    """No attack below the radius changes the answer: not the gradient sign step toward any class, not 300 random
    corners of the box at the radius."""
    rng = np.random.default_rng(2)
    for x in twos[:4]:
        label = int(network.predict(x))
        radius = certified_radius(network, x, label)
        assert 0 < radius < 0.2
        for target in (t for t in range(10) if t != label):
            assert radius <= ray_minimal_epsilon(network, x, target)
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
    from scipy import sparse
    from scipy.optimize import linprog

    n, others = len(x), [j for j in range(10) if j != target]
    h0 = network.W1 @ x + network.b1
    mask = np.where(on, 1.0, 0.0)
    # the target's lead, linear in delta for this pattern: lead0 + G delta >= margin
    lead0 = (network.W2[target] - network.W2[others]) @ (mask * h0) + network.b2[target] - network.b2[others]
    gain = ((network.W2[target] - network.W2[others]) * mask) @ network.W1
    sign = np.where(on, -1.0, 1.0)[:, None]  # on: h >= 0 -> -W1 delta <= h0; off: W1 delta <= -h0
    one, column = sparse.identity(n, format="csr"), sparse.csr_matrix(-np.ones((n, 1)))  # |delta_i| <= eps
    rows = sparse.vstack(
        [
            np.c_[-gain, np.zeros(9)],
            np.c_[sign * network.W1, np.zeros(len(on))],
            sparse.hstack([one, column]),
            sparse.hstack([-one, column]),
        ],
        format="csr",
    )
    limits = np.r_[lead0 - margin, np.where(on, h0, -h0), np.zeros(2 * n)]
    bounds = [(-v, 1 - v) for v in x] + [(0, 1)]
    solved = linprog(np.r_[np.zeros(n), 1.0], A_ub=rows, b_ub=limits, bounds=bounds, method="highs")
    return solved.x[-1] if solved.status == 0 else np.inf


def test_the_optimal_epsilon_is_the_best_over_every_activation_pattern(dataset):
    """On a network of three hidden units, the integer program's optimum equals the best of the eight LPs, one per
    pattern of active units (an independent computation), and lies between the certificate and the sign step."""
    import itertools

    tiny = train_mlp(dataset, hidden=3, epochs=5).model
    answers = np.unique(tiny.predict(dataset.x_test))  # three units tell only a few classes apart
    assert len(answers) >= 3
    checked = 0
    for x in dataset.x_test[:20].astype(np.float64):
        label = int(tiny.predict(x))
        target = int(next(a for a in np.roll(answers, -1 - int(np.searchsorted(answers, label))) if a != label))
        found = network_optimal_epsilon(tiny, x, target, time_limit=30)
        best = min(pattern_lp(tiny, x, target, np.array(on)) for on in itertools.product([False, True], repeat=3))
        assert found.proven
        if np.isinf(best):
            assert np.isinf(found[0])
            continue
        checked += 1
        assert found[0] == pytest.approx(best, abs=1e-5)  # HiGHS's feasibility tolerance is 1e-6
        assert tiny.predict(found[1]) == target and np.abs(found[1] - x).max() <= found[0] + 1e-12
        assert certified_radius(tiny, x, label) <= found[0] + 1e-9 <= ray_minimal_epsilon(tiny, x, target) + 1e-5
    assert checked >= 8


@pytest.mark.parametrize("method", ["crown", "ibp"])
def test_the_lower_bounds_hold_at_every_point_tried(network, twos, method):
    """Both relaxations bound every logit difference from below over the box: checked at 500 random points and
    corners of it and at PGD's attack toward each class."""
    from core.attack import pgd
    from core.network_exact import lower_bounds

    rng = np.random.default_rng(3)
    rows = np.eye(10)[2] - np.eye(10)[[0, 1, 3, 4, 5, 6, 7, 8, 9]]
    for x in twos[:3]:
        for eps in (0.02, 0.1):
            bound = lower_bounds(network, x, eps, rows, method=method)
            points = np.clip(x + eps * np.r_[rng.uniform(-1, 1, (250, 784)), rng.choice([-1.0, 1.0], (250, 784))], 0, 1)
            attacks = [pgd(network, x, eps, target=t, clip=(0.0, 1.0)) for t in range(10) if t != 2]
            values = np.vstack([points, attacks]) @ network.W1.T + network.b1
            margins = (np.maximum(values, 0) @ network.W2.T + network.b2) @ rows.T
            assert (margins >= bound - 1e-9).all()


def test_the_linear_relaxation_certifies_more_than_intervals(network, twos):
    """CROWN's certificate is at least IBP's on these digits, and more than twice as large in total."""
    for_crown = [certified_radius(network, x, int(network.predict(x))) for x in twos]
    for_ibp = [certified_radius(network, x, int(network.predict(x)), method="ibp") for x in twos]
    assert all(c >= i - 1e-4 for c, i in zip(for_crown, for_ibp))
    assert sum(for_crown) > 2 * sum(for_ibp)


def test_bound_optimum_and_sign_step_are_in_order_on_every_image(dataset):
    """On a network of 8 units: the certified bound toward the target <= the integer program's optimum <= the
    sign step's exact minimal epsilon, and the optimum's image is read as the target inside the box."""
    from core.network_exact import target_bound

    small = train_mlp(dataset, hidden=8, epochs=10).model
    proven = 0
    for x in dataset.x_test[dataset.test_indices(2)][:5].astype(np.float64):
        found = network_optimal_epsilon(small, x, 6, time_limit=20)
        low, high = found.bracket
        assert certified_radius(small, x, 2) <= target_bound(small, x, 6) + 1e-9 <= low + 1e-6
        assert low <= found[0] + 1e-12 and found[0] == high <= ray_minimal_epsilon(small, x, 6) + 1e-5
        assert small.predict(found[1]) == 6 and np.abs(found[1] - x).max() <= found[0] + 1e-9
        assert 0 <= found[1].min() and found[1].max() <= 1
        proven += found.proven
    assert proven >= 4


def test_the_attacks_take_the_network_through_the_same_interface(network, twos):
    """core.attack's fgsm, pgd and ray_minimal_epsilon take the network as they take the softmax model: the batch
    minimal epsilon is the network's own walk, and the sign step just above it is read as the target."""
    from core import attack

    found = attack.minimal_epsilon(network, twos[:4], 6)
    assert found == pytest.approx([ray_minimal_epsilon(network, x, 6) for x in twos[:4]])
    assert attack.minimal_epsilon(network, twos[0], 6) == found[0]
    finite = np.isfinite(found)
    stepped = attack.fgsm(network, twos[:4][finite], found[finite] + 1e-6, target=6)
    assert (network.predict(stepped) == 6).all()
    assert (
        attack.attack_direction(network, twos[:4], 6) == np.array([sign_direction(network, x, 6) for x in twos[:4]])
    ).all()
    iterated = attack.pgd(network, twos[:4], 0.1, target=6, keep_best=True)
    assert np.abs(iterated - twos[:4]).max() <= 0.1 + 1e-12
    assert (
        network.logits(iterated)[:, 6] >= network.logits(attack.fgsm(network, twos[:4], 0.1, target=6))[:, 6] - 1e-9
    ).sum() >= 1


def test_the_network_trains_in_the_child_and_is_kept_like_every_model(dataset, tmp_path, monkeypatch):
    """Settings with hidden units name a network: checked, keyed apart from the linear model, trained by
    core.training.train (what the child runs) with a progress call per epoch, saved and read back bit for bit."""
    import dataclasses

    from core.inputs.settings import TrainingSettings
    from core.model import load_training, save_training
    from core.training import train

    with pytest.raises(ValueError, match="hidden must be one of"):
        TrainingSettings(hidden=5).check()
    with pytest.raises(ValueError, match="without a defense"):
        TrainingSettings(hidden=16, adversarial_eps=0.1).check()
    defended = TrainingSettings(adversarial_eps=0.1, learning_rate=0.2, epochs=3)
    settings = defended.network(16)
    assert settings == TrainingSettings(hidden=16, epochs=3) and settings.check() is settings
    assert settings.file_key() != TrainingSettings(epochs=3).file_key()
    assert TrainingSettings().file_key() == dataclasses.replace(TrainingSettings(), hidden=0).file_key()
    seen = []
    result = train(dataset, settings, on_epoch=lambda epoch, total, metrics: seen.append((epoch, total)))
    assert seen == [(1, 3), (2, 3), (3, 3)] and result.solver == "adam" and result.model.hidden == 16
    assert result.test_accuracy == pytest.approx(np.mean(result.model.predict(dataset.x_test) == dataset.y_test))
    path = tmp_path / "network.npz"
    save_training(result, path)
    again = load_training(path)
    for name in ("W1", "b1", "W2", "b2"):
        assert getattr(again.model, name).tobytes() == getattr(result.model, name).tobytes()
    assert again.history == result.history


def test_the_success_curve_of_the_network_is_its_answers_on_the_sign_steps(network, twos):
    """core.sweep.success_curve takes the network: at every epsilon, the share the sign step makes the target, as
    fgsm and predict give it one epsilon at a time."""
    from core import attack
    from core.sweep import success_curve

    grid = np.linspace(0, 0.3, 7)
    curve = success_curve(network, twos, 6, grid)
    expected = [np.mean(network.predict(attack.fgsm(network, twos, eps, target=6)) == 6) for eps in grid]
    assert curve.fooled_share == pytest.approx(expected) and curve.n_images == len(twos)
    assert curve.fooled_share[-1] > curve.fooled_share[0]


@pytest.mark.parametrize(
    "impossible",
    [
        lambda: TrainingSettings().network(5),
        lambda: TrainingSettings(hidden=5),
        lambda: TrainingSettings(epochs=0),
        lambda: TrainingSettings(epochs=2.5),
        lambda: TrainingSettings(solver="adam"),
        lambda: TrainingSettings(solver="lbfgs", l1=1e-3),
        lambda: TrainingSettings(hidden=16, adversarial_eps=0.1),
        lambda: TrainingSettings(dataset=""),
        lambda: TrainingSettings(learning_rate=float("nan")),
    ],
)
def test_impossible_settings_are_refused_where_they_are_made(impossible):
    from core.errors import BadInput

    with pytest.raises(BadInput):
        impossible()
