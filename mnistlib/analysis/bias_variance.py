"""Bias and variance as the original meant them: how far trained copies of one configuration agree on
each test image, and whether their consensus is right (Domingos 2000, for the 0-1 loss).

For each test image, from the class each random seed's model predicts: the *main prediction* is the
class most seeds give (a tie goes to the lowest digit among the tied, the same rule every time); its
*bias* is 1 where the main prediction is wrong; its *variance* is the share of seeds that disagree with
the main prediction. The seeds' mean 0-1 error decomposes exactly as E = B + c·V, with c = 1 where the
main prediction is right (every disagreeing seed is wrong) and c = −P(a seed gives the true class | it
differs from the main prediction) where it is wrong (a disagreeing seed may be right). Averaged over
the test set: E = B + V_unbiased − V_biased, the *net variance* V_unbiased − V_biased.

The variance here is over random seeds (initial weights, batch order, noise) on one training set, not
over training sets: it says how much a configuration's answer depends on its seed.
"""
from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Mapping, Sequence

import numpy as np
import pandas as pd

from ..data.mnist import MNISTArrays
from ..store.store import Run
from ..training.inference import test_predictions

CLASSES = 10


@dataclass(frozen=True)
class Decomposition:
    """Means over the test images: ``error`` (the seeds' mean 0-1 error), ``bias``, ``unbiased_variance``
    (variance where the main prediction is right), ``biased_variance`` (−c·V where it is wrong, ≥ 0),
    ``net_variance`` = unbiased − biased, ``variance`` (the plain mean share of disagreeing seeds),
    ``main_accuracy`` (the seeds voting: 1 − bias), and the counts ``seeds`` and ``images``."""

    error: float
    bias: float
    unbiased_variance: float
    biased_variance: float
    net_variance: float
    variance: float
    main_accuracy: float
    seeds: int
    images: int


def _check(predictions: np.ndarray, labels: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    predictions, labels = np.asarray(predictions), np.asarray(labels)
    if predictions.ndim != 2 or labels.shape != predictions.shape[1:]:
        raise ValueError(f"predictions must be (seeds, images) and labels (images,), got {predictions.shape} "
                         f"and {labels.shape}")
    if len(predictions) < 2:
        raise ValueError(f"bias and variance need at least 2 seeds, got {len(predictions)}")
    return predictions.astype(np.int64), labels.astype(np.int64)


def per_image(predictions, labels) -> dict[str, np.ndarray]:
    """Per test image: ``main`` (the main prediction), ``bias`` (0/1), ``variance`` (share of seeds away
    from the main prediction), ``c`` (1, or −P(true class | away from the main prediction); −0 where no seed
    differs) and ``error`` (share of seeds wrong). ``predictions``: (seeds, images) classes; ``labels``."""
    predictions, labels = _check(predictions, labels)
    seeds, images = predictions.shape
    counts = np.zeros((images, CLASSES), np.int64)
    np.add.at(counts, (np.broadcast_to(np.arange(images), predictions.shape), predictions), 1)
    main = counts.argmax(axis=1)  # ties: the lowest digit among the tied
    bias = (main != labels).astype(float)
    away = seeds - counts[np.arange(images), main]
    variance = away / seeds
    true_among_away = np.where(bias == 1, counts[np.arange(images), labels], 0)
    c = np.where(bias == 0, 1.0, -np.divide(true_among_away, away, out=np.zeros(images), where=away > 0))
    error = 1.0 - counts[np.arange(images), labels] / seeds
    return {"main": main, "bias": bias, "variance": variance, "c": c, "error": error}


def decompose(predictions, labels) -> Decomposition:
    """Domingos's decomposition of the seeds' mean 0-1 error over the test images (see the module)."""
    parts = per_image(predictions, labels)
    unbiased = float(np.mean((1 - parts["bias"]) * parts["variance"]))
    biased = float(np.mean(-parts["bias"] * parts["c"] * parts["variance"]))
    bias = float(parts["bias"].mean())
    return Decomposition(float(parts["error"].mean()), bias, unbiased, biased, unbiased - biased,
                         float(parts["variance"].mean()), 1.0 - bias, *np.shape(predictions))


def seed_intervals(predictions, labels, resamples: int = 1000, level: float = 0.95,
                   seed: int = 0) -> dict[str, tuple[float, float]]:
    """Percentile intervals of each :class:`Decomposition` figure over ``resamples`` draws of the seeds
    with replacement (the images stay): how much the figures depend on which seeds were trained."""
    predictions, labels = _check(predictions, labels)
    draw = np.random.default_rng(seed)
    rows = [decompose(predictions[draw.integers(0, len(predictions), len(predictions))], labels)
            for _ in range(resamples)]
    tail = (1 - level) / 2
    fields = ("error", "bias", "unbiased_variance", "biased_variance", "net_variance", "variance", "main_accuracy")
    return {name: tuple(float(q) for q in np.quantile([getattr(r, name) for r in rows], [tail, 1 - tail]))
            for name in fields}


def seed_predictions(runs: Sequence[Run], data: MNISTArrays | None = None,
                     which: str = "last") -> tuple[np.ndarray, np.ndarray]:
    """The classes each run's checkpoint predicts on the runs' evaluation images, (seeds, images), and the
    images' labels. The runs must be evaluated on the same images (one configuration's seeds are)."""
    found = [test_predictions(run, data, which) for run in runs]
    if any(not np.array_equal(f["index"], found[0]["index"]) or f["split"] != found[0]["split"] for f in found):
        raise ValueError("these runs are evaluated on different images; bias and variance compare seeds of "
                         "one configuration: give runs that differ only in their seed")
    return np.stack([f["proba"].argmax(1) for f in found]), found[0]["label"]


def table(groups: Mapping[str, Sequence[Run]], data: MNISTArrays | None = None, resamples: int = 1000,
          level: float = 0.95) -> pd.DataFrame:
    """Per configuration (index: the groups' keys), its :class:`Decomposition` over its seeds, each figure
    with its ``level`` interval over seeds resampled (columns ``<figure>_low``, ``<figure>_high``)."""
    rows = {}
    for key, runs in groups.items():
        predictions, labels = seed_predictions(runs, data)
        intervals = seed_intervals(predictions, labels, resamples, level)
        rows[key] = {**asdict(decompose(predictions, labels)),
                     **{f"{name}_{end}": bound for name, (low, high) in intervals.items()
                        for end, bound in (("low", low), ("high", high))}}
    return pd.DataFrame.from_dict(rows, orient="index")
