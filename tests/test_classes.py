"""Class names where a dataset's classes are not digits: Fashion-MNIST's, or an IDX folder's classes.txt."""

import os
from pathlib import Path

import pytest

from core.inputs.classes import FASHION_MNIST, class_label, class_names, kind, the_class

DEBIAN_FASHION = Path("/usr/share/datasets/fashion-mnist")


def test_digits_have_no_names():
    assert class_names("mnist-5k") is None and class_names("mnist") is None
    assert class_label("mnist-5k", 2) == "2" and kind("mnist") == "digit" and the_class("mnist-5k", 7) == "digit 7"


def test_a_fashion_mnist_folder_gets_its_class_names(tmp_path):
    folder = tmp_path / "fashion-mnist"
    folder.mkdir()
    assert class_names(f"idx:{folder}") == FASHION_MNIST
    assert (
        class_label(f"idx:{folder}", 0) == "T-shirt/top (0)" and the_class(f"idx:{folder}", 9) == "class Ankle boot (9)"
    )


@pytest.mark.skipif(
    not DEBIAN_FASHION.is_dir() and not os.environ.get("CI"),
    reason="Debian's dataset-fashion-mnist (.ci/run installs it; in CI this runs)",
)
def test_debians_fashion_mnist_is_named():
    assert class_names(f"idx:{DEBIAN_FASHION}")[1] == "Trouser"


@pytest.mark.parametrize(
    "text",
    ["a\nb\n", "\n".join(["x" * 41] * 10), "\n".join(str(i) for i in range(11))],
    ids=["too few", "too long", "too many"],
)
def test_a_classes_file_that_is_not_ten_short_names_is_ignored(tmp_path, text):
    folder = tmp_path / "letters"
    folder.mkdir()
    (folder / "classes.txt").write_text(text)
    assert class_names(f"idx:{folder}") is None


def test_a_classes_file_names_the_classes(tmp_path):
    folder = tmp_path / "shapes"
    folder.mkdir()
    names = [f"shape {i}" for i in range(10)]
    (folder / "classes.txt").write_text("\n".join(names) + "\n\n")
    assert class_names(f"idx:{folder}") == tuple(names)
    (tmp_path / "binary").mkdir()
    (tmp_path / "binary" / "classes.txt").write_bytes(b"\xff\xfe\x00" * 50)
    assert class_names(f"idx:{tmp_path / 'binary'}") is None
