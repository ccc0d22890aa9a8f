"""The weights that come with the app: rebuilt from the embedded digits, the same model, used honestly.

Bit for bit with the numpy and scikit-learn that made them; a newer release may add float32 sums in another
order, so the weights are compared to float32 precision and everything they decide (every epoch's accuracies,
the confusion matrix, every test digit's answer) exactly."""

import numpy as np
import pytest

from core.inputs.settings import TrainingSettings
from core.jobs import models as training_queue
from core.jobs import robustness, shipped
from core.jobs.models import ModelStore, Trainings, prefetch
from core.model import load_training
from dashboard import results
from dashboard.view import NETWORK_SIZES, View

FIRST = TrainingSettings.first_visit()


@pytest.fixture(autouse=True)
def own_home(tmp_path, monkeypatch):
    monkeypatch.setenv("ADVERSARIAL_DIGITS_HOME", str(tmp_path / "home"))
    monkeypatch.delenv("ADVERSARIAL_DIGITS_DATASET", raising=False)


@pytest.fixture
def started(monkeypatch):
    children = []
    real = training_queue.start_child

    def start(settings, path):
        children.append(settings)
        return real(settings, path)

    monkeypatch.setattr(training_queue, "start_child", start)
    return children


def test_every_first_visits_model_is_shipped():
    """The linear model, the defended ones at the sidebar's default strengths, the network at every size offered."""
    view = View()
    wanted = {FIRST, view.defended, view.with_(defense="l1").training} | {
        view.network.network(h) for h in NETWORK_SIZES
    }
    assert set(shipped.SHIPPED) == wanted
    assert all(shipped.shipped_path(settings).is_file() for settings in shipped.SHIPPED)
    weights = {shipped.shipped_path(s) for s in wanted}
    tables = {robustness.table_path(s) for s in wanted if s.hidden or s == FIRST}  # the tables beside them
    assert {p for p in shipped.FOLDER.iterdir()} == weights | tables


@pytest.fixture(scope="module")
def rebuilt(tmp_path_factory):
    """A shipped model trained again here when a test first asks for it, as ``python -m core.jobs.shipped`` does
    (the inner loop's tier rebuilds the first visit's model alone; the slow tests rebuild the others)."""
    folder, built = tmp_path_factory.mktemp("rebuilt"), {}

    def rebuild(settings: TrainingSettings):
        if settings not in built:
            [path] = shipped.build(folder, (settings,))
            assert path.name == shipped.shipped_path(settings).name
            built[settings] = load_training(path)
        return built[settings]

    return rebuild


@pytest.mark.parametrize("settings", shipped.SHIPPED[1:], ids=lambda s: s.file_key())
def test_the_other_shipped_models_are_rebuilt_by_this_repository(rebuilt, settings, dataset):
    """The defended models and the networks: the same weights to float32 precision, the same answers."""
    ours, theirs = rebuilt(settings), load_training(shipped.shipped_path(settings))
    assert ours.model.weights.keys() == theirs.model.weights.keys()
    for name, weights in ours.model.weights.items():
        np.testing.assert_allclose(weights, theirs.model.weights[name], rtol=0, atol=1e-5, err_msg=name)
    np.testing.assert_array_equal(ours.model.predict(dataset.x_test), theirs.model.predict(dataset.x_test))
    assert [e.test_accuracy for e in ours.history] == [e.test_accuracy for e in theirs.history]
    assert results.shipped_gap(ours, settings) <= 1e-5


def test_the_shipped_weights_are_rebuilt_by_this_repository(rebuilt, training, dataset):
    ours, theirs = rebuilt(FIRST), load_training(shipped.shipped_path(FIRST))
    for name in ("W", "b"):
        np.testing.assert_allclose(getattr(ours.model, name), getattr(theirs.model, name), rtol=0, atol=1e-6)
    for mine, shipped_epoch in zip(ours.history, theirs.history, strict=True):  # every epoch's accuracies, exactly
        assert (mine.epoch, mine.train_accuracy, mine.test_accuracy) == (
            shipped_epoch.epoch,
            shipped_epoch.train_accuracy,
            shipped_epoch.test_accuracy,
        )
        # scikit-learn reports the loss from float32 sums, whose order numpy versions change: to float32 precision
        assert mine.loss == pytest.approx(shipped_epoch.loss, rel=1e-6)
    np.testing.assert_array_equal(ours.confusion, theirs.confusion)
    np.testing.assert_array_equal(ours.per_class_accuracy, theirs.per_class_accuracy)
    images = dataset.x_test
    np.testing.assert_array_equal(ours.model.predict(images), theirs.model.predict(images))
    assert ours.model.W.tobytes() == training.model.W.tobytes()  # the suite's own model is the same one
    assert results.shipped_gap(ours, FIRST) <= results.SAME_IN_FLOAT32


def test_a_fresh_server_uses_the_shipped_weights_without_training(started):
    prefetch(FIRST)
    result = ModelStore(Trainings()).get(FIRST)
    assert result.shipped and not started
    assert not FIRST.model_path().exists()  # nothing claimed as trained here


def test_retraining_gives_the_same_weights_and_is_kept(started):
    store = ModelStore(Trainings())
    retrained = store.retrain(FIRST)
    assert started == [FIRST] and not retrained.shipped
    assert retrained.model.W.tobytes() == store.load_saved(FIRST).model.W.tobytes()
    np.testing.assert_allclose(retrained.model.W, shipped.load_shipped(FIRST).model.W, rtol=0, atol=1e-6)
    assert store.get(FIRST) is retrained and not ModelStore(Trainings()).get(FIRST).shipped  # kept, on disk


def test_unreadable_shipped_weights_mean_a_training(monkeypatch, tmp_path, started, caplog):
    monkeypatch.setattr(shipped, "FOLDER", tmp_path)
    shipped.shipped_path(FIRST).write_bytes(b"not a training result")
    with caplog.at_level("WARNING", logger="adversarial_digits"):
        result = ModelStore(Trainings()).get(FIRST)
    assert not result.shipped and started == [FIRST] and "cannot be read" in caplog.text
    assert shipped.shipped_path(FIRST).read_bytes() == b"not a training result"  # never touched
