"""``mnistlib import-original``: the original's published checkpoints as runs in the run store.

    >>> from mnistlib.original.checkpoints import import_original
    >>> runs = import_original("../shared/original/checkpoints")      # a folder, or one *_model_0050.pt file
    >>> runs[0].config.origin
    'original-checkpoint'

Each ``<run>_model_0050.pt`` of the original (a dict: ``epoch``, ``model``, ``opimizer`` [sic] and the
four history lists) becomes a finished run: its weights converted into mnistlib's model (C3's 16
separate convolutions into one :class:`~mnistlib.models.nets.SparseConv2d`, each kernel moved to its
input map; ``fc6.0``/``fc7.0`` to ``f6.0``/``f7``; the MLPs' ``layers.input_1``/``hidden_j`` in
order), its 51-entry history (epoch 0 is the untrained model), and a config of the original's protocol
whose ``origin`` says it was imported, so it is never reused as, or continued into, a trained run.
Files are loaded with ``weights_only=True`` on the CPU; every problem is one line naming the file
(a weight that is not finite among them: such a file is not a trained model), and a run is written to
a temporary folder and renamed, so nothing half-imported stays.

mnistlib ships the original's eight checkpoints it has (its seven LeNet-5 runs and CustomMLP_6) in
``original/published/``, slimmed (:func:`slim_checkpoint`: the optimizer state dropped, the weights and
histories kept); ``published/checkpoints.json`` records each original file's size and sha256
beside the shipped file's, and a run imported from a shipped file records the original's.
"""
from __future__ import annotations

import hashlib
import json
import re
import shutil
import tempfile
from datetime import datetime, timezone
from pathlib import Path

import pandas as pd
import torch

from ..errors import MnistlibError
from .._util.files import save_checkpoint, umask, write_json
from ..models.nets import C3_TABLE, MODELS, build_model, model_revision
from ..runconfig import RunConfig
from .record import PUBLISHED
from ..store.store import HISTORY_COLUMNS, Run, RunStore, write_config

MANIFEST = PUBLISHED / "checkpoints.json"
# The original's C3: output map o is a Conv2d over these S2 maps, in this order (its kernel's channels).
ORIGINAL_C3 = ((0, 1, 2), (1, 2, 3), (2, 3, 4), (3, 4, 5), (4, 5, 0), (5, 0, 1), (0, 1, 2, 3), (1, 2, 3, 4),
               (2, 3, 4, 5), (3, 4, 5, 0), (4, 5, 0, 1), (5, 0, 1, 2), (0, 1, 3, 4), (1, 2, 4, 5), (2, 3, 5, 0),
               (0, 1, 2, 3, 4, 5))
HISTORY_KEYS = {"train_loss": "total_trn_loss", "train_acc": "total_trn_acc", "test_loss": "total_tst_loss",
                "test_acc": "total_tst_acc"}
FILE_NAME = re.compile(r"^(?P<model>LeNet5|CustomMLP_\d)(?:_weight_decay_(?P<wd>[0-9.e-]+))?"
                       r"(?:_insert_noise_s(?P<std>[0-9.]+)_m(?P<mean>-?[0-9.]+))?_model_(?P<epoch>\d+)\.pt$")


class OriginalCheckpointError(MnistlibError):
    """A file that is not a usable checkpoint of the original; the message names the file and the problem."""


def _fail(path: Path, problem: str) -> OriginalCheckpointError:
    return OriginalCheckpointError(f"{path}: {problem}")


def parse_name(path: Path) -> dict:
    """RunConfig fields from the file name of a checkpoint of the original ('LeNet5_weight_decay_0.001_model_0050.pt')."""
    match = FILE_NAME.match(path.name)
    if match is None or match["model"] not in MODELS:
        raise _fail(path, "not named like a checkpoint of the original (<LeNet5|CustomMLP_k>[_weight_decay_λ]"
                          "[_insert_noise_sSTD_mMEAN]_model_NNNN.pt); keep the original's file names")
    return {"model": match["model"], "weight_decay": float(match["wd"] or 0),
            "noise_std": float(match["std"] or 0), "noise_mean": float(match["mean"] or 0)}


