"""Several runs of one architecture trained as one stacked model, so each operator serves them all.

    >>> from mnistlib.training.stack import train_stack
    >>> runs = train_stack([RunConfig.preset("original", model="LeNet5", seed=s) for s in range(4)])

On a CPU a small network's step costs far more than its arithmetic at small batches (oneDNN's
per-call work on tiny shapes); K runs stacked along the channel axis run as one grouped
convolution or one batched matrix product per layer, several times the images per second of K
separate runs (``benchmarks/bench_stacking.py``; README, Performance).

The stacked model is built from each run's own initial model, and every run keeps its own batch
order, augmentation draws, weight decay and history; after each epoch the weights and momentum go
back into the run's own model and optimizer, so its checkpoint, evaluation and resume are exactly
those of a run trained alone. What changes is the floating-point order inside a step (grouped
instead of separate convolutions), so a stacked run matches the same run trained alone to about
1e-5 after one epoch, not bit for bit, and, like any two runs whose rounding differs, drifts
further apart over epochs while staying within seed-to-seed spread (tests/test_stacking.py).
A stacked run is bit-identical to itself trained again in the same stack, and its resume too.
"""
from __future__ import annotations

import dataclasses
import time
from typing import Iterable, Mapping, Sequence

import filelock
import torch
from torch import nn

from .._util.machine import resolve_device
from ..data.cache import run_tensors
from ..data.mnist import MNISTArrays, load_mnist
from ..errors import ConfigError
from ..models.stacked import StackedConv2d, stack_model
from ..runconfig import RunConfig
from ..store.identity import config_hash
from ..store.store import Run, RunStore
from .loop import EpochCallback, HealthWarnings, Job, epoch_metrics, run_status, train
from .optim import loss_function


# What runs of one stack may differ in: all of it acts on each run's own data or weights.
PER_RUN_FIELDS = ("seed", "weight_decay", "noise_std", "noise_mean", "noise_mode", "shift", "rotate", "scale",
                  "elastic", "elastic_sigma")


MAX_STACK = 8  # more runs per stack gain little (benchmarks/bench_stacking.py) and delay the first result


def stackable(cfg: RunConfig) -> bool:
    """Whether ``cfg`` can share a stack: plain SGD at a fixed momentum (the stacked optimizer's), and no
    evaluations inside epochs. Adam and one-cycle runs train alone."""
    return cfg.optimizer == "sgd" and cfg.schedule != "one-cycle" and not cfg.eval_every


def stack_key(cfg: RunConfig) -> RunConfig:
    """What must be equal for runs to share a stack: the config with its per-run fields reset."""
    defaults = RunConfig()
    return dataclasses.replace(cfg, name=None, save_every_epoch=False,
                               **{field: getattr(defaults, field) for field in PER_RUN_FIELDS})


class StackedSGD:
    """``torch.optim.SGD`` (momentum, no dampening or Nesterov) over stacked parameters, with one
    weight decay per run; momentum buffers are read from and written back to the runs' optimizers."""

    def __init__(self, pairs, optimizers: Sequence[torch.optim.SGD], weight_decays: Sequence[float]):
        group = optimizers[0].param_groups[0]
        self.momentum, self.runs = group["momentum"], len(optimizers)
        self.pairs, self.optimizers = pairs, optimizers
        self.decay = torch.tensor(weight_decays).view(-1, 1) if any(weight_decays) else None
        self.buffers = [self._gather(own) for _, own in pairs]

    def _gather(self, own: list[nn.Parameter]) -> torch.Tensor | None:
        bufs = [opt.state.get(p, {}).get("momentum_buffer") for opt, p in zip(self.optimizers, own)]
        if all(b is None for b in bufs):
            return None
        if any(b is None for b in bufs):  # train_stack only stacks runs stopped after the same epoch
            raise ConfigError("runs of one stack must all be new or all resumed; train them apart")
        return torch.stack([b.reshape(-1) for b in bufs])

    @torch.no_grad()
    def step(self, lr: float) -> None:
        """One SGD step of every run: the same arithmetic as torch's, per run's weight decay."""
        for i, (param, _) in enumerate(self.pairs):
            flat = param.view(self.runs, -1)
            grad = param.grad.reshape(self.runs, -1)
            if self.decay is not None:
                grad = grad + self.decay * flat
            if self.momentum:
                if self.buffers[i] is None:
                    self.buffers[i] = grad.clone()
                else:
                    self.buffers[i].mul_(self.momentum).add_(grad)
                grad = self.buffers[i]
            flat.add_(grad, alpha=-lr)

    def zero_grad(self) -> None:
        for param, _ in self.pairs:
            param.grad = None

    @torch.no_grad()
    def write_back(self, lr: float) -> None:
        """Copy the stacked weights and momentum into each run's model and optimizer."""
        for (param, own), buffer in zip(self.pairs, self.buffers):
            rows = param.view(self.runs, -1)
            for k, (opt, p) in enumerate(zip(self.optimizers, own)):
                p.copy_(rows[k].view_as(p))
                if buffer is not None:
                    opt.state[p]["momentum_buffer"] = buffer[k].view_as(p).clone()
        for opt in self.optimizers:
            opt.param_groups[0]["lr"] = lr


