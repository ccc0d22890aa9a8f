import json
import subprocess
import sys
from pathlib import Path

import pytest
from PIL import Image

from core import __main__ as cli
from core import data

ROOT = Path(__file__).resolve().parents[1]


def run_cli(*args):
    return subprocess.run([sys.executable, "-m", "core", *args], cwd=ROOT, capture_output=True, text=True, timeout=120)


def test_json_run_fools_every_image_at_its_minimal_epsilon(tmp_path):
    completed = run_cli("--json", "--out", str(tmp_path))
    assert completed.returncode == 0, completed.stderr
    result = json.loads(completed.stdout)
    assert result["dataset"] == "mnist-5k" and result["test_accuracy"] >= 0.87
    assert (result["source"], result["target"], result["clip"]) == (2, 6, True)
    images = result["images"]
    assert len(images) == 10
    for image in images:
        assert image["predicted_after"] == 6
        assert image["delta_predicted"] in range(10)
        assert image["minimal_epsilon"] is not None and image["eps"] >= image["minimal_epsilon"]
        assert image["eps"] - image["minimal_epsilon"] < 1e-4
        assert image["target_confidence_after"] > image["target_confidence_before"]
    grid = Image.open(result["grid_png"])
    assert grid.size[1] > grid.size[0] > 3 * 28


def test_text_report_with_fixed_eps_unclipped():
    completed = run_cli("--eps", "0.2", "--no-clip", "--source", "3", "--target", "8", "--count", "4")
    assert completed.returncode == 0, completed.stderr
    assert "3 -> 8, no clipping" in completed.stdout
    assert len([line for line in completed.stdout.splitlines() if line.strip().endswith(tuple("0123456789"))]) >= 4


@pytest.mark.parametrize(
    "args, message",
    [
        (["--source", "3", "--target", "3"], "must differ"),
        (["--eps", "abc"], "--eps: must be a number"),
        (["--eps", "5"], "must be in [-1, 1]"),
        (["--target", "12"], "must be a digit"),
        (["--epochs", "-3"], "must be positive"),
        (["--dataset", "idx:/no/such/folder"], "does not exist"),
    ],
)
def test_bad_arguments_give_one_line_and_exit_2(args, message):
    completed = run_cli(*args)
    assert completed.returncode == 2
    assert message in completed.stderr
    assert len(completed.stderr.strip().splitlines()) == 1
    assert "Traceback" not in completed.stderr


def test_offline_full_mnist_is_a_one_line_error(monkeypatch, tmp_path, capsys):
    monkeypatch.setattr(data, "OPENML_HOST", ("127.0.0.1", 9))
    monkeypatch.setenv("ADVERSARIAL_DIGITS_HOME", str(tmp_path))
    assert cli.main(["--dataset", "mnist"]) == 2
    error = capsys.readouterr().err
    assert "internet once" in error and len(error.strip().splitlines()) == 1
