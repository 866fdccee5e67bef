"""Training: one epoch, one evaluation, and ``train`` that ties them to the run store.

    >>> from mnistlib import RunConfig, train
    >>> run = train(RunConfig(model="LeNet5", epochs=50))   # stored runs are reused
    >>> run.history.tail()

``train`` returns at once with the stored results when the run has finished, and resumes
from the last checkpoint when it was interrupted; either way the history is the same as that
of one uninterrupted run (same config and seed, same device).
"""
from __future__ import annotations

import functools
import math
import platform
import sys
import time
import warnings
from datetime import datetime, timezone
from typing import Callable, Iterable

import filelock
import numpy as np
import pandas as pd
import torch
import torch.nn.functional as F
from torch import nn

from ._version import __version__
from .augment import augmentation
from .data import (MNISTArrays, TensorData, content_hash, iterate_batches, load_mnist, prepare, subset_indices,
                   to_tensor)
from .errors import ConfigError, RunHealthWarning, RunStoreError
from .files import atomic_write, load_checkpoint
from .machine import cpu_name
from .models import build_model, predict_proba
from .naming import run_name
from .perturb import Perturbation, perturb
from .runconfig import ONE_CYCLE_MOMENTUM, RunConfig
from .runs import Run, RunStore
from .stats import State, calibration

EVAL_BATCH = 1000
EpochCallback = Callable[[Run, dict], None]
LOSS_TEXT = {"cross_entropy": "cross-entropy on logits", "softmax_then_cross_entropy": "softmax, then cross-entropy (the original's)"}


def resolve_device(name: str = "auto") -> torch.device:
    """'auto' → CUDA if available, else MPS, else CPU; anything else as given."""
    if name == "auto":
        if torch.cuda.is_available():
            return torch.device("cuda")
        if getattr(torch.backends, "mps", None) and torch.backends.mps.is_available():
            return torch.device("mps")
        return torch.device("cpu")
    return torch.device(name)


def loss_function(kind: str, reduction: str = "sum",
                  label_smoothing: float = 0.0) -> Callable[[torch.Tensor, torch.Tensor], torch.Tensor]:
    """Summed loss over a batch ('none': one loss per sample). 'softmax_then_cross_entropy' applies softmax
    before cross-entropy, as the original's code did; it cannot go below ln(e + 9) − 1 ≈ 1.4612.
    ``label_smoothing`` ε: the target is 1 − ε on the label and ε/10 on every class."""
    if kind == "softmax_then_cross_entropy":
        return lambda logits, y: F.cross_entropy(torch.softmax(logits, dim=1), y, reduction=reduction,
                                                 label_smoothing=label_smoothing)
    return lambda logits, y: F.cross_entropy(logits, y, reduction=reduction, label_smoothing=label_smoothing)


def make_optimizer(cfg: RunConfig, parameters) -> torch.optim.Optimizer:
    """The run's optimizer: SGD (momentum, L2 weight decay) or Adam (β1 = momentum, β2 = 0.999, L2 weight
    decay added to the gradient, as torch's Adam does)."""
    if cfg.optimizer == "adam":
        return torch.optim.Adam(parameters, lr=cfg.lr, betas=(cfg.momentum, 0.999), weight_decay=cfg.weight_decay)
    return torch.optim.SGD(parameters, lr=cfg.lr, momentum=cfg.momentum, weight_decay=cfg.weight_decay)


def optimizer_text(cfg: RunConfig) -> str:
    """The optimizer and loss in words, e.g. 'SGD, lr 0.01, momentum 0.9; cross-entropy on logits'."""
    decay = f", weight decay {cfg.weight_decay:g}" if cfg.weight_decay else ""
    if cfg.schedule == "one-cycle":
        high, low = ONE_CYCLE_MOMENTUM
        name = "Adam" if cfg.optimizer == "adam" else "SGD"
        moment = "β1" if cfg.optimizer == "adam" else "momentum"
        steps = (f"{name}, one-cycle to lr {cfg.lr:g} ({cfg.one_cycle_warmup:.0%} of the steps up, then cosine down), "
                 f"{moment} {high:g} → {low:g} → {high:g}")
    elif cfg.optimizer == "adam":
        steps = f"Adam, lr {cfg.lr:g}, β1 {cfg.momentum:g}, β2 0.999"
    else:
        steps = f"SGD, lr {cfg.lr:g}, momentum {cfg.momentum:g}"
    smoothing = f", label smoothing {cfg.label_smoothing:g}" if cfg.label_smoothing else ""
    return f"{steps}{decay}; {LOSS_TEXT[cfg.loss]}{smoothing}"