def read_checkpoint(path: Path) -> dict:
    """The checkpoint's dict, loaded safely (tensors and plain containers only, on the CPU)."""
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
    except FileNotFoundError:
        raise _fail(path, "no such file; check the path") from None
    except Exception as exc:  # truncated zip, pickle of arbitrary objects, not a torch file at all
        raise _fail(path, f"unreadable as a PyTorch checkpoint ({type(exc).__name__}: "
                          f"{str(exc).splitlines()[0][:120] if str(exc) else 'no detail'}); "
                          f"is the file complete? download it again") from None
    missing = [key for key in ("model", *HISTORY_KEYS.values()) if not isinstance(state, dict) or key not in state]
    if missing:
        what = f"a {type(state).__name__}" if not isinstance(state, dict) else f"a dict without {missing[0]!r}"
        raise _fail(path, f"not a checkpoint of the original: {what} (expected 'model' and the lists "
                          f"{', '.join(HISTORY_KEYS.values())})")
    return state


def _lenet_state(path: Path, weights: dict) -> dict:
    converted = {key: weights.pop(key) for key in ("c1.weight", "c1.bias", "c5.weight", "c5.bias") if key in weights}
    for ours, theirs in (("f6.0", "fc6.0"), ("f7", "fc7.0")):
        for part in ("weight", "bias"):
            if f"{theirs}.{part}" in weights:
                converted[f"{ours}.{part}"] = weights.pop(f"{theirs}.{part}")
    kernels, biases = [], []
    for o, (ours, theirs) in enumerate(zip(C3_TABLE, ORIGINAL_C3)):
        weight, bias = weights.pop(f"c3.{o}.weight", None), weights.pop(f"c3.{o}.bias", None)
        if weight is None or bias is None:
            raise _fail(path, f"missing weight c3.{o}.{'weight' if weight is None else 'bias'} "
                              f"(the original's LeNet-5 has c3.0 to c3.15)")
        if tuple(weight.shape) != (1, len(theirs), 5, 5) or tuple(bias.shape) != (1,):
            raise _fail(path, f"wrong shape for c3.{o}: {tuple(weight.shape)}, expected (1, {len(theirs)}, 5, 5)")
        # our SparseConv2d keeps map o's kernels in increasing input-map order; the original's follow ORIGINAL_C3
        kernels += [weight[0, theirs.index(i)] for i in sorted(ours)]
        biases.append(bias)
    converted["c3.weight"], converted["c3.bias"] = torch.stack(kernels), torch.cat(biases)
    return converted


def _mlp_state(weights: dict) -> dict:
    names = sorted({key.rsplit(".", 1)[0] for key in weights if re.fullmatch(r"layers\.(input|hidden)_\d+\.(weight|bias)", key)},
                   key=lambda name: int(name.rsplit("_", 1)[1]))
    return {f"layers.{2 * i}.{part}": weights.pop(f"{name}.{part}") for i, name in enumerate(names)
            for part in ("weight", "bias") if f"{name}.{part}" in weights}


def convert_weights(path: Path, model: str, weights: dict) -> dict:
    """The original's state dict as mnistlib's ``model`` state dict; unknown keys, missing keys and
    wrong shapes are each a one-line OriginalCheckpointError naming ``path``."""
    if not isinstance(weights, dict) or not all(isinstance(v, torch.Tensor) for v in weights.values()):
        raise _fail(path, "its 'model' entry is not a state dict of tensors")
    weights = dict(weights)
    converted = _lenet_state(path, weights) if model == "LeNet5" else _mlp_state(weights)
    if weights:
        raise _fail(path, f"unknown weight {sorted(weights)[0]!r} for a checkpoint of the original's {model}")
    expected = build_model(model).state_dict()
    for key, tensor in expected.items():
        if key not in converted:
            raise _fail(path, f"missing weight for {key} of {model}")
        if converted[key].shape != tensor.shape:
            raise _fail(path, f"wrong shape for {key}: {tuple(converted[key].shape)}, {model} has {tuple(tensor.shape)}")
        if not torch.isfinite(converted[key]).all():
            raise _fail(path, f"weight {key} holds values that are not finite (NaN or infinite): not a trained "
                              f"model, so nothing was imported")
    return {key: converted[key].float().contiguous() for key in expected}


def _history(path: Path, state: dict) -> pd.DataFrame:
    lists = {ours: state[theirs] for ours, theirs in HISTORY_KEYS.items()}
    lengths = {len(values) if isinstance(values, (list, tuple)) else -1 for values in lists.values()}
    if len(lengths) != 1 or min(lengths) < 2:
        raise _fail(path, "its four history lists are not lists of one length (epoch 0 plus one entry per epoch)")
    n = lengths.pop()
    history = pd.DataFrame({"epoch": range(n), **{k: [float(v) for v in values] for k, values in lists.items()},
                            "seconds": float("nan")})
    return history[HISTORY_COLUMNS]


