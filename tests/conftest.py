"""Shared fixtures: the embedded MNIST subset and the seed recipe trained on it, once per run."""

import numpy as np
import pytest

from core.inputs.data import load_dataset
from core.inputs.settings import TrainingSettings
from core.jobs import shipped


@pytest.fixture(scope="session")
def dataset():
    return load_dataset("mnist-5k")


@pytest.fixture(scope="session")
def training(dataset):
    """The original recipe trained here, as the training child does (tests/test_shipped.py compares it)."""
    return shipped.train(TrainingSettings())


@pytest.fixture(scope="session")
def model(training):
    return training.model


@pytest.fixture(scope="session")
def twos(dataset):
    """The test images of the source digit 2, as float64 for exact comparisons."""
    return dataset.x_test[dataset.test_indices(2)].astype(np.float64)


@pytest.fixture(scope="session")
def minimal_twos(model, twos):
    """Independent of the app: the exact minimal epsilons of the test 2s toward 6 under the default recipe."""
    from core.attack import minimal_epsilon

    return minimal_epsilon(model, twos, 6)


def pytest_sessionfinish(session):
    """The run's own process (not a test worker) stops the browser tests' shared app server, if one ran."""
    import os

    if os.environ.get("PYTEST_XDIST_WORKER"):
        return
    factory = getattr(session.config, "_tmp_path_factory", None)
    if factory is not None:
        from tests.e2e.conftest import stop_shared_server

        stop_shared_server(factory.getbasetemp())


# The test files that take longest, longest first (measured: --durations). Each test worker runs whole files
# (pyproject: --dist loadfile, in this order): started first, the long ones end beside the short ones, not after.
SLOWEST_FIRST = (
    "tests/e2e/test_browser.py",
    "tests/e2e/test_accessibility.py",
    "tests/e2e/test_interaction.py",
    "tests/e2e/test_lesson.py",
    "tests/test_jobs.py",  # mostly waiting out grace periods: beside the browser tests, the cores stay busy
    "tests/test_trainings.py",
    "tests/test_benchmarks.py",
    "tests/test_app.py",
    "tests/test_app_pages.py",
    "tests/test_lab_norms.py",
    "tests/test_network_verify.py",
    "tests/e2e/test_leaving.py",
    "tests/test_photos.py",
    "tests/test_network.py",
)


# The files that run the whole app (AppTest), train in child processes or run the benchmarks, the brute-force
# checks and the photo sweep: marked slow, so that the inner loop's tier (README: -m "not e2e and not slow") stays
# within a minute.
SLOW = (
    "tests/test_app.py",
    "tests/test_network_verify.py",
    "tests/test_lab_norms.py",
    "tests/test_app_pages.py",
    "tests/test_every_page.py",
    "tests/test_lesson.py",
    "tests/test_trainings.py",
    "tests/test_benchmarks.py",
    "tests/test_benchmarks_servers.py",
    "tests/test_network.py::test_the_optimal_epsilon_is_the_best_over_every_activation_pattern",
    "tests/test_shipped.py::test_the_other_shipped_models_are_rebuilt_by_this_repository",  # trains every one
    "tests/test_photos.py::test_photos_are_read_as_the_scanned_digit_under_every_kind_of_light",  # 880 photos
    "tests/test_wording.py::test_no_caption_speaks_of_left_and_right",
    "tests/test_wording.py::test_slow_work_says_so_where_the_visitor_looks",
)


@pytest.hookimpl(tryfirst=True)  # before pytest's own -m selection
def pytest_collection_modifyitems(items):
    rank = {name: place for place, name in enumerate(SLOWEST_FIRST)}
    items.sort(key=lambda item: rank.get(item.nodeid.split("::")[0], len(rank)))
    for item in items:
        if item.nodeid.startswith(SLOW):
            item.add_marker(pytest.mark.slow)
