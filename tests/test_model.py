import numpy as np
import pytest

from core.model import SoftmaxModel, cross_entropy
from core.training import _softmax_regression_sgd, train_softmax


def test_seed_recipe_reaches_the_expected_accuracy(training, dataset):
    assert training.solver == "sgd"
    assert training.test_accuracy >= 0.87
    assert len(training.history) == 25
    assert [h.epoch for h in training.history] == list(range(1, 26))
    losses = [h.loss for h in training.history]
    assert losses[0] < np.log(10)  # started from zero weights: loss ln 10 before the first step
    assert losses[-1] < 0.5 * losses[0]
    assert training.test_accuracy == pytest.approx(np.mean(training.model.predict(dataset.x_test) == dataset.y_test))


def test_sgd_is_softmax_regression_without_hidden_layer(dataset):
    classifier = _softmax_regression_sgd(learning_rate=0.05, batch_size=100, seed=0)
    classifier.partial_fit(dataset.x_train, dataset.y_train, classes=np.arange(10))
    assert classifier.n_layers_ == 2  # input and output, nothing between
    assert len(classifier.coefs_) == 1 and classifier.coefs_[0].shape == (784, 10)
    assert classifier.out_activation_ == "softmax"
    model = SoftmaxModel(classifier.coefs_[0].T, classifier.intercepts_[0])
    np.testing.assert_allclose(model.predict_proba(dataset.x_test), classifier.predict_proba(dataset.x_test), atol=1e-5)


def test_weights_start_at_zero_so_never_inked_pixels_stay_zero(training, dataset):
    never_inked = dataset.x_train.max(axis=0) == 0
    assert never_inked.sum() > 50
    assert np.all(training.model.W[:, never_inked] == 0)


def test_training_is_deterministic_for_a_seed(dataset):
    first = train_softmax(dataset, epochs=3, seed=7)
    second = train_softmax(dataset, epochs=3, seed=7)
    other = train_softmax(dataset, epochs=3, seed=8)
    assert np.array_equal(first.model.W, second.model.W)
    assert not np.array_equal(first.model.W, other.model.W)


def test_on_epoch_reports_progress(dataset):
    calls = []
    result = train_softmax(
        dataset, epochs=4, on_epoch=lambda epoch, total, metrics: calls.append((epoch, total, metrics))
    )
    assert [(epoch, total) for epoch, total, _ in calls] == [(1, 4), (2, 4), (3, 4), (4, 4)]
    last = calls[-1][2]  # what the last report says is what the final model does, computed here independently
    predicted = np.argmax(dataset.x_test @ result.model.W.T + result.model.b, axis=1)
    assert last.test_accuracy == np.mean(predicted == dataset.y_test)
    assert [m.loss for *_, m in calls] == sorted((m.loss for *_, m in calls), reverse=True)  # it learns


@pytest.mark.parametrize(
    "settings, message",
    [
        ({"epochs": 0}, "epochs must be a whole number from 1 to 100"),
        ({"epochs": 101}, "epochs must be a whole number from 1 to 100"),
        ({"learning_rate": float("nan")}, "learning_rate must be a number"),
        ({"batch_size": 2.5}, "batch_size must be a whole number"),
        ({"solver": "adam"}, "solver must be one of"),
    ],
)
def test_settings_outside_the_bounds_are_refused_by_name(dataset, settings, message):
    with pytest.raises(ValueError, match=message):
        train_softmax(dataset, **settings)


def test_lbfgs_converges_to_a_good_optimum(dataset):
    result = train_softmax(dataset, solver="lbfgs", epochs=10, C=0.1)
    assert result.test_accuracy >= 0.87
    assert len(result.history) == 1
    assert result.history[0].loss == pytest.approx(cross_entropy(result.model, dataset.x_train, dataset.y_train))


def test_metrics_agree_with_each_other(training, dataset):
    assert training.confusion.sum() == dataset.n_test
    assert training.confusion.trace() / dataset.n_test == pytest.approx(training.test_accuracy)
    np.testing.assert_allclose(training.per_class_accuracy, np.diag(training.confusion) / 100)
    assert training.seconds > 0


def test_model_is_immutable(model):
    with pytest.raises(ValueError):
        model.W[0, 0] = 1.0
    with pytest.raises(AttributeError):
        model.W = np.zeros((10, 784))


def test_prediction_shapes(model, dataset):
    x = dataset.x_test[:5]
    assert model.logits(x).shape == (5, 10)
    assert model.logits(x[0]).shape == (10,)
    np.testing.assert_allclose(model.predict_proba(x).sum(axis=1), 1.0)
    assert model.predict(x[0]) == model.predict(x)[0]


@pytest.mark.parametrize(
    "settings, message",
    [
        ({"solver": "adam"}, "solver"),
        ({"epochs": 0}, "epochs"),
        ({"epochs": 2.5}, "epochs"),
        ({"learning_rate": -1.0}, "learning_rate"),
        ({"learning_rate": float("nan")}, "learning_rate"),
        ({"batch_size": 0}, "batch_size"),
        ({"C": 0}, "C"),
    ],
)
def test_bad_hyperparameters_are_refused(dataset, settings, message):
    with pytest.raises(ValueError, match=message):
        train_softmax(dataset, **settings)


def test_bad_weights_are_refused():
    with pytest.raises(ValueError, match="W must be"):
        SoftmaxModel(np.zeros((10, 10)), np.zeros(10))


def test_save_and_load_round_trip(training, tmp_path):
    from core.model import load_training, save_training

    save_training(training, tmp_path / "model.npz")
    again = load_training(tmp_path / "model.npz")
    np.testing.assert_array_equal(again.model.W, training.model.W)
    assert again.history == training.history and again.test_accuracy == training.test_accuracy
    np.testing.assert_array_equal(again.confusion, training.confusion)
    (tmp_path / "bad.npz").write_bytes(b"garbage")
    with pytest.raises(ValueError, match="not a saved training result"):
        load_training(tmp_path / "bad.npz")
