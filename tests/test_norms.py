"""The smallest L2 and L1 changes, against a convex solver; the usual attacks never below them; noise against a grid."""

import functools

import cvxpy as cp
import numpy as np
import pytest

from core.errors import BadInput
from core.exact import minimal_perturbation, optimal_epsilon
from core.model import SoftmaxModel
from core.noise import noise_distance, random_directions
from core.norm_attacks import carlini_wagner, deepfool, sign_step_distance


def solver_optimum(model, x, target, norm, clip, margin=1e-6):
    """The same question written as a convex program and solved by Clarabel (through cvxpy): the reference."""
    others = [j for j in range(10) if j != target]
    program, rows, need, image = convex_program(norm, clip)
    rows.value = model.W[target] - model.W[others]
    need.value = -(rows.value @ x + model.b[target] - model.b[others]) + margin
    image.value = x
    program.solve(solver="CLARABEL")
    return program.value if program.status == "optimal" else np.inf


@functools.cache
def convex_program(norm, clip):
    """The smallest change ``delta`` in ``norm`` whose nine rows reach ``need`` (inside ``clip``), written once with
    the rows, the need and the image as parameters: cvxpy compiles it once and solves it for each image."""
    rows, need, image, delta = cp.Parameter((9, 784)), cp.Parameter(9), cp.Parameter(784), cp.Variable(784)
    constraints = [rows @ delta >= need]
    if clip is not None:
        constraints += [image + delta >= clip[0], image + delta <= clip[1]]
    return cp.Problem(cp.Minimize(cp.norm(delta, norm)), constraints), rows, need, image


@pytest.fixture(scope="module")
def mixed(dataset):
    """110 test images of every digit, each asked toward a target it is not (the pairs vary)."""
    images = dataset.x_test[::9][:110].astype(np.float64)
    targets = (dataset.y_test[::9][:110] + 1 + np.arange(110) % 9) % 10
    return images, targets


@pytest.mark.parametrize("norm", [1, 2])
@pytest.mark.parametrize("clip", [(0.0, 1.0), None])
def test_each_norms_optimum_is_the_convex_solvers_on_110_images(model, mixed, norm, clip):
    images, targets = mixed
    several = 0
    for target in range(10):
        chosen = targets == target
        distance, adversarial = minimal_perturbation(model, images[chosen], target, norm=norm, clip=clip)
        for x, found, image in zip(images[chosen], distance, adversarial):
            expected = solver_optimum(model, x, target, norm, clip)
            assert found == pytest.approx(expected, rel=1e-6, abs=1e-7)
            assert np.linalg.norm(image - x, ord=norm) == pytest.approx(found, rel=1e-9, abs=1e-12)
            assert model.predict(image) == target  # read as the target
            if clip is not None:
                assert image.min() >= 0 and image.max() <= 1
        logits = model.logits(adversarial)
        tied = ((logits[:, [target]] - logits) < 1e-5).sum(axis=1) - 1  # rivals the target only just beats
        several += int((tied >= 2).sum())
    assert several >= 10  # the several-rival path is checked, not only the closed form


def test_the_l_inf_answer_is_the_optimal_epsilon_and_zero_where_the_target_already_wins(model, twos, dataset):
    eps, images = minimal_perturbation(model, twos[:20], 6, norm=np.inf)
    np.testing.assert_allclose(eps, optimal_epsilon(model, twos[:20], 6, margin=1e-6), rtol=0, atol=1e-12)
    assert (model.predict(images) == 6).all()
    sixes = dataset.x_test[dataset.test_indices(6)][:5]
    sixes = sixes[model.predict(sixes) == 6]
    for norm in (1, 2, np.inf):
        distance, same = minimal_perturbation(model, sixes, 6, norm=norm)
        assert (distance == 0).all() and np.array_equal(same, sixes.astype(np.float64))


def test_a_target_out_of_reach_is_inf_with_the_image_unchanged():
    W = np.zeros((10, 784))
    W[6, :] = -1.0  # class 6 loses ground wherever a pixel rises; at a black image it still trails by its bias
    model = SoftmaxModel(W, np.r_[np.ones(6), -1.0, np.ones(3)])
    x = np.zeros(784)
    for norm in (1, 2, np.inf):
        distance, image = minimal_perturbation(model, x, 6, norm=norm)
        assert distance == np.inf and np.array_equal(image, x)


@pytest.mark.parametrize("norm", [0, 3, "2", True, None])
def test_a_norm_it_does_not_measure_is_refused_by_name(model, twos, norm):
    with pytest.raises(BadInput, match="norm"):
        minimal_perturbation(model, twos[0], 6, norm=norm)


