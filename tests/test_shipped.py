"""The weights that come with the app: rebuilt from the embedded digits, equal to the last bit, used honestly."""

import numpy as np
import pytest

from core.inputs.settings import TrainingSettings
from core.jobs import models as training_queue
from core.jobs import shipped
from core.jobs.models import ModelStore, Trainings, prefetch
from core.model import load_training

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


def test_the_first_visits_model_is_shipped():
    assert shipped.SHIPPED == (FIRST,)
    assert shipped.shipped_path(FIRST).is_file()


def test_the_shipped_weights_are_rebuilt_exactly_by_this_repository(tmp_path, training):
    (rebuilt,) = shipped.build(tmp_path)
    assert rebuilt.name == shipped.shipped_path(FIRST).name
    ours, theirs = load_training(rebuilt), load_training(shipped.shipped_path(FIRST))
    for name in ("W", "b"):
        assert getattr(ours.model, name).tobytes() == getattr(theirs.model, name).tobytes(), name
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
    assert ours.model.W.tobytes() == training.model.W.tobytes()  # the suite's own model is the same one


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
    assert retrained.model.W.tobytes() == shipped.load_shipped(FIRST).model.W.tobytes()
    assert store.get(FIRST) is retrained and not ModelStore(Trainings()).get(FIRST).shipped  # kept, on disk


def test_unreadable_shipped_weights_mean_a_training(monkeypatch, tmp_path, started, caplog):
    monkeypatch.setattr(shipped, "FOLDER", tmp_path)
    shipped.shipped_path(FIRST).write_bytes(b"not a training result")
    with caplog.at_level("WARNING", logger="adversarial_digits"):
        result = ModelStore(Trainings()).get(FIRST)
    assert not result.shipped and started == [FIRST] and "cannot be read" in caplog.text
    assert shipped.shipped_path(FIRST).read_bytes() == b"not a training result"  # never touched
