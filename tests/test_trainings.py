"""Trainings as jobs: shared trainings, a bounded number at once, abandoned ones stopped, damaged files set aside."""

import os
import signal
import threading
import time

import numpy as np
import pytest

from core.errors import TrainingFailed
from core.inputs.settings import TrainingSettings
from core.jobs import models as training_queue
from core.jobs.models import ModelStore, Trainings
from core.model import save_training
from core.training import train_softmax
from tests.waiting import soon

LONG = 100  # epochs: several seconds on the embedded data, long enough to be caught running


@pytest.fixture(autouse=True)
def own_home(tmp_path, monkeypatch):
    monkeypatch.setenv("ADVERSARIAL_DIGITS_HOME", str(tmp_path))


@pytest.fixture
def started(monkeypatch):
    """The child processes the queue starts, in order."""
    children = []
    real = training_queue.start_child

    def start(settings, path):
        child = real(settings, path)
        children.append(child)
        return child

    monkeypatch.setattr(training_queue, "start_child", start)
    return children


@pytest.fixture
def queue():
    trainings = Trainings(grace=0.3)
    yield trainings
    trainings.stop_all()


def reaped(child, timeout: float = 10.0) -> bool:
    """Whether the child process has ended and been collected (no zombie left behind)."""
    return soon(lambda: child.returncode is not None and not os.path.exists(f"/proc/{child.pid}"), timeout)


def in_thread(function, *args):
    outcome = {}

    def run():
        try:
            outcome["result"] = function(*args)
        except Exception as error:  # noqa: BLE001 - handed to the test
            outcome["error"] = error

    thread = threading.Thread(target=run)
    thread.start()
    return thread, outcome


def test_training_in_a_child_process_equals_training_here(queue, dataset, tmp_path):
    from threadpoolctl import threadpool_limits

    statuses = []
    result = queue.train(TrainingSettings(epochs=3, seed=4), statuses.append, poll=0.01)
    with threadpool_limits(limits=1, user_api="blas"):  # as the child: one BLAS thread, the same sums
        here = train_softmax(dataset, epochs=3, seed=4)
    np.testing.assert_array_equal(result.model.W, here.model.W)  # deterministic for a seed, in any process
    epochs = [s.epoch for s in statuses]
    assert epochs == sorted(epochs) and set(epochs) <= {0, 1, 2, 3}
    assert TrainingSettings(epochs=3, seed=4).model_path().parent == tmp_path / "models"


def test_each_training_is_forked_by_one_process_and_takes_on_the_askers_environment(started, tmp_path, monkeypatch):
    """Every training is a child of the one forking process (scikit-learn imported once, not once per training),
    and each takes on what a child started here would have: this process's environment (here: a models folder
    that did not exist when the forking process started) and its CPU affinity."""
    queue = Trainings(grace=0.3)
    try:
        first = queue.train(TrainingSettings(epochs=1, seed=31))
        monkeypatch.setenv("ADVERSARIAL_DIGITS_HOME", str(tmp_path / "elsewhere"))
        cores = os.sched_getaffinity(0)
        os.sched_setaffinity(0, {min(cores)})
        try:
            seen = {}

            def look(status):
                if len(started) < 2 or "parent" in seen:
                    return
                pid = started[1].pid
                seen.setdefault("cpus", os.sched_getaffinity(pid))
                seen.setdefault("parent", int(open(f"/proc/{pid}/status").read().split("PPid:")[1].split()[0]))

            second = queue.train(TrainingSettings(epochs=LONG, seed=31), look, poll=0.01)
        finally:
            os.sched_setaffinity(0, cores)
    finally:
        queue.stop_all()
    assert len(first.history) == 1 and len(second.history) == LONG
    forker = open(f"/proc/{seen['parent']}/cmdline", "rb").read()
    assert b"core.jobs.training_forker" in forker and seen["parent"] != os.getpid()
    assert seen["cpus"] == {min(cores)}
    assert (tmp_path / "elsewhere" / "models" / TrainingSettings(epochs=LONG, seed=31).model_path().name).exists()
    assert [child.returncode for child in started] == [0, 0]


def test_everyone_asking_for_the_same_settings_shares_one_training(queue, started):
    settings = TrainingSettings(epochs=8, seed=5)
    runs = [in_thread(queue.train, settings) for _ in range(4)]
    for thread, _ in runs:
        thread.join(60)
    results = [outcome["result"] for _, outcome in runs]
    assert len(started) == 1
    assert all(r.model.W.tobytes() == results[0].model.W.tobytes() for r in results)
    assert queue.train(settings) is not None and len(started) == 1  # saved now: nothing more starts


