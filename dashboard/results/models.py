"""Datasets and trained models for every session: loaded once per server, trained in the job system.

Pages call :func:`trained` before asking anything of a model (it draws the training's progress bar);
cached results and shared work then take the model with :func:`model_of`, which draws nothing.
"""

from __future__ import annotations

import logging
import os
from pathlib import Path

import numpy as np
import streamlit as st

from core.errors import DatasetUnavailable, TooCostly, TrainingFailed
from core.inputs.data import DEFAULT_DATASET, Dataset, load_dataset
from core.inputs.settings import TrainingSettings
from core.jobs.cost import CONFIRM_ABOVE, expected, refusal
from core.jobs.models import TIME_LIMIT, ModelStore, shared_queue
from core.jobs.shipped import load_shipped
from core.model import TrainingResult
from dashboard import progress, state
from dashboard.results.jobs import cached
from dashboard.view import View

IDX_FOLDERS_VARIABLE = "ADVERSARIAL_DIGITS_IDX_FOLDERS"
log = logging.getLogger("adversarial_digits")


# --- datasets -----------------------------------------------------------------------------------------


def configured_idx_folders() -> list[str]:
    """IDX folders the operator offers: ``$ADVERSARIAL_DIGITS_IDX_FOLDERS`` or ``idx_folders`` in secrets."""
    folders = [f for f in os.environ.get(IDX_FOLDERS_VARIABLE, "").split(os.pathsep) if f.strip()]
    try:
        folders += list(st.secrets.get("idx_folders", []))
    except Exception:  # no secrets file is the normal case
        pass
    return [f"idx:{Path(f).expanduser()}" for f in dict.fromkeys(folders)]


def dataset_label(name: str) -> str:
    if name == "mnist-5k":
        return "MNIST · 5,000 (embedded)"  # short: the sidebar shows about 30 characters
    if name == "mnist":
        return "MNIST · 70,000 (downloads once)"
    return f"IDX · {Path(name[4:]).name}"


@cached(max_entries=4, spinner="Loading the dataset…")
def dataset(name: str) -> Dataset:
    """The dataset ``name`` (:func:`core.inputs.data.load_dataset`), loaded once per server."""
    return load_dataset(name)


def dataset_problem(name: str) -> str | None:
    """Why ``name`` cannot be loaded (for a notice), or None when it loads."""
    if name == DEFAULT_DATASET:
        return None
    try:
        dataset(name)
        return None
    except DatasetUnavailable as error:
        log.warning("dataset %s unavailable: %s", name, error)
        shown = "Full MNIST" if name == "mnist" else f"The IDX folder {Path(name[4:]).name}"
        return f"{shown} cannot be loaded: {error}. Showing the embedded 5,000-digit MNIST subset instead."


def usable_dataset(name: str) -> str:
    """``name`` if it loads, else the embedded subset, with a notice saying why."""
    problem = dataset_problem(name)
    if problem:
        state.notice(problem)
        return DEFAULT_DATASET
    return name


# --- trained models -----------------------------------------------------------------------------------


@st.cache_resource(show_spinner=False)
def _store() -> ModelStore:
    return ModelStore(shared_queue())


class ModelUnavailable(Exception):
    """The model a page needs cannot be had; the entry point shows :func:`unavailable_ui` for it."""

    def __init__(self, settings: TrainingSettings, problem: Exception):
        super().__init__(str(problem))
        self.settings, self.problem = settings, problem


class NeedsConfirmation(Exception):
    """The model a page needs takes long to train: the visitor is asked first (the entry point asks)."""

    def __init__(self, settings: TrainingSettings, seconds: float):
        super().__init__(f"about {seconds:.0f} s")
        self.settings, self.seconds = settings, seconds


class NothingToShow(Exception):
    """The page has nothing to show for this view (said in the message); the entry point shows it as a warning."""


