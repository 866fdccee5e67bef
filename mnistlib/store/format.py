"""The run store's format: which version a store is, and its upgrade to this mnistlib's, safe against a kill.

A store records its format in ``store.json``; each run folder records the format of its files in
its ``config.json`` (``store_format``). A store without ``store.json`` was written before stores
had formats: format 1. The formats:

1. names hashed every field (some only when set), and a ``config.json`` without ``model_revision``
   meant revision 1;
2. a run's identity is its fields away from their defaults (:func:`mnistlib.store.identity.identity`), and
   every ``config.json`` states its model revision;
3. the original's names: loss ``softmax_then_cross_entropy``, protocol ``original`` and origin
   ``original-checkpoint`` (they were ``seed_softmax_ce``, ``seed`` and ``seed-checkpoint``).

The first command that writes to an older store upgrades it (:func:`ensure_current`), under a
store-wide lock, so of several processes sharing the store (Dask workers on a network file
system) one upgrades and the others wait. Every file that names a run is rewritten: its folder,
its ``config.json``, the config inside each checkpoint, ``run.json``'s ``continued_from``, and the
lock files (named by the old hash, they are removed). A run whose name changes is written whole to
``.upgrade-<new name>`` and renamed into place before its old folder goes; one whose name stays is
rewritten file by file, ``config.json`` last. So after a kill at any moment every run is in one
folder, old or new, and the next command finishes the upgrade. Reading commands never upgrade:
an older store is one line saying which command does.
"""
from __future__ import annotations

import json
import shutil
import sys
from pathlib import Path
from typing import Callable

import filelock

from ..errors import ConfigError, RunStoreError, StoreFormatError
from .._util.files import load_checkpoint, save_checkpoint, write_json
from .identity import run_name
from ..runconfig import RunConfig

FORMAT = 3
STORE_FILE = "store.json"
MARK = "store_format"  # the key of config.json that holds its run's format
UPGRADING = ".upgrade-"  # the prefix of the folders an upgrade writes and discards


def _format_1_to_2(values: dict) -> dict:
    return {"model_revision": 1, **values}


RENAMED_3 = {"loss": {"seed_softmax_ce": "softmax_then_cross_entropy"}, "protocol": {"seed": "original"},
             "origin": {"seed-checkpoint": "original-checkpoint"}}


def _format_2_to_3(values: dict) -> dict:
    return {key: RENAMED_3.get(key, {}).get(value, value) if isinstance(value, str) else value
            for key, value in values.items()}


# STEPS[n] turns a format-n config.json mapping into format n + 1. Each step is idempotent.
STEPS: dict[int, Callable[[dict], dict]] = {1: _format_1_to_2, 2: _format_2_to_3}


def convert(values: dict, version: int) -> dict:
    """A run's config mapping of format ``version`` in this mnistlib's format (without the mark)."""
    values = {k: v for k, v in values.items() if k != MARK}
    for step in range(version, FORMAT):
        values = STEPS[step](values)
    return values


def run_folders(root: Path) -> list[Path]:
    """The run folders of a store: those holding a ``config.json``, not the hidden ones."""
    if not root.is_dir():
        return []
    return sorted(p for p in root.iterdir() if not p.name.startswith(".") and (p / "config.json").is_file())


def store_format(root: Path) -> int:
    """The format ``root`` is in: its ``store.json``'s; 1 for a store of runs without one; this
    mnistlib's for an empty or missing folder."""
    path = root / STORE_FILE
    if not path.exists():
        return 1 if run_folders(root) else FORMAT
    try:
        value = json.loads(path.read_text())["format"]
        if isinstance(value, int) and not isinstance(value, bool) and value >= 1:
            return value
    except (OSError, ValueError, KeyError, TypeError):
        pass
    raise StoreFormatError(f"{path}: unreadable store format; delete the file, and the next command that trains "
                           f"reads each run's own format and writes it again")


def check_readable(root: Path) -> None:
    """Raise a one-line StoreFormatError unless ``root`` is in this mnistlib's format."""
    version = store_format(root)
    if version < FORMAT:
        raise StoreFormatError(f"{root}: a run store of format {version}, from an earlier mnistlib; upgrade it "
                               f"with `mnistlib upgrade` (any command that trains upgrades it too); nothing "
                               f"is retrained")
    _refuse_newer(root, version)


def _refuse_newer(root: Path, version: int) -> None:
    if version > FORMAT:
        raise StoreFormatError(f"{root}: a run store of format {version}, newer than this mnistlib's ({FORMAT}); "
                               f"update mnistlib (git pull, then make setup) to use it")