def test_an_abandoned_training_is_stopped_and_reaped(queue, started):
    settings = TrainingSettings(epochs=LONG, seed=6)

    class VisitorLeft(Exception):
        pass

    def leave(status):
        if status.epoch >= 1:
            raise VisitorLeft  # what a rerun or a closed tab does inside Streamlit's progress callback

    with pytest.raises(VisitorLeft):
        queue.train(settings, leave, poll=0.05)
    assert len(started) == 1 and started[0].poll() is None  # still running during the grace time
    assert reaped(started[0], timeout=5)
    assert started[0].returncode == -signal.SIGKILL
    assert queue.running() == 0
    assert not settings.model_path().exists()
    assert not list(settings.model_path().parent.glob("*.partial"))  # nothing half-written is left


def test_a_rerun_within_the_grace_time_keeps_the_training(queue, started):
    settings = TrainingSettings(epochs=12, seed=7)

    def leave(status):
        if status.epoch >= 1:
            raise RuntimeError("rerun")

    with pytest.raises(RuntimeError):
        queue.train(settings, leave, poll=0.02)
    result = queue.train(settings)  # asked again at once, as a rerun does
    assert len(started) == 1 and len(result.history) == 12


def test_trainings_beyond_the_slots_wait_and_say_how_many_are_ahead(started):
    queue = Trainings(slots=1, grace=5)
    try:
        first = in_thread(queue.train, TrainingSettings(epochs=15, seed=8))
        while not started:
            time.sleep(0.01)
        statuses = []
        second = queue.train(TrainingSettings(epochs=2, seed=8), statuses.append, poll=0.02)
        first[0].join(60)
        assert len(second.history) == 2 and len(first[1]["result"].history) == 15
        assert statuses[0].waiting_for == 1  # one training must finish before this one starts
        assert statuses[-1].waiting_for == 0
        assert len(started) == 2 and started[0].returncode == 0  # one after the other, never side by side
    finally:
        queue.stop_all()


def test_a_training_over_its_time_limit_is_stopped(started):
    queue = Trainings(time_limit=0.5)
    with pytest.raises(TrainingFailed, match="longer than the limit"):
        queue.train(TrainingSettings(epochs=LONG, seed=9))
    assert reaped(started[0])


def test_a_training_killed_from_outside_says_so_and_can_be_asked_again(queue, started):
    settings = TrainingSettings(epochs=LONG, seed=10)

    def kill(status):
        if status.epoch >= 1 and started[0].poll() is None:
            started[0].kill()

    with pytest.raises(TrainingFailed, match=r"stopped from outside \(SIGKILL\)"):
        queue.train(settings, kill, poll=0.05)
    assert reaped(started[0])
    retry = queue.train(TrainingSettings(epochs=3, seed=10))
    assert len(retry.history) == 3


def test_errors_of_the_child_come_back_named(queue, tmp_path):
    from core.errors import DatasetUnavailable

    with pytest.raises(DatasetUnavailable, match="does not exist"):
        queue.train(TrainingSettings(dataset=f"idx:{tmp_path / 'none'}"))
    with pytest.raises(ValueError, match="epochs"):
        queue.train(TrainingSettings(epochs=0))


def test_a_prefetched_training_is_joined_not_repeated(started, monkeypatch):
    shared = Trainings(grace=0.1)
    monkeypatch.setattr(training_queue, "shared_queue", lambda: shared)
    settings = TrainingSettings(epochs=2, seed=11)
    training_queue.prefetch(settings)
    training_queue.prefetch(settings)  # a second call starts nothing more
    time.sleep(0.3)  # nobody waits for it yet, longer than the grace time: it is kept all the same
    result = shared.train(settings)
    assert len(started) == 1 and len(result.history) == 2
    training_queue.prefetch(settings)  # saved now: nothing to start
    assert len(started) == 1


def test_loading_a_saved_model_never_waits_for_a_training(training, started):
    queue = Trainings(slots=1)
    store = ModelStore(queue)
    saved = TrainingSettings(epochs=25, seed=12)
    saved.model_path().parent.mkdir(parents=True, exist_ok=True)
    save_training(training, saved.model_path())
    try:
        queue.submit(TrainingSettings(epochs=LONG, seed=13), keep=True)  # takes the only slot
        while not started:  # its job starts the child
            time.sleep(0.01)
        start = time.perf_counter()
        result = store.get(saved)
        assert time.perf_counter() - start < 2.0 and queue.running() == 1
        np.testing.assert_array_equal(result.model.W, training.model.W)
        assert len(started) == 1
    finally:
        queue.stop_all()


