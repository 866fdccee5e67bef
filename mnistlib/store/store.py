"""The run store: one folder per run, written atomically, read back without training.

Layout of ``runs/``: ``store.json`` (the store's format, :mod:`mnistlib.store.format`), ``.locks/``
and one folder per run, ``<folder label>-<hash>/`` (:func:`mnistlib.store.identity.run_name`)::

    config.json           the RunConfig (all fields), its model's revision and the store format
    history.csv           one row per finished epoch (accuracies in percent)
    run.json              status: device, versions, data checksum, health, times
    curve.csv             with eval_every: test loss and accuracy every that many steps, by images seen
    checkpoints/last.pt   model, optimizer, epoch, RNG state, history and curve: resume point
    checkpoints/best.pt   the epoch with the highest test accuracy
    checkpoints/epoch_007.pt ...   only with save_every_epoch

Every file is written to a temporary name and renamed, so a crash or kill leaves either the
old file or the new one, never half of one. ``last.pt`` is written before ``history.csv``,
so the history on disk never runs ahead of the resume point.
"""
from __future__ import annotations

import json
import warnings
from dataclasses import asdict, dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Iterable, Mapping

import filelock
import numpy as np
import pandas as pd

from .. import paths
from ..errors import ConfigError, RunStoreError, StoreFormatError
from .._util.files import atomic_write, keep_copy, load_checkpoint, save_checkpoint, write_json
from ..words import run_description
from .identity import NOT_IDENTITY, config_hash, folder_label, run_name
from ..runconfig import RunConfig
from ..stats import METRICS, ORIGINAL_WINDOW, Health, health, run_statistics
from .format import FORMAT, MARK, check_readable, ensure_current, run_folders, run_format

HISTORY_COLUMNS = ["epoch", *METRICS, "seconds"]
CURVE_COLUMNS = ["images", "epoch", "step", "test_loss", "test_acc"]  # evaluations inside epochs (eval_every)


def continues(cfg: RunConfig, base: RunConfig) -> bool:
    """Whether ``cfg`` may start from ``base``'s last checkpoint: the same settings but fewer
    epochs, and a learning rate that does not depend on the total (constant, no warm-up), so
    ``cfg``'s first epochs would be exactly ``base``'s."""
    ignored = ("epochs", *NOT_IDENTITY)
    same = lambda c: {k: v for k, v in asdict(c).items() if k not in ignored}  # noqa: E731
    return (base.epochs < cfg.epochs and cfg.schedule == "constant" and not cfg.warmup_epochs
            and same(cfg) == same(base))


def write_config(folder: Path, cfg: RunConfig) -> None:
    """A run folder's ``config.json``: the config, its model's revision and the store's format."""
    write_json(folder / "config.json", {**cfg.to_dict(), MARK: FORMAT})


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
        """The run in a reader's words ('LeNet-5, λ=1e-3, seed 2'): legends, menus, tables."""
        return run_description(self.config)

    @property
    def folder_label(self) -> str:
        """The readable part of the run's folder name ('lenet5-wd0.001-seed2'): file names."""
        return folder_label(self.config)

    @property
    def epochs_done(self) -> int:
        """The last finished epoch (a history of the original's protocol also has an epoch-0 row)."""
        return int(self.history.epoch.iloc[-1]) if len(self.history) else 0

    @property
    def finished(self) -> bool:
        return self.epochs_done >= self.config.epochs

    @property
    def health(self) -> Health:
        return health(self.history)

    def statistics(self, window: tuple[int, int] = ORIGINAL_WINDOW) -> dict:
        """The original's statistics: means over the epoch window, best test accuracy, lowest test loss."""
        return run_statistics(self.history, window)

    @property
    def status(self) -> dict:
        """``run.json``: how the run was trained (versions, device, CPU, threads, times, health); {} if unreadable."""
        try:
            return json.loads((self.path / "run.json").read_text())
        except (OSError, ValueError):
            return {}

    @property
    def curve(self) -> pd.DataFrame:
        """Test loss and accuracy against training images seen, every ``eval_every`` steps and at each
        epoch's end (columns :data:`CURVE_COLUMNS`); empty for a run without ``eval_every``."""
        csv = self.path / "curve.csv"
        try:
            curve = pd.read_csv(csv)
            if list(curve.columns) == CURVE_COLUMNS:
                return curve
        except (OSError, ValueError, pd.errors.ParserError):
            pass
        last = self.checkpoint("last")
        rows = load_checkpoint(last).get("curve", []) if self.config.eval_every and last.exists() else []
        return pd.DataFrame(rows, columns=CURVE_COLUMNS)

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
    """A run folder's ``config.json``, which must be in this mnistlib's store format."""
    values = json.loads((path / "config.json").read_text())
    if run_format(values, path) != FORMAT:
        raise StoreFormatError(f"{path}: a run folder of an earlier store format; upgrade it with `mnistlib upgrade`")
    return RunConfig.from_dict({k: v for k, v in values.items() if k != MARK})


