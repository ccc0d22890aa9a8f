"""The app's cache folder: where it is, what happens when it is read-only, and damaged files in it.

Everything the app writes (saved weights, the parsed embedded digits, the
full-MNIST download, compiled kernels) goes into one folder it owns:
``$ADVERSARIAL_DIGITS_HOME`` or ``~/.cache/adversarial-digits``. When that
folder cannot be written (a read-only home), a folder under the system's
temporary directory takes its place for this process, said once in the log;
nothing is ever written beside the source. A cache file that cannot be read
is set aside (renamed ``*.damaged-<time>``) with a log line, and rebuilt.

The saved models are capped in size (:func:`prune`, after every save):
``$ADVERSARIAL_DIGITS_CACHE_MB`` (a decimal number of MB, 200 by default);
the least recently used models go first, set-aside damaged files before
them. The weights that come with the app live beside the source
(``core/shipped_models``), never in this folder, and are never evicted.
"""

from __future__ import annotations

import functools
import logging
import os
import tempfile
import time
import zipfile
from pathlib import Path

HOME_VARIABLE = "ADVERSARIAL_DIGITS_HOME"
CACHE_MB_VARIABLE = "ADVERSARIAL_DIGITS_CACHE_MB"
DEFAULT_CACHE_MB = 200.0
log = logging.getLogger("adversarial_digits")

# What reading a damaged .npy/.npz file raises: numpy's own errors, a cut-off zip, a missing array.
UNREADABLE = (OSError, ValueError, KeyError, IndexError, EOFError, zipfile.BadZipFile)


def default_home() -> Path:
    """The cache folder the app owns: ``$ADVERSARIAL_DIGITS_HOME`` or ``~/.cache/adversarial-digits``."""
    configured = os.environ.get(HOME_VARIABLE)
    return Path(configured) if configured else Path.home() / ".cache" / "adversarial-digits"


def unwritable(folder: Path) -> str | None:
    """Why files cannot be written into ``folder`` (made if missing), or None when they can."""
    folder = Path(folder)
    if folder.exists() and not folder.is_dir():
        return "is a file, not a folder"
    try:
        folder.mkdir(parents=True, exist_ok=True)
        with tempfile.NamedTemporaryFile(dir=folder, prefix=".probe-"):
            return None
    except OSError as error:
        return f"cannot be written ({os.strerror(error.errno) if error.errno else error})"


@functools.cache
def _usable_folder(wanted: Path, name: str) -> Path | None:
    if unwritable(wanted) is None:
        return wanted
    fallback = Path(tempfile.gettempdir()) / f"adversarial-digits-{os.getuid() if hasattr(os, 'getuid') else 0}" / name
    if unwritable(fallback) is None:
        log.warning("cannot write to %s; keeping %s in %s for this process", wanted, name, fallback)
        return fallback
    log.warning("cannot write to %s nor to %s; %s is not kept", wanted, fallback, name)
    return None


def cache_folder(name: str) -> Path | None:
    """A writable folder ``<home>/<name>``, or one under the temporary directory; None if nothing is writable.

    The choice is made once per process and per home (so a read-only home is
    logged once, not on every page view).
    """
    return _usable_folder(default_home() / name, name)


def set_aside(path: Path, problem) -> Path | None:
    """Move an unreadable cache file or folder out of the way, with a log line, so it is rebuilt.

    Returns where it went (None if it could not be moved; then it is left
    where it is and the caller carries on without it).
    """
    path = Path(path)
    moved = path.with_name(f"{path.name}.damaged-{time.strftime('%Y%m%d-%H%M%S')}-{os.getpid()}")
    try:
        path.rename(moved)
    except OSError as error:
        log.warning("the cache file %s is unreadable (%s) and cannot be moved aside (%s)", path, problem, error)
        return None
    log.warning("the cache file %s is unreadable (%s); moved aside to %s and rebuilt", path, problem, moved.name)
    return moved


