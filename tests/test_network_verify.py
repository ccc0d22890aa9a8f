"""The network's complete verifier against independent answers: every activation pattern of a tiny network solved
as its own linear program, and the integer program on a trained one; every attack it returns checked."""

import itertools

import numpy as np
import pytest
from scipy.optimize import linprog

from core.errors import BadInput
from core.model import ReluNetwork
from core.network_exact import network_optimal_epsilon, verify_robust


def tiny(seed: int, scale: float) -> ReluNetwork:
    generator = np.random.default_rng(seed)
    return ReluNetwork(
        generator.normal(0, scale / 28, (4, 784)),
        generator.normal(0, scale / 4, 4),
        generator.normal(0, 1, (10, 4)),
        generator.normal(0, 0.3, 10),
    )


def smallest_lead(network, x, label, eps, *, stop_at=-np.inf):
    """The exact smallest lead of ``label`` over any other class in the box: one LP per pattern and rival. With
    ``stop_at``, the first lead found at or below it instead (all it takes to show that the lead can fall there)."""
    low, high = np.maximum(x - eps, 0) - x, np.minimum(x + eps, 1) - x
    start = network.W1 @ x + network.b1
    # each unit's exact range over the box: a pattern that asks a unit for a sign it cannot have has no point
    lowest = start + np.minimum(network.W1 * low, network.W1 * high).sum(axis=1)
    highest = start + np.maximum(network.W1 * low, network.W1 * high).sum(axis=1)
    best, box = np.inf, np.c_[low, high]
    for pattern in itertools.product([0, 1], repeat=network.hidden):
        on = np.array(pattern, bool)
        if (on & (highest < 0)).any() or (~on & (lowest > 0)).any():
            continue
        signs = np.where(on, -1.0, 1.0)  # on: -h <= 0; off: h <= 0
        rows, limits = signs[:, None] * network.W1, -signs * start
        for rival in range(10):
            if rival == label:
                continue
            weights = (network.W2[label] - network.W2[rival]) * on
            solved = linprog(weights @ network.W1, A_ub=rows, b_ub=limits, bounds=box, method="highs")
            if solved.status == 0:
                value = solved.fun + weights @ start + network.b2[label] - network.b2[rival]
                best = min(best, value)
                if best <= stop_at:
                    return best
    return best


def valid(verdict, network, x, label, eps):
    image = verdict.image
    assert np.abs(image - x).max() <= eps + 1e-9 and image.min() >= 0 and image.max() <= 1
    z = network.logits(image)
    assert np.delete(z, label).max() >= z[label]  # another class reaches the true one


@pytest.mark.parametrize("seed,scale", [(0, 1.0), (1, 4.0), (2, 12.0)])
def test_the_verdict_is_every_activation_patterns_answer_on_a_tiny_network(seed, scale, twos):
    network = tiny(seed, scale)
    settled = 0
    for x in twos[:2]:
        label = int(network.predict(x))
        for eps in (0.005, 0.02, 0.05, 0.15):
            verdict = verify_robust(network, x, label, eps, time_limit=20)
            # attacked: one pattern and rival where the lead falls to 0 is the proof; robust: every one is solved
            truth = smallest_lead(network, x, label, eps, stop_at=1e-7 if verdict.status == "attacked" else -np.inf)
            if verdict.status == "robust":
                assert truth > -1e-7
            elif verdict.status == "attacked":
                valid(verdict, network, x, label, eps)
                assert truth <= 1e-7
            settled += verdict.status != "unknown"
    assert settled == 8


@pytest.fixture(scope="module")
def network16():
    """The 16-unit network that comes with the app (tests/test_shipped.py trains it again and compares)."""
    from core.inputs.settings import TrainingSettings
    from core.jobs.shipped import load_shipped

    return load_shipped(TrainingSettings(hidden=16)).model


def test_robust_is_never_contradicted_by_the_integer_program(network16, dataset):
    """Where the verifier says robust at eps, the integer program proves (its bracket's floor) that no class is
    reachable below eps; where it says attacked, its image is in the box and another class reaches the true one, and
    the integer program reaches some class within that eps too."""
    checked = {"robust": 0, "attacked": 0}
    for index in (0,):
        x, label = dataset.x_test[index].astype(np.float64), int(dataset.y_test[index])
        assert network16.predict(x) == label
        robust, attacked = [], []
        for eps in (0.02, 0.05, 0.1):
            verdict = verify_robust(network16, x, label, eps)
            assert verdict.status != "unknown"
            checked[verdict.status] += 1
            if verdict.status == "robust":
                robust.append(eps)
            else:
                attacked.append(eps)
                valid(verdict, network16, x, label, eps)
        rivals = [network_optimal_epsilon(network16, x, r, time_limit=0.5, margin=0.0) for r in range(10) if r != label]
        if robust:  # the largest eps proven: no class may be reachable below it
            assert min(found.bracket[0] for found in rivals) >= max(robust) - 1e-6, index
        if attacked:
            assert min(found[0] for found in rivals) <= min(attacked) + 1e-6, index
    assert checked["robust"] and checked["attacked"]


