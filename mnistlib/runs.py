"""The run store: one folder per run, written atomically, read back without training.

Layout of ``runs/<label>-<hash>/``::

    config.json           the RunConfig (all fields)
    history.csv           one row per finished epoch (accuracies in percent)
    run.json              status: device, versions, data checksum, health, times
    checkpoints/last.pt   model, optimizer, epoch, RNG state and history: resume point
    checkpoints/best.pt   the epoch with the highest test accuracy
    checkpoints/epoch_007.pt ...   only with save_every_epoch

Every file is written to a temporary name and renamed, so a crash or kill leaves either the
old file or the new one, never half of one. ``last.pt`` is written before ``history.csv``,
so the history on disk never runs ahead of the resume point.
"""
from __future__ import annotations

import json
import os
import tempfile
import warnings
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Callable, Iterable, Mapping

import filelock
import numpy as np
import pandas as pd
import torch

from . import paths
from .errors import ConfigError, RunStoreError
from .runconfig import RunConfig
from .stats import METRICS, SEED_WINDOW, Health, health, run_statistics

HISTORY_COLUMNS = ["epoch", *METRICS, "seconds"]


def atomic_write(path: Path, write: Callable[[Any], None], mode: str = "w") -> None:
    """Write via ``write(file)`` to a temporary file beside ``path``, fsync, then rename over it."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, mode) as f:
            write(f)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def write_json(path: Path, value: Any) -> None:
    atomic_write(path, lambda f: json.dump(value, f, indent=2, sort_keys=True, default=str))


def save_checkpoint(path: Path, payload: dict) -> None:
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


@dataclass
class Run:
    """A stored run: its config, folder and per-epoch history."""

    config: RunConfig
    path: Path
    history: pd.DataFrame

    @property
    def name(self) -> str:
        return self.path.name

    @property
    def label(self) -> str:
        return self.config.label()

    @property
    def epochs_done(self) -> int:
        """The last finished epoch (a seed-protocol history also has an epoch-0 row)."""
        return int(self.history.epoch.iloc[-1]) if len(self.history) else 0

    @property
    def finished(self) -> bool:
        return self.epochs_done >= self.config.epochs

    @property
    def health(self) -> Health:
        return health(self.history)

    def statistics(self, window: tuple[int, int] = SEED_WINDOW) -> dict:
        """The seed's statistics: means over the epoch window, best test accuracy, lowest test loss."""
        return run_statistics(self.history, window)

    def checkpoint(self, which: str = "last") -> Path:
        """Path of ``last``, ``best`` or ``epoch_NNN`` checkpoints."""
        return self.path / "checkpoints" / f"{which}.pt"


def _read_history(path: Path) -> pd.DataFrame:
    """``history.csv``; if it is damaged, the history inside ``checkpoints/last.pt`` (which is
    written first and is the resume point), so a bad CSV never costs finished epochs."""
    csv = path / "history.csv"
    try:
        history = pd.read_csv(csv) if csv.exists() else pd.DataFrame(columns=HISTORY_COLUMNS)
        if list(history.columns) == HISTORY_COLUMNS:
            return history
    except (OSError, ValueError, pd.errors.ParserError):
        pass
    last = path / "checkpoints" / "last.pt"
    if not last.exists():
        raise RunStoreError(f"{csv}: unreadable and no checkpoint to rebuild it from; delete the run folder "
                            f"to retrain")
    warnings.warn(f"{csv}: unreadable; using the history stored in {last}", stacklevel=3)
    history = pd.DataFrame(load_checkpoint(last)["history"], columns=HISTORY_COLUMNS)
    atomic_write(csv, lambda f: history.to_csv(f, index=False))
    return history


def _read_config(path: Path) -> RunConfig:
    """A run folder's ``config.json``; one written before models had revisions was made by revision 1."""
    return RunConfig.from_dict({"model_revision": 1, **json.loads((path / "config.json").read_text())})