def lr_factor(cfg: RunConfig, step: int, steps_per_epoch: int) -> float:
    """The learning rate at optimizer step ``step`` (from 0) as a fraction of ``cfg.lr``: a linear
    warm-up over ``warmup_epochs``, then ``cfg.schedule``. A pure function of the step, so a resumed
    run needs no scheduler state."""
    total = cfg.epochs * steps_per_epoch
    if cfg.schedule == "one-cycle":
        return one_cycle(step, total, cfg.one_cycle_warmup)[0]
    warm = cfg.warmup_epochs * steps_per_epoch
    if step < warm:
        return (step + 1) / warm
    if cfg.schedule == "cosine":
        return 0.5 * (1.0 + math.cos(math.pi * (step - warm) / (total - warm)))
    if cfg.schedule == "step":
        return 0.01 if step >= 0.75 * total else 0.1 if step >= 0.5 * total else 1.0
    return 1.0


def one_cycle(step: int, total: int, warmup: float, div: float = 25.0,
              final_div: float = 1e4) -> tuple[float, float]:
    """(learning rate as a fraction of the peak, momentum) at optimizer step ``step`` of ``total``: Smith's
    one-cycle as torch's ``OneCycleLR`` computes it by default. The rate rises along a cosine from 1/``div``
    of the peak to the peak over the first ``warmup`` of the steps, then falls along a cosine to
    1/(``div``·``final_div``); the momentum falls from 0.95 to 0.85 while the rate rises, then comes back."""
    peak = float(warmup * total) - 1
    if peak <= 0:
        raise ConfigError(f"one_cycle_warmup {warmup:g} of {total} steps is under one step; raise it or train longer")
    cosine = lambda start, end, pct: end + (start - end) / 2.0 * (math.cos(math.pi * pct) + 1)  # noqa: E731
    high, low = ONE_CYCLE_MOMENTUM
    start = 1.0 / div
    if step <= peak:
        pct = step / peak
        return cosine(start, 1.0, pct), cosine(high, low, pct)
    pct = (step - peak) / (total - 1 - peak)
    return cosine(1.0, start / final_div, pct), cosine(low, high, pct)


def set_momentum(optimizer: torch.optim.Optimizer, momentum: float) -> None:
    """Set SGD's momentum, or Adam's β1, in every parameter group."""
    for group in optimizer.param_groups:
        if "betas" in group:
            group["betas"] = (momentum, group["betas"][1])
        else:
            group["momentum"] = momentum


def epoch_metrics(total_loss: torch.Tensor, correct: torch.Tensor, n: int, batches: int, last: int,
                  original_metrics: bool) -> tuple[float, float]:
    """(mean loss, accuracy %) of an epoch from its sums. ``original_metrics``: ``total_loss`` sums
    per-batch mean losses, and accuracy is correct / (batches × size of the last batch), as the
    original's code computed them; otherwise per-sample sums over ``n`` samples."""
    if original_metrics:
        return total_loss.item() / batches, 100.0 * correct.item() / (batches * last)
    return total_loss.item() / n, 100.0 * correct.item() / n


