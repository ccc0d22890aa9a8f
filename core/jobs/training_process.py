"""Training in a child process, so a server keeps its memory and its responsiveness.

scikit-learn and a pass over 60,000 images are heavy: run in the app's own
process they would stay in its memory for good and hold the interpreter
while other visitors wait. A child (forked by :mod:`core.jobs.training_forker`,
or ``python -m core.jobs.training_process SETTINGS PATH``) runs :func:`main`
with the settings (as JSON, :meth:`TrainingSettings.to_json`), which saves
the weights where it is told.
The protocol is written and read here alone: one JSON line per epoch
(:func:`progress_line`, ``[epoch, total, loss, train accuracy, test
accuracy]``), or one object ``{"error": kind, "message": text}`` if it cannot
train (:func:`error_line`); :func:`read_line` turns a line back into an
:class:`EpochMetrics` and its total, or the named error. The child ends by
itself when its parent does (it watches its standard input). Who starts
children, how many, and when they are stopped is :mod:`core.jobs.models`'s
business.
"""

from __future__ import annotations

import json
import os
import sys
import threading
from pathlib import Path

from core.errors import BadInput, DatasetUnavailable, TrainingFailed
from core.inputs.cache import prune, save_atomically
from core.inputs.settings import TrainingSettings
from core.model import EpochMetrics

BLAS_THREAD_VARIABLES = ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS")


# --- the protocol: one JSON line per message ----------------------------------------------------------------

ERRORS = {kind.__name__: kind for kind in (DatasetUnavailable, ValueError, BadInput, TrainingFailed)}


def progress_line(epoch: int, total: int, metrics: EpochMetrics) -> str:
    return json.dumps([epoch, total, metrics.loss, metrics.train_accuracy, metrics.test_accuracy])


def error_line(error: Exception) -> str:
    kind = type(error).__name__ if type(error).__name__ in ERRORS else "TrainingFailed"
    return json.dumps({"error": kind, "message": str(error)})


def read_line(line: str) -> tuple[int, EpochMetrics] | Exception | None:
    """One line of the child's output: ``(total, metrics)`` of an epoch, the error it reported (named as in the
    child), or None for anything else (a line that is not ours)."""
    try:
        message = json.loads(line)
    except ValueError:
        return None
    if isinstance(message, dict) and isinstance(message.get("message"), str):
        return ERRORS.get(message.get("error"), TrainingFailed)(message["message"])
    if isinstance(message, list) and len(message) == 5:
        epoch, total, loss, train, test = message
        return int(total), EpochMetrics(int(epoch), float(loss), float(train), float(test))
    return None


# --- the child ---------------------------------------------------------------------------------------------


def _exit_with_parent() -> None:
    """End this child when its parent's end of standard input closes (the parent stopped or died)."""

    def watch():
        while os.read(0, 4096):  # the raw descriptor: no buffer lock to trip over at interpreter exit
            pass
        os._exit(3)

    threading.Thread(target=watch, name="parent-watch", daemon=True).start()


def main(argv: list[str]) -> int:
    from core.inputs.data import load_dataset
    from core.model import save_training
    from core.training import train

    _exit_with_parent()
    settings, path = TrainingSettings.from_json(argv[0]), Path(argv[1])

    def report(epoch, total, metrics):
        print(progress_line(epoch, total, metrics), flush=True)

    try:
        result = train(load_dataset(settings.dataset), settings, on_epoch=report)
    except (DatasetUnavailable, ValueError) as error:
        print(error_line(error), flush=True)
        return 2
    if not save_atomically(path, lambda handle: save_training(result, handle)):  # logged, with the path
        print(error_line(TrainingFailed("the trained weights could not be saved on the server")), flush=True)
        return 2
    prune(path.parent, keep=path)  # the models folder stays under its cap: least recently used go first
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
