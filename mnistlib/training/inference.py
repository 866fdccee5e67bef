"""A stored run's weights put to use: evaluation, its checkpoints tested, its model and predictions.

    >>> evaluate_checkpoints(run)            # the original's ``test`` mode: every stored checkpoint
    >>> test_predictions(run)["proba"]       # (N, 10) class probabilities on the run's test images

Nothing here trains; every function reads the run store's checkpoints (``weights_only=True``).
"""
from __future__ import annotations

import hashlib
import zipfile
from pathlib import Path

import numpy as np
import pandas as pd
import torch
from torch import nn

from .._util.files import atomic_write, file_sha256, load_checkpoint
from .._util.machine import resolve_device
from ..data.cache import evaluation_set, perturbed_images, run_tensors
from ..data.mnist import MNISTArrays, iterate_batches, load_mnist, to_tensor
from ..data.perturb import Perturbation
from ..errors import ConfigError, RunStoreError
from ..models.nets import build_model, predict_proba
from ..runconfig import RunConfig
from ..stats import calibration
from ..store.store import Run
from .optim import loss_function


EVAL_BATCH = 1000


@torch.no_grad()
def evaluate(model: nn.Module, x: torch.Tensor, y: torch.Tensor, loss_sum=None,
             batch_size: int = EVAL_BATCH) -> tuple[float, float]:
    """(mean loss, accuracy %) of ``model`` on (x, y), in eval mode."""
    loss_sum = loss_sum or loss_function("cross_entropy")
    model.eval()
    total_loss, correct = 0.0, 0
    for xb, yb in iterate_batches(x, y, batch_size):
        logits = model(xb)
        total_loss += loss_sum(logits, yb).item()
        correct += (logits.argmax(1) == yb).sum().item()
    return total_loss / len(y), 100.0 * correct / len(y)


@torch.no_grad()
def evaluate_details(model: nn.Module, x: torch.Tensor, y: torch.Tensor, loss_sum=None,
                     batch_size: int = EVAL_BATCH) -> dict:
    """``test_loss`` and ``test_acc`` (%) of ``model`` on (x, y), in eval mode, and how honest its
    confidence is (:func:`mnistlib.stats.calibration`: ``ece``, ``confidence_right``, ``confidence_wrong``,
    ``bins``) and its mean ``confidence`` (%); the confidence of an answer is its largest softmax probability of
    the model's logits."""
    loss_sum = loss_sum or loss_function("cross_entropy")
    model.eval()
    total_loss, confidence, correct = 0.0, [], []
    for xb, yb in iterate_batches(x, y, batch_size):
        logits = model(xb)
        total_loss += loss_sum(logits, yb).item()
        top, predicted = torch.softmax(logits, dim=1).max(dim=1)
        confidence.append(top.cpu())
        correct.append((predicted == yb).cpu())
    confidence, correct = torch.cat(confidence).numpy(), torch.cat(correct).numpy()
    return {"test_loss": total_loss / len(y), "test_acc": 100.0 * float(correct.mean()),
            "confidence": 100.0 * float(confidence.mean()), **calibration(confidence, correct)}


def evaluate_checkpoints(run: Run, which: str = "all", data: MNISTArrays | None = None,
                         perturbation: Perturbation = Perturbation()) -> pd.DataFrame:
    """Test loss, accuracy and calibration of a run's stored checkpoints (the original's ``test`` mode),
    on its test images as they are or perturbed (:class:`mnistlib.data.perturb.Perturbation`).

    ``which``: 'all' (per-epoch checkpoints if kept, plus best and last), 'last' or 'best'. Also written
    to ``<run>/test_eval.csv``, or, perturbed, beside it to ``test_eval-<perturbation>.csv``.
    """
    folder = run.path / "checkpoints"
    if which == "all":
        paths = sorted(folder.glob("epoch_*.pt")) + [folder / "best.pt", folder / "last.pt"]
    elif which in ("last", "best"):
        paths = [folder / f"{which}.pt"]
    else:
        raise ConfigError(f"which must be all, last or best; got {which!r}")
    paths = [p for p in paths if p.exists()]
    if not paths:
        raise RunStoreError(f"{folder}: no checkpoints; train the run first (mnistlib train ...)")
    device = resolve_device(run.config.device)
    arrays = data if data is not None else load_mnist()
    x = perturbed_images(run.config, arrays, device, perturbation)
    y = run_tensors(run.config, arrays, device).y_test
    model = for_inference(build_model(run.config.model).to(device))
    loss_sum = loss_function(run.config.loss)  # the criterion without label smoothing, as in the history
    rows = []
    for path in paths:
        state = load_checkpoint(path, map_location=device)
        model.load_state_dict(evaluated_weights(state))
        found = evaluate_details(model, x, y, loss_sum)
        rows.append({"checkpoint": path.stem, "epoch": state["epoch"], "weights": weights_text(run.config),
                     **{key: found[key] for key in ("test_loss", "test_acc", "ece", "confidence_right",
                                                    "confidence_wrong")}})
    table = pd.DataFrame(rows)
    atomic_write(eval_table_path(run, perturbation), lambda f: table.to_csv(f, index=False))
    return table


def eval_table_path(run: Run, perturbation: Perturbation = Perturbation()) -> Path:
    """Where :func:`evaluate_checkpoints` writes its table: ``<run>/test_eval.csv``, or for perturbed test
    images ``test_eval-<perturbation>.csv`` beside it, never over it."""
    return run.path / ("test_eval.csv" if perturbation.clean else f"test_eval-{perturbation.name()}.csv")


