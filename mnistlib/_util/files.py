"""Files written whole or not at all: atomic writes, JSON, and checkpoints loaded without running code.

Every file goes to a temporary name beside its target, is flushed to disk, then renamed over
it, so a crash or a kill leaves the old file or the new one, never half of one.
"""
from __future__ import annotations

import functools
import hashlib
import json
import os
import shutil
import tempfile
from pathlib import Path
from typing import Any, Callable

import torch

from ..errors import RunStoreError


def umask() -> int:
    """This process's umask, read without changing it where the system tells it (Linux: /proc); elsewhere
    set and put back once, the first time (another thread creating a file then gets 022)."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("Umask:"):
                return int(line.split()[1], 8)
    except (OSError, ValueError):
        pass
    return _umask_once()


@functools.lru_cache(maxsize=1)
def _umask_once() -> int:
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


def atomic_write(path: Path, write: Callable[[Any], None], mode: str = "w") -> None:
    """Write via ``write(file)`` to a temporary file beside ``path``, fsync, then rename over it. The file
    gets the mode a plain ``open`` would give it (0666 less the umask), not the temporary file's 0600, so a
    store shared by several users or machines stays readable to them."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        os.fchmod(fd, 0o666 & ~umask())
        with os.fdopen(fd, mode) as f:
            write(f)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def write_json(path: Path, value: Any) -> None:
    """``value`` as indented JSON, keys sorted, written atomically."""
    atomic_write(path, lambda f: json.dump(value, f, indent=2, sort_keys=True, default=str))


def keep_copy(path: Path, copy: Path) -> None:
    """Make ``copy`` the file ``path`` is now, atomically: a hard link (no bytes copied), or a copy where the file
    system refuses links. ``path`` rewritten by :func:`atomic_write` (a new file renamed over it) leaves ``copy``
    as it was."""
    tmp = copy.with_name(f".{copy.name}.{os.getpid()}.tmp")
    tmp.unlink(missing_ok=True)
    try:
        os.link(path, tmp)
    except OSError:
        shutil.copyfile(path, tmp)
    os.replace(tmp, copy)


def file_sha256(path: Path) -> str:
    """The sha256 of a file's bytes, read in 1 MiB pieces."""
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for piece in iter(lambda: f.read(1 << 20), b""):
            digest.update(piece)
    return digest.hexdigest()


def save_checkpoint(path: Path, payload: dict) -> None:
    """``torch.save`` of ``payload``, written atomically."""
    atomic_write(path, lambda f: torch.save(payload, f), mode="wb")


def load_checkpoint(path: Path, map_location: str | torch.device = "cpu") -> dict:
    """A checkpoint, loaded with ``weights_only=True`` (tensors and plain containers only)."""
    try:
        return torch.load(path, map_location=map_location, weights_only=True)
    except FileNotFoundError:
        raise RunStoreError(f"{path}: no such checkpoint; list the run's checkpoints/ folder") from None
    except Exception as exc:
        raise RunStoreError(f"{path}: unreadable checkpoint ({type(exc).__name__}); move it aside to resume "
                            f"from an earlier one, or delete the run folder to retrain") from None
