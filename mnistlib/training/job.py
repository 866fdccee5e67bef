"""One run's training state: its model and optimizer, its generators, its data, its schedule and curve.

    >>> job = Job(cfg, run_tensors(cfg, arrays, device))
    >>> history = job.resume(state)          # a checkpoint's state, or None for a new run
    >>> row = job.evaluate(epoch, start, train=metrics)

A job trains in :func:`mnistlib.training.loop.train_epoch`, alone or stacked with others; whichever way, its
own model, optimizer and generators hold its state after each epoch, so its checkpoint, evaluation and resume
are the same.
"""
from __future__ import annotations

import copy
import math
import platform
import time
from datetime import datetime, timezone
from typing import Callable

import torch

from .._util.machine import cpu_name
from .._version import __version__
from ..data.augment import augmentation
from ..data.mnist import MNISTArrays, TensorData, content_hash
from ..models.nets import GeneratorDropout, build_model
from ..runconfig import RunConfig
from .inference import evaluate
from .optim import check_one_cycle, loss_function, lr_factor, make_optimizer, one_cycle


class Job:
    """One run's training state: model, optimizer, batch order and augmentation generators, data, and
    the curve of its evaluations inside epochs (``eval_every``). A setting its data makes impossible
    (a one-cycle warm-up under one step) is refused here, before the run's folder is written."""

    def __init__(self, cfg: RunConfig, tensors: TensorData):
        self.cfg, self.tensors = cfg, tensors
        self.n = len(tensors.y_train)
        self.steps_per_epoch = math.ceil(self.n / cfg.batch_size)
        if cfg.schedule == "one-cycle":
            check_one_cycle(cfg.one_cycle_warmup, cfg.epochs * self.steps_per_epoch)
        torch.manual_seed(cfg.seed)  # the model's initial weights
        self.model = build_model(cfg.model).to(tensors.device)
        self.optimizer = make_optimizer(cfg, self.model.parameters())
        self.shuffle = torch.Generator().manual_seed(cfg.seed)
        self.train_data, self.augment, self.generators = augmentation(cfg, tensors)  # each draw from its own generator
        self.loss_sum = loss_function(cfg.loss, label_smoothing=cfg.label_smoothing)
        self.eval_loss = loss_function(cfg.loss)  # the criterion itself: test losses compare across smoothings
        self.original_metrics = cfg.protocol == "original"
        self.curve: list[dict] = []
        # The moving average of the weights (cfg.average): a model of its own, which every evaluation reads
        # (:meth:`evaluated`); ``averaged`` is its parameters, one tensor per parameter of the trained model.
        self._average_model = copy.deepcopy(self.model) if cfg.average else None
        self.averaged = [p.detach() for p in self._average_model.parameters()] if cfg.average else None
        self.average_steps = 0
        if cfg.dropout:  # its masks from a generator of the run's own, saved and restored with the others
            dropout = self.generators["dropout"] = torch.Generator(device=tensors.device).manual_seed(cfg.seed + 5)
            self.model.dropout = GeneratorDropout(cfg.dropout, dropout)

    def resume(self, state: dict | None) -> list[dict]:
        """Load a checkpoint's state and return its history; without one, the history so far: empty,
        or for the original's protocol its epoch-0 row (the untrained model, evaluated without a step)."""
        if state is None:
            if self.cfg.eval_every:
                self.curve = [self.curve_point(0, 0)]
            return [self.evaluate(0, time.perf_counter(), train=None)] if self.original_metrics else []
        self.model.load_state_dict(state["model"])
        self.optimizer.load_state_dict(state["optimizer"])
        if self.averaged is not None:
            named = state["averaged"]
            for average, (name, _) in zip(self.averaged, self.model.named_parameters()):
                average.copy_(named[name])
            self.average_steps = int(state["average_steps"])
        self.shuffle.set_state(state["rng"]["shuffle"])
        for key, generator in self.generators.items():
            generator.set_state(state["rng"][key])
        self.curve = list(state.get("curve", []))
        return state["history"]

    @torch.no_grad()
    def update_average(self) -> None:
        """One step of the moving average (after an optimizer step of the run trained alone)."""
        self.average_steps += 1
        keep = average_weight(self.cfg.average, self.average_steps)
        for average, param in zip(self.averaged, self.model.parameters()):
            average.lerp_(param, 1 - keep)

    def evaluated(self) -> torch.nn.Module:
        """The model every evaluation reads: the trained one, or with ``cfg.average`` the model whose weights are
        the moving average."""
        return self.model if self._average_model is None else self._average_model

    def averaged_state(self) -> dict:
        """The moving average as a state dict of the run's model (its buffers, if any, the trained model's)."""
        state = self.model.state_dict()
        for (name, _), average in zip(self.model.named_parameters(), self.averaged):
            state[name] = average.clone()
        return state

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

    def curve_due(self, epoch: int, step: int) -> bool:
        """Whether a point of the curve (``eval_every``) falls after ``epoch``'s i-th step; the epoch's last
        step has its point from the epoch's evaluation (:meth:`evaluate`)."""
        every = self.cfg.eval_every
        first = (epoch - 1) * self.steps_per_epoch
        return bool(every) and (first + step + 1) % every == 0 and step + 1 < self.steps_per_epoch

    def curve_point(self, epoch: int, steps: int, measured: tuple[float, float] | None = None) -> dict:
        """The test (or validation) loss and accuracy after ``steps`` steps of ``epoch`` (0: before it):
        ``measured``, or evaluated now."""
        test_loss, test_acc = measured or evaluate(self.evaluated(), self.tensors.x_test, self.tensors.y_test,
                                                   self.eval_loss)
        images = max(0, epoch - 1) * self.n + min(steps * self.cfg.batch_size, self.n)
        return {"images": images, "epoch": epoch, "step": steps, "test_loss": test_loss, "test_acc": test_acc}

    def evaluate(self, epoch: int, start: float, train: tuple[float, float] | None) -> dict:
        """The history row of ``epoch``: the training metrics given (or, if None, evaluated on the
        training set) and the test metrics (with ``eval_every``, also the curve's point at the epoch's end)."""
        data = self.train_data
        model = self.evaluated()
        train_loss, train_acc = train or evaluate(model, data.x_train, data.y_train, self.eval_loss)
        test_loss, test_acc = evaluate(model, self.tensors.x_test, self.tensors.y_test, self.eval_loss)
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
                **({"curve": list(self.curve)} if self.cfg.eval_every else {}),
                **({"averaged": self.averaged_state(), "average_steps": self.average_steps}
                   if self.averaged is not None else {})}


def average_weight(average: float, steps: int) -> float:
    """How much of itself the moving average keeps at its ``steps``-th update (from 1): ``average``, but less
    early on, (1 + t)/(10 + t), so that the random initial weights fade within the first steps (as
    TensorFlow's ExponentialMovingAverage with ``num_updates``)."""
    return min(average, (1 + steps) / (10 + steps))


def run_status(device: torch.device, arrays: MNISTArrays) -> dict:
    """What ``run.json`` records of how a run was trained: versions, device, threads, host, data."""
    # Results are bit-identical for the same seed at the same thread count: record it.
    return {"mnistlib": __version__, "torch": torch.__version__, "device": str(device), "cpu": cpu_name(),
            "threads": torch.get_num_threads(), "host": platform.node(), "data_sha256": content_hash(arrays),
            "started": datetime.now(timezone.utc).isoformat(timespec="seconds")}
