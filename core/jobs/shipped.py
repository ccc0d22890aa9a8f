"""Weights that come with the app, so the first visitor of a fresh deployment does not wait for a training.

A sleeping Community Cloud app wakes as a fresh deployment on about one
core, and its first visitor used to wait for scikit-learn's import and the
default model's training (7 of 20 seconds). So the repository carries the
training results of the first visits' settings (:data:`SHIPPED`: the linear
model, the defended one, the ReLU network at each size), made by
:func:`build` with this repository's code::

    python -m core.jobs.shipped      # rewrites core/shipped_models/

``tests/test_shipped.py`` trains it again from the embedded digits and
compares the weights: bit for bit with the numpy and scikit-learn that made
them, to float32 precision with newer releases (which add in another order),
and what they decide exactly (every epoch's accuracies, the confusion
matrix, every test digit's answer). The app
says where the weights came from, and the training page retrains them on
the server in one click (the result is kept in the cache folder and used
from then on).
"""

from __future__ import annotations

import dataclasses
import logging
import sys
from pathlib import Path

from core import training
from core.inputs.settings import TrainingSettings
from core.model import TrainingResult, load_training, save_training

log = logging.getLogger("adversarial_digits")

FOLDER = Path(__file__).resolve().parents[1] / "shipped_models"
FIRST = TrainingSettings()  # the first visit's model: the original recipe on the embedded digits
# ... and what the first visits of the other pages ask for beside it: the defended models at the sidebar's default
# strengths (the defenses and Beyond linear pages) and the ReLU network at every size Beyond linear offers
SHIPPED = (
    FIRST,
    TrainingSettings(adversarial_eps=0.1),
    TrainingSettings(l1=0.001),
    FIRST.network(16),
    FIRST.network(64),
    FIRST.network(256),
)


def shipped_path(settings: TrainingSettings) -> Path:
    """Where the shipped weights of ``settings`` are (the file exists only for :data:`SHIPPED`)."""
    return FOLDER / f"{settings.file_key()}.npz"


def load_shipped(settings: TrainingSettings) -> TrainingResult | None:
    """The shipped training result of ``settings`` (marked ``shipped``), or None if none is shipped or readable."""
    path = shipped_path(settings)
    if not path.exists():
        return None
    try:
        return dataclasses.replace(load_training(path), shipped=True)
    except ValueError as error:  # never moved aside: nothing is written beside the source
        log.warning("the shipped weights %s cannot be read (%s); training instead", path, error)
        return None


def train(settings: TrainingSettings) -> TrainingResult:
    """Train ``settings`` here as the training child does (one BLAS thread), so the numbers are the same."""
    from threadpoolctl import threadpool_limits

    from core.inputs.data import load_dataset

    with threadpool_limits(limits=1):
        return training.train(load_dataset(settings.dataset), settings)


def build(folder: Path = FOLDER, chosen: tuple[TrainingSettings, ...] = SHIPPED) -> list[Path]:
    """Train every :data:`SHIPPED` settings (or the ``chosen`` ones) and save it in ``folder``; the paths written."""
    folder.mkdir(parents=True, exist_ok=True)
    written = []
    for settings in chosen:
        path = folder / shipped_path(settings).name
        with open(path, "wb") as handle:
            save_training(train(settings), handle)
        written.append(path)
    return written


if __name__ == "__main__":
    for written in build():
        print(written.relative_to(Path.cwd()) if written.is_relative_to(Path.cwd()) else written)
    sys.exit(0)