def trained(settings: TrainingSettings) -> TrainingResult:
    """The trained model for ``settings``: from memory, from disk, or trained now with a progress bar.

    A training is reckoned first (:mod:`core.jobs.cost`): one that could not finish within the server's limit is
    refused before it starts, and one that takes longer than half a minute waits for the visitor's word.

    Raises
    ------
    ModelUnavailable
        It cannot be trained (too costly, bad data, a killed or stopped training).
    NeedsConfirmation
        It takes long to train, and the visitor has not said yes yet.
    """
    store = _store()
    result = store.ready(settings)
    if result is not None:
        return result
    seconds = training_cost(settings)
    if seconds > CONFIRM_ABOVE and not state.training_confirmed(settings):
        raise NeedsConfirmation(settings, seconds)
    try:
        with progress.training_bar(settings.hidden) as report:
            return store.get(settings, report, expected=seconds)
    except (DatasetUnavailable, ValueError, TrainingFailed) as error:
        log.warning("training %s failed: %s", settings, error)
        raise ModelUnavailable(settings, error) from None


def training_cost(settings: TrainingSettings) -> float:
    """The seconds of one core ``settings`` should take to train here.

    Raises
    ------
    ModelUnavailable
        With :class:`core.errors.TooCostly`: it could not finish within the limit (the message says what to pick).
    """
    try:
        data = dataset(settings.dataset)
    except DatasetUnavailable as error:
        raise ModelUnavailable(settings, error) from None
    embedded = dataset(DEFAULT_DATASET)
    sizes = (data.n_train, data.n_test)
    reason = refusal(settings, sizes, TIME_LIMIT, (embedded.n_train, embedded.n_test))
    if reason is not None:
        raise ModelUnavailable(settings, TooCostly(reason))
    return expected(settings, *sizes).seconds


def model_of(settings: TrainingSettings):
    """The model for ``settings`` without drawing anything (for cached results and shared work: the page asked
    :func:`trained` first, so it is in memory)."""
    try:
        return _store().get(settings).model
    except (DatasetUnavailable, ValueError, TrainingFailed) as error:
        raise ModelUnavailable(settings, error) from None


def retrain(settings: TrainingSettings) -> TrainingResult:
    """Train ``settings`` on this server although its weights came with the app, with a progress bar."""
    try:
        with progress.training_bar(settings.hidden, "Training…") as report:
            return _store().retrain(settings, report)
    except (DatasetUnavailable, ValueError, TrainingFailed) as error:
        log.warning("retraining %s failed: %s", settings, error)
        raise ModelUnavailable(settings, error) from None


@cached(max_entries=4)
def shipped(settings: TrainingSettings) -> TrainingResult | None:
    return load_shipped(settings)


SAME_IN_FLOAT32 = 1e-6  # weights this close are the same up to float32 rounding (the weights are near 0.4)


def shipped_gap(result: TrainingResult, settings: TrainingSettings) -> float | None:
    """The largest difference between weights trained here and those that came with the app (0.0: bit for bit;
    None: none came). Other numpy or scikit-learn versions sum in another order and differ in float32's last bits."""
    original = shipped(settings)  # read from disk once per server, not on every rerun
    if original is None or result.shipped:
        return None
    ours, theirs = result.model.weights, original.model.weights
    if ours.keys() != theirs.keys() or any(ours[name].shape != theirs[name].shape for name in ours):
        return float("inf")
    return float(max(np.abs(ours[name] - theirs[name]).max() for name in ours))


# --- the test images a page attacks -----------------------------------------------------------------------


def source_images(view: View) -> tuple[np.ndarray, np.ndarray]:
    """Test-set positions and images of the source digit."""
    return digit_images(view.training.dataset, view.source)


def digit_images(name: str, digit: int) -> tuple[np.ndarray, np.ndarray]:
    """Test-set positions and images of ``digit`` in the dataset ``name``."""
    data = dataset(name)
    indices = data.test_indices(digit)
    return indices, data.x_test[indices]