@pytest.mark.parametrize("damage", ["truncated", "garbage", "directory"])
def test_damaged_saved_weights_are_set_aside_and_trained_again(training, started, damage, caplog):
    store = ModelStore(Trainings())
    settings = TrainingSettings(epochs=2, seed=14)
    path = settings.model_path()
    path.parent.mkdir(parents=True, exist_ok=True)
    if damage == "directory":
        path.mkdir()
    else:
        save_training(training, path)
        data = path.read_bytes()
        path.write_bytes(data[:30000] if damage == "truncated" else b"\x00" * len(data))
    with caplog.at_level("WARNING", logger="adversarial_digits"):
        result = store.get(settings)
    assert len(result.history) == 2 and len(started) == 1
    assert len(list(path.parent.glob(f"{path.name}.damaged-*"))) == 1
    assert "moved aside" in caplog.text
    assert ModelStore(Trainings()).get(settings).model.W.tobytes() == result.model.W.tobytes()  # saved again


class CountingQueue:
    """Stands in for the queue under the store: a training is one of the real results, counted (nothing on disk)."""

    def __init__(self, result):
        self.result, self.trained = result, []

    def train(self, settings, on_status=None, **kwargs):
        self.trained.append(settings)
        return self.result


def test_the_store_keeps_the_most_recently_used_models_and_evicts_the_oldest(training):
    queue = CountingQueue(training)
    store = ModelStore(queue, capacity=3)
    asked = [TrainingSettings(epochs=e) for e in (2, 3, 4, 5, 6)]
    for settings in asked[:3]:
        assert store.get(settings) is training
    assert store.get(asked[0]) is training and len(queue.trained) == 3  # from memory, and now the most recent
    store.get(asked[3])  # over capacity: the least recently used (epochs 3) goes
    assert store.in_memory(asked[1]) is None
    assert all(store.in_memory(s) is training for s in (asked[0], asked[2], asked[3]))
    store.retrain(asked[4])  # a retraining is kept too, and the capacity still holds
    assert store.in_memory(asked[4]) is training and store.in_memory(asked[2]) is None
    store.get(asked[1])  # evicted and not on disk: trained again
    assert queue.trained == [*asked[:4], asked[4], asked[1]]


def test_the_childs_protocol_reads_back_what_it_writes():
    from core.errors import BadInput, DatasetUnavailable
    from core.jobs.training_process import error_line, progress_line, read_line
    from core.model import EpochMetrics

    metrics = EpochMetrics(3, 0.25, 0.875, 0.8125)
    assert read_line(progress_line(3, 25, metrics)) == (25, metrics)
    for error in (
        DatasetUnavailable("offline"),
        ValueError("epochs must be"),
        BadInput("x must"),
        TrainingFailed("could not be saved"),
        KeyError("anything else"),
    ):
        back = read_line(error_line(error))
        assert isinstance(back, Exception) and str(back) == str(error)
        expected = type(error) if not isinstance(error, KeyError) else TrainingFailed
        assert type(back) is expected
    for other in ("", "not json", "[1, 2]", '{"error": "x"}', "42", "Traceback (most recent call last):"):
        assert read_line(other) is None
    assert TrainingSettings.from_json(TrainingSettings(epochs=3, l1=0.001).to_json()) == TrainingSettings(
        epochs=3, l1=0.001
    )


def test_two_long_trainings_asked_at_once_on_one_core_each_end_with_a_model(started):
    """On a one-core server (as a Community Cloud app is) one training runs at a time, and the limit counts each
    training's own CPU time: two trainings asked at once, together longer than the limit, both end with a model,
    and the second says how long it waits. (With two slots and a wall-time limit, both were stopped.)"""
    from core.inputs.data import load_dataset
    from core.jobs.cost import expected

    cores = os.sched_getaffinity(0)
    os.sched_setaffinity(0, {min(cores)})  # this process and the children it starts: one core
    try:
        queue = Trainings(time_limit=2.0)
        assert queue.jobs.slots == 1
        data = load_dataset("mnist-5k")
        settings = [TrainingSettings(epochs=60, seed=seed) for seed in (21, 22)]
        costs = [expected(each, data.n_train, data.n_test).seconds for each in settings]
        assert sum(costs) > queue.time_limit > max(costs)
        statuses = []
        first = in_thread(lambda: queue.train(settings[0], expected=costs[0]))
        while not started:
            time.sleep(0.01)
        second = queue.train(settings[1], statuses.append, poll=0.05, expected=costs[1])
        first[0].join(60)
        assert len(second.history) == 60 and len(first[1]["result"].history) == 60
        assert statuses[0].waiting_for == 1 and 0 < statuses[0].expected_wait <= costs[0]
        assert [child.returncode for child in started] == [0, 0]
    finally:
        os.sched_setaffinity(0, cores)
        queue.stop_all()
