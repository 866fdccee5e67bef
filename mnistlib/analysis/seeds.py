"""Runs of one configuration over random seeds: a grid's runs grouped by what they share.

    >>> by_key({("LeNet5", 0): a, ("LeNet5", 1): b, ("CustomMLP_6", 0): c})
    {'LeNet5': [a, b], 'CustomMLP_6': [c]}

Every grid that repeats a configuration over seeds keys its runs ``(key, seed)``: notebook 6's variance
runs (``(model, seed)``), notebook 7's runs of the original's protocol, notebook 8's steps (``(step, seed)``).
"""
from __future__ import annotations

from typing import Mapping, TypeVar

Run = TypeVar("Run")


def by_key(runs: Mapping[tuple, Run]) -> dict:
    """{(key, seed): run} -> {key: [runs, in the order given]} (the grid's order: keys, then seeds)."""
    out: dict = {}
    for (key, _seed), run in runs.items():
        out.setdefault(key, []).append(run)
    return out