def train_one_epoch(model: nn.Module, data: TensorData, optimizer: torch.optim.Optimizer, loss_sum,
                    batch_size: int, shuffle: torch.Generator, noise: Callable | None = None,
                    lr_at: Callable[[int], float] | None = None, original_metrics: bool = False,
                    momentum_at: Callable[[int], float] | None = None,
                    probe: Callable[[int], None] | None = None) -> tuple[float, float]:
    """One pass over the training tensors; returns (mean loss, accuracy %) over the epoch's samples.

    ``noise``: a function applied to each training batch (augmentation, noise injection).
    ``lr_at``, ``momentum_at``: the learning rate and momentum for the epoch's i-th step; None keeps the optimizer's.
    ``probe``: called with i after the epoch's i-th step (an evaluation inside the epoch; it must leave
    the model in training mode).
    ``original_metrics``: compute them as the original's code did: the mean of the per-batch mean losses, and
    correct / (batches × size of the last batch) (equal to ours when the batch divides the set).
    """
    model.train()
    total_loss = torch.zeros((), device=data.device)
    correct = torch.zeros((), device=data.device, dtype=torch.long)
    batches, last = 0, 0
    for step, (xb, yb) in enumerate(iterate_batches(data.x_train, data.y_train, batch_size, shuffle)):
        if lr_at is not None:
            for group in optimizer.param_groups:
                group["lr"] = lr_at(step)
        if momentum_at is not None:
            set_momentum(optimizer, momentum_at(step))
        if noise is not None:
            xb = noise(xb)
        logits = model(xb)
        loss = loss_sum(logits, yb)
        mean_loss = loss / len(yb)
        optimizer.zero_grad(set_to_none=True)
        mean_loss.backward()
        optimizer.step()
        with torch.no_grad():  # accumulate on the device: no host sync per step, no autograd
            total_loss += mean_loss if original_metrics else loss
            correct += (logits.argmax(1) == yb).sum()
        batches, last = step + 1, len(yb)
        if probe is not None:
            probe(step)
    return epoch_metrics(total_loss, correct, len(data.y_train), batches, last, original_metrics)


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
    ``bins``), and each image's ``answers`` (confidence, correct); the confidence of an answer is its
    largest softmax probability of the model's logits."""
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
            **calibration(confidence, correct), "answers": (confidence, correct)}


def _subsets(cfg: RunConfig) -> tuple:
    # The original picks the images only of a stratified subset; elsewhere runs of different seeds share
    # one copy (and a stack of them gathers its batches from it).
    by_seed = cfg.subset_mode == "stratified" and bool(cfg.train_subset or cfg.test_subset)
    return cfg.train_subset, cfg.test_subset, cfg.subset_mode, cfg.seed if by_seed else 0, cfg.validation


def run_tensors(cfg: RunConfig, arrays: MNISTArrays, device: torch.device) -> TensorData:
    """The run's training and test tensors on ``device`` (its subsets, padded and normalized)."""
    return prepared(arrays, str(device), *_subsets(cfg))


def perturbed_images(cfg: RunConfig, arrays: MNISTArrays, device: torch.device,
                perturbation: Perturbation = Perturbation()) -> torch.Tensor:
    """The run's test images on ``device``, perturbed (:mod:`mnistlib.perturb`): made once per setting,
    so every model evaluated on it sees the very same images."""
    return _perturbed(arrays, str(device), *_subsets(cfg), perturbation)


@functools.lru_cache(maxsize=4)
def _perturbed(arrays: MNISTArrays, device: str, train_subset, test_subset, subset_mode, seed, validation,
               perturbation: Perturbation) -> torch.Tensor:
    return perturb(prepared(arrays, device, train_subset, test_subset, subset_mode, seed, validation).x_test,
                   perturbation)


@functools.lru_cache(maxsize=1)
def prepared(arrays: MNISTArrays, device: str, train_subset: int | None, test_subset: int | None, subset_mode: str,
             seed: int, validation: int = 0) -> TensorData:
    """:func:`mnistlib.data.prepare`, the last result kept: runs of one notebook or worker share their
    data. Keyed by the data's content (MNISTArrays hash and compare by :func:`~mnistlib.data.content_hash`)."""
    return prepare(arrays, device, train_subset=train_subset, test_subset=test_subset, subset_mode=subset_mode,
                   seed=seed, validation=validation)