def test_bad_questions_are_refused_by_name(network16, twos):
    for eps in (-0.1, 1.5, "0.1", np.nan):
        with pytest.raises(BadInput):
            verify_robust(network16, twos[0], 2, eps)
    with pytest.raises(BadInput):
        verify_robust(network16, twos[0], 12, 0.1)


def test_the_optimal_epsilon_by_the_verifier_is_the_integer_programs_where_it_proves_it(network16, twos):
    from core.network_exact import optimal_epsilon

    for x in twos[[1, 3]]:
        ours = optimal_epsilon(network16, x, 6, time_limit=20)
        reference = network_optimal_epsilon(network16, x, 6, time_limit=20, margin=0.0)
        assert ours.proven and reference.proven
        assert ours[0] == pytest.approx(reference[0], rel=2e-4)
        assert ours.bracket[0] <= reference[0] * (1 + 1e-6) and reference[0] <= ours.bracket[1] * (1 + 1e-6)
        image = ours[1]
        assert np.abs(image - x).max() <= ours[0] + 1e-9 and network16.predict(image) == 6


def test_a_bracket_cut_short_by_its_time_still_holds_the_integer_programs_optimum(network16, twos):
    """Stopped early (a tenth of a second, a few milliseconds), the verifier's bracket holds the proven optimum,
    and its best attack is a real one at the bracket's top."""
    from core.network_exact import optimal_epsilon

    for x in twos[[0, 2, 4]]:
        reference = network_optimal_epsilon(network16, x, 6, time_limit=20, margin=0.0)
        assert reference.proven
        for limit in (0.1, 0.005):
            ours = optimal_epsilon(network16, x, 6, time_limit=limit)
            low, high = ours.bracket
            assert low <= reference[0] * (1 + 1e-6) and reference[0] <= high * (1 + 1e-6)
            assert ours[0] == high and np.abs(ours[1] - x).max() <= high + 1e-9 and network16.predict(ours[1]) == 6


def test_every_cut_holds_at_every_point_of_the_box_and_only_tightens_the_bound(twos):
    """The verifier's cuts (each unit's exact hull over the box, Anderson et al.): at 2,000 points of the box and its
    corners, with every unit's true output and sign, each row it adds holds; and the bound never falls."""
    from core.inputs.settings import TrainingSettings
    from core.jobs.shipped import load_shipped
    from core.network_verify import branch_program

    network, eps, x = load_shipped(TrainingSettings(hidden=64)).model, 0.1, twos[0]
    label, rival = 2, 6
    rows = (network.W2[label] - network.W2[rival])[None]
    bias = np.array([network.b2[label] - network.b2[rival]])
    program, start, _, _ = branch_program(network, x, rows, bias, eps, (0.0, 1.0), hull=True)
    box = program.box
    added = []
    real_add = program.highs.addRows
    program.highs.addRows = lambda count, lower, upper, nonzeros, starts, index, value: (
        added.extend(
            (index[a:b], value[a:b], upper[k]) for k, (a, b) in enumerate(zip(starts, [*starts[1:], nonzeros]))
        ),
        real_add(count, lower, upper, nonzeros, starts, index, value),
    )[1]
    bounds = [program.solve({})[0]]
    for _ in range(6):
        if not program.cut():
            break
        bounds.append(program.solve({})[0])
    assert len(added) > 40 and all(b >= a - 1e-7 for a, b in zip(bounds, bounds[1:])) and bounds[-1] > bounds[0] + 1
    generator = np.random.default_rng(5)
    moves = generator.uniform(box[0], box[1], (1000, 784))
    moves = np.r_[moves, np.where(generator.random((1000, 784)) < 0.5, box[0], box[1])]
    h = moves @ network.W1[program.units].T + start[program.units]
    n, m = program.n, program.m
    point = np.zeros((len(moves), n + 2 * m + 1))
    point[:, :n], point[:, n : n + m], point[:, n + m + 1 :] = moves, np.maximum(h, 0), h > 0
    for index, value, upper in added:
        assert (point[:, index] @ value <= upper + 1e-7).all()
    # and at the box's two corners where a cut is tightest (as tight as it may be: no cut is stronger than the hull)
    weights = network.W1[program.units]
    for index, value, upper in added:
        unit = int(index[(index >= n) & (index < n + m)][0]) - n
        chosen = np.zeros(n, bool)
        chosen[index[index < n]] = True
        w = weights[unit]
        smallest, largest = np.where(w >= 0, box[0], box[1]), np.where(w >= 0, box[1], box[0])
        move = np.where(chosen, smallest, largest)
        for on in (False, True):  # off: its output 0; on: its output its input (whatever that input's sign)
            corner = np.zeros(n + 2 * m + 1)
            corner[:n], corner[n + m + 1 + unit] = move, on
            corner[n + unit] = (w @ move + start[program.units][unit]) * on
            assert corner[index] @ value <= upper + 1e-7