class Stack:
    """K runs' training state, stacked: their jobs, the stacked model and optimizer, their data."""

    def __init__(self, jobs: Sequence[Job]):
        self.jobs, self.runs = list(jobs), len(jobs)
        first = self.jobs[0]
        self.batch_size, self.original_metrics = first.cfg.batch_size, first.cfg.protocol == "original"
        self.model, pairs = stack_model([job.model for job in self.jobs])
        self.optimizer = StackedSGD(pairs, [job.optimizer for job in self.jobs],
                                    [job.cfg.weight_decay for job in self.jobs])
        self.loss = loss_function(first.cfg.loss, reduction="none", label_smoothing=first.cfg.label_smoothing)
        # Conv models: channels-last makes the grouped convolutions several times faster on a CPU.
        self.channels_last = any(isinstance(m, StackedConv2d) for m in self.model.modules())
        x_train = [job.train_data.x_train for job in self.jobs]
        y_train = [job.train_data.y_train for job in self.jobs]
        self.n = len(y_train[0])
        shared = all(x is x_train[0] for x in x_train) and all(y is y_train[0] for y in y_train)
        # One tensor to gather every run's batch from in one call: shared, or the runs' own sets
        # (fixed noise, per-seed subsets) one after another.
        self.x = x_train[0] if shared else torch.cat(x_train)
        self.y = y_train[0] if shared else torch.cat(y_train)
        self.offsets = (torch.zeros(self.runs, 1, dtype=torch.long) if shared else
                        (torch.arange(self.runs) * self.n).view(-1, 1)).to(self.x.device)
        self.augmented = any(job.augment for job in self.jobs)

    def _inputs(self, index: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Every run's batch at ``index`` (K, b), augmented, stacked along the channel axis: (b, K·C, H, W)."""
        runs, b = index.shape
        flat = (index + self.offsets).reshape(-1)
        xb, yb = self.x.index_select(0, flat), self.y.index_select(0, flat)
        if self.augmented:
            xb = torch.cat([job.augment(part) if job.augment else part for job, part in zip(self.jobs, xb.split(b))])
        xb = xb.view(runs, b, *xb.shape[1:]).transpose(0, 1).reshape(b, -1, *xb.shape[2:])
        return (xb.contiguous(memory_format=torch.channels_last) if self.channels_last else xb), yb.view(runs, b)

    def train_epoch(self, epoch: int) -> list[tuple[float, float]]:
        """One epoch of every run; returns each run's (mean loss, accuracy %) as ``train_one_epoch`` does."""
        first, device = self.jobs[0], self.x.device
        # The same draw as iterate_batches: each run's order from its own generator.
        orders = torch.stack([torch.randperm(self.n, generator=job.shuffle) for job in self.jobs]).to(device)
        lr_at, lr = first.lr_at(epoch), first.cfg.lr
        total_loss = torch.zeros(self.runs, device=device)
        correct = torch.zeros(self.runs, device=device, dtype=torch.long)
        self.model.train()
        batches = last = 0
        for step, index in enumerate(orders.split(self.batch_size, dim=1)):
            lr = lr_at(step) if lr_at is not None else lr
            xb, yb = self._inputs(index)
            logits = self.model(xb).view(len(xb), self.runs, -1).transpose(0, 1)  # (K, b, classes)
            losses = self.loss(logits.reshape(-1, logits.shape[-1]), yb.reshape(-1)).view(self.runs, -1).sum(1)
            mean_losses = losses / index.shape[1]
            self.optimizer.zero_grad()
            mean_losses.sum().backward()  # run k's parameters get the gradient of its own loss only
            self.optimizer.step(lr)
            with torch.no_grad():
                total_loss += mean_losses if self.original_metrics else losses
                correct += (logits.argmax(-1) == yb).sum(1)
            batches, last = step + 1, index.shape[1]
        self.optimizer.write_back(lr)
        return [epoch_metrics(total_loss[k], correct[k], self.n, batches, last, self.original_metrics)
                for k in range(self.runs)]


def _check(cfgs: Sequence[RunConfig]) -> None:
    keys = {stack_key(cfg) for cfg in cfgs}
    if len(cfgs) > 1 and not all(map(stackable, cfgs)):
        raise ConfigError("Adam, one-cycle and eval_every runs train alone; train them apart")
    if len(keys) > 1:
        raise ConfigError(f"runs of one stack may differ only in {', '.join(PER_RUN_FIELDS)}; "
                          f"group them with stack_groups() or train them apart")
    if any(cfg.origin != "trained" for cfg in cfgs):
        raise ConfigError("an imported run is read from the store, never trained; import it first (mnistlib import-original)")


def train_stack(cfgs: Sequence[RunConfig], *, store: RunStore | None = None, data: MNISTArrays | None = None,
                progress: bool = True, callbacks: Iterable[EpochCallback] = ()) -> list[Run]:
    """Train ``cfgs`` (one architecture and protocol; see :func:`stack_key`) as one stack, each into
    its own folder of the run store, and return their runs in order.

    Finished runs are returned as stored. The stack takes its runs' locks (:meth:`RunStore.lock`)
    in one sorted order; a run another process is training leaves the stack, and is waited for
    and read at the end. A single run left trains alone, exactly as :func:`mnistlib.train` would.
    Runs stored at different epochs (one was trained further, or a kill came between two runs'
    saves of an epoch) do not wait for each other's results: those behind train, stacked among
    themselves, until all are at the same epoch. Every run's epoch is stored before any callback
    runs, so an interrupted stack resumes with the same composition, bit-identical to an
    uninterrupted one.
    """
    store = (store or RunStore()).writable()
    _check(cfgs)
    runs = {i: run for i, cfg in enumerate(cfgs) if (run := store.find(cfg)) is not None and run.finished}
    held = _lock_free_runs(store, cfgs, [i for i in range(len(cfgs)) if i not in runs])
    try:
        if held:
            runs.update(_train_held(store, {i: cfgs[i] for i in held}, data, progress, callbacks))
    finally:
        for lock in held.values():
            lock.release()
    for i, cfg in enumerate(cfgs):  # a run left alone, or one another process holds (train waits, then reads it)
        if i not in runs:
            runs[i] = train(cfg, store=store, data=data, progress=progress, callbacks=callbacks)
    return [runs[i] for i in range(len(cfgs))]


def _lock_free_runs(store: RunStore, cfgs: Sequence[RunConfig], todo: list[int]) -> dict[int, filelock.FileLock]:
    """The locks of the runs no other process holds, taken in sorted order (of config hash), for a
    stack of at least two; a run that finished meanwhile is let go. Empty when fewer than two."""
    held = {}
    for i in sorted(todo, key=lambda i: config_hash(cfgs[i])):
        lock = store.lock(cfgs[i])
        try:
            lock.acquire(timeout=0)
        except filelock.Timeout:
            continue
        run = store.find(cfgs[i])
        if run is not None and run.finished:
            lock.release()
            continue
        held[i] = lock
    if len(held) < 2:
        for lock in held.values():
            lock.release()
        return {}
    return dict(sorted(held.items()))  # the stack in the caller's order


def _train_held(store: RunStore, cfgs: dict[int, RunConfig], data: MNISTArrays | None, progress: bool,
                callbacks: Iterable[EpochCallback]) -> dict[int, Run]:
    """Train the runs whose locks this process holds as one stack; their runs by index."""
    first = next(iter(cfgs.values()))
    device = resolve_device(first.device)
    arrays = data if data is not None else load_mnist()
    jobs = [Job(cfg, run_tensors(cfg, arrays, device)) for cfg in cfgs.values()]
    status = {**run_status(device, arrays), "stack": len(jobs)}
    opened = [store.begin(job.cfg, status, map_location=device) for job in jobs]
    members = [_Member(job, path, job.resume(state), [HealthWarnings(job.cfg.epochs), *callbacks])
               for job, (path, state, _) in zip(jobs, opened)]
    _train_members(members, store, progress)
    return {i: store.finish(path, st) for i, (path, _, st) in zip(cfgs, opened)}


class _Member:
    """A run of a stack being trained: its job, folder, history so far and epoch callbacks."""

    def __init__(self, job: Job, path, history: list[dict], callbacks: list[EpochCallback]):
        self.job, self.path, self.history, self.callbacks = job, path, history, callbacks

    @property
    def done(self) -> int:
        return self.history[-1]["epoch"] if self.history else 0


def _train_members(members: list[_Member], store: RunStore, progress: bool) -> None:
    epochs = members[0].job.cfg.epochs
    first = min(member.done for member in members)
    bar = _progress_bar(epochs, first, len(members)) if progress else None
    stack = None
    for epoch in range(first + 1, epochs + 1):
        active = [member for member in members if member.done < epoch]  # those behind catch up first
        if stack is None or [m.job for m in active] != stack.jobs:
            stack = Stack([member.job for member in active])  # from each run's own model and optimizer
        began = time.perf_counter()
        metrics = stack.train_epoch(epoch)
        rows = [member.job.evaluate(epoch, began, train=m) for member, m in zip(active, metrics)]
        share = (time.perf_counter() - began) / len(active)  # each run's share of the stack's epoch
        saved = []
        for member, row in zip(active, rows):
            member.history.append({**row, "seconds": share})
            saved.append(store.save_epoch(member.path, member.job.cfg, member.job.checkpoint(epoch, member.history)))
        for member, run in zip(active, saved):  # after every run has stored the epoch
            for callback in member.callbacks:
                callback(run, member.history[-1])
        if bar is not None:
            bar.update(1)
    if bar is not None:
        bar.close()


def _progress_bar(epochs: int, done: int, runs: int):
    from tqdm.auto import tqdm

    return tqdm(total=epochs, initial=done, desc=f"{runs} runs stacked", unit="epoch", leave=True)


def stack_groups(configs: Mapping[str, RunConfig], max_size: int = MAX_STACK, parts: int = 1) -> list[list[str]]:
    """Labels of ``configs`` in groups that :func:`train_stack` can train together: same
    :func:`stack_key`, at most ``max_size`` runs each, balanced;
    then the largest groups are halved until there are ``parts`` groups (so ``parts`` workers
    all get one) or no group has two runs. Labels keep their order within a group.
    """
    sets: dict = {}
    for label, cfg in configs.items():  # a run that cannot share a stack is a group of its own
        sets.setdefault(stack_key(cfg) if stackable(cfg) else label, []).append(label)
    groups = []
    for labels in sets.values():
        count = -(-len(labels) // max(1, max_size))
        size = -(-len(labels) // count)
        groups += [labels[i:i + size] for i in range(0, len(labels), size)]
    while len(groups) < parts and max(map(len, groups), default=1) > 1:
        largest = max(groups, key=len)
        half = -(-len(largest) // 2)
        groups[groups.index(largest):groups.index(largest) + 1] = [largest[:half], largest[half:]]
    return groups