class Job:
    """One run's training state: model, optimizer, batch order and augmentation generators, data, and
    the curve of its evaluations inside epochs (``eval_every``)."""

    def __init__(self, cfg: RunConfig, tensors: TensorData):
        self.cfg, self.tensors = cfg, tensors
        torch.manual_seed(cfg.seed)  # the model's initial weights
        self.model = build_model(cfg.model).to(tensors.device)
        self.optimizer = make_optimizer(cfg, self.model.parameters())
        self.shuffle = torch.Generator().manual_seed(cfg.seed)
        self.train_data, self.augment, self.generators = augmentation(cfg, tensors)
        self.loss_sum = loss_function(cfg.loss, label_smoothing=cfg.label_smoothing)
        self.eval_loss = loss_function(cfg.loss)  # the criterion itself: test losses compare across smoothings
        self.n = len(self.train_data.y_train)
        self.steps_per_epoch = math.ceil(self.n / cfg.batch_size)
        self.curve: list[dict] = []

    def resume(self, state: dict | None) -> list[dict]:
        """Load a checkpoint's state and return its history; without one, the history so far: empty,
        or for the original's protocol its epoch-0 row (the untrained model, evaluated without a step)."""
        if state is None:
            if self.cfg.eval_every:
                self.curve = [self.curve_point(0, 0)]
            return [self.evaluate(0, time.perf_counter(), train=None)] if self.cfg.protocol == "original" else []
        self.model.load_state_dict(state["model"])
        self.optimizer.load_state_dict(state["optimizer"])
        self.shuffle.set_state(state["rng"]["shuffle"])
        for key, generator in self.generators.items():
            generator.set_state(state["rng"][key])
        self.curve = list(state.get("curve", []))
        return state["history"]

    def lr_at(self, epoch: int) -> Callable[[int], float] | None:
        """The learning rate of ``epoch``'s i-th step, or None when it is constant."""
        cfg = self.cfg
        if cfg.schedule == "constant" and not cfg.warmup_epochs:
            return None
        first = (epoch - 1) * self.steps_per_epoch
        return lambda step: cfg.lr * lr_factor(cfg, first + step, self.steps_per_epoch)

    def momentum_at(self, epoch: int) -> Callable[[int], float] | None:
        """The momentum (Adam: β1) of ``epoch``'s i-th step, or None when it is constant (not one-cycle)."""
        if self.cfg.schedule != "one-cycle":
            return None
        first, total = (epoch - 1) * self.steps_per_epoch, self.cfg.epochs * self.steps_per_epoch
        return lambda step: one_cycle(first + step, total, self.cfg.one_cycle_warmup)[1]

    def probe(self, epoch: int) -> Callable[[int], None] | None:
        """With ``eval_every``: after every that many steps of the run, a point of its curve."""
        every = self.cfg.eval_every
        if not every:
            return None
        first = (epoch - 1) * self.steps_per_epoch

        def at(step: int) -> None:
            if (first + step + 1) % every == 0 and step + 1 < self.steps_per_epoch:  # the epoch's end: evaluate()
                self.curve.append(self.curve_point(epoch, step + 1))
                self.model.train()
        return at

    def curve_point(self, epoch: int, steps: int, measured: tuple[float, float] | None = None) -> dict:
        """The test (or validation) loss and accuracy after ``steps`` steps of ``epoch`` (0: before it):
        ``measured``, or evaluated now."""
        test_loss, test_acc = measured or evaluate(self.model, self.tensors.x_test, self.tensors.y_test, self.eval_loss)
        images = max(0, epoch - 1) * self.n + min(steps * self.cfg.batch_size, self.n)
        return {"images": images, "epoch": epoch, "step": steps, "test_loss": test_loss, "test_acc": test_acc}

    def train_epoch(self, epoch: int) -> dict:
        """Train one epoch and evaluate it: the history row of ``epoch``."""
        cfg, start = self.cfg, time.perf_counter()
        metrics = train_one_epoch(self.model, self.train_data, self.optimizer, self.loss_sum, cfg.batch_size,
                                  self.shuffle, self.augment, self.lr_at(epoch), original_metrics=cfg.protocol == "original",
                                  momentum_at=self.momentum_at(epoch), probe=self.probe(epoch))
        return self.evaluate(epoch, start, train=metrics)

    def evaluate(self, epoch: int, start: float, train: tuple[float, float] | None) -> dict:
        """The history row of ``epoch``: the training metrics given (or, if None, evaluated on the
        training set) and the test metrics (with ``eval_every``, also the curve's point at the epoch's end)."""
        data = self.train_data
        train_loss, train_acc = train or evaluate(self.model, data.x_train, data.y_train, self.eval_loss)
        test_loss, test_acc = evaluate(self.model, self.tensors.x_test, self.tensors.y_test, self.eval_loss)
        if self.cfg.eval_every and epoch:
            self.curve.append(self.curve_point(epoch, self.steps_per_epoch, (test_loss, test_acc)))
        return {"epoch": epoch, "train_loss": train_loss, "train_acc": train_acc, "test_loss": test_loss,
                "test_acc": test_acc, "seconds": time.perf_counter() - start}

    def checkpoint(self, epoch: int, history: list[dict]) -> dict:
        """Everything a resume needs, after ``epoch``."""
        return {"epoch": epoch, "config": self.cfg.to_dict(), "model": self.model.state_dict(),
                "optimizer": self.optimizer.state_dict(), "history": history,
                "rng": {"shuffle": self.shuffle.get_state(),
                        **{key: generator.get_state() for key, generator in self.generators.items()}},
                **({"curve": list(self.curve)} if self.cfg.eval_every else {})}


