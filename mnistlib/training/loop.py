"""The one epoch loop: one run, or K runs stacked as one model, trained through the very same steps.

    >>> group = group_of([job])             # one job: its own model and optimizer
    >>> group = group_of(jobs)              # several: one stacked model (mnistlib.models.stacked)
    >>> metrics = train_epoch(group, epoch) # each run's (mean loss, accuracy %); its curve points too

A step draws each run's batch from its own order (:func:`mnistlib.data.mnist.batch_order`) and its own
augmentation generators, takes the runs' shared learning rate and momentum from the schedule, and steps
the optimizer :func:`mnistlib.training.optim.make_optimizer` builds (torch's). A run alone trains on its
own model: the same numbers as a plain torch loop. A stack trains its runs' layers stacked, each run with
its own weight decay (added to its gradient), and after each epoch, and before each point of a curve,
copies the weights and the optimizer's state back into each run's own model and optimizer, so a stacked
run's checkpoint, evaluation and resume are those of a run trained alone. What stacking changes is the
floating-point order inside a step (grouped instead of separate convolutions): a stacked run matches the
same run trained alone to about 1e-5 after one epoch, not bit for bit, and is bit-identical to itself
trained again in the same stack, and to its resume (tests/test_stacking.py).

Runs share a stack when they differ only in :data:`PER_RUN_FIELDS` (:func:`stack_key`); Adam, one-cycle
and curves inside epochs stack like plain SGD.
"""
from __future__ import annotations

import dataclasses
from typing import Mapping, Sequence

import torch

from ..data.mnist import batch_order
from ..errors import ConfigError
from ..models.stacked import StackedConv2d, stack_model
from ..runconfig import RunConfig
from .job import Job, average_weight
from .optim import loss_function, make_optimizer, set_momentum

# What runs of one stack may differ in: all of it acts on each run's own data or weights.
PER_RUN_FIELDS = ("seed", "weight_decay", "noise_std", "noise_mean", "noise_mode", "shift", "rotate", "scale",
                  "elastic", "elastic_sigma")
MAX_STACK = 8  # more runs per stack gain little (benchmarks/bench_stacking.py) and delay the first result


def stack_key(cfg: RunConfig) -> RunConfig:
    """What must be equal for runs to share a stack: the config with its per-run fields reset."""
    defaults = RunConfig()
    return dataclasses.replace(cfg, name=None, save_every_epoch=False,
                               **{field: getattr(defaults, field) for field in PER_RUN_FIELDS})


def stack_groups(configs: Mapping[str, RunConfig], max_size: int = MAX_STACK, parts: int = 1) -> list[list[str]]:
    """Labels of ``configs`` in groups that can train as one stack: same :func:`stack_key`, at most
    ``max_size`` runs each, balanced; then the largest groups are halved until there are ``parts`` groups
    (so ``parts`` workers all get one) or no group has two runs. Labels keep their order within a group."""
    sets: dict = {}
    for label, cfg in configs.items():
        sets.setdefault(stack_key(cfg), []).append(label)
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


def epoch_metrics(total_loss: torch.Tensor, correct: torch.Tensor, n: int, batches: int, last: int,
                  original_metrics: bool) -> tuple[float, float]:
    """(mean loss, accuracy %) of an epoch from its sums. ``original_metrics``: ``total_loss`` sums
    per-batch mean losses, and accuracy is correct / (batches × size of the last batch), as the
    original's code computed them; otherwise per-sample sums over ``n`` samples."""
    if original_metrics:
        return total_loss.item() / batches, 100.0 * correct.item() / (batches * last)
    return total_loss.item() / n, 100.0 * correct.item() / n


