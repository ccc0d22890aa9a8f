"""The cache folder: damaged kernel caches are set aside and rebuilt; a read-only home costs nothing but speed.

Each case runs in a fresh interpreter, as a restarted server would: numba
reads its cache once per process.
"""

import json
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

ATTACK = """
import json, logging, sys
logging.basicConfig(stream=sys.stderr, level=logging.WARNING)
from core.data import load_dataset
from core.settings import TrainingSettings
from core.training_queue import ModelStore, TrainingQueue
from core.attack import minimal_epsilon
data = load_dataset("mnist-5k")
model = ModelStore(TrainingQueue()).get(TrainingSettings(epochs=2)).model
print(json.dumps(minimal_epsilon(model, data.x_test[:5], 6).tolist()))
"""


def run(env: dict) -> subprocess.CompletedProcess:
    environment = {**os.environ, **env}
    return subprocess.run([sys.executable, "-c", ATTACK], capture_output=True, text=True, cwd=ROOT, env=environment)


def kernel_files(folder: Path) -> list[Path]:
    return sorted(p for p in folder.rglob("*") if p.suffix in (".nbi", ".nbc"))


def test_a_damaged_kernel_cache_is_set_aside_and_rebuilt(tmp_path):
    home = tmp_path / "home"
    first = run({"ADVERSARIAL_DIGITS_HOME": str(home)})
    assert first.returncode == 0, first.stderr
    files = kernel_files(home / "numba")
    assert files  # the kernels were cached in the app's folder
    for file in files:  # overwritten, as the finding did
        file.write_bytes(b"\x80\x04garbage" * 10)
    second = run({"ADVERSARIAL_DIGITS_HOME": str(home)})
    assert second.returncode == 0, second.stderr
    assert json.loads(second.stdout) == json.loads(first.stdout)
    assert "moved aside" in second.stderr
    assert len(list(home.glob("numba.damaged-*"))) == 1
    rebuilt = kernel_files(home / "numba")
    assert rebuilt and all(b"garbage" not in file.read_bytes() for file in rebuilt)  # compiled afresh


def test_with_only_the_temporary_folder_writable_the_app_still_works(tmp_path):
    temporary = tmp_path / "tmp"
    temporary.mkdir()
    before = kernel_files(ROOT)
    result = run({"ADVERSARIAL_DIGITS_HOME": "/proc/no-such-home", "TMPDIR": str(temporary)})
    assert result.returncode == 0, result.stderr
    assert len(json.loads(result.stdout)) == 5
    kept = next(temporary.glob("adversarial-digits-*"))
    assert list((kept / "models").glob("*.npz")) and kernel_files(kept / "numba")
    assert kernel_files(ROOT) == before  # nothing written beside the source
    assert result.stderr.count("cannot write to /proc/no-such-home/models") == 1  # said once, not per use
