"""The verified robustness tables that come with the app, one per shipped network.

Settling a question on a 256-unit network can take seconds, and the table
asks 4,000 of them (every test image at four epsilons), so the tables of
the shipped networks (:data:`core.jobs.shipped.SHIPPED`), and the linear
model's rows beside them, are computed once by this repository's code and
shipped beside their weights::

    python -m core.jobs.robustness            # every shipped network (about an hour on one core)
    python -m core.jobs.robustness 16 64      # only these sizes (the linear model's rows are always written)

A network trained under other settings gets its own table on the server
(:mod:`dashboard.results`), on fewer images. ``tests/test_network_table.py``
computes some of the shipped rows again and compares them.
"""

from __future__ import annotations

import json
import logging
import sys
from pathlib import Path

from core.inputs.settings import TrainingSettings
from core.jobs.shipped import FIRST, FOLDER, SHIPPED, load_shipped
from core.network_table import EPSILONS, TableRow, linear_rows, robustness_rows

log = logging.getLogger("adversarial_digits")

TIME_LIMIT = 10.0  # seconds the verifier gets per image and epsilon


def table_path(settings: TrainingSettings) -> Path:
    return FOLDER / f"{settings.file_key()}.table.json"


def _read(settings: TrainingSettings, row) -> dict | None:
    """The shipped table file of ``settings``, each of its rows made by ``row``; None if there is none or it
    cannot be read."""
    path = table_path(settings)
    if not path.exists():
        return None
    try:
        saved = json.loads(path.read_text())
        return {**saved, "images": int(saved["images"]), "rows": [row(each) for each in saved["rows"]]}
    except (ValueError, KeyError, TypeError) as error:
        log.warning("the shipped table %s cannot be read (%s)", path, error)
        return None


def load_table(settings: TrainingSettings) -> dict | None:
    """The shipped table of ``settings``: ``{"images": n, "time_limit": s, "rows": [TableRow, ...]}``, or None if
    none is shipped or it cannot be read."""
    return _read(settings, lambda row: TableRow(**row))


def load_linear_table(settings: TrainingSettings) -> dict | None:
    """The shipped rows of the linear model ``settings`` beside the networks' (only the first visit's model):
    ``{"images": n, "rows": [dict, ...]}``, or None."""
    return None if settings.hidden else _read(settings, dict)


def build_linear(settings: TrainingSettings = FIRST, folder: Path = FOLDER) -> Path:
    """The linear model's rows on every test image of its dataset, written in ``folder`` (a second or two)."""
    from core.inputs.data import load_dataset

    data = load_dataset(settings.dataset)
    rows = linear_rows(load_shipped(settings).model, data.x_test, data.y_test, EPSILONS)
    path = folder / table_path(settings).name
    path.write_text(json.dumps({"settings": settings.file_key(), "images": len(data.x_test), "rows": rows}) + "\n")
    return path


def build(settings: TrainingSettings, folder: Path = FOLDER, *, count: int | None = None, echo=None) -> Path:
    """Compute the table of the shipped ``settings`` on its dataset's first ``count`` test images (all: None) and
    write it in ``folder``."""
    from threadpoolctl import threadpool_limits

    from core.inputs.data import load_dataset

    data = load_dataset(settings.dataset)
    network = load_shipped(settings).model
    images, labels = data.x_test[:count], data.y_test[:count]

    def progress(done: int, total: int) -> None:
        if echo is not None and done % 250 == 0:
            echo(f"{settings.hidden} units: {done} of {total}")

    with threadpool_limits(limits=1):  # one core, as the server has
        rows = robustness_rows(network, images, labels, EPSILONS, time_limit=TIME_LIMIT, progress=progress)
    path = folder / table_path(settings).name
    saved = {"settings": settings.file_key(), "images": len(images), "time_limit": TIME_LIMIT}
    path.write_text(json.dumps({**saved, "rows": [row.to_dict() for row in rows]}, indent=1) + "\n")
    return path


if __name__ == "__main__":
    sizes = [int(size) for size in sys.argv[1:]]
    print(build_linear(), flush=True)
    for shipped_settings in SHIPPED:
        if shipped_settings.hidden and (not sizes or shipped_settings.hidden in sizes):
            print(build(shipped_settings, echo=lambda line: print(line, flush=True)), flush=True)
    sys.exit(0)
