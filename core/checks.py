"""Validation at the boundary: turn what a caller passes into clean arrays, once.

The ``as_*`` functions raise ``ValueError`` with a message that names the bad
value. The ``parse_*`` functions read text a person typed (a link, a command
line) and raise ``ValueError`` with a plain reason that does not quote it: the
caller shows the value its own way (the app as inert, shortened text).
"""

from __future__ import annotations

import math

import numpy as np

from core.errors import BadInput

N_PIXELS = 784
N_CLASSES = 10
MAX_EPS = 1.0  # pixels live in [0, 1]: a larger step changes nothing once clipped


def parse_digit(text) -> int:
    """A digit 0-9 from text (a link, a command line); ``ValueError`` with a plain reason that does not quote it."""
    stripped = str(text).strip()
    if len(stripped) != 1 or stripped not in "0123456789":
        raise BadInput("is not a digit 0-9")
    return int(stripped)


MAX_NUMBER_CHARS = 40  # a number a person types is far shorter; longer text is refused before it is read


def parse_number(text) -> float:
    """A finite number from text; ``ValueError`` with a plain reason that does not quote it."""
    if len(str(text)) > MAX_NUMBER_CHARS:
        raise BadInput("is far too long to be a number")
    try:
        value = float(text)
    except (TypeError, ValueError):
        raise BadInput("is not a number") from None
    if not math.isfinite(value):
        raise BadInput("is not a finite number")
    return value


def parse_eps(text) -> float:
    """An epsilon in [-1, 1] from text; ``ValueError`` with a plain reason that does not quote it."""
    value = parse_number(text)
    if not -MAX_EPS <= value <= MAX_EPS:
        raise BadInput(f"is outside [-{MAX_EPS:g}, {MAX_EPS:g}]")
    return value


def as_digit(value, name: str = "digit") -> int:
    """Return ``value`` as an int digit 0-9 or raise ``ValueError``."""
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or not 0 <= value <= 9:
        raise BadInput(f"{name} must be a digit 0-9, got {value!r}")
    return int(value)


def as_images(x, name: str = "x", *, unit_range: bool = True) -> tuple[np.ndarray, bool]:
    """Return ``(images, was_single)``: a float array of shape (n, 784) in [0, 1].

    A single image of shape (784,) or (28, 28) is accepted and reported, so
    callers can hand back a result of the same shape. Never copies needlessly
    and never mutates ``x``. ``unit_range=False`` accepts any finite pixel
    values (unclipped adversarial images, sign images).
    """
    array = np.asarray(x)
    if array.dtype.kind not in "fiu":
        raise BadInput(f"{name} must hold numbers, got dtype {array.dtype}")
    single = array.ndim == 1 or array.shape == (28, 28)
    if single:
        array = array.reshape(1, -1)
    elif array.ndim == 3 and array.shape[1:] == (28, 28):
        array = array.reshape(len(array), -1)
    if array.ndim != 2 or array.shape[1] != N_PIXELS:
        raise BadInput(f"{name} must be images of 784 pixels (28x28), shape (n, 784); got shape {np.shape(x)}")
    if array.dtype.kind != "f":
        array = array.astype(np.float32)
    low, high = (array.min(), array.max()) if array.size else (0.0, 0.0)  # NaN and inf show in these two
    if not (np.isfinite(low) and np.isfinite(high)):
        raise BadInput(f"{name} pixels must be finite numbers")
    if unit_range and not (low >= 0.0 and high <= 1.0):
        raise BadInput(f"{name} pixels must be in [0, 1] (scale 8-bit images by 1/255)")
    return array, single


def as_one_image(x, what: str) -> np.ndarray:
    """One image's pixels as a float64 copy, checked as :func:`as_images` checks them; ``what`` names the function
    that takes only one."""
    images, single = as_images(x)
    if not single:
        raise BadInput(f"{what} takes one image: shape (784,) or (28, 28)")
    return images[0].astype(np.float64)


def as_labels(labels, n: int, name: str = "labels") -> np.ndarray:
    """Return one int64 digit per image: a scalar is broadcast to all ``n``."""
    array = np.asarray(labels)
    if array.dtype.kind not in "iu" and not (array.dtype.kind == "f" and np.all(np.mod(array, 1) == 0)):
        raise BadInput(f"{name} must be digits 0-9, got {labels!r}")
    array = np.broadcast_to(array.astype(np.int64), (n,)) if array.ndim == 0 else array.astype(np.int64)
    if array.shape != (n,):
        raise BadInput(f"{name} must be one digit per image ({n}), got shape {array.shape}")
    if array.size and (array.min() < 0 or array.max() > 9):
        raise BadInput(f"{name} must be digits 0-9, got values up to {array.max()}")
    return array


def as_clip(clip) -> tuple[float, float] | None:
    """Return ``clip`` as ``(low, high)`` containing the pixel range [0, 1], or None for no clipping."""
    if clip is None:
        return None
    try:
        low, high = (float(v) for v in clip)
    except (TypeError, ValueError):
        raise BadInput(f"clip must be (low, high) or None, got {clip!r}") from None
    if not low < high:
        raise BadInput(f"clip must have low < high, got {clip!r}")
    if low > 0.0 or high < 1.0:
        raise BadInput(f"clip must contain the pixel range [0, 1], got {clip!r}")
    return low, high


def as_eps(eps, n: int) -> np.ndarray:
    """Return one float64 epsilon in [-1, 1] per image (a scalar is broadcast)."""
    array = np.asarray(eps, dtype=np.float64)
    if array.ndim == 0:
        array = np.full(n, float(array))
    if array.shape != (n,):
        raise BadInput(f"eps must be a number or one value per image ({n}), got shape {array.shape}")
    _within_max_eps(array, "eps")
    return array


def as_max_eps(max_eps) -> float:
    """Return ``max_eps`` as a float in [0, 1]."""
    value = float(max_eps)
    if not 0.0 <= value <= MAX_EPS:
        raise BadInput(f"max_eps must be in [0, {MAX_EPS:g}], got {max_eps!r}")
    return value


def _within_max_eps(array: np.ndarray, name: str) -> None:
    if not np.isfinite(array).all():
        raise BadInput(f"{name} must be finite")
    if array.size and np.abs(array).max() > MAX_EPS:
        raise BadInput(f"{name} must lie in [-{MAX_EPS:g}, {MAX_EPS:g}], got up to {np.abs(array).max():g}")


def as_eps_grid(eps_grid) -> np.ndarray:
    """Return a 1-D, strictly increasing float64 grid of epsilons in [-1, 1]."""
    grid = np.asarray(eps_grid, dtype=np.float64)
    if grid.ndim != 1 or grid.size == 0:
        raise BadInput(f"eps_grid must be a non-empty 1-D sequence, got shape {grid.shape}")
    _within_max_eps(grid, "eps_grid")
    if grid.size > 1 and not (np.diff(grid) > 0).all():
        raise BadInput("eps_grid must be strictly increasing")
    return grid