class RunStore:
    """The folder of runs (``runs/`` by default): find, create, read and list runs.

    Reading needs a store in this mnistlib's format (an older one: one line saying how to upgrade
    it); :meth:`writable`, which every writer calls first, creates the store or upgrades it."""

    def __init__(self, root: str | Path | None = None):
        self.root = Path(root) if root is not None else paths.runs_dir()
        self._readable_checked = self._writable_checked = False  # what this object has made sure of

    def writable(self) -> "RunStore":
        """Make the store ready to write: created with its format recorded, or upgraded if an earlier
        mnistlib wrote it (:func:`mnistlib.store.format.ensure_current`). Cheap once done; returns the store."""
        if not self._writable_checked:
            ensure_current(self.root)
            self._readable_checked = self._writable_checked = True
        return self

    def upgrade(self, every_run: bool = True) -> int:
        """Upgrade the store (and, with ``every_run``, any older run folder in it) to this
        mnistlib's format; returns the number of runs upgraded (`mnistlib upgrade`)."""
        done = ensure_current(self.root, every_run=every_run)
        self._readable_checked = self._writable_checked = True
        return done

    def _readable(self) -> None:
        if not self._readable_checked:
            check_readable(self.root)
            self._readable_checked = True

    def path_for(self, cfg: RunConfig) -> Path:
        """The run's folder: an existing one with the same config hash, else ``<label>-<hash>``."""
        self._readable()
        existing = sorted(self.root.glob(f"*-{config_hash(cfg)}")) if self.root.exists() else []
        return existing[0] if existing else self.root / run_name(cfg)

    def find(self, cfg: RunConfig) -> Run | None:
        """The stored run for this config (finished or not), or None."""
        path = self.path_for(cfg)
        return self.load(path) if (path / "config.json").exists() else None

    def find_finished(self, cfg: RunConfig) -> Run | None:
        """The stored run for this config if it has finished, else None: the one test of "stored and done"."""
        run = self.find(cfg)
        return run if run is not None and run.finished else None

    def resolve(self, name: str | Path) -> Path:
        """A run folder from a path, a folder name, or a unique prefix of one."""
        self._readable()
        path = Path(name)
        if (path / "config.json").exists():
            return path
        if (self.root / name / "config.json").exists():
            return self.root / name
        matches = [p for p in self.run_folders() if p.name.startswith(str(name))]
        if len(matches) == 1:
            return matches[0]
        known = ", ".join(p.name for p in self.run_folders()) or "none yet"
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
        (:func:`continues`), or None. Only matching runs have their history read."""
        best = None
        for path in self.run_folders():
            try:
                base = _read_config(path)
            except (OSError, json.JSONDecodeError, ConfigError, RunStoreError):
                continue  # a damaged folder is never a base; load() reports it when asked for
            if not continues(cfg, base) or (best is not None and base.epochs <= best.config.epochs):
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
        (:func:`continues`: its first epochs would be the very same); ``status`` (versions,
        device, start time) is written to ``run.json`` as running, with the run it continued."""
        self.writable()
        stored = self.find(cfg)
        path = stored.path if stored is not None else self.path_for(cfg)
        last = path / "checkpoints" / "last.pt"
        if not last.exists():
            base = self.shorter(cfg)
            if base is None:
                write_config(path, cfg)
            else:
                self._continue(cfg, path, base)
                status = {**status, "continued_from": base.name}
        state = load_checkpoint(last, map_location=map_location) if last.exists() else None
        done = state["history"][-1]["epoch"] if state and state["history"] else 0
        write_json(path / "run.json", {**status, "state": "running", "epochs_done": done})
        return path, state, status

    def _continue(self, cfg: RunConfig, path: Path, base: Run) -> None:
        """Start ``cfg``'s folder from ``base``'s checkpoints, relabelled with ``cfg``."""
        write_config(path, cfg)
        if base.checkpoint("best").exists():
            save_checkpoint(path / "checkpoints" / "best.pt", {**load_checkpoint(base.checkpoint("best")),
                                                              "config": cfg.to_dict()})
        # last: the resume point, written last
        save_checkpoint(path / "checkpoints" / "last.pt", {**load_checkpoint(base.checkpoint("last")),
                                                          "config": cfg.to_dict()})

    def save_epoch(self, path: Path, cfg: RunConfig, state: dict, keep_previous: bool = False) -> Run:
        """Store a finished epoch: ``last.pt`` first (the resume point), ``best.pt`` when its test
        accuracy beats every earlier epoch's, ``epoch_NNN.pt`` with ``save_every_epoch``, then
        ``history.csv``. ``state`` is the checkpoint: epoch, config, model, optimizer, rng, history.
        ``keep_previous``: the ``last.pt`` it replaces stays as ``previous.pt`` (:meth:`previous`) until
        :meth:`finish`, so that a stack whose runs a kill left one epoch apart can take that epoch back."""
        history, folder = state["history"], path / "checkpoints"
        if keep_previous and (folder / "last.pt").exists():
            keep_copy(folder / "last.pt", folder / "previous.pt")
        save_checkpoint(folder / "last.pt", state)
        if history[-1]["test_acc"] > max((row["test_acc"] for row in history[:-1]), default=-np.inf):
            save_checkpoint(folder / "best.pt", state)
        if cfg.save_every_epoch:
            save_checkpoint(folder / f"epoch_{state['epoch']:03d}.pt", state)
        if state.get("curve"):
            curve = pd.DataFrame(state["curve"], columns=CURVE_COLUMNS)
            atomic_write(path / "curve.csv", lambda f: curve.to_csv(f, index=False))
        frame = pd.DataFrame(history, columns=HISTORY_COLUMNS)
        atomic_write(path / "history.csv", lambda f: frame.to_csv(f, index=False))
        return Run(cfg, path, frame)

    def previous(self, path: Path, map_location="cpu") -> dict | None:
        """The checkpoint one epoch before ``last.pt`` of a run still training in a stack (``previous.pt``),
        or None where there is none."""
        kept = path / "checkpoints" / "previous.pt"
        return load_checkpoint(kept, map_location=map_location) if kept.exists() else None

    def finish(self, path: Path, status: dict) -> Run:
        """Mark the run finished in ``run.json``, with its health; returns it as stored."""
        (path / "checkpoints" / "previous.pt").unlink(missing_ok=True)
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
        return filelock.FileLock(folder / f"{config_hash(cfg)}.lock")

    def run_folders(self) -> list[Path]:
        """All run folders, by name."""
        self._readable()
        return run_folders(self.root)


def summarize(runs: Iterable[Run] | Mapping[str, Run], window: tuple[int, int] = ORIGINAL_WINDOW) -> pd.DataFrame:
    """The original's statistics table across runs, one row each, indexed by run label (or by the
    keys, when ``runs`` is a mapping of label -> Run); ``health`` holds each run's :class:`Health`
    (written as its sentence)."""
    items = runs.items() if isinstance(runs, Mapping) else ((run.label, run) for run in runs)
    rows = [{"run": label, **run.statistics(window), "health": run.health} for label, run in items]
    return pd.DataFrame(rows).set_index("run") if rows else pd.DataFrame()
