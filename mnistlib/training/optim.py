"""The optimizer, the loss and the learning-rate schedule of a run, each a pure function of its config.

    >>> optimizer = make_optimizer(cfg, model.parameters())
    >>> lr = cfg.lr * lr_factor(cfg, step, steps_per_epoch)
"""
from __future__ import annotations

import math
from typing import Callable

import torch
import torch.nn.functional as F

from ..errors import ConfigError
from ..runconfig import ONE_CYCLE_MOMENTUM, RunConfig


def smoothing_targets(epsilon: float, classes: int = 10) -> tuple[float, float]:
    """The training targets of label smoothing ε, as torch's cross-entropy sets them: (on the label, on each other
    class) = (1 − ε + ε/classes, ε/classes); they sum to 1."""
    return 1 - epsilon + epsilon / classes, epsilon / classes


def loss_function(kind: str, reduction: str = "sum",
                  label_smoothing: float = 0.0) -> Callable[[torch.Tensor, torch.Tensor], torch.Tensor]:
    """Summed loss over a batch ('none': one loss per sample). 'softmax_then_cross_entropy' applies softmax
    before cross-entropy, as the original's code did; it cannot go below ln(e + 9) − 1 ≈ 1.4612.
    ``label_smoothing`` ε: the target is 1 − ε on the label and ε/10 on every class, the label's included
    (:func:`smoothing_targets`)."""
    if kind == "softmax_then_cross_entropy":
        return lambda logits, y: F.cross_entropy(torch.softmax(logits, dim=1), y, reduction=reduction,
                                                 label_smoothing=label_smoothing)
    return lambda logits, y: F.cross_entropy(logits, y, reduction=reduction, label_smoothing=label_smoothing)


def make_optimizer(cfg: RunConfig, parameters) -> torch.optim.Optimizer:
    """The run's optimizer: SGD (momentum, L2 weight decay) or Adam (β1 = momentum, β2 = 0.999, L2 weight
    decay added to the gradient, as torch's Adam does), or AdamW (the same moments; the weight decay
    decoupled: each step first shrinks every weight by lr·λ of itself, as torch's AdamW does)."""
    if cfg.optimizer == "adam":
        return torch.optim.Adam(parameters, lr=cfg.lr, betas=(cfg.momentum, 0.999), weight_decay=cfg.weight_decay)
    if cfg.optimizer == "adamw":
        return torch.optim.AdamW(parameters, lr=cfg.lr, betas=(cfg.momentum, 0.999), weight_decay=cfg.weight_decay)
    return torch.optim.SGD(parameters, lr=cfg.lr, momentum=cfg.momentum, weight_decay=cfg.weight_decay)


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
    peak = check_one_cycle(warmup, total)
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


def check_one_cycle(warmup: float, total: int) -> float:
    """The step at which one-cycle's learning rate peaks (torch's ``OneCycleLR``: ``warmup`` of ``total``
    steps, less one); ConfigError when that is under one step."""
    peak = float(warmup * total) - 1
    if peak <= 0:
        raise ConfigError(f"one_cycle_warmup {warmup:g} of {total} steps is under one step; raise it or train longer")
    return peak
