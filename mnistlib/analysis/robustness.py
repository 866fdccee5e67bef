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

import numpy as np
import pandas as pd
import torch
from torch import nn

from ..data.mnist import MNISTArrays, load_mnist
from ..models.nets import SparseConv2d
from ..data.perturb import Perturbation
from ..runconfig import RunConfig
from ..store.store import Run
from .. import difference
from ..stats import CHANCE_ACC
from ..training.inference import evaluate_details, load_model
from ..training.optim import loss_function
from ..data.cache import perturbed_images, run_tensors, training_images

NEAR_ZERO = 1e-3  # a weight this small or smaller (in absolute value) counts as near zero
DETAILS = ("test_acc", "test_loss", "ece", "confidence_right", "confidence_wrong", "confidence")
PERTURBATION_AXES = ("noise", "shift", "rotate")


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


def _seed_lists(runs: Mapping[str, Run | Sequence[Run]]) -> dict[str, list[Run]]:
    return {label: list(r) if isinstance(r, (list, tuple)) else [r] for label, r in runs.items()}


def robustness(runs: Mapping[str, Run | Sequence[Run]], settings: Sequence[Perturbation],
               data: MNISTArrays | None = None, on: RunConfig | None = None, which: str = "last") -> pd.DataFrame:
    """One row per (run, random seed, setting): the perturbation (noise, shift, rotate) and the run's checkpoint
    ``which`` on perturbed test images: accuracy and loss, calibration error, mean confidence on right and
    wrong answers. ``runs``: label -> a run, or a list of one configuration's seeds (column ``seed``). Every run
    sees the same images, the test set of ``on`` (a config; default the first run's), perturbed once per
    setting. :func:`at_setting` gives a setting's values per seed, for the rule."""
    data = data if data is not None else load_mnist()
    groups = _seed_lists(runs)
    on = on or next(iter(groups.values()))[0].config
    models = {(label, i): load_model(run, which) for label, group in groups.items() for i, run in enumerate(group)}
    rows = []
    for setting in settings:  # the outer loop: each perturbed copy is made once, then shared
        x, y = _test_set(on, data, setting)
        for label, group in groups.items():
            for i, run in enumerate(group):
                found = evaluate_details(models[label, i], x, y, loss_function(run.config.loss))
                rows.append({"run": label, "seed": run.config.seed, "noise": setting.noise, "shift": setting.shift,
                             "rotate": setting.rotate, **{key: found[key] for key in DETAILS}})
    return pd.DataFrame(rows)


def at_setting(table: pd.DataFrame, column: str = "test_acc", **setting: float) -> dict[str, np.ndarray]:
    """{run: each seed's ``column``} at one setting of a :func:`robustness` table (``noise=1.5``; the axes not
    named at 0)."""
    chosen = {axis: setting.get(axis, 0) for axis in PERTURBATION_AXES}
    part = table[np.logical_and.reduce([np.isclose(table[axis], value) for axis, value in chosen.items()])]
    return {run: group[column].to_numpy(float) for run, group in part.groupby("run", sort=False)}


def reliability(runs: Mapping[str, Run], data: MNISTArrays | None = None, on: RunConfig | None = None,
                which: str = "last") -> dict[str, pd.DataFrame]:
    """Each run's reliability bins (:func:`mnistlib.stats.calibration`) on the clean test set of ``on``
    (default: the first run's config)."""
    data = data if data is not None else load_mnist()
    x, y = _test_set(on or next(iter(runs.values())).config, data)
    return {label: evaluate_details(load_model(run, which), x, y, loss_function(run.config.loss))["bins"]
            for label, run in runs.items()}


def honesty(runs: Mapping[str, Run | Sequence[Run]], against: str, data: MNISTArrays | None = None,
            on: RunConfig | None = None, which: str = "last") -> pd.DataFrame:
    """Each configuration's calibration on the clean test set of ``on`` (default: the first run's config) over
    its random seeds, set against the configuration labelled ``against`` by the rule for "different"
    (:func:`mnistlib.difference.compare` on each seed's calibration error). One row per configuration: its
    ``seeds``; the means over seeds of test accuracy, calibration error (and its std), mean confidence when
    right and when wrong, and ``overconfidence`` (mean confidence minus accuracy, points: above 0
    over-confident); the change in calibration error from ``against`` with Welch's interval over seeds and
    the exact permutation p; and a ``verdict``: 'more honest' or 'less honest' where the rule calls the two
    different, 'no different' where they are within the spread between random seeds, 'undecided' where
    the seeds are too few, 'at chance' for a configuration no better than chance
    (:data:`mnistlib.stats.CHANCE_ACC`), whose small error says nothing of honest confidence."""
    groups = _seed_lists(runs)
    if against not in groups:
        raise KeyError(f"{against!r} is not one of the runs compared ({', '.join(groups)})")
    table = robustness(groups, [Perturbation()], data, on, which)
    found = {label: part for label, part in table.groupby("run", sort=False)}
    ece = {label: part.ece.to_numpy(float) for label, part in found.items()}
    rows = []
    for label, part in found.items():
        c = difference.compare(ece[label], ece[against])
        verdict = ("–" if label == against else "at chance" if part.test_acc.mean() <= CHANCE_ACC
                   else ("more honest" if c.diff < 0 else "less honest") if c.different
                   else "no different" if c.decidable else "undecided")
        rows.append({"run": label, "seeds": len(part), "test_acc": part.test_acc.mean(), "ece": part.ece.mean(),
                     "ece_std": part.ece.std(ddof=1) if len(part) > 1 else np.nan,
                     "confidence_right": part.confidence_right.mean(), "confidence_wrong": part.confidence_wrong.mean(),
                     "overconfidence": float((part.confidence - part.test_acc).mean()),
                     "ece_change": c.diff if label != against else 0.0, "ece_change_low": c.low, "ece_change_high": c.high,
                     "p": c.p if label != against else np.nan, "verdict": verdict})
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


def weights(runs: Mapping[str, Run | Sequence[Run]], which: str = "last") -> pd.DataFrame:
    """:func:`weight_table` of each run, one row per (run, layer); for a list of one configuration's random seeds,
    the mean over them (``seeds``: how many)."""
    tables = {}
    for label, group in _seed_lists(runs).items():
        found = pd.concat([weight_table(load_model(run, which)) for run in group])
        tables[label] = found.groupby(level="layer", sort=False).mean().assign(seeds=len(group))
    return pd.concat(tables, names=["run"])


def crossing(table: pd.DataFrame, trained: str, plain: str, axis: str = "noise") -> float | None:
    """The smallest strength along ``axis`` of a :func:`robustness` table from which configuration ``trained`` is
    ahead of ``plain`` by the rule for "different" (over their seeds' accuracies) at that strength and at every
    stronger one; None if there is none."""
    strengths = sorted(table[axis].unique())
    ahead = []
    for strength in strengths:
        values = at_setting(table, **{axis: strength})
        c = difference.compare(values[trained], values[plain])
        ahead.append(c.different and c.diff > 0)
    for i, strength in enumerate(strengths):
        if all(ahead[i:]):
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