@pytest.mark.parametrize("target", [6, 0, 8])
def test_deepfool_carlini_wagner_and_the_sign_step_are_never_below_the_optimum(model, twos, target):
    images = twos[:40]
    best2, _ = minimal_perturbation(model, images, target, norm=2, margin=0.0)
    moved = best2 > 0
    for attack in (deepfool, carlini_wagner):
        distance, adversarial = attack(model, images, target)
        reached = np.isfinite(distance)
        assert reached.mean() > 0.9
        assert (distance[reached & moved] >= best2[reached & moved] * (1 - 1e-9)).all()
        assert (model.predict(adversarial[reached]) == target).all()
        assert adversarial.min() >= 0 and adversarial.max() <= 1
    for norm in (1, 2, np.inf):
        best, _ = minimal_perturbation(model, images, target, norm=norm, margin=0.0)
        sign, stepped = sign_step_distance(model, images, target, norm=norm)
        assert (sign >= best * (1 - 1e-9)).all()
        reached = np.isfinite(sign)
        assert (model.predict(stepped[reached]) == target).all()  # read as the target, not only tied


def first_change(differs, x, u, steps):
    """The first point of the grid ``x + steps * u`` (clipped to [0, 1]) where ``differs``, or None: a thousand
    points at a time, up to the first change (the grid is fine: 20,001 points of 784 pixels)."""
    for start in range(0, len(steps), 1000):
        changed = np.flatnonzero(differs(np.clip(x + steps[start : start + 1000, None] * u, 0, 1)))
        if len(changed):
            return start + changed[0]
    return None


def sizes_around(first, x, u, steps, norm=2):
    """The sizes in ``norm`` of the change at the grid's points just before and at ``first``."""
    return tuple(np.linalg.norm(np.clip(x + steps[i] * u, 0, 1) - x, ord=norm) for i in (first - 1, first))


def ties_or_passes(logits, label):
    """Where another class's score reaches ``label``'s."""
    own = logits[:, label].copy()
    logits[:, label] = -np.inf
    return logits.max(axis=1) >= own


def test_the_noise_walk_is_where_a_fine_grid_along_the_same_direction_first_changes_the_answer(model, twos):
    x = twos[3]
    label = model.predict(x)
    for norm in (2, np.inf):
        directions = random_directions(12, norm, seed=4)
        distance = noise_distance(model, x, directions, norm=norm)
        for u, found in zip(directions, distance):
            room = np.where(u > 0, 1 - x, x)
            stops = np.where(u != 0, room / np.abs(u), np.inf)
            reach = stops[np.isfinite(stops)].max()
            steps = np.linspace(0, reach * 1.01, 20_001)
            first = first_change(lambda points: ties_or_passes(model.logits(points), label), x, u, steps)
            if first is None:
                assert found == np.inf
                continue
            before, after = sizes_around(first, x, u, steps, norm)
            assert before <= found <= after + 1e-12


def test_random_noise_must_go_much_further_than_the_attack(model, twos):
    """Fawzi et al.: about sqrt(784) = 28 times further on a linear classifier (without a clip range)."""
    x = twos[0]
    label = int(model.predict(x))
    directions = random_directions(200, 2, seed=0)
    noise = noise_distance(model, x, directions, norm=2, clip=None)
    attack = min(minimal_perturbation(model, x, t, norm=2, clip=None)[0] for t in range(10) if t != label)
    assert 10 < np.median(noise) / attack < 200


def test_the_noise_walk_refuses_what_is_not_a_set_of_directions(model, twos):
    for bad in (np.ones(5), np.full((2, 784), np.nan), "up"):
        with pytest.raises(BadInput):
            noise_distance(model, twos[0], bad, norm=2)
    with pytest.raises(BadInput):
        random_directions(0, 2)
    with pytest.raises(BadInput):
        random_directions(5, 1)


@pytest.mark.parametrize("scale", [0.3, 3.0])
def test_the_networks_noise_walk_finds_where_a_fine_grid_first_sees_the_answer_change(scale):
    """On a ReLU network the walk is a grid at the pixels' stops and bisection: checked against 20,001 points."""
    from core.model import ReluNetwork

    generator = np.random.default_rng(int(scale * 10))
    network = ReluNetwork(
        generator.normal(0, scale / 28, (12, 784)),
        generator.normal(0, scale, 12),
        generator.normal(0, 1, (10, 12)),
        generator.normal(0, 0.5, 10),
    )
    x = generator.uniform(0, 1, 784) * (generator.uniform(0, 1, 784) < 0.3)
    label = network.predict(x)
    directions = random_directions(8, 2, seed=2)
    found = noise_distance(network, x, directions, norm=2)
    agreed = 0
    for u, distance in zip(directions, found):
        stops = np.where(u != 0, np.where(u > 0, 1 - x, x) / np.abs(u), np.inf)
        steps = np.linspace(0, stops[np.isfinite(stops)].max() * 1.01, 20_001)
        first = first_change(lambda points: network.predict(points) != label, x, u, steps)
        if first is None:
            agreed += distance == np.inf
            continue
        before, after = sizes_around(first, x, u, steps)
        assert distance >= before - 1e-9  # never before the answer first changes
        agreed += distance <= after + 1e-9
    assert agreed >= 7  # a change too brief for the walk's grid may be passed over: it is not a proof
