"""The defenses: the worst case they train on is exact, their gradient is right, and they buy certified accuracy."""

import numpy as np
import pytest

from core.attack import fgsm
from core.defense import loss_and_gradient, worst_case_inputs, worst_case_logits
from core.exact import clipped_sign_step, robust_radius
from core.inputs.settings import TrainingSettings
from core.model import SoftmaxModel
from core.training import train_softmax

EPS = 0.1


def two_class_model(model: SoftmaxModel, y: int, j: int) -> SoftmaxModel:
    """The model of ``y`` against ``j`` alone: every other class made a copy of ``y``."""
    W, b = np.repeat(model.W[[y]], 10, axis=0), np.repeat(model.b[[y]], 10)
    W[j], b[j] = model.W[j], model.b[j]
    return SoftmaxModel(W, b)


def test_the_worst_case_against_each_rival_is_the_gradient_sign_attack_on_the_two_class_model(model, dataset):
    images, labels = dataset.x_test[:40].astype(np.float64), dataset.y_test[:40]
    inputs = worst_case_inputs(model, images, labels, EPS)
    for i in range(0, 40, 7):
        y = labels[i]
        np.testing.assert_array_equal(inputs[i, y], images[i])
        for j in range(10):
            if j != y:
                attacked = fgsm(two_class_model(model, y, j), images[i], EPS, target=j)
                np.testing.assert_allclose(inputs[i, j], attacked, atol=1e-12)
                step = clipped_sign_step(images[i], model.W[j] - model.W[y], EPS, (0.0, 1.0))
                np.testing.assert_allclose(inputs[i, j], images[i] + step, atol=1e-12)


def test_worst_case_logits_are_the_leads_at_those_inputs_and_no_perturbation_beats_them(model, dataset):
    images, labels = dataset.x_test[:30].astype(np.float64), dataset.y_test[:30]
    worst = worst_case_logits(model, images, labels, EPS)
    inputs = worst_case_inputs(model, images, labels, EPS)
    rng = np.random.default_rng(0)
    for i in range(30):
        y = labels[i]
        at = model.logits(inputs[i])  # (10, 10): the logits at the worst case against each rival
        lead = at[np.arange(10), np.arange(10)] - at[:, y]
        np.testing.assert_allclose(worst[i] - worst[i, y], lead, atol=1e-9)
        # random perturbations in the box (many at its corners) never give a rival more
        delta = rng.choice([-EPS, 0.0, EPS], size=(300, 784)) * rng.random((300, 1)) ** 0.2
        tried = model.logits(np.clip(images[i] + delta, 0, 1))
        assert ((tried - tried[:, [y]]).max(axis=0) <= worst[i] - worst[i, y] + 1e-9).all()


def test_winning_the_worst_case_logits_is_being_certified(model, dataset):
    worst = worst_case_logits(model, dataset.x_test, dataset.y_test, EPS)
    own = worst[np.arange(len(worst)), dataset.y_test]
    rivals = worst.copy()
    rivals[np.arange(len(worst)), dataset.y_test] = -np.inf
    certified = own > rivals.max(axis=1)
    radius = robust_radius(model, dataset.x_test, dataset.y_test)
    np.testing.assert_array_equal(certified, radius > EPS)
    assert 0.3 < certified.mean() < 0.7


def test_the_training_loss_is_the_clean_loss_plus_the_loss_at_the_worst_case_logits(model, dataset):
    from core.model import cross_entropy, softmax

    images, labels = dataset.x_train[:200].astype(np.float64), dataset.y_train[:200]
    clean = loss_and_gradient(model.W.copy(), model.b.copy(), images, labels, 0.0)[0]
    both = loss_and_gradient(model.W.copy(), model.b.copy(), images, labels, EPS)[0]
    worst = softmax(worst_case_logits(model, images, labels, EPS))
    assert clean == pytest.approx(cross_entropy(model, images, labels), rel=1e-12)
    assert both - clean == pytest.approx(-np.mean(np.log(worst[np.arange(200), labels])), rel=1e-12)


