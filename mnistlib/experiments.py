"""The seed's experiment: its 13 runs as RunConfigs, and its published results as data.

    >>> grid = seed_grid(epochs=50)
    >>> list(grid)[:2]
    ['LeNet-5', 'CustomMLP_6']

``SEED_RESULTS`` is the seed report's table (means over epochs 20–50, test set unless said),
kept to compare against, never to stand in for our numbers.
"""
from __future__ import annotations

import math

import pandas as pd

from .runconfig import RunConfig

SEED_LOSS_FLOOR = math.log(math.e + 9) - 1  # softmax applied twice: the seed's lowest possible loss

SEED_WEIGHT_DECAYS = (1e-4, 1e-3, 1e-2)
SEED_NOISE_STDS = (0.1, 0.2, 0.3)
MLP_NAMES = tuple(f"CustomMLP_{i}" for i in range(6, 0, -1))  # the seed's table order

# run label -> (train loss, test loss, train acc %, test acc %); the seed's table.
_SEED_ROWS = {
    "LeNet-5": (1.4716, 1.459, 99.06, 98.59),
    "CustomMLP_6": (1.474, 1.488, 98.83, 97.36),
    "CustomMLP_5": (1.472, 1.488, 98.99, 97.39),
    "CustomMLP_4": (1.478, 1.491, 98.31, 97.03),
    "CustomMLP_3": (1.498, 1.504, 96.33, 95.66),
    "CustomMLP_2": (1.505, 1.511, 95.61, 94.98),
    "CustomMLP_1": (1.742, 1.780, 71.87, 68.15),
    "LeNet-5, λ=1e-4": (1.474, 1.476, 98.97, 98.64),
    "LeNet-5, λ=1e-3": (1.493, 1.491, 97.85, 97.94),
    "LeNet-5, λ=1e-2": (2.302, 2.302, 11.24, 11.35),
    "LeNet-5, noise 0.1": (1.472, 1.476, 99.05, 98.54),
    "LeNet-5, noise 0.2": (1.471, 1.475, 99.10, 98.68),
    "LeNet-5, noise 0.3": (1.474, 1.478, 98.87, 98.41),
}
SEED_RESULTS = pd.DataFrame.from_dict(
    _SEED_ROWS, orient="index", columns=["mean_train_loss", "mean_test_loss", "mean_train_acc", "mean_test_acc"])
SEED_RESULTS.index.name = "run"
# The seed states best test accuracy and lowest test loss only for these runs.
SEED_RESULTS["best_test_acc"] = pd.Series({"LeNet-5": 98.81, "LeNet-5, noise 0.2": 98.9})
SEED_RESULTS["min_test_loss"] = pd.Series({"LeNet-5": 1.473, "LeNet-5, noise 0.2": 1.473})


def wd_label(weight_decay: float) -> str:
    """'LeNet-5, λ=1e-3' for 0.001, the seed's spelling."""
    return f"LeNet-5, λ={weight_decay:.0e}".replace("e-0", "e-").replace("e+0", "e")


def noise_label(std: float) -> str:
    return f"LeNet-5, noise {std:g}"


def seed_grid(weight_decays=SEED_WEIGHT_DECAYS, noise_stds=SEED_NOISE_STDS, mlps=MLP_NAMES,
              **common) -> dict[str, dict[str, RunConfig]]:
    """The seed's runs by group ('baseline', 'mlp', 'weight_decay', 'noise'), each a mapping
    label -> RunConfig. ``common`` holds the shared fields (epochs, batch_size, subsets, seed, ...)."""
    return {
        "baseline": {"LeNet-5": RunConfig(model="LeNet5", **common)},
        "mlp": {name: RunConfig(model=name, **common) for name in mlps},
        "weight_decay": {wd_label(wd): RunConfig(model="LeNet5", weight_decay=wd, **common) for wd in weight_decays},
        "noise": {noise_label(s): RunConfig(model="LeNet5", noise_std=s, **common) for s in noise_stds},
    }


def flat(grid: dict[str, dict[str, RunConfig]]) -> dict[str, RunConfig]:
    """All runs of a grid in one label -> RunConfig mapping, in group order."""
    return {label: cfg for group in grid.values() for label, cfg in group.items()}

# The seed's per-layer counts for LeNet-5 (its section 모델 구조 설명), keyed by our layer names.
SEED_LENET_LAYERS = {"c1": 156, "c3": 1516, "c5": 48120, "f6.0": 10164, "f7": 850, "total": 60806}
