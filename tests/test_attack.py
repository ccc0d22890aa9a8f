import numpy as np
import pytest

from core.attack import attack_direction, delta_prediction, fgsm, input_gradient, minimal_epsilon, pgd
from dashboard.view import snap_eps

TARGET = 6


def cross_entropy_of(model, x, label):
    z = model.W @ x + model.b
    z = z - z.max()
    return np.log(np.exp(z).sum()) - z[label]


@pytest.mark.parametrize("label", [2, 6])
def test_gradient_equals_central_finite_differences(model, twos, label):
    x = twos[3]
    analytic = input_gradient(model, x, label)
    h = 1e-6
    numeric = np.empty(784)
    for i in range(784):
        up, down = x.copy(), x.copy()
        up[i] += h
        down[i] -= h
        numeric[i] = (cross_entropy_of(model, up, label) - cross_entropy_of(model, down, label)) / (2 * h)
    relative = np.linalg.norm(analytic - numeric) / np.linalg.norm(numeric)
    assert relative < 1e-4


def test_gradient_is_one_row_per_image(model, twos):
    gradients = input_gradient(model, twos[:4], [2, 6, 0, 9])
    assert gradients.shape == (4, 784)
    np.testing.assert_allclose(gradients[1], input_gradient(model, twos[1], 6))


def test_targeted_fgsm_formula_and_no_mutation(model, twos):
    x = twos[:5].copy()
    before = x.copy()
    adversarial = fgsm(model, x, 0.1, target=TARGET)
    assert np.array_equal(x, before)
    expected = np.clip(x - 0.1 * np.sign(input_gradient(model, x, TARGET)), 0, 1)
    np.testing.assert_allclose(adversarial, expected)
    assert adversarial.dtype == np.float64 and adversarial.min() >= 0 and adversarial.max() <= 1


def test_unclipped_fgsm_reproduces_the_seed(model, twos):
    adversarial = fgsm(model, twos[:3], 0.3, target=TARGET, clip=None)
    np.testing.assert_allclose(adversarial, twos[:3] - 0.3 * np.sign(input_gradient(model, twos[:3], TARGET)))
    assert adversarial.min() < 0  # pixels left [0, 1]


def test_untargeted_fgsm_moves_away_from_the_label(model, twos):
    adversarial = fgsm(model, twos, 0.25, labels=2)
    assert np.mean(model.predict(adversarial) != 2) > 0.9
    np.testing.assert_allclose(fgsm(model, twos[:4], 0.1), fgsm(model, twos[:4], 0.1, labels=model.predict(twos[:4])))


def test_per_image_eps_and_float32_input(model, dataset):
    x = dataset.x_test[dataset.test_indices(2)[:3]]
    adversarial = fgsm(model, x, np.array([0.0, 0.1, 0.2]), target=TARGET)
    assert adversarial.dtype == np.float32 and adversarial.shape == (3, 784)
    assert np.array_equal(adversarial[0], x[0])
    assert fgsm(model, x[0], 0.1, target=TARGET).shape == (784,)


@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({"eps": 1.5}, "eps must lie in"),
        ({"eps": float("nan")}, "finite"),
        ({"eps": [0.1, 0.2]}, "one value per image"),
        ({"eps": 0.1, "target": 10}, "target must be a digit"),
        ({"eps": 0.1, "clip": (0.2, 0.8)}, "clip must contain"),
        ({"eps": 0.1, "clip": (1, 0)}, "low < high"),
    ],
)
def test_fgsm_refuses_bad_parameters(model, twos, kwargs, message):
    with pytest.raises(ValueError, match=message):
        fgsm(model, twos[:3], **({"target": TARGET} | kwargs))


@pytest.mark.parametrize(
    "x, message",
    [(np.zeros((2, 100)), "784 pixels"), (np.full(784, 2.0), r"\[0, 1\]"), (np.full(784, np.nan), "finite")],
)
def test_images_are_validated(model, x, message):
    with pytest.raises(ValueError, match=message):
        fgsm(model, x, 0.1, target=TARGET)


def brute_force_check(model, images, minimal, clip, step=1e-3):
    """Every grid eps below the minimal one fails; just above it the model says TARGET."""
    grid = np.arange(0.0, 1.0 + step / 2, step)
    for x, eps in zip(images, minimal):
        path = fgsm(model, np.repeat(x[None], len(grid), axis=0), grid, target=TARGET, clip=clip)
        fooled = model.predict(path) == TARGET
        if np.isinf(eps):
            assert not fooled.any()
            continue
        assert not fooled[grid < eps - 1e-12].any()
        just_above = fgsm(model, x, min(eps + 1e-7, 1.0), target=TARGET, clip=clip)
        assert model.predict(just_above) == TARGET


