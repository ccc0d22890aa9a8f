import numpy as np
import pytest

from core import path
from core.attack import fgsm
from core.sweep import score_sweep, success_curve

TARGET = 6
SEED_GRID = np.linspace(-1, 1, 101)


def loop_baseline(model, x, grid, clip):
    """The straightforward way: attack and predict at every epsilon."""
    shares, probabilities = [], []
    for eps in grid:
        adversarial = fgsm(model, x, eps, target=TARGET, clip=clip)
        shares.append(np.mean(model.predict(adversarial) == TARGET))
        probabilities.append(model.predict_proba(adversarial)[:, TARGET].mean())
    return np.array(shares), np.array(probabilities)


@pytest.mark.parametrize("clip", [(0.0, 1.0), None])
@pytest.mark.parametrize("grid", [np.linspace(-1, 1, 201), np.linspace(0.01, 0.4, 40), np.array([-0.3, -0.05])])
def test_success_curve_equals_the_loop(model, twos, clip, grid):
    curve = success_curve(model, twos, TARGET, grid, clip=clip)
    shares, probabilities = loop_baseline(model, twos, grid, clip)
    np.testing.assert_array_equal(curve.fooled_share, shares)
    np.testing.assert_allclose(curve.mean_target_probability, probabilities, atol=1e-9)
    assert curve.n_images == len(twos)


def test_success_curve_in_many_small_blocks(model, dataset, monkeypatch):
    x = dataset.x_test[:300]
    grid = np.linspace(-0.5, 0.5, 51)
    whole = success_curve(model, x, TARGET, grid)
    monkeypatch.setattr(path, "BLOCK", 7)  # blocks of 7 images
    blocks = success_curve(model, x, TARGET, grid)
    np.testing.assert_array_equal(whole.fooled_share, blocks.fooled_share)
    np.testing.assert_allclose(whole.mean_target_probability, blocks.mean_target_probability)


def test_score_sweep_of_the_seed_chart(model, twos):
    scores = score_sweep(model, twos[9], TARGET, SEED_GRID, clip=None)
    assert scores.logits.shape == (101, 10) and scores.probabilities.shape == (101, 10)
    np.testing.assert_allclose(np.diff(scores.logits, n=2, axis=0), 0, atol=1e-9)  # unclipped: straight lines
    at_zero = scores.logits[50]
    np.testing.assert_allclose(at_zero, model.logits(twos[9]))
    # the target's line rises with eps and ends on top
    assert scores.logits[-1].argmax() == TARGET and scores.logits[-1, TARGET] > at_zero[TARGET]


def test_score_sweep_clipped_matches_fgsm(model, twos):
    scores = score_sweep(model, twos[0], TARGET, SEED_GRID)
    for k in (0, 30, 77, 100):
        expected = model.predict_proba(fgsm(model, twos[0], SEED_GRID[k], target=TARGET))
        np.testing.assert_allclose(scores.probabilities[k], expected, atol=1e-12)


@pytest.mark.parametrize(
    "grid, message", [([0.2, 0.1], "increasing"), ([], "non-empty"), ([0, np.inf], "finite"), ([0, 1.5], r"\[-1, 1\]")]
)
def test_bad_grids_are_refused(model, twos, grid, message):
    with pytest.raises(ValueError, match=message):
        success_curve(model, twos, TARGET, grid)
    with pytest.raises(ValueError, match=message):
        score_sweep(model, twos[0], TARGET, grid)


def test_score_sweep_takes_one_image(model, twos):
    with pytest.raises(ValueError, match="one image"):
        score_sweep(model, twos[:2], TARGET, SEED_GRID)


# --- all pairs ---------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def pairs(model, dataset):
    from core.sweep import pair_attacks

    return pair_attacks(model, dataset.x_test, dataset.y_test, eps=0.1)


def test_each_cell_of_the_pair_matrix_is_the_median_of_the_minimal_epsilons(model, dataset, pairs):
    from core.attack import minimal_epsilon
    from core.sweep import pair_matrix

    matrix = pair_matrix(model, dataset.x_test, dataset.y_test)
    np.testing.assert_array_equal(matrix, pairs.median)
    assert np.isnan(np.diag(matrix)).all() and not np.isnan(matrix[~np.eye(10, dtype=bool)]).any()
    for source in range(10):
        images = dataset.x_test[dataset.y_test == source]
        for target in range(10):
            if target != source:
                each = minimal_epsilon(model, images, target)
                assert matrix[source, target] == pytest.approx(np.median(each), rel=1e-12), (source, target)
                assert pairs.quantile(0.25)[source, target] == pytest.approx(np.quantile(each, 0.25), rel=1e-12)
    assert np.isinf(matrix).any()  # some digit is never made into a 1 for at least half its images
    assert (pairs.counts == 100).all()


@pytest.mark.parametrize("eps", [0.05, 0.1, 0.25])
def test_the_share_fooled_agrees_with_a_plain_loop_over_fgsm(model, dataset, eps):
    from core.sweep import pair_attacks

    share = pair_attacks(model, dataset.x_test[::4], dataset.y_test[::4], eps=eps).share
    for source in range(10):
        images = dataset.x_test[::4][dataset.y_test[::4] == source]
        for target in range(10):
            if target != source:
                said = [model.predict(fgsm(model, image, eps, target=target)) for image in images]
                assert share[source, target] == np.mean(np.array(said) == target), (source, target)
    assert np.isnan(np.diag(share)).all()


def test_pairs_without_an_epsilon_have_no_share(model, dataset):
    from core.sweep import pair_attacks

    with pytest.raises(ValueError, match="no epsilon"):
        _ = pair_attacks(model, dataset.x_test[:20], dataset.y_test[:20]).share


def test_pairs_over_shuffled_labels_and_untouched_pixels_match_each_target_alone(model, dataset):
    """The pairs walk groups images by label and prepares each block once for all nine targets: same answers."""
    from core.attack import minimal_epsilon
    from core.model import SoftmaxModel
    from core.sweep import pair_attacks

    W = model.W.copy()
    W[:, 300:340] = 0.0  # pixels no gradient touches: they never move, grey or not
    untouched = SoftmaxModel(W, model.b)
    rng = np.random.default_rng(7)
    order = rng.permutation(len(dataset.x_test))[:300]
    images, labels = dataset.x_test[order], dataset.y_test[order]
    images[:, 300:340] = 0.5
    minimal = pair_attacks(untouched, images, labels, clip=(0.0, 1.0)).minimal
    for target in range(10):
        others = labels != target
        np.testing.assert_allclose(
            minimal[others, target], minimal_epsilon(untouched, images[others], target), rtol=1e-12
        )
        assert np.isnan(minimal[~others, target]).all()


def test_the_grid_interval_of_each_stop_is_exactly_searchsorted():
    rng = np.random.default_rng(3)
    for trial in range(300):
        steps = np.linspace(rng.uniform(-1, 0.5), rng.uniform(0.6, 1), rng.integers(1, 400))
        if trial % 3 == 0:  # an uneven grid too
            steps = np.sort(rng.uniform(-1, 1, rng.integers(1, 50)))
        values = np.concatenate([rng.uniform(-1.5, 1.5, 500), steps, np.nextafter(steps, 2), np.nextafter(steps, -2)])
        expected = np.searchsorted(steps, values, side="left")
        np.testing.assert_array_equal(path.first_at_or_above(steps, values), expected)