def save_atomically(path: Path, write) -> bool:
    """Write a cache file through ``write(handle)`` into a temporary file beside it, then rename it into place.

    A reader never sees a half-written file, two processes writing the same
    file do not clash, and a failed write leaves nothing behind. Returns
    whether the file was written; a failure is logged, not raised (a cache
    that cannot be kept only costs the work next time).
    """
    path = Path(path)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        handle = tempfile.NamedTemporaryFile(dir=path.parent, prefix=f".{path.name}.", suffix=".partial", delete=False)
    except OSError as error:
        log.warning("cannot write %s (%s)", path, error)
        return False
    try:
        with handle:
            write(handle)
        os.replace(handle.name, path)
        return True
    except OSError as error:
        log.warning("cannot write %s (%s)", path, error)
        return False
    finally:
        if os.path.exists(handle.name):
            os.unlink(handle.name)


def cache_limit_bytes() -> int:
    """The cap on the saved models, in bytes: ``$ADVERSARIAL_DIGITS_CACHE_MB`` MB (decimal), 200 MB by default."""
    text = os.environ.get(CACHE_MB_VARIABLE, "").strip()
    if not text:
        return int(DEFAULT_CACHE_MB * 1e6)
    try:
        megabytes = float(text) if len(text) <= 20 else float("nan")
    except ValueError:
        megabytes = float("nan")
    if not (megabytes >= 0 and megabytes < 1e9):  # NaN, negative or absurd: the default, said in the log
        log.warning("%s=%r is not a number of MB; using %g", CACHE_MB_VARIABLE, text[:20], DEFAULT_CACHE_MB)
        return int(DEFAULT_CACHE_MB * 1e6)
    return int(megabytes * 1e6)


DAMAGED_KEPT_SECONDS = 3600.0  # a set-aside file stays an hour for whoever reads the log, then goes


def touch(path: Path) -> None:
    """Mark a cache file as just used (its access time; its modification time stays when it was saved)."""
    try:
        os.utime(path, ns=(time.time_ns(), os.stat(path).st_mtime_ns))
    except OSError:  # a read-only folder: the order of eviction is then the order of saving
        pass


def prune(folder: Path, *, keep: Path | None = None, limit: int | None = None) -> list[Path]:
    """Keep ``folder`` within the cap: set-aside damaged files first, then the least recently used files.

    Damaged files go after an hour in any case (they were logged when set
    aside). ``keep`` (the file just saved) is never deleted, even when it
    alone is over the cap. Hidden files (another process's write in
    progress) are neither counted nor touched. Returns what was deleted.
    """
    limit = cache_limit_bytes() if limit is None else limit
    deleted, files, now = [], [], time.time()
    for path in Path(folder).iterdir():
        try:
            if path.name.startswith(".") or not path.is_file():
                continue
            stat = path.stat()
            if ".damaged-" in path.name:
                if now - stat.st_ctime > DAMAGED_KEPT_SECONDS:  # ctime: when it was renamed aside
                    path.unlink()
                    deleted.append(path)
                    continue
                used = float("-inf")  # over the cap, these go before any model
            else:
                used = max(stat.st_atime, stat.st_mtime)  # saved, or read since (see touch)
            files.append((used, stat.st_size, path))
        except OSError:  # gone meanwhile: another process pruned it
            continue
    total = sum(size for _, size, _ in files)
    for _, size, path in sorted(files, key=lambda file: file[0]):
        if total <= limit:
            break
        if keep is not None and path == Path(keep):
            continue
        try:
            path.unlink()
            deleted.append(path)
            total -= size
        except FileNotFoundError:
            total -= size
        except OSError as error:
            log.warning("cannot remove %s to keep the cache under its cap (%s)", path, error)
    if deleted:
        log.info("the cache cap (%.1f MB) removed %d file(s) from %s", limit / 1e6, len(deleted), folder)
    return deleted
