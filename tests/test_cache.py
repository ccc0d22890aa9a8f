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
from core.inputs.data import load_dataset
from core.inputs.settings import TrainingSettings
from core.jobs.models import ModelStore, Trainings
from core.attack import minimal_epsilon
data = load_dataset("mnist-5k")
model = ModelStore(Trainings()).get(TrainingSettings(epochs=2)).model
print(json.dumps(minimal_epsilon(model, data.x_test[:5], 6).tolist()))
"""


def run(env: dict) -> subprocess.CompletedProcess:
    environment = {**os.environ, **env}
    return subprocess.run([sys.executable, "-c", ATTACK], capture_output=True, text=True, cwd=ROOT, env=environment)


OTHERS = {".git", ".ci", "test-output", ".pytest_cache", ".ruff_cache"}  # written by git, CI and other tests meanwhile


def written_files(folder: Path) -> list[Path]:
    return sorted(p for p in folder.rglob("*") if p.is_file() and not OTHERS & set(p.relative_to(folder).parts))


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


# --- the cap on saved models -------------------------------------------------------------------------------


def test_pruning_keeps_the_folder_under_the_cap_and_the_most_recent_files(tmp_path):
    from core.inputs.cache import prune, touch

    for number in range(8):  # 8 models of 40 KB, saved a minute apart
        path = tmp_path / f"model-{number}.npz"
        path.write_bytes(bytes(40_000))
        os.utime(path, (1_000_000 + 60 * number, 1_000_000 + 60 * number))
    touch(tmp_path / "model-1.npz")  # model 1 was just read: used most recently of all
    assert (tmp_path / "model-1.npz").stat().st_mtime == 1_000_060  # when it was saved stays as it was
    (tmp_path / "model-9.npz.damaged-20261129-120000-1").write_bytes(bytes(10))
    (tmp_path / ".model-x.npz.abc.partial").write_bytes(bytes(500_000))  # another process writing: not ours
    deleted = prune(tmp_path, keep=tmp_path / "model-0.npz", limit=130_000)
    left = sorted(p.name for p in tmp_path.iterdir() if not p.name.startswith("."))
    assert left == ["model-0.npz", "model-1.npz", "model-7.npz"]  # the one kept, the one just used, the newest
    assert len(deleted) == 6 and (tmp_path / ".model-x.npz.abc.partial").exists()


def test_damaged_files_go_after_an_hour_or_first_when_over_the_cap(tmp_path, monkeypatch):
    from core.inputs import cache

    damaged = tmp_path / "model.npz.damaged-20261129-120000-1"
    damaged.write_bytes(bytes(10))
    (tmp_path / "model.npz").write_bytes(bytes(10))
    assert cache.prune(tmp_path, limit=1000) == [] and damaged.exists()  # logged a moment ago: kept for now
    assert cache.prune(tmp_path, limit=15) == [damaged]  # over the cap: it goes before any model
    damaged.write_bytes(bytes(10))
    monkeypatch.setattr(cache, "DAMAGED_KEPT_SECONDS", -1.0)  # as if an hour had passed
    assert cache.prune(tmp_path, limit=1000) == [damaged] and (tmp_path / "model.npz").exists()


def test_the_cap_is_read_from_the_environment_as_decimal_megabytes(monkeypatch, caplog):
    from core.inputs.cache import CACHE_MB_VARIABLE, cache_limit_bytes

    monkeypatch.setenv(CACHE_MB_VARIABLE, "0.1")
    assert cache_limit_bytes() == 100_000
    monkeypatch.delenv(CACHE_MB_VARIABLE)
    assert cache_limit_bytes() == 200_000_000
    for bad in ("lots", "-5", "nan", "9" * 400):
        monkeypatch.setenv(CACHE_MB_VARIABLE, bad)
        assert cache_limit_bytes() == 200_000_000
    assert "is not a number of MB" in caplog.text


def test_trainings_under_a_tiny_cap_leave_at_most_the_cap_plus_one_model(tmp_path, monkeypatch):
    """Real trainings in child processes, each saving a model: the folder never grows past the cap plus the newest."""
    import hashlib

    from core.inputs.cache import CACHE_MB_VARIABLE, HOME_VARIABLE
    from core.inputs.settings import TrainingSettings
    from core.jobs.models import ModelStore, Trainings
    from core.jobs.shipped import shipped_path

    monkeypatch.setenv(HOME_VARIABLE, str(tmp_path / "home"))
    monkeypatch.setenv(CACHE_MB_VARIABLE, "0.1")
    shipped = shipped_path(TrainingSettings())
    before = hashlib.sha256(shipped.read_bytes()).hexdigest()
    store, paths = ModelStore(Trainings()), []
    for seed in range(1, 4):  # three models of about 60 KB each under a cap of 100 KB
        settings = TrainingSettings(epochs=1, seed=seed)
        store.get(settings)
        paths.append(settings.model_path())
    folder = paths[-1].parent
    sizes = [p.stat().st_size for p in folder.iterdir()]
    assert sum(sizes) <= 100_000 + max(sizes)
    assert paths[-1].exists() and len(sizes) < 3  # the newest kept, older ones evicted
    assert hashlib.sha256(shipped.read_bytes()).hexdigest() == before  # the shipped weights are untouched
