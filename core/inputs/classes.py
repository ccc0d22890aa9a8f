"""The names of a dataset's ten classes where they are not the digits themselves.

Fashion-MNIST (Xiao, Rasul & Vollgraf, 2017) has MNIST's shape and ten kinds of clothing; an IDX folder may name its
classes in ``classes.txt`` (ten lines, one name each).
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

FASHION_MNIST = (
    "T-shirt/top",
    "Trouser",
    "Pullover",
    "Dress",
    "Coat",
    "Sandal",
    "Shirt",
    "Sneaker",
    "Bag",
    "Ankle boot",
)
NAMES_FILE = "classes.txt"
LONGEST = 40  # characters in one class name


@lru_cache(maxsize=64)
def class_names(dataset: str) -> tuple[str, ...] | None:
    """The ten classes' names of ``dataset`` (a name :func:`core.inputs.data.load_dataset` takes), or None for digits.

    An IDX folder names them in ``classes.txt``: ten non-empty lines of at
    most 40 characters (anything else is ignored). A folder called
    ``fashion-mnist`` without one gets Fashion-MNIST's names.
    """
    if not dataset.startswith("idx:"):
        return None
    folder = Path(dataset[4:])
    try:
        with open(folder / NAMES_FILE, encoding="utf-8") as file:
            lines = [line.strip() for line in file.read(11 * (LONGEST + 2)).splitlines() if line.strip()]
        if len(lines) == 10 and all(len(line) <= LONGEST for line in lines):
            return tuple(lines)
    except (OSError, UnicodeDecodeError):
        pass
    return FASHION_MNIST if "fashion" in folder.name.lower() else None


def class_label(dataset: str, k: int) -> str:
    """Class ``k`` as a page names it: ``2`` for a digit, ``Pullover (2)`` where classes have names."""
    names = class_names(dataset)
    return str(k) if names is None else f"{names[k]} ({k})"


def kind(dataset: str) -> str:
    """What one class of ``dataset`` is called: a digit, or a class."""
    return "digit" if class_names(dataset) is None else "class"


def the_class(dataset: str, k: int) -> str:
    """``digit 2``, or ``class Pullover (2)``."""
    return f"{kind(dataset)} {class_label(dataset, k)}"