def run_status(device: torch.device, arrays: MNISTArrays) -> dict:
    """What ``run.json`` records of how a run was trained: versions, device, threads, host, data."""
    # Results are bit-identical for the same seed at the same thread count: record it.
    return {"mnistlib": __version__, "torch": torch.__version__, "device": str(device), "cpu": cpu_name(),
            "threads": torch.get_num_threads(), "host": platform.node(), "data_sha256": content_hash(arrays),
            "started": datetime.now(timezone.utc).isoformat(timespec="seconds")}


class ProgressBar:
    """Epoch callback: a tqdm bar over the run's epochs, closed after the last one."""

    def __init__(self, cfg: RunConfig, name: str, done: int):
        from tqdm.auto import tqdm

        self.bar, self.epochs = tqdm(total=cfg.epochs, initial=done, desc=name, unit="epoch", leave=True), cfg.epochs

    def __call__(self, run: Run, row: dict) -> None:
        self.bar.update(1)
        self.bar.set_postfix(loss=f"{row['train_loss']:.4f}", test_acc=f"{row['test_acc']:.2f}")
        if row["epoch"] >= self.epochs:
            self.bar.close()


class HealthWarnings:
    """Epoch callback: warns (RunHealthWarning) once when a run diverges or collapses, and at its
    last epoch when it never left chance; the run goes on, its health is recorded."""

    def __init__(self, epochs: int):
        self.epochs, self.warned = epochs, False

    def __call__(self, run: Run, row: dict) -> None:
        verdict = run.health
        if verdict.failed and not self.warned:
            warnings.warn(f"{run.name}: {verdict} (recorded; training goes on)", RunHealthWarning, stacklevel=4)
            self.warned = True
        elif row["epoch"] >= self.epochs and verdict.state is State.AT_CHANCE:
            warnings.warn(f"{run.name}: {verdict} (recorded)", RunHealthWarning, stacklevel=4)


