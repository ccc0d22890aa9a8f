"""Training in a child process, so a server keeps its memory and its responsiveness.

scikit-learn and a pass over 60,000 images are heavy: run in the app's own
process they would stay in its memory for good and hold the interpreter
while other visitors wait. :func:`start_child` runs
``python -m core.training_process``, which writes one JSON line per epoch
(``[epoch, total, loss, train accuracy, test accuracy]``), or one object
``{"error": kind, "message": text}`` if it cannot train, and saves the
weights where it is told. The child ends by itself when its parent does (it
watches its standard input). Who starts children, how many, and when they are
stopped is :mod:`core.training_queue`'s business.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
from dataclasses import asdict
from pathlib import Path

from core.cache import prune, save_atomically
from core.errors import DatasetUnavailable
from core.settings import TrainingSettings

ROOT = Path(__file__).resolve().parents[1]
BLAS_THREAD_VARIABLES = ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS")


def start_child(settings: TrainingSettings, path: Path) -> subprocess.Popen:
    """Start training ``settings`` in a child process that saves to ``path``; its stdout carries the progress."""
    command = [sys.executable, "-m", "core.training_process", json.dumps(asdict(settings)), str(path)]
    # One BLAS thread each: trainings run side by side, one per core, and spinning BLAS threads
    # competing for the same cores made each of them several times slower.
    env = {**os.environ, **dict.fromkeys(BLAS_THREAD_VARIABLES, "1")}
    return subprocess.Popen(
        command, cwd=ROOT, env=env, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True, start_new_session=True
    )  # stderr is the server's: a crash is logged there, never shown to a visitor


def _exit_with_parent() -> None:
    """End this child when its parent's end of standard input closes (the parent stopped or died)."""

    def watch():
        while os.read(0, 4096):  # the raw descriptor: no buffer lock to trip over at interpreter exit
            pass
        os._exit(3)

    threading.Thread(target=watch, name="parent-watch", daemon=True).start()


def main(argv: list[str]) -> int:
    from core.data import load_dataset
    from core.model import save_training
    from core.training import train_softmax

    _exit_with_parent()
    settings, path = TrainingSettings(**json.loads(argv[0])), Path(argv[1])

    def say(message) -> None:
        print(json.dumps(message), flush=True)

    def report(epoch, total, metrics):
        say([epoch, total, metrics.loss, metrics.train_accuracy, metrics.test_accuracy])

    try:
        result = train_softmax(load_dataset(settings.dataset), on_epoch=report, **settings.training_arguments())
    except (DatasetUnavailable, ValueError) as error:
        say({"error": type(error).__name__, "message": str(error)})
        return 2
    if not save_atomically(path, lambda handle: save_training(result, handle)):  # logged, with the path
        say({"error": "TrainingFailed", "message": "the trained weights could not be saved on the server"})
        return 2
    prune(path.parent, keep=path)  # the models folder stays under its cap: least recently used go first
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
