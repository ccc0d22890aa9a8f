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