def load_original_checkpoint(path: str | Path) -> tuple[RunConfig, pd.DataFrame, dict]:
    """(config, history, converted weights) of one checkpoint of the original; nothing is written."""
    path = Path(path)
    fields = parse_name(path)
    state = read_checkpoint(path)
    history = _history(path, state)
    weights = convert_weights(path, fields["model"], state["model"])
    cfg = RunConfig.preset("original", **fields, epochs=int(history.epoch.iloc[-1]), origin="original-checkpoint")
    return cfg, history, weights


def _write(store: RunStore, source: Path, cfg: RunConfig, history: pd.DataFrame, weights: dict) -> Run:
    existing = store.find_finished(cfg)
    if existing is not None:
        return existing
    target = store.path_for(cfg)
    store.root.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(dir=store.root, prefix=f".import-{target.name}-"))
    tmp.chmod(0o777 & ~umask())  # the mode a plain mkdir gives, not mkdtemp's 0700: the folder is renamed into the store
    try:
        write_config(tmp, cfg)
        history.to_csv(tmp / "history.csv", index=False)
        save_checkpoint(tmp / "checkpoints" / "last.pt", {
            "epoch": int(history.epoch.iloc[-1]), "config": cfg.to_dict(), "model": weights,
            "history": history.to_dict("records")})
        write_json(tmp / "run.json", {
            "state": "finished", "origin": "imported from the original's published checkpoint", "source": source.name,
            **_provenance(source), "epochs_done": cfg.epochs, "model_revision": model_revision(cfg.model),
            "imported": datetime.now(timezone.utc).isoformat(timespec="seconds")})
        if target.exists():  # an unfinished folder of this config (an import cannot leave one): replace it
            shutil.rmtree(target)
        tmp.rename(target)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return store.load(target)


def _provenance(source: Path) -> dict:
    """The file's sha256, and the original file's when it is one mnistlib ships slimmed."""
    digest = hashlib.sha256(source.read_bytes()).hexdigest()
    shipped = json.loads(MANIFEST.read_text())["files"].get(source.name, {})
    original = {"original_sha256": shipped["original_sha256"]} if shipped.get("sha256") == digest else {}
    return {"source_sha256": digest, **original}


def slim_checkpoint(source: str | Path, dest: str | Path) -> dict:
    """Write ``dest``: the checkpoint ``source`` of the original without its optimizer state (what an
    import needs: the epoch, the weights and the four histories), after checking that it imports.
    Returns its manifest entry: the original's and the slim file's size and sha256."""
    source, dest = Path(source), Path(dest)
    load_original_checkpoint(source)
    state = read_checkpoint(source)
    save_checkpoint(dest, {key: state[key] for key in ("epoch", "model", *HISTORY_KEYS.values()) if key in state})
    return {"original_bytes": source.stat().st_size, "original_sha256": hashlib.sha256(source.read_bytes()).hexdigest(),
            "bytes": dest.stat().st_size, "sha256": hashlib.sha256(dest.read_bytes()).hexdigest()}


def checkpoint_files(source: str | Path | None = None) -> list[Path]:
    """The ``*_model_NNNN.pt`` files of a folder (or the one file given); None: those mnistlib ships."""
    source = Path(source) if source is not None else PUBLISHED
    if source.is_file():
        return [source]
    if not source.is_dir():
        raise OriginalCheckpointError(f"{source}: no such file or folder; give a folder of the original's "
                                      f"*_model_0050.pt files or one such file")
    files = sorted(source.glob("*_model_[0-9]*.pt"))
    if not files:
        raise OriginalCheckpointError(f"{source}: no *_model_NNNN.pt files (the original's checkpoints) in this folder")
    return files


def import_original(source: str | Path | None = None, store: RunStore | None = None) -> list[Run]:
    """Import every checkpoint of the original in ``source`` (see :func:`checkpoint_files`); all are checked
    (read and converted) before the first is written, so a bad file imports nothing."""
    store = store or RunStore()
    loaded = [(path, load_original_checkpoint(path)) for path in checkpoint_files(source)]
    store.writable()
    return [_write(store, path, *parts) for path, parts in loaded]