def load_model(run: Run, which: str = "last", device: str | torch.device = "cpu") -> nn.Module:
    """A stored run's model with the weights of its checkpoint ``which`` ('last', 'best', 'epoch_007'), in eval
    mode and :func:`for_inference`'s layout: the moving average of its weights where the run keeps one
    (``RunConfig.average``; :func:`evaluated_weights`), and the model's ``weights`` says which."""
    model = build_model(run.config.model).to(device)
    model.load_state_dict(evaluated_weights(load_checkpoint(run.checkpoint(which), map_location=device)))
    model.weights = weights_text(run.config)
    return for_inference(model)


def evaluated_weights(state: dict) -> dict:
    """A checkpoint's weights that its run's evaluations read: the moving average (``averaged``) where the run
    keeps one, else the trained weights (``model``)."""
    return state["averaged"] if "averaged" in state else state["model"]


def weights_text(cfg: RunConfig) -> str:
    """Which weights of a run its evaluations read, in words."""
    return f"the moving average of its weights (decay {cfg.average:g})" if cfg.average else "its trained weights"


def for_inference(model: nn.Module) -> nn.Module:
    """``model`` in eval mode with its convolutions' weights channels-last, which makes every activation after
    them channels-last: on a CPU LeNet-5's forward pass then runs about 2.7× faster (oneDNN's NHWC convolution
    and max-pool; ``benchmarks/bench_inference.py``), its outputs equal to float rounding (1e-6). Only reading
    stored weights uses it: training keeps the default layout, so its histories stay bit for bit."""
    return model.to(memory_format=torch.channels_last).eval()


@torch.no_grad()
def test_predictions(run: Run, data: MNISTArrays | None = None, which: str = "last",
                     on: RunConfig | None = None) -> dict:
    """A stored run's checkpoint on the images it is evaluated on (its test set, or its held-out training
    images: :func:`mnistlib.data.cache.evaluation_set`, the images of its history and of
    :func:`evaluate_checkpoints`), or on those of another config ``on`` (several runs on one set of images):
    {'split' ('test' or 'train'), 'index' (into that split), 'images' (uint8), 'label', 'proba' (N, 10)} as
    NumPy arrays. Nothing is trained.

    On the run's own images the probabilities are stored with the run (:func:`predictions_path`) and read back
    while the checkpoint and the images are the same bytes; a missing, damaged or stale file is computed again.
    On other images they are computed and not stored."""
    arrays = data if data is not None else load_mnist()
    own = evaluation_set(run.config, arrays)
    split, index = evaluation_set(on, arrays) if on is not None else own
    mine = split == own[0] and np.array_equal(index, own[1])
    images = getattr(arrays, f"{split}_images")[index]
    labels = getattr(arrays, f"{split}_labels")[index].astype(np.int64)
    key = {"checkpoint_sha256": file_sha256(run.checkpoint(which)), "images_sha256": images_sha256(images, labels)}
    path = predictions_path(run, which)
    proba = _stored_proba(path, key, len(index)) if mine else None
    if proba is None:
        model = load_model(run, which)
        proba = torch.cat([predict_proba(model, xb) for xb in to_tensor(images).split(EVAL_BATCH)]).numpy()
        if mine:
            _store_proba(path, key, proba)
    return {"split": split, "index": index, "images": images, "label": labels, "proba": proba,
            "weights": weights_text(run.config)}


def predictions_path(run: Run, which: str = "last") -> Path:
    """Where a run keeps its checkpoint's class probabilities on its evaluation images:
    ``predictions/<which>.npz`` (NumPy, no pickles: ``proba`` float32 (N, 10), about 400 KB for the
    10,000 test images, and the content key: the checkpoint's and the images' sha256)."""
    return run.path / "predictions" / f"{which}.npz"


def images_sha256(images: np.ndarray, labels: np.ndarray) -> str:
    """The content key of an evaluation set: the sha256 of its images' and labels' bytes and shapes."""
    digest = hashlib.sha256()
    for array in (np.ascontiguousarray(images, np.uint8), np.ascontiguousarray(labels, np.int64)):
        digest.update(str(array.shape).encode())
        digest.update(array.tobytes())
    return digest.hexdigest()


def _stored_proba(path: Path, key: dict, rows: int) -> np.ndarray | None:
    try:
        with np.load(path, allow_pickle=False) as stored:
            if all(str(stored[name]) == value for name, value in key.items()) and stored["proba"].shape == (rows, 10):
                return stored["proba"].astype(np.float32)
    except (OSError, ValueError, KeyError, EOFError, zipfile.BadZipFile):
        pass  # none yet, damaged, or another format: computed again
    return None


def _store_proba(path: Path, key: dict, proba: np.ndarray) -> None:
    try:
        atomic_write(path, lambda f: np.savez(f, proba=proba.astype(np.float32),
                                              **{name: np.array(value) for name, value in key.items()}), mode="wb")
    except OSError:
        pass  # a store this process cannot write: the predictions are still returned


def mistakes(predictions: dict) -> np.ndarray:
    """Positions (into a :func:`test_predictions` result) of the images its run gets wrong."""
    return np.flatnonzero(predictions["proba"].argmax(1) != predictions["label"])
