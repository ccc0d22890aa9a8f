"""The cache folder: a home that cannot be written costs nothing but speed, and nothing lands beside the source.

Runs in a fresh interpreter, as a restarted server would: the cache folder is chosen once per process.
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


def written_files(folder: Path) -> list[Path]:
    return sorted(p for p in folder.rglob("*") if p.is_file() and ".git" not in p.parts and ".ci" not in p.parts)


def test_with_only_the_temporary_folder_writable_the_app_still_works(tmp_path):
    temporary = tmp_path / "tmp"
    temporary.mkdir()
    before = written_files(ROOT)
    result = run({"ADVERSARIAL_DIGITS_HOME": "/proc/no-such-home", "TMPDIR": str(temporary)})
    assert result.returncode == 0, result.stderr
    assert len(json.loads(result.stdout)) == 5
    kept = next(temporary.glob("adversarial-digits-*"))
    assert list((kept / "models").glob("*.npz"))
    assert written_files(ROOT) == before  # nothing written beside the source
    assert result.stderr.count("cannot write to /proc/no-such-home/models") == 1  # said once, not per use
