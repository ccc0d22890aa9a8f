"""What every session shares: datasets, trained models, and results cached per view.

Arrays handed out here are read-only: every browser session shares them.
"""

from __future__ import annotations

import logging
import os
from pathlib import Path

import numpy as np
import streamlit as st

from core.attack import fgsm, minimal_epsilon
from core.errors import DatasetUnavailable, TrainingFailed
from core.inputs.data import DEFAULT_DATASET, Dataset, load_dataset
from core.inputs.settings import TrainingSettings
from core.jobs.models import ModelStore, TrainingStatus, shared_queue
from core.jobs.shipped import load_shipped
from core.model import TrainingResult
from core.sweep import SuccessCurve, success_curve
from dashboard import state
from dashboard.view import View, clip_range

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


@st.cache_resource(show_spinner="Loading the dataset…", max_entries=4)
def dataset(name: str) -> Dataset:
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


def _status_text(status: TrainingStatus, settings: TrainingSettings | None = None) -> str:
    if status.waiting_for > 0:
        others = "training" if status.waiting_for == 1 else "trainings"
        return f"Waiting for {status.waiting_for} other {others} on this server to finish…"
    what = f"the ReLU network ({settings.hidden} units)" if settings and settings.hidden else "the softmax classifier"
    if status.metrics is None:
        return f"Training {what}…"
    return f"Training {what}: epoch {status.epoch} of {status.total}, test accuracy {status.metrics.test_accuracy:.1%}"


class ModelUnavailable(Exception):
    """The model a page needs cannot be had; the entry point shows :func:`unavailable_ui` for it."""

    def __init__(self, settings: TrainingSettings, problem: Exception):
        super().__init__(str(problem))
        self.settings, self.problem = settings, problem


class NothingToShow(Exception):
    """The page has nothing to show for this view (said in the message); the entry point shows it as a warning."""


def trained(settings: TrainingSettings) -> TrainingResult:
    """The trained model for ``settings``: from memory, from disk, or trained now with a progress bar.

    Raises
    ------
    ModelUnavailable
        It cannot be trained (bad data, a killed or stopped training).
    """
    store = _store()
    result = store.in_memory(settings)
    if result is not None:
        return result
    bar = st.progress(0.0, text="Loading the model…")

    def progress(status: TrainingStatus) -> None:  # every poll: a visitor's rerun or a closed tab ends the wait here
        bar.progress(status.epoch / max(status.total, 1), text=_status_text(status, settings))

    try:
        return store.get(settings, progress)
    except (DatasetUnavailable, ValueError, TrainingFailed) as error:
        log.warning("training %s failed: %s", settings, error)
        raise ModelUnavailable(settings, error) from None
    finally:
        bar.empty()


def retrain(settings: TrainingSettings) -> TrainingResult:
    """Train ``settings`` on this server although its weights came with the app, with a progress bar."""
    bar = st.progress(0.0, text="Training…")

    def progress(status: TrainingStatus) -> None:
        bar.progress(status.epoch / max(status.total, 1), text=_status_text(status, settings))

    try:
        return _store().retrain(settings, progress)
    except (DatasetUnavailable, ValueError, TrainingFailed) as error:
        log.warning("retraining %s failed: %s", settings, error)
        raise ModelUnavailable(settings, error) from None
    finally:
        bar.empty()


@st.cache_resource(show_spinner=False, max_entries=4)
def _shipped(settings: TrainingSettings) -> TrainingResult | None:
    return load_shipped(settings)


def same_as_shipped(result: TrainingResult, settings: TrainingSettings) -> bool | None:
    """Whether weights trained here equal, bit for bit, those that came with the app (None: none came)."""
    original = _shipped(settings)  # read from disk once per server, not on every rerun
    if original is None or result.shipped:
        return None
    ours, theirs = result.model, original.model
    return ours.W.tobytes() == theirs.W.tobytes() and ours.b.tobytes() == theirs.b.tobytes()


def unavailable_ui(failure: ModelUnavailable) -> None:
    """What a page shows instead when its model cannot be had.

    Training images that turn out damaged (an IDX folder) send the visitor
    back to the embedded subset with a notice; anything else is said plainly,
    with a button to try again.
    """
    damaged_data = isinstance(failure.problem, (DatasetUnavailable, ValueError))
    if damaged_data and failure.settings.dataset != DEFAULT_DATASET:
        label = dataset_label(failure.settings.dataset)
        state.notice(f"Training on {label} failed: {failure.problem}. Back to the embedded MNIST subset.")
        state.update(dataset=DEFAULT_DATASET)
        st.rerun()
    st.error(f"The model could not be trained: {failure.problem}.", icon="🚫")
    st.button("Try again", icon=":material/refresh:")  # a click reruns the page, which asks again


# --- results cached per view ----------------------------------------------------------------------------


def source_images(view: View) -> tuple[np.ndarray, np.ndarray]:
    """Test-set positions and images of the source digit."""
    return digit_images(view.training.dataset, view.source)


def digit_images(name: str, digit: int) -> tuple[np.ndarray, np.ndarray]:
    """Test-set positions and images of ``digit`` in the dataset ``name``."""
    data = dataset(name)
    indices = data.test_indices(digit)
    return indices, data.x_test[indices]


def minimal_epsilons(view: View) -> np.ndarray:
    """The exact minimal epsilon of every test image of the source digit (read-only)."""
    return digit_minimal_epsilons(view.training, view.source, view.target, view.clip)


@st.cache_resource(show_spinner=False, max_entries=64)
def digit_minimal_epsilons(settings: TrainingSettings, source: int, target: int, clip: bool) -> np.ndarray:
    """:func:`minimal_epsilons` of any model: every test image of ``source`` toward ``target`` (read-only)."""
    _, images = digit_images(settings.dataset, source)
    result = minimal_epsilon(trained(settings).model, images, target, clip=clip_range(clip))
    result.flags.writeable = False
    return result


def fooled_share(view: View, eps: float) -> float:
    """The share of the source digit's test images the gradient sign step at exactly ``eps`` makes the target
    (the all-pairs page's number for the same pair, not a value read off a curve between grid points)."""
    _, images = source_images(view)
    if not len(images):
        return float("nan")
    model = trained(view.training).model
    return float(
        np.mean(model.predict(fgsm(model, images, eps, target=view.target, clip=view.clip_range)) == view.target)
    )


def source_success_curve(view: View, low: float, high: float, points: int) -> SuccessCurve:
    """The success curve of all test images of the source digit on a grid (read-only arrays)."""
    return _source_success_curve(view.training, view.source, view.target, view.clip, low, high, points)


@st.cache_resource(show_spinner=False, max_entries=64)
def _source_success_curve(settings, source: int, target: int, clip: bool, low, high, points) -> SuccessCurve:
    _, images = digit_images(settings.dataset, source)
    grid = np.linspace(low, high, points)
    curve = success_curve(trained(settings).model, images, target, grid, clip=clip_range(clip))
    for array in (curve.eps, curve.fooled_share, curve.mean_target_probability):
        array.flags.writeable = False
    return curve
