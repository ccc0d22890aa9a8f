import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from core import __main__ as cli
from core.inputs import data

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(autouse=True)
def own_home(tmp_path_factory, monkeypatch):
    """The CLI keeps the weights it trains in a cache folder of the test's own (shared by these tests)."""
    monkeypatch.setenv("ADVERSARIAL_DIGITS_HOME", str(tmp_path_factory.getbasetemp() / "cli-home"))


def run_cli(*args):
    return subprocess.run([sys.executable, "-m", "core", *args], cwd=ROOT, capture_output=True, text=True, timeout=120)


def test_json_run_fools_every_image_at_its_minimal_epsilon(tmp_path, model, dataset):
    completed = run_cli("--json", "--out", str(tmp_path))
    assert completed.returncode == 0, completed.stderr
    result = json.loads(completed.stdout)
    assert result["dataset"] == "mnist-5k" and result["test_accuracy"] >= 0.87
    assert (result["source"], result["target"], result["clip"]) == (2, 6, True)
    images = result["images"]
    assert len(images) == 10
    for image in images:
        assert image["predicted_after"] == 6
        x = dataset.x_test[image["test_index"]].astype(np.float64)
        assert dataset.y_test[image["test_index"]] == 2
        z = model.W @ x + model.b
        p = np.exp(z - z.max()) / np.exp(z - z.max()).sum()
        direction = -np.sign(model.W.T @ (p - np.eye(10)[6]))  # independently of core.attack
        assert image["delta_predicted"] == int(np.argmax(model.W @ direction + model.b))
        assert image["predicted_before"] == int(np.argmax(z))
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
        (["--eps", "abc"], "--eps: 'abc' is not a number"),
        (["--eps", "5"], "is outside [-1, 1]"),
        (["--target", "12"], "'12' is not a digit 0-9"),
        (["--epochs", "-3"], "-3 is outside [1, 100]"),
        (["--epochs", "1000"], "1000 is outside [1, 100]"),
        (["--out", "README.md"], "is a file, not a folder"),
        (["--out", "/proc/nope"], "cannot be written"),
        (["--dataset", "idx:/no/such/folder"], "does not exist"),
        (["--adversarial-eps", "0.5"], "0.5 is outside [0, 0.3]"),
        (["--l1", "-1"], "-1 is outside [0, 0.01]"),
        (["--solver", "lbfgs", "--adversarial-eps", "0.1"], "train with the sgd solver"),
    ],
)
def test_bad_arguments_give_one_line_and_exit_2(args, message, capsys):
    try:
        code = cli.main(args)  # in this process: what `python -m core` runs, without starting one per case
    except SystemExit as exit:
        code = exit.code
    assert code == 2
    error = capsys.readouterr().err
    assert message in error
    assert error.startswith("python -m core: error: ")  # one prefix for every error
    assert len(error.strip().splitlines()) == 1


def test_a_bad_argument_from_the_command_line_is_one_line_not_a_traceback():
    completed = run_cli("--eps", "abc")
    assert completed.returncode == 2 and "Traceback" not in completed.stderr
    assert completed.stderr == "python -m core: error: argument --eps: 'abc' is not a number (see --help)\n"


def test_offline_full_mnist_is_a_one_line_error(monkeypatch, tmp_path, capsys):
    monkeypatch.setattr(data, "OPENML_HOST", ("127.0.0.1", 9))
    monkeypatch.setenv("ADVERSARIAL_DIGITS_HOME", str(tmp_path))
    assert cli.main(["--dataset", "mnist"]) == 2
    error = capsys.readouterr().err
    assert "internet once" in error and len(error.strip().splitlines()) == 1
    assert "server" not in error and "point the app" not in error  # the CLI has neither


def test_help_says_what_each_option_does_and_its_default():
    completed = run_cli("--help")
    assert completed.returncode == 0
    text = " ".join(completed.stdout.split())
    for fragment in (
        "(default: 25)",
        "(default: 0.05)",
        "(default: 100)",
        "(default: 2)",
        "(default: 6)",
        "as the original experiment did",
    ):
        assert fragment in text
    assert "seed" not in text.replace("--seed", "").replace("SEED", "").replace("seeds the", "")


def test_more_images_than_there_are_says_so():
    completed = run_cli("--count", "1000")
    assert completed.returncode == 0, completed.stderr
    assert "(only 100 test images of digit 2; all are shown)" in completed.stdout
    assert len([line for line in completed.stdout.splitlines() if "->" in line and line.strip()[0].isdigit()]) == 100


def test_the_cli_reuses_the_weights_the_app_saved(tmp_path, training, monkeypatch):
    """The same settings as the app: no training, the saved weights are read."""
    from core.inputs.cache import save_atomically
    from core.inputs.settings import DEFAULTS
    from core.model import save_training

    monkeypatch.setenv("ADVERSARIAL_DIGITS_HOME", str(tmp_path))
    path = DEFAULTS.model_path()
    save_atomically(path, lambda handle: save_training(training, handle))
    stamp = path.stat().st_mtime_ns
    completed = run_cli("--json")
    assert completed.returncode == 0, completed.stderr
    result = json.loads(completed.stdout)
    assert result["training_seconds"] == round(training.seconds, 3)  # the saved result, not a new training
    assert result["loaded"] is True
    assert path.stat().st_mtime_ns == stamp
    text = run_cli("--out", str(tmp_path / "out"))
    assert "loaded saved weights (trained earlier in" in text.stdout and "trained in" not in text.stdout
    assert f"wrote {tmp_path / 'out' / 'grid-2-to-6.png'}" in text.stdout  # the figure it wrote, said