class RunStore:
    """The folder of runs (``runs/`` by default): find, create, read and list runs."""

    def __init__(self, root: str | Path | None = None):
        self.root = Path(root) if root is not None else paths.runs_dir()

    def path_for(self, cfg: RunConfig) -> Path:
        """The run's folder: an existing one with the same config hash, else ``<label>-<hash>``."""
        existing = sorted(self.root.glob(f"*-{cfg.config_hash()}")) if self.root.exists() else []
        return existing[0] if existing else self.root / cfg.run_name()

    def find(self, cfg: RunConfig) -> Run | None:
        """The stored run for this config (finished or not), or None."""
        path = self.path_for(cfg)
        return self.load(path) if (path / "config.json").exists() else None

    def resolve(self, name: str | Path) -> Path:
        """A run folder from a path, a folder name, or a unique prefix of one."""
        path = Path(name)
        if (path / "config.json").exists():
            return path
        if (self.root / name / "config.json").exists():
            return self.root / name
        matches = sorted(p for p in self.root.glob(f"{name}*") if (p / "config.json").exists()) \
            if self.root.exists() else []
        if len(matches) == 1:
            return matches[0]
        known = ", ".join(p.name for p in self.runs()) or "none yet"
        what = "is ambiguous" if matches else "does not exist"
        raise RunStoreError(f"run {str(name)!r} {what} in {self.root}; stored runs: {known}")

    def load(self, name: str | Path) -> Run:
        """Read a run's config and history (no model is built)."""
        path = self.resolve(name)
        try:
            cfg = _read_config(path)
        except (OSError, json.JSONDecodeError, ConfigError) as exc:
            raise RunStoreError(f"{path / 'config.json'}: unreadable ({exc}); restore it, or delete the run "
                                f"folder to retrain") from None
        return Run(cfg, path, _read_history(path))

    def shorter(self, cfg: RunConfig) -> Run | None:
        """The finished stored run with the most epochs that ``cfg`` can continue from
        (:meth:`RunConfig.continues`), or None. Only matching runs have their history read."""
        best = None
        for path in self.runs():
            try:
                base = _read_config(path)
            except (OSError, json.JSONDecodeError, ConfigError):
                continue  # a damaged folder is never a base; load() reports it when asked for
            if not cfg.continues(base) or (best is not None and base.epochs <= best.config.epochs):
                continue
            try:
                run = self.load(path)
            except RunStoreError:
                continue
            if run.finished and (path / "checkpoints" / "last.pt").exists():
                best = run
        return best

    def begin(self, cfg: RunConfig, status: dict, map_location="cpu") -> tuple[Path, dict | None, dict]:
        """Open ``cfg``'s folder for training: (folder, resume state or None, status). The state is
        its ``last.pt``, or, for a new run, that of the longest stored shorter run it continues
        (:meth:`RunConfig.continues`: its first epochs would be the very same); ``status`` (versions,
        device, start time) is written to ``run.json`` as running, with the run it continued."""
        stored = self.find(cfg)
        path = stored.path if stored is not None else self.path_for(cfg)
        last = path / "checkpoints" / "last.pt"
        if not last.exists():
            base = self.shorter(cfg)
            if base is None:
                write_json(path / "config.json", cfg.to_dict())
            else:
                self._continue(cfg, path, base)
                status = {**status, "continued_from": base.name}
        state = load_checkpoint(last, map_location=map_location) if last.exists() else None
        done = state["history"][-1]["epoch"] if state and state["history"] else 0
        write_json(path / "run.json", {**status, "state": "running", "epochs_done": done})
        return path, state, status

    def _continue(self, cfg: RunConfig, path: Path, base: Run) -> None:
        """Start ``cfg``'s folder from ``base``'s checkpoints, relabelled with ``cfg``."""
        write_json(path / "config.json", cfg.to_dict())
        if base.checkpoint("best").exists():
            save_checkpoint(path / "checkpoints" / "best.pt", {**load_checkpoint(base.checkpoint("best")),
                                                              "config": cfg.to_dict()})
        # last: the resume point, written last
        save_checkpoint(path / "checkpoints" / "last.pt", {**load_checkpoint(base.checkpoint("last")),
                                                          "config": cfg.to_dict()})

    def save_epoch(self, path: Path, cfg: RunConfig, state: dict) -> Run:
        """Store a finished epoch: ``last.pt`` first (the resume point), ``best.pt`` when its test
        accuracy beats every earlier epoch's, ``epoch_NNN.pt`` with ``save_every_epoch``, then
        ``history.csv``. ``state`` is the checkpoint: epoch, config, model, optimizer, rng, history."""
        history, folder = state["history"], path / "checkpoints"
        save_checkpoint(folder / "last.pt", state)
        if history[-1]["test_acc"] > max((row["test_acc"] for row in history[:-1]), default=-np.inf):
            save_checkpoint(folder / "best.pt", state)
        if cfg.save_every_epoch:
            save_checkpoint(folder / f"epoch_{state['epoch']:03d}.pt", state)
        frame = pd.DataFrame(history, columns=HISTORY_COLUMNS)
        atomic_write(path / "history.csv", lambda f: frame.to_csv(f, index=False))
        return Run(cfg, path, frame)

    def finish(self, path: Path, status: dict) -> Run:
        """Mark the run finished in ``run.json``, with its health; returns it as stored."""
        run = self.load(path)
        write_json(path / "run.json", {**status, "state": "finished", "epochs_done": run.epochs_done,
                                       "finished": datetime.now(timezone.utc).isoformat(timespec="seconds"),
                                       "health": str(run.health)})
        return run

    def lock(self, cfg: RunConfig) -> filelock.FileLock:
        """The run's lock: only the process holding it trains the run, on this machine or on any
        machine sharing the store's folder. An OS file lock (``flock``), so the system releases
        it when its process dies, even by SIGKILL: a dead trainer never blocks a run. On a
        network file system it needs the file system's locking (NFS: lockd, or NFSv4)."""
        folder = self.root / ".locks"
        folder.mkdir(parents=True, exist_ok=True)
        return filelock.FileLock(folder / f"{cfg.config_hash()}.lock")

    def runs(self) -> list[Path]:
        """All run folders, by name."""
        if not self.root.exists():
            return []
        return sorted(p for p in self.root.iterdir() if (p / "config.json").exists())


def summarize(runs: Iterable[Run] | Mapping[str, Run], window: tuple[int, int] = SEED_WINDOW) -> pd.DataFrame:
    """The seed's statistics table across runs, one row each, indexed by run label (or by the
    keys, when ``runs`` is a mapping of label -> Run); ``health`` holds each run's :class:`Health`
    (written as its sentence)."""
    items = runs.items() if isinstance(runs, Mapping) else ((run.label, run) for run in runs)
    rows = [{"run": label, **run.statistics(window), "health": run.health} for label, run in items]
    return pd.DataFrame(rows).set_index("run") if rows else pd.DataFrame()
