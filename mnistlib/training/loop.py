"""Training: one epoch, one evaluation, and ``train`` that ties them to the run store.

    >>> from mnistlib import RunConfig, train
    >>> run = train(RunConfig(model="LeNet5", epochs=50))   # stored runs are reused
    >>> run.history.tail()

``train`` returns at once with the stored results when the run has finished, and resumes
from the last checkpoint when it was interrupted; either way the history is the same as that
of one uninterrupted run (same config and seed, same device).
"""
from __future__ import annotations

import math
import platform
import sys
import time
import warnings
from datetime import datetime, timezone
from typing import Callable, Iterable

import filelock
import torch
from torch import nn

from .._util.machine import cpu_name, resolve_device
from .._version import __version__
from ..data.augment import augmentation
from ..data.cache import run_tensors
from ..data.mnist import MNISTArrays, TensorData, content_hash, iterate_batches, load_mnist
from ..errors import ConfigError, RunHealthWarning
from ..models.nets import build_model
from ..runconfig import RunConfig
from ..stats import State
from ..store.identity import run_name
from ..store.store import Run, RunStore
from .inference import evaluate
from .optim import loss_function, lr_factor, make_optimizer, one_cycle, set_momentum

EpochCallback = Callable[[Run, dict], None]


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


