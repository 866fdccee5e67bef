"""Notebooks 3 and 4's analyses: what weight decay and input noise did beyond clean test accuracy.

Robustness to perturbed test images (:mod:`mnistlib.data.perturb`), calibration and the weights themselves,
for trained and imported runs alike, from their stored checkpoints: nothing is trained. Every function
returns numbers and verdicts; the notebooks word them.

    >>> table = robustness(runs, noise_levels([0, 0.5, 1.0]), data=arrays)
    >>> table.pivot(index="noise", columns="run", values="test_acc")
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Iterable, Mapping, Sequence

import pandas as pd
import torch
from torch import nn

from ..data.mnist import MNISTArrays, load_mnist
from ..models.nets import SparseConv2d
from ..data.perturb import Perturbation
from ..runconfig import RunConfig
from ..store.store import Run
from ..stats import CHANCE_ACC, calibration_difference
from ..training.inference import evaluate_details, load_model
from ..training.optim import loss_function
from ..data.cache import perturbed_images, run_tensors, training_images

NEAR_ZERO = 1e-3  # a weight this small or smaller (in absolute value) counts as near zero
DETAILS = ("test_acc", "test_loss", "ece", "confidence_right", "confidence_wrong")


def noise_levels(stds: Iterable[float], seed: int = 0) -> list[Perturbation]:
    """Gaussian noise at each std (0: the clean images)."""
    return [Perturbation(noise=s, seed=seed) for s in stds]


def shifts(pixels: Iterable[int], seed: int = 0) -> list[Perturbation]:
    """A shift by each number of pixels (0: the clean images)."""
    return [Perturbation(shift=k, seed=seed) for k in pixels]


def rotations(degrees: Iterable[float], seed: int = 0) -> list[Perturbation]:
    """A rotation by each angle (0: the clean images)."""
    return [Perturbation(rotate=d, seed=seed) for d in degrees]


def _test_set(on: RunConfig, data: MNISTArrays, setting: Perturbation = Perturbation()):
    cpu = torch.device("cpu")
    return perturbed_images(on, data, cpu, setting), run_tensors(on, data, cpu).y_test


def robustness(runs: Mapping[str, Run], settings: Sequence[Perturbation], data: MNISTArrays | None = None,
               on: RunConfig | None = None, which: str = "last") -> pd.DataFrame:
    """One row per (run, setting): the perturbation (noise, shift, rotate) and the run's checkpoint
    ``which`` on perturbed test images: accuracy and loss, calibration error, mean confidence on right
    and wrong answers. Every run sees the same images, the test set of ``on`` (a config; default the
    first run's), perturbed once per setting."""
    data = data if data is not None else load_mnist()
    on = on or next(iter(runs.values())).config
    models = {label: load_model(run, which) for label, run in runs.items()}
    rows = []
    for setting in settings:  # the outer loop: each perturbed copy is made once, then shared
        x, y = _test_set(on, data, setting)
        for label, run in runs.items():
            found = evaluate_details(models[label], x, y, loss_function(run.config.loss))
            rows.append({"run": label, "noise": setting.noise, "shift": setting.shift, "rotate": setting.rotate,
                         **{key: found[key] for key in DETAILS}})
    return pd.DataFrame(rows)


def reliability(runs: Mapping[str, Run], data: MNISTArrays | None = None, on: RunConfig | None = None,
                which: str = "last") -> dict[str, pd.DataFrame]:
    """Each run's reliability bins (:func:`mnistlib.stats.calibration`) on the clean test set of ``on``
    (default: the first run's config)."""
    data = data if data is not None else load_mnist()
    x, y = _test_set(on or next(iter(runs.values())).config, data)
    return {label: evaluate_details(load_model(run, which), x, y, loss_function(run.config.loss))["bins"]
            for label, run in runs.items()}


def honesty(runs: Mapping[str, Run], against: str, data: MNISTArrays | None = None, on: RunConfig | None = None,
            which: str = "last", resamples: int = 1000) -> pd.DataFrame:
    """Each run's calibration on the clean test set of ``on`` (default: the first run's config), set
    against the run labelled ``against``: one row per run with test accuracy, calibration error, mean
    confidence when right and when wrong, ``overconfidence`` (mean confidence minus accuracy, points:
    above 0 over-confident, below under-confident), the change in calibration error from ``against``
    with its paired bootstrap interval over the test images (:func:`mnistlib.stats.calibration_difference`),
    and a ``verdict``: 'more honest' or 'less honest' when the interval excludes 0, else 'no different';
    'at chance' for a run no better than chance (:data:`mnistlib.stats.CHANCE_ACC`)."""
    if against not in runs:
        raise KeyError(f"{against!r} is not one of the runs compared ({', '.join(runs)})")
    data = data if data is not None else load_mnist()
    x, y = _test_set(on or next(iter(runs.values())).config, data)
    found = {label: evaluate_details(load_model(run, which), x, y, loss_function(run.config.loss))
             for label, run in runs.items()}
    rows = []
    for label, details in found.items():
        confidence, correct = details["answers"]
        change = (calibration_difference(found[against]["answers"], details["answers"], resamples=resamples)
                  if label != against else {"difference": 0.0, "low": 0.0, "high": 0.0})
        # a run at chance answers (nearly) one class: its small error says nothing of honest confidence
        verdict = ("at chance" if details["test_acc"] <= CHANCE_ACC else "more honest" if change["high"] < 0
                   else "less honest" if change["low"] > 0 else "no different")
        rows.append({"run": label, **{key: details[key] for key in DETAILS},
                     "overconfidence": 100 * float(confidence.mean() - correct.mean()),
                     "ece_change": change["difference"], "ece_change_low": change["low"],
                     "ece_change_high": change["high"], "verdict": verdict if label != against else "–"})
    return pd.DataFrame(rows).set_index("run")


def weight_table(model: nn.Module) -> pd.DataFrame:
    """Per layer with weights (and 'all'): how many, their L2 norm, and the share near zero (%)."""
    rows = []
    for name, module in model.named_modules():
        if isinstance(module, (nn.Linear, nn.Conv2d, SparseConv2d)):
            w = module.weight.detach()
            rows.append({"layer": name, "weights": w.numel(), "l2_norm": float(w.norm()),
                         "near_zero": float((w.abs() <= NEAR_ZERO).float().mean() * 100)})
    table = pd.DataFrame(rows)
    total = torch.cat([p.detach().reshape(-1) for name, p in model.named_parameters() if name.endswith("weight")])
    table.loc[len(table)] = {"layer": "all", "weights": total.numel(), "l2_norm": float(total.norm()),
                             "near_zero": float((total.abs() <= NEAR_ZERO).float().mean() * 100)}
    return table.set_index("layer")


def weights(runs: Mapping[str, Run], which: str = "last") -> pd.DataFrame:
    """:func:`weight_table` of each run, one row per (run, layer)."""
    return pd.concat({label: weight_table(load_model(run, which)) for label, run in runs.items()}, names=["run"])


def crossing(table: pd.DataFrame, trained: str, plain: str, axis: str = "noise") -> float | None:
    """The smallest strength along ``axis`` of a :func:`robustness` table at which run ``trained``'s
    accuracy is above run ``plain``'s, and stays above at every stronger setting; None if never."""
    curves = table.pivot_table(index=axis, columns="run", values="test_acc").sort_index()
    ahead = curves[trained] > curves[plain]
    for strength in ahead.index:
        if ahead.loc[strength:].all():
            return float(strength)
    return None


@dataclass(frozen=True)
class WeightShrink:
    """What SGD's weight decay alone does to every weight, before the data's gradient pushes back."""

    per_step: float            # the share of itself a weight loses each step: lr·λ/(1 − momentum)
    steps_per_epoch: int
    per_epoch: float           # the factor it is left with after one epoch: (1 − per_step) ** steps


def weight_shrink(cfg: RunConfig) -> WeightShrink:
    """SGD with momentum and L2 weight decay λ shrinks a weight by about lr·λ/(1 − momentum) of itself a step
    (the momentum's geometric sum), so by a factor (1 − that) ** steps over an epoch of ``cfg``'s run."""
    steps = math.ceil(training_images(cfg) / cfg.batch_size)
    per_step = cfg.lr * cfg.weight_decay / (1 - cfg.momentum)
    return WeightShrink(per_step, steps, (1 - per_step) ** steps)
