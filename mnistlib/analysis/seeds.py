"""Runs of one configuration over random seeds: a grid's runs grouped by what they share, and each seed's
statistics, which the rule for "different" (:mod:`mnistlib.difference`) compares.

    >>> by_key({("LeNet5", 0): a, ("LeNet5", 1): b, ("CustomMLP_6", 0): c})
    {'LeNet5': [a, b], 'CustomMLP_6': [c]}
    >>> seed_values({"LeNet-5": [a, b]}, "mean_test_acc", window=(20, 49))
    {'LeNet-5': array([98.86, 98.91])}

Every grid that repeats a configuration over seeds keys its runs ``(key, seed)``: the original's grid over its
seeds, notebook 6's variance runs (``(model, seed)``), notebook 7's runs of the original's protocol, notebook
8's steps (``(step, seed)``).
"""
from __future__ import annotations

from typing import Mapping, Sequence, TypeVar

import numpy as np
import pandas as pd

from ..stats import STAT_COLUMNS, run_statistics

Run = TypeVar("Run")
# A seed's statistic: one of the original's (mnistlib.stats.STAT_COLUMNS, over the statistics window), or
# final_<metric>, the value after the last epoch (for a page about the end of training).
FINAL = ("final_test_acc", "final_test_loss", "final_train_acc", "final_train_loss")


def by_key(runs: Mapping[tuple, Run]) -> dict:
    """{(key, seed): run} -> {key: [runs, in the order given]} (the grid's order: keys, then seeds)."""
    out: dict = {}
    for (key, _seed), run in runs.items():
        out.setdefault(key, []).append(run)
    return out


def statistic(run, name: str, window: tuple[int, int]) -> float:
    """One run's value of ``name``: a statistic of :func:`mnistlib.stats.run_statistics` over ``window``, or
    ``final_<metric>`` (:data:`FINAL`), the metric after the run's last epoch."""
    if name in FINAL:
        return float(run.history[name[len("final_"):]].iloc[-1])
    if name not in STAT_COLUMNS:
        raise KeyError(f"unknown statistic {name!r}; choose from {', '.join(STAT_COLUMNS + list(FINAL))}")
    return float(run_statistics(run.history, window)[name])


def seed_values(groups: Mapping[str, Sequence[Run]], name: str, window: tuple[int, int]) -> dict[str, np.ndarray]:
    """{configuration: each seed's value of ``name``} (:func:`statistic`), what the rule compares."""
    return {label: np.array([statistic(run, name, window) for run in runs]) for label, runs in groups.items()}


def per_seed(groups: Mapping[str, Sequence[Run]], window: tuple[int, int]) -> pd.DataFrame:
    """One row per (configuration, seed) with the original's statistics; the column ``model`` holds the
    configuration's key."""
    rows = [{"model": key, "seed": run.config.seed, **run_statistics(run.history, window)}
            for key, runs in groups.items() for run in runs]
    return pd.DataFrame(rows)


def across_seeds(groups: Mapping[str, Sequence[Run]], window: tuple[int, int]) -> pd.DataFrame:
    """The original's statistics as mean and std across seeds (``<statistic>_std``, with n − 1; NaN for one
    seed), one row per configuration, with its number of ``seeds``."""
    table = per_seed(groups, window)
    grouped = table.groupby("model", sort=False)[list(STAT_COLUMNS)]
    mean, std = grouped.mean(), grouped.std(ddof=1)
    out = pd.DataFrame({"seeds": table.groupby("model", sort=False).size()})
    for column in STAT_COLUMNS:
        out[column] = mean[column]
        out[f"{column}_std"] = std[column]
    out.index.name = None
    return out
