"""One contract, checked over every attack function the way scikit-learn checks every estimator.

- one image in gives one answer out, the same as that image's row of a batch (and a 28x28 image the same as 784);
- the inputs are never changed (they are passed read-only, and compared after);
- bad input (a wrong shape, a pixel outside [0, 1] or not a number, a digit outside 0-9) raises ``BadInput``.
"""

import numpy as np
import pytest

from core.attack import attack_direction, delta_prediction, fgsm, input_gradient, minimal_epsilon, pgd
from core.errors import BadInput
from core.exact import minimal_perturbation, optimal_epsilon, optimal_epsilon_lp, robust_radius, worst_case
from core.fewest import fewest_pixels
from core.norm_attacks import carlini_wagner, deepfool, sign_step_distance
from core.sweep import pair_attacks, robustness_curve, score_sweep, success_curve

GRID = np.linspace(0.0, 0.3, 7)

# name -> (call on images x, batch: whether it takes many images; digit: the argument that is a digit)
ATTACKS = {
    "fgsm targeted": (lambda m, x, d=6: fgsm(m, x, 0.1, target=d), True),
    "fgsm untargeted": (lambda m, x, d=2: fgsm(m, x, 0.1, labels=d), True),
    "fgsm unclipped": (lambda m, x, d=6: fgsm(m, x, 0.1, target=d, clip=None), True),
    "pgd": (lambda m, x, d=6: pgd(m, x, 0.1, target=d), True),
    "minimal_epsilon": (lambda m, x, d=6: minimal_epsilon(m, x, d), True),
    "minimal_epsilon unclipped": (lambda m, x, d=6: minimal_epsilon(m, x, d, clip=None), True),
    "attack_direction": (lambda m, x, d=6: attack_direction(m, x, d), True),
    "delta_prediction": (lambda m, x, d=6: delta_prediction(m, x, d), True),
    "input_gradient": (lambda m, x, d=2: input_gradient(m, x, d), True),
    "robust_radius": (lambda m, x, d=2: robust_radius(m, x, d), True),
    "robust_radius unclipped": (lambda m, x, d=2: robust_radius(m, x, d, clip=None), True),
    "optimal_epsilon": (lambda m, x, d=6: optimal_epsilon(m, x, d), True),
    "optimal_epsilon unclipped": (lambda m, x, d=6: optimal_epsilon(m, x, d, clip=None), True),
    "optimal_epsilon_lp": (lambda m, x, d=6: optimal_epsilon_lp(m, x, d), False),
    "minimal_perturbation L2": (lambda m, x, d=6: minimal_perturbation(m, x, d, norm=2), True),
    "minimal_perturbation L1": (lambda m, x, d=6: minimal_perturbation(m, x, d, norm=1), True),
    "minimal_perturbation L1 unclipped": (lambda m, x, d=6: minimal_perturbation(m, x, d, norm=1, clip=None), True),
    "minimal_perturbation Linf": (lambda m, x, d=6: minimal_perturbation(m, x, d, norm=np.inf), True),
    "deepfool": (lambda m, x, d=6: deepfool(m, x, d), True),
    "carlini_wagner": (lambda m, x, d=6: carlini_wagner(m, x, d, searches=2, steps=20), True),
    "sign_step_distance": (lambda m, x, d=6: sign_step_distance(m, x, d, norm=2), True),
    "fewest_pixels": (lambda m, x, d=6: fewest_pixels(m, x, d, time_limit=20), False),
    "worst_case": (lambda m, x, d=2: worst_case(m, x, d, 0.05), False),
    "score_sweep": (lambda m, x, d=6: score_sweep(m, x, d, GRID).logits, False),
    "success_curve": (lambda m, x, d=6: success_curve(m, x, d, GRID).fooled_share, True),
    "robustness_curve": (lambda m, x, d=2: robustness_curve(m, x, d, GRID, pgd_grid=[0.0, 0.1]).worst, True),
    "pair_attacks": (lambda m, x, d=2: pair_attacks(m, x, d, eps=0.1).minimal, True),
}
PER_IMAGE = {"success_curve", "robustness_curve"}  # answers about a set of images, not one per image
SETS = {"pair_attacks"}  # a labelled set of images: one image is a set of one, one row of ten targets


def as_arrays(result):
    return [np.asarray(part) for part in (result if isinstance(result, tuple) else (result,))]


def frozen(array: np.ndarray) -> np.ndarray:
    array = array.copy()
    array.flags.writeable = False
    return array


@pytest.fixture(scope="module")
def images(twos):
    return twos[:3]


@pytest.mark.parametrize("name", list(ATTACKS))
def test_one_image_in_gives_one_answer_and_the_inputs_stay_as_they_were(name, model, images):
    call, batch = ATTACKS[name]
    before = images.copy()
    W, b = model.W.copy(), model.b.copy()
    one = call(model, frozen(images[0]))
    square = call(model, frozen(images[0].reshape(28, 28)))
    for single, shaped in zip(as_arrays(one), as_arrays(square)):
        np.testing.assert_array_equal(single, shaped)
        if name in SETS:
            assert single.shape == (1, 10)
        else:
            assert single.ndim <= 1 or name == "score_sweep", (name, single.shape)  # never a batch of one
    if batch:
        many = call(model, frozen(images))
        if name not in PER_IMAGE:
            for single, rows in zip(as_arrays(one), as_arrays(many)):
                assert len(rows) == len(images)
                np.testing.assert_allclose(rows[0], single[0] if name in SETS else single, rtol=0, atol=1e-12)
    np.testing.assert_array_equal(images, before)
    np.testing.assert_array_equal(model.W, W)
    np.testing.assert_array_equal(model.b, b)


def bad_images(image: np.ndarray) -> dict:
    nan, bright = image.copy(), image.copy()
    nan[100], bright[100] = np.nan, 2.0
    return {
        "783 pixels": image[:-1],
        "a NaN pixel": nan,
        "a pixel at 2": bright,
        "text": np.array(["a"] * 784),
        "three dimensions": image.reshape(1, 1, 784),
    }


@pytest.mark.parametrize("name", list(ATTACKS))
def test_bad_input_raises_a_named_error(name, model, images):
    call, _ = ATTACKS[name]
    for problem, x in bad_images(images[0]).items():
        if "unclipped" in name and problem == "a pixel at 2":
            continue  # unclipped attacks take any finite pixels: their own iterates leave [0, 1]
        with pytest.raises(BadInput):
            call(model, x)
            pytest.fail(f"{name} took {problem}")
    for digit in (10, -1, "six", 2.5):
        with pytest.raises(BadInput):
            call(model, images[0], digit)
            pytest.fail(f"{name} took the digit {digit!r}")
