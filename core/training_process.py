"""Training in a child process, so a server keeps its memory and its responsiveness.

scikit-learn and a pass over 60,000 images are heavy: run in the app's own
process they would stay in its memory for good and hold the interpreter
while other visitors wait. :func:`train_in_child` runs
``python -m core.training_process`` instead, reads one progress line per
epoch, and loads the result the child saved. :func:`prefetch` starts that
child early, before the app has finished loading, for the settings a first
visit uses.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import subprocess
import sys
import tempfile
import threading
from dataclasses import asdict, dataclass, replace
from pathlib import Path

from core.data import DEFAULT_DATASET, default_home
from core.errors import DatasetUnavailable
from core.model import EpochMetrics, TrainingResult, load_training

ROOT = Path(__file__).resolve().parents[1]
DATASET_VARIABLE = "ADVERSARIAL_DIGITS_DATASET"  # the operator may open the app on another dataset
MODEL_FORMAT = 1  # bump when the saved-model layout changes
log = logging.getLogger("adversarial_digits")


@dataclass(frozen=True)
class TrainingSettings:
    """Everything that decides the trained weights; the key of the model caches."""

    dataset: str = DEFAULT_DATASET
    solver: str = "sgd"
    epochs: int = 25
    learning_rate: float = 0.05
    batch_size: int = 100
    C: float = 1.0
    seed: int = 0

    @classmethod
    def first_visit(cls) -> TrainingSettings:
        """What a new session starts with: the defaults, on the operator's dataset if one is set."""
        return cls(dataset=os.environ.get(DATASET_VARIABLE, DEFAULT_DATASET))

    def normalized(self) -> TrainingSettings:
        """Blank out the settings the solver ignores, so they do not cause a retrain."""
        if self.solver == "sgd":
            return replace(self, C=1.0)
        return replace(self, learning_rate=0.05, batch_size=100, seed=0)

    def file_key(self) -> str:
        text = json.dumps({"format": MODEL_FORMAT, **asdict(self)}, sort_keys=True)
        return hashlib.sha256(text.encode()).hexdigest()[:20]

    def model_path(self) -> Path:
        """Where the weights are kept, so a restarted server does not retrain."""
        folder = default_home() / "models"
        try:
            folder.mkdir(parents=True, exist_ok=True)
        except OSError as error:  # a read-only home: keep the weights for this process only
            log.warning("cannot create %s (%s); using a temporary folder", folder, error)
            folder = Path(tempfile.gettempdir()) / "adversarial-digits-models"
            folder.mkdir(exist_ok=True)
        return folder / f"{self.file_key()}.npz"


_started: dict[Path, subprocess.Popen] = {}  # children started by prefetch, not yet collected
_started_lock = threading.Lock()


def _start(settings: TrainingSettings, path: Path) -> subprocess.Popen:
    arguments = asdict(settings)
    command = [sys.executable, "-m", "core.training_process", json.dumps(arguments), str(path)]
    return subprocess.Popen(command, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def prefetch(settings: TrainingSettings) -> None:
    """Start training ``settings`` in the background unless the weights are saved or already on their way."""
    path = settings.model_path()
    with _started_lock:
        if path.exists() or path in _started:
            return
        _started[path] = _start(settings, path)


def train_in_child(settings: TrainingSettings, on_epoch=None) -> TrainingResult:
    """Train ``settings`` in a child process (or join the one :func:`prefetch` started); load what it saved.

    Raises the child's ``DatasetUnavailable`` or ``ValueError`` with its message.
    """
    path = settings.model_path()
    with _started_lock:
        child = _started.pop(path, None)
    if child is None:
        child = _start(settings, path)
    for line in child.stdout:
        epoch, total, loss, train, test = json.loads(line)
        if on_epoch is not None:
            on_epoch(epoch, total, EpochMetrics(epoch, loss, train, test))
    problem = child.stderr.read().strip()
    if child.wait() != 0:
        kind, _, message = problem.splitlines()[-1].partition(": ") if problem else ("", "", "")
        if kind == "DatasetUnavailable":
            raise DatasetUnavailable(message)
        raise ValueError(message or f"training failed (exit code {child.returncode})")
    return load_training(path)


def main(argv: list[str]) -> int:
    from core.data import load_dataset
    from core.model import save_training, train_softmax

    settings, path = json.loads(argv[0]), Path(argv[1])

    def report(epoch, total, metrics):
        print(json.dumps([epoch, total, metrics.loss, metrics.train_accuracy, metrics.test_accuracy]), flush=True)

    try:
        result = train_softmax(load_dataset(settings.pop("dataset")), on_epoch=report, **settings)
        save_training(result, path)
    except (DatasetUnavailable, ValueError, OSError) as error:
        print(f"{type(error).__name__}: {error}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