def train(cfg: RunConfig, *, store: RunStore | None = None, data: MNISTArrays | None = None,
          progress: bool = True, callbacks: Iterable[EpochCallback] = ()) -> Run:
    """Train ``cfg`` into the run store, or return the stored run if it has finished.

    ``data``: decoded MNIST (default: :func:`load_mnist`). ``callbacks`` are called after each
    epoch with (run, row), after the progress bar and :class:`HealthWarnings`. A non-finite loss
    or a collapse to chance is recorded and warned about, never raised: it is a result. While
    another process trains the same run (its lock: :meth:`RunStore.lock`), this one waits, then
    returns what it stored, or resumes it if that process died.
    """
    store = (store or RunStore()).writable()
    stored = store.find(cfg)
    if stored is not None and stored.finished:
        return stored
    if cfg.origin != "trained":
        raise ConfigError(f"{run_name(cfg)}: an imported run ({cfg.origin}) is read from the store, never trained; "
                          f"import it first (mnistlib import-original)")
    lock = store.lock(cfg)
    try:
        lock.acquire(timeout=0)
    except filelock.Timeout:
        if progress:
            print(f"{run_name(cfg)}: another process is training this run; waiting for it", file=sys.stderr)
        lock.acquire()
    try:
        stored = store.find(cfg)  # it may have finished while this process waited
        if stored is not None and stored.finished:
            return stored
        return _train_locked(cfg, store, data, progress, callbacks)
    finally:
        lock.release()


def _train_locked(cfg: RunConfig, store: RunStore, data: MNISTArrays | None, progress: bool,
                  callbacks: Iterable[EpochCallback]) -> Run:
    device = resolve_device(cfg.device)
    arrays = data if data is not None else load_mnist()
    job = Job(cfg, run_tensors(cfg, arrays, device))
    path, state, status = store.begin(cfg, run_status(device, arrays), map_location=device)
    history = job.resume(state)
    done = history[-1]["epoch"] if history else 0
    callbacks = [*([ProgressBar(cfg, path.name, done)] if progress else []), HealthWarnings(cfg.epochs), *callbacks]
    for epoch in range(done + 1, cfg.epochs + 1):
        history.append(job.train_epoch(epoch))
        run = store.save_epoch(path, cfg, job.checkpoint(epoch, history))
        for callback in callbacks:
            callback(run, history[-1])
    return store.finish(path, status)


def evaluate_checkpoints(run: Run, which: str = "all", data: MNISTArrays | None = None,
                         perturbation: Perturbation = Perturbation()) -> pd.DataFrame:
    """Test loss, accuracy and calibration of a run's stored checkpoints (the original's ``test`` mode),
    on its test images as they are or perturbed (:class:`mnistlib.perturb.Perturbation`).

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
    model = build_model(run.config.model).to(device)
    loss_sum = loss_function(run.config.loss)  # the criterion without label smoothing, as in the history
    rows = []
    for path in paths:
        state = load_checkpoint(path, map_location=device)
        model.load_state_dict(state["model"])
        found = evaluate_details(model, x, y, loss_sum)
        rows.append({"checkpoint": path.stem, "epoch": state["epoch"],
                     **{key: found[key] for key in ("test_loss", "test_acc", "ece", "confidence_right",
                                                    "confidence_wrong")}})
    table = pd.DataFrame(rows)
    name = "test_eval.csv" if perturbation.clean else f"test_eval-{perturbation.name()}.csv"
    atomic_write(run.path / name, lambda f: table.to_csv(f, index=False))
    return table


def load_model(run: Run, which: str = "last", device: str | torch.device = "cpu") -> nn.Module:
    """A stored run's model with the weights of its checkpoint ``which`` ('last', 'best', 'epoch_007')."""
    model = build_model(run.config.model).to(device)
    model.load_state_dict(load_checkpoint(run.checkpoint(which), map_location=device)["model"])
    return model.eval()


@torch.no_grad()
def test_predictions(run: Run, data: MNISTArrays | None = None, which: str = "last") -> dict:
    """A stored run's checkpoint on the run's own test set: {'index' (into the MNIST test set),
    'label', 'proba' (N, 10)} as NumPy arrays. Nothing is trained."""
    arrays = data if data is not None else load_mnist()
    cfg = run.config
    index = subset_indices(arrays.test_labels, cfg.test_subset, cfg.subset_mode, cfg.seed)
    model = load_model(run, which)
    x = to_tensor(arrays.test_images[index])
    proba = torch.cat([predict_proba(model, xb) for xb in x.split(EVAL_BATCH)])
    return {"index": index, "label": arrays.test_labels[index].astype(np.int64), "proba": proba.numpy()}