def run_format(values: dict, folder: Path) -> int:
    """The format of one run's ``config.json`` mapping."""
    version = values.get(MARK, 1)
    if not isinstance(version, int) or version < 1:
        raise StoreFormatError(f"{folder / 'config.json'}: bad {MARK} {version!r}; restore the file")
    _refuse_newer(folder, version)
    return version


def ensure_current(root: Path, log: Callable[[str], None] | None = None, every_run: bool = False) -> int:
    """Bring ``root`` to this mnistlib's format, upgrading it if it is older (under the store's
    lock); returns the number of runs upgraded. Refuses a store newer than this mnistlib.
    ``every_run``: also look for older run folders in a store already marked current (copied in
    from elsewhere, say), as `mnistlib upgrade` does."""
    version = store_format(root)
    _refuse_newer(root, version)
    if not every_run and version == FORMAT and (root / STORE_FILE).exists():
        return 0
    (root / ".locks").mkdir(parents=True, exist_ok=True)
    with filelock.FileLock(root / ".locks" / "store.lock"):
        version = store_format(root)
        _refuse_newer(root, version)
        done = upgrade(root, log or _note)
        write_json(root / STORE_FILE, {"format": FORMAT})
    return done


def _note(line: str) -> None:
    print(f"mnistlib: {line}", file=sys.stderr)


def upgrade(root: Path, log: Callable[[str], None]) -> int:
    """Upgrade every run folder of ``root`` older than this mnistlib's format (the caller holds the
    store's lock); returns how many were upgraded. Finishes an upgrade that a kill interrupted."""
    for leftover in root.glob(f"{UPGRADING}*"):  # a copy a kill left unfinished (made again below), or trash
        shutil.rmtree(leftover)
    plan = []
    for folder in run_folders(root):
        try:
            values = json.loads((folder / "config.json").read_text())
        except (OSError, ValueError):
            log(f"{folder / 'config.json'}: unreadable, left as it is (restore it, then run `mnistlib upgrade`)")
            continue
        version = run_format(values, folder)
        if version < FORMAT:
            plan.append((folder, *_upgraded(values, version, folder)))
    if not plan:
        return 0
    log(f"upgrading the run store in {root} to format {FORMAT} ({len(plan)} runs; nothing is retrained)")
    renames = {folder.name: name for folder, _, name in plan}
    for folder, values, name in plan:
        _upgrade_run(root, folder, values, name, renames)
    for folder, _, name in plan:  # lock files are named by the old hash
        if name != folder.name:
            (root / ".locks" / f"{folder.name.rsplit('-', 1)[-1]}.lock").unlink(missing_ok=True)
    return len(plan)


def _upgraded(values: dict, version: int, folder: Path) -> tuple[dict, str]:
    """(config mapping, folder name) of a run in this format. A run of an earlier revision of its
    model keeps its name: no config of today's models is that run, and it stays unusable."""
    values = convert(values, version)
    try:
        cfg = RunConfig.from_dict(values)
    except ConfigError:
        return values, folder.name
    return cfg.to_dict(), run_name(cfg)


def _upgrade_run(root: Path, folder: Path, values: dict, name: str, renames: dict) -> None:
    target = root / name
    if target != folder and (target / "config.json").exists():
        _discard(root, folder)  # its new folder is complete: a kill came before the old one went
        return
    work = folder if target == folder else root / f"{UPGRADING}new-{name}"
    for path in sorted(p for p in folder.rglob("*") if p.is_file() and p.name != "config.json"):
        if path.name.endswith(".tmp"):
            continue  # a write a kill interrupted: never part of the run
        dest = work / path.relative_to(folder)
        dest.parent.mkdir(parents=True, exist_ok=True)
        try:
            if path.suffix == ".pt":
                state = load_checkpoint(path)
                save_checkpoint(dest, {**state, "config": values} if "config" in state else state)
                continue
            if path.name == "run.json":
                status = json.loads(path.read_text())
                write_json(dest, {**status, "continued_from": renames.get(status["continued_from"],
                                                                          status["continued_from"])}
                           if "continued_from" in status else status)
                continue
        except (RunStoreError, ValueError):
            pass  # a damaged file goes over as it is: the run says so when it is read, as before
        if work != folder:
            shutil.copy2(path, dest)
    write_json(work / "config.json", {**values, MARK: FORMAT})  # last: the mark that the run is done
    if work != folder:
        work.rename(target)
        _discard(root, folder)


def _discard(root: Path, folder: Path) -> None:
    """Remove ``folder`` as one step: renamed out of the store first, so a kill during the removal
    leaves no half of a run behind (the next upgrade deletes what is left)."""
    trash = root / f"{UPGRADING}old-{folder.name}"
    folder.rename(trash)
    shutil.rmtree(trash)
