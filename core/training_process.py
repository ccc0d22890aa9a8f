"""Training in a child process, so a server keeps its memory and its responsiveness.

scikit-learn and a pass over 60,000 images are heavy: run in the app's own
process they would stay in its memory for good and hold the interpreter
while other visitors wait. :func:`train_in_child` runs
``python -m core.training_process`` instead, reads one progress line per
epoch, and loads the result the child saved.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from core.errors import DatasetUnavailable
from core.model import EpochMetrics, TrainingResult, load_training

ROOT = Path(__file__).resolve().parents[1]


def train_in_child(dataset: str, settings: dict, path: Path, on_epoch=None) -> TrainingResult:
    """Train ``train_softmax(load_dataset(dataset), **settings)`` in a child process; save it to ``path``.

    Raises the child's ``DatasetUnavailable`` or ``ValueError`` with its message.
    """
    command = [sys.executable, "-m", "core.training_process", json.dumps({"dataset": dataset, **settings}), str(path)]
    child = subprocess.Popen(command, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
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