class Solo:
    """One run on its own model and optimizer: what :func:`train_epoch` steps when a run trains alone."""

    def __init__(self, job: Job):
        self.jobs, self.model, self.optimizer = [job], job.model, job.optimizer
        self.device = job.train_data.device

    def inputs(self, index: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """The run's batch at ``index`` (1, b), augmented: images (b, C, H, W), labels (1, b)."""
        job, rows = self.jobs[0], index[0]
        xb = job.train_data.x_train.index_select(0, rows)  # the same values as x[rows], with less per-call overhead
        return (job.augment(xb) if job.augment else xb), job.train_data.y_train.index_select(0, rows).view(1, -1)

    def forward(self, xb: torch.Tensor, yb: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Logits (1, b, classes) and the batch's summed training loss (1,)."""
        logits = self.model(xb)
        return logits.unsqueeze(0), self.jobs[0].loss_sum(logits, yb[0]).view(1)

    def step(self) -> None:
        self.optimizer.step()
        if self.jobs[0].averaged is not None:
            self.jobs[0].update_average()

    def sync(self) -> None:
        """Nothing to copy: the run's own model and optimizer are the ones trained."""


class Stack:
    """K runs' layers stacked as one model (:func:`mnistlib.models.stacked.stack_model`), stepped by one
    optimizer of :func:`make_optimizer`'s kind over the stacked parameters, each run's weight decay added
    to its own rows of the gradient; the runs' data gathered in one call per batch."""

    def __init__(self, jobs: Sequence[Job]):
        self.jobs, self.runs = list(jobs), len(jobs)
        cfg = self.jobs[0].cfg
        self.model, self.pairs = stack_model([job.model for job in self.jobs])
        # The decay goes on the gradient here, each run's λ on its own rows, so the optimizer's own is off: for SGD
        # exactly the stacked SGD of 0c5081e (torch.equal in tests/test_stacking.py); against a run alone, whose
        # optimizer adds λ·w in one rounding, it rounds once more, as every sum of a stack may differ (a few 1e-8).
        self.optimizer = make_optimizer(dataclasses.replace(cfg, weight_decay=0.0), [p for p, _ in self.pairs])
        self.owners = [job.optimizer for job in self.jobs]
        for stacked, own in self.pairs:
            _gather_state(self.optimizer, stacked, self.owners, own)
        # per pair, where each run's own parameter stands in its model's parameters (so in its Job.averaged)
        index = [{id(param): i for i, param in enumerate(job.model.parameters())} for job in self.jobs]
        self.slots = [[index[k][id(own[k])] for k in range(self.runs)] for _, own in self.pairs]
        self.averaged, self.average_steps = _gather_averages(self.jobs, self.pairs, self.slots)
        self.loss = loss_function(cfg.loss, reduction="none", label_smoothing=cfg.label_smoothing)
        x_train = [job.train_data.x_train for job in self.jobs]
        y_train = [job.train_data.y_train for job in self.jobs]
        self.device = x_train[0].device
        self.decays = [job.cfg.weight_decay for job in self.jobs]
        self.decay = torch.tensor(self.decays, device=self.device).view(-1, 1) if any(self.decays) else None
        self.decoupled = cfg.optimizer == "adamw"
        # Conv models: channels-last makes the grouped convolutions several times faster on a CPU.
        self.channels_last = any(isinstance(m, StackedConv2d) for m in self.model.modules())
        shared = all(x is x_train[0] for x in x_train) and all(y is y_train[0] for y in y_train)
        # One tensor to gather every run's batch from in one call: shared, or the runs' own sets
        # (fixed noise, per-seed subsets) one after another.
        self.x = x_train[0] if shared else torch.cat(x_train)
        self.y = y_train[0] if shared else torch.cat(y_train)
        n = len(y_train[0])
        self.offsets = (torch.zeros(self.runs, 1, dtype=torch.long) if shared else
                        (torch.arange(self.runs) * n).view(-1, 1)).to(self.device)

    def inputs(self, index: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Every run's batch at ``index`` (K, b), augmented, stacked along the channel axis: (b, K·C, H, W);
        labels (K, b)."""
        runs, b = index.shape
        flat = (index + self.offsets).reshape(-1)
        xb, yb = self.x.index_select(0, flat), self.y.index_select(0, flat)
        if any(job.augment for job in self.jobs):
            xb = torch.cat([job.augment(part) if job.augment else part for job, part in zip(self.jobs, xb.split(b))])
        xb = xb.view(runs, b, *xb.shape[1:]).transpose(0, 1).reshape(b, -1, *xb.shape[2:])
        return (xb.contiguous(memory_format=torch.channels_last) if self.channels_last else xb), yb.view(runs, b)

    def forward(self, xb: torch.Tensor, yb: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Logits (K, b, classes) and each run's summed training loss (K,)."""
        logits = self.model(xb).view(len(xb), self.runs, -1).transpose(0, 1)
        losses = self.loss(logits.reshape(-1, logits.shape[-1]), yb.reshape(-1)).view(self.runs, -1).sum(1)
        return logits, losses

    @torch.no_grad()
    def step(self) -> None:
        if self.decay is not None and self.decoupled:  # as torch's AdamW: w·(1 − lr·λ) first, each run's own λ
            lr = self.optimizer.param_groups[0]["lr"]
            # each factor in double precision, then float32, as torch's AdamW multiplies by its Python float
            factors = torch.tensor([1 - lr * wd for wd in self.decays], device=self.device).view(-1, 1)
            for param, _ in self.pairs:
                param.view(self.runs, -1).mul_(factors)
        elif self.decay is not None:  # L2 as torch's SGD adds it, grad + λ·w, each run's λ on its own rows
            for param, _ in self.pairs:
                param.grad = (param.grad.reshape(self.runs, -1) + self.decay * param.view(self.runs, -1)).view_as(param)
        self.optimizer.step()
        if self.averaged is not None:  # elementwise, so each run's rows as its own average alone
            self.average_steps += 1
            keep = average_weight(self.jobs[0].cfg.average, self.average_steps)
            for average, (param, _) in zip(self.averaged, self.pairs):
                average.lerp_(param, 1 - keep)

    @torch.no_grad()
    def sync(self) -> None:
        """Copy the stacked weights, the optimizer's state and its schedule's values (learning rate,
        momentum) into each run's own model and optimizer."""
        for stacked, own in self.pairs:
            rows, state = stacked.view(self.runs, -1), self.optimizer.state.get(stacked, {})
            for k, (owner, param) in enumerate(zip(self.owners, own)):
                param.copy_(rows[k].view_as(param))
                if state:
                    owner.state[param] = {key: _row(value, stacked, k, param) for key, value in state.items()}
        if self.averaged is not None:
            for k, job in enumerate(self.jobs):
                job.average_steps = self.average_steps
                for average, (_, own), slots in zip(self.averaged, self.pairs, self.slots):
                    job.averaged[slots[k]].copy_(average.view(self.runs, -1)[k].view_as(own[k]))
        group = self.optimizer.param_groups[0]
        for owner in self.owners:
            for own_group in owner.param_groups:
                own_group.update({key: group[key] for key in ("lr", "momentum", "betas") if key in group})


def _gather_state(optimizer: torch.optim.Optimizer, stacked: torch.Tensor, owners, own) -> None:
    """The runs' optimizer state of their own parameters ``own``, as the state of the stacked one: tensors
    of a parameter's shape concatenated in run order (the stacked parameter's layout), the rest (Adam's step
    count) the same for every run."""
    states = [owner.state.get(param) or {} for owner, param in zip(owners, own)]
    if not any(states):
        return
    if not all(states) or any(state.keys() != states[0].keys() for state in states):
        raise ConfigError("runs of one stack must all be new or all resumed after the same epoch; train them apart")
    gathered = {}
    for key, first in states[0].items():
        values = [state[key] for state in states]
        if torch.is_tensor(first) and first.shape == own[0].shape:  # per run: the stacked parameter's layout
            gathered[key] = torch.cat([value.reshape(-1) for value in values]).view_as(stacked)
        else:
            if torch.is_tensor(first) and not all(torch.equal(first, value) for value in values):
                raise ConfigError(f"runs of one stack must be at the same step ({key} differs); train them apart")
            gathered[key] = first.clone() if torch.is_tensor(first) else first
    optimizer.state[stacked] = gathered


def _gather_averages(jobs: Sequence[Job], pairs, slots) -> tuple[list[torch.Tensor] | None, int]:
    """The runs' moving averages of their weights (``RunConfig.average``) in the stacked parameters' layout (each
    run's rows in run order), and their common number of updates; (None, 0) without one. ``slots``: per pair,
    where each run's own parameter stands in its ``Job.averaged``."""
    if jobs[0].averaged is None:
        return None, 0
    steps = {job.average_steps for job in jobs}
    if len(steps) > 1:
        raise ConfigError("runs of one stack must be at the same step (their weight averages differ); train them apart")
    averaged = [torch.cat([job.averaged[slot[k]].reshape(-1) for k, job in enumerate(jobs)]).view_as(stacked)
                for (stacked, _), slot in zip(pairs, slots)]
    return averaged, steps.pop()


def _row(value, stacked: torch.Tensor, k: int, param: torch.Tensor):
    """Run ``k``'s part of one entry of a stacked parameter's optimizer state: a tensor of the stacked
    parameter's shape is per run (its rows in run order, as :func:`_gather_state` made them); the rest is shared."""
    if torch.is_tensor(value) and value.shape == stacked.shape:
        return value.view(stacked.numel() // param.numel(), -1)[k].view_as(param).clone()
    return value.clone() if torch.is_tensor(value) else value


def group_of(jobs: Sequence[Job]) -> Solo | Stack:
    """What :func:`train_epoch` steps: one job alone, or several stacked."""
    return Solo(jobs[0]) if len(jobs) == 1 else Stack(jobs)


def train_epoch(group: Solo | Stack, epoch: int) -> list[tuple[float, float]]:
    """One epoch of every run of ``group``; returns each run's (mean loss, accuracy %) over its epoch's
    samples (the original's formulas for runs of its protocol: :func:`epoch_metrics`). With ``eval_every``,
    each run's curve gets its points inside the epoch; after it, every run's own model and optimizer hold
    its state."""
    jobs, first, device = group.jobs, group.jobs[0], group.device
    orders = torch.stack([batch_order(job.n, job.shuffle, device) for job in jobs])  # (K, n): each run's own
    lr_at, momentum_at = first.lr_at(epoch), first.momentum_at(epoch)  # shared: the stack key holds the schedule
    total_loss = torch.zeros(len(jobs), device=device)
    correct = torch.zeros(len(jobs), device=device, dtype=torch.long)
    group.model.train()
    batches = last = 0
    for step, index in enumerate(orders.split(first.cfg.batch_size, dim=1)):
        if lr_at is not None:
            for param_group in group.optimizer.param_groups:
                param_group["lr"] = lr_at(step)
        if momentum_at is not None:
            set_momentum(group.optimizer, momentum_at(step))
        xb, yb = group.inputs(index)
        logits, losses = group.forward(xb, yb)
        mean_losses = losses / index.shape[1]
        group.optimizer.zero_grad(set_to_none=True)
        mean_losses.sum().backward()  # run k's parameters get the gradient of its own loss only
        group.step()
        with torch.no_grad():  # accumulate on the device: no host sync per step, no autograd
            total_loss += mean_losses if first.original_metrics else losses
            correct += (logits.argmax(-1) == yb).sum(1)
        batches, last = step + 1, index.shape[1]
        if first.curve_due(epoch, step):
            group.sync()
            for job in jobs:
                job.curve.append(job.curve_point(epoch, step + 1))
            group.model.train()
    group.sync()
    return [epoch_metrics(total_loss[k], correct[k], first.n, batches, last, first.original_metrics)
            for k in range(len(jobs))]