@pytest.mark.parametrize("eps", [0.0, 0.1, 0.25])
def test_the_training_gradient_matches_finite_differences(dataset, eps):
    rng = np.random.default_rng(1)
    W, b = rng.normal(0, 0.05, (10, 784)), rng.normal(0, 0.1, 10)
    images, labels = dataset.x_train[:64].astype(np.float64), dataset.y_train[:64]
    _, grad_W, grad_b = loss_and_gradient(W, b, images, labels, eps)
    for _ in range(4):
        dW, db = rng.normal(size=W.shape), rng.normal(size=b.shape)
        h = 1e-6
        up = loss_and_gradient(W + h * dW, b + h * db, images, labels, eps)[0]
        down = loss_and_gradient(W - h * dW, b - h * db, images, labels, eps)[0]
        assert (up - down) / (2 * h) == pytest.approx(np.sum(grad_W * dW) + np.sum(grad_b * db), rel=1e-5)


@pytest.fixture(scope="module")
def defended(dataset):
    return train_softmax(dataset, adversarial_eps=EPS)


def test_adversarial_training_buys_certified_accuracy_at_its_epsilon(dataset, model, defended):
    normal = (robust_radius(model, dataset.x_test, dataset.y_test) > EPS).mean()
    robust = (robust_radius(defended.model, dataset.x_test, dataset.y_test) > EPS).mean()
    assert robust >= normal + 0.10, (normal, robust)
    assert robust >= 0.65 and defended.test_accuracy >= 0.87, (robust, defended.test_accuracy)
    assert len(defended.history) == TrainingSettings().epochs


def test_l1_weight_decay_shrinks_the_weights_to_exact_zeros(dataset, model):
    decayed = train_softmax(dataset, l1=1e-3, epochs=10).model
    assert np.abs(decayed.W).sum() < 0.5 * np.abs(model.W).sum()
    assert (decayed.W == 0).mean() > (model.W == 0).mean() + 0.1


def test_defended_training_is_deterministic_and_reports_each_epoch(dataset):
    seen = []
    first = train_softmax(dataset, adversarial_eps=0.05, l1=1e-4, epochs=3, on_epoch=lambda *a: seen.append(a[:2]))
    again = train_softmax(dataset, adversarial_eps=0.05, l1=1e-4, epochs=3)
    np.testing.assert_array_equal(first.model.W, again.model.W)
    assert seen == [(1, 3), (2, 3), (3, 3)]


def test_defense_settings_are_checked_and_keyed():
    plain = TrainingSettings()
    assert plain.file_key() == "ec1350b9a555791fb025"  # no defense: the key models were saved under before defenses
    assert TrainingSettings(adversarial_eps=0.1).file_key() != plain.file_key()
    assert TrainingSettings(l1=1e-3).file_key() != TrainingSettings(adversarial_eps=1e-3).file_key()
    assert TrainingSettings(adversarial_eps=0.1, l1=1e-3).undefended() == plain
    with pytest.raises(ValueError, match="sgd"):
        TrainingSettings(solver="lbfgs", l1=1e-3).check()
    with pytest.raises(ValueError, match="adversarial_eps"):
        TrainingSettings(adversarial_eps=0.5).check()
    with pytest.raises(ValueError, match="l1"):
        TrainingSettings(l1=-1.0).check()


def test_strengths_snap_in_the_settings_themselves():
    from core.inputs.settings import L1_STEPS, TrainingSettings

    assert TrainingSettings(adversarial_eps=0.1234).normalized().adversarial_eps == 0.12
    assert TrainingSettings(adversarial_eps=0.001).normalized().adversarial_eps == 0.01  # a defense stays a defense
    assert TrainingSettings(l1=2.5e-4).normalized().l1 == 2e-4 and TrainingSettings(l1=4e-4).normalized().l1 == 5e-4
    assert TrainingSettings().normalized() == TrainingSettings()  # no defense: the key of every existing model
    assert (
        TrainingSettings(adversarial_eps=0.1).normalized().file_key()
        == TrainingSettings(adversarial_eps=0.1).file_key()
    )
    assert len(L1_STEPS) == 10 and all(TrainingSettings(l1=s).normalized().l1 == s for s in L1_STEPS)