@pytest.mark.parametrize("clip", [(0.0, 1.0), None])
def test_minimal_epsilon_agrees_with_a_brute_force_grid(model, twos, clip):
    minimal = minimal_epsilon(model, twos, TARGET, clip=clip)
    assert minimal.shape == (100,)
    assert np.isfinite(minimal).mean() > 0.95
    brute_force_check(model, twos, minimal, clip)


def test_minimal_epsilon_is_at_a_tie(model, twos):
    """At the exact minimal epsilon the target ties with the best other class."""
    minimal = minimal_epsilon(model, twos[:20], TARGET)
    for x, eps in zip(twos[:20], minimal):
        z = model.logits(fgsm(model, x, eps, target=TARGET))
        assert z[TARGET] == pytest.approx(np.delete(z, TARGET).max(), abs=1e-9)


def test_minimal_epsilon_is_zero_for_images_already_classified_as_target(model, dataset):
    sixes = dataset.x_test[dataset.test_indices(TARGET)]
    minimal = minimal_epsilon(model, sixes, TARGET)
    np.testing.assert_array_equal(minimal == 0, model.predict(sixes) == TARGET)


def test_minimal_epsilon_max_eps_and_single_image(model, twos):
    minimal = minimal_epsilon(model, twos[:10], TARGET)
    capped = minimal_epsilon(model, twos[:10], TARGET, max_eps=float(np.median(minimal)))
    assert np.array_equal(np.isinf(capped), minimal > np.median(minimal))
    assert isinstance(minimal_epsilon(model, twos[0], TARGET), float)
    with pytest.raises(ValueError, match="max_eps"):
        minimal_epsilon(model, twos[0], TARGET, max_eps=-1)


def test_direction_and_its_class(model, twos):
    direction = attack_direction(model, twos[:10], TARGET)
    assert set(np.unique(direction)) <= {-1.0, 0.0, 1.0}
    predicted = delta_prediction(model, twos[:10], TARGET)
    assert predicted.shape == (10,)
    assert np.mean(predicted == TARGET) >= 0.8  # the perturbation alone already looks like a 6 to the model


def test_no_images_is_no_work(model):
    assert minimal_epsilon(model, np.zeros((0, 784)), TARGET).shape == (0,)


def test_minimal_epsilon_does_not_depend_on_how_images_are_grouped(model, dataset):
    images = dataset.x_test[:300]  # more than one block, images of every digit (different numbers of grey pixels)
    together = minimal_epsilon(model, images, TARGET)
    alone = np.array([minimal_epsilon(model, image, TARGET) for image in images])
    np.testing.assert_array_equal(np.isinf(together), np.isinf(alone))
    np.testing.assert_allclose(together, alone, rtol=1e-12, atol=1e-15)  # a block's W x rounds a little differently
    assert np.isfinite(together).sum() > 200


def test_pgd_keeping_its_best_iterate_is_never_worse_than_the_sign_step(model, twos, minimal_twos):
    """Plain PGD's steps overshoot and come back: at the sign step's own ε it can fail where the sign step fools
    (the lab showed it). Started from the sign step and keeping its best iterate, it never does worse."""
    eps = np.array([snap_eps(m) for m in minimal_twos[np.isfinite(minimal_twos)]])
    images = twos[np.isfinite(minimal_twos)]
    sign_step = fgsm(model, images, eps, target=6)
    plain = pgd(model, images, eps, target=6)
    best = pgd(model, images, eps, target=6, keep_best=True)

    def lead(points):
        z = model.logits(points)
        return z[:, 6] - np.delete(z, 6, axis=1).max(axis=1)

    assert (model.predict(sign_step) == 6).all()  # just past each image's exact minimal ε
    assert (model.predict(plain) != 6).any()  # the surprise the lab showed
    assert (model.predict(best) == 6).all()
    assert (lead(best) >= lead(sign_step) - 1e-9).all()
    assert (np.abs(best - images) <= eps[:, None] + 1e-6).all() and best.min() >= 0 and best.max() <= 1
    labels = np.full(len(images), 2)
    untargeted = pgd(model, images, 0.1, labels=labels, keep_best=True)
    z, z0 = model.logits(untargeted), model.logits(fgsm(model, images, 0.1, labels=labels))
    rival = lambda z: np.delete(z, 2, axis=1).max(axis=1) - z[:, 2]  # noqa: E731
    assert (rival(z) >= rival(z0) - 1e-9).all()
