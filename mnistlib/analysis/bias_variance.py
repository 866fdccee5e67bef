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
from ..difference import ALPHA, DIFFERENT, UNDECIDED, WITHIN, permutation_p, t_quantile
from ..runconfig import RunConfig
from ..stats import smallest_p
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
    counts = np.bincount((np.arange(images) * CLASSES + predictions).ravel(),
                         minlength=images * CLASSES).reshape(images, CLASSES)
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


FIGURES = ("error", "bias", "unbiased_variance", "biased_variance", "net_variance", "variance", "main_accuracy")


def _figures(predictions: np.ndarray, labels: np.ndarray) -> np.ndarray:
    d = decompose(predictions, labels)
    return np.array([getattr(d, name) for name in FIGURES])


def compare(a, b, labels) -> pd.DataFrame:
    """Configuration a against b (each (seeds, images) predicted classes on the same ``labels``) for every
    :class:`Decomposition` figure, by the rule for "different" (:mod:`mnistlib.difference`) made for a figure of a
    set of seeds: the exact unpaired permutation test over the seeds, every split of the pooled seeds into
    groups of a's and b's sizes (:func:`mnistlib.difference.permutation_p`, all figures at once). One row
    per figure: ``diff`` (a − b), ``p``, ``verdict``.

    Each side's own interval is :func:`seed_intervals`'."""
    a, labels = _check(a, labels)
    b, _ = _check(b, labels)
    observed = _figures(a, labels) - _figures(b, labels)
    p = permutation_p(list(a), list(b), lambda seeds: _figures(np.stack(seeds), labels))
    decidable = smallest_p(len(a), len(b)) < ALPHA
    verdicts = [DIFFERENT if q < ALPHA else WITHIN if decidable else UNDECIDED for q in p]
    return pd.DataFrame({"diff": observed, "p": p, "verdict": verdicts}, index=list(FIGURES))


def seed_intervals(predictions, labels, level: float = 0.95) -> dict[str, tuple[float, float]]:
    """Each :class:`Decomposition` figure's ``level`` interval over the seeds, by the jackknife: the figure is
    computed again with each seed left out in turn, their spread gives its standard error,
    √((n − 1)/n · Σ(θᵢ − θ̄)²), and the interval is the figure ± t(n − 1) standard errors (the images stay). Seeds
    drawn with replacement would be another way to resample them, but a draw that repeats a seed agrees with
    itself: its votes are worse and its variance lower, so such intervals sit off the figure they are for."""
    predictions, labels = _check(predictions, labels)
    n = len(predictions)
    full = _figures(predictions, labels)
    left_out = np.array([_figures(np.delete(predictions, i, axis=0), labels) for i in range(n)]) if n > 2 else \
        np.array([_figures(predictions[[i, i]], labels) for i in range(n)])  # one seed left: its own vote
    error = np.sqrt((n - 1) / n * ((left_out - left_out.mean(axis=0)) ** 2).sum(axis=0))
    half = t_quantile(0.5 + level / 2, n - 1) * error
    return {name: (float(full[i] - half[i]), float(full[i] + half[i])) for i, name in enumerate(FIGURES)}


def seed_predictions(runs: Sequence[Run], data: MNISTArrays | None = None, which: str = "last",
                     on: RunConfig | None = None) -> tuple[np.ndarray, np.ndarray]:
    """The classes each run's checkpoint predicts, (seeds, images), and the images' labels: on the runs' own
    evaluation images (stored with each run), or on those of ``on`` (a config), where the runs' own differ
    (a profile whose test subset each seed draws). Without ``on`` the runs must be evaluated on the same
    images (one configuration's seeds are, on the whole test set)."""
    found = [test_predictions(run, data, which, on) for run in runs]
    if any(not np.array_equal(f["index"], found[0]["index"]) or f["split"] != found[0]["split"] for f in found):
        raise ValueError("these runs are evaluated on different images; give `on`, a config whose images they "
                         "all answer")
    return np.stack([f["proba"].argmax(1) for f in found]), found[0]["label"]


def table(groups: Mapping[str, Sequence[Run]], data: MNISTArrays | None = None, level: float = 0.95,
          on: RunConfig | None = None) -> pd.DataFrame:
    """Per configuration (index: the groups' keys), its :class:`Decomposition` over its seeds, each figure
    with its ``level`` interval over its seeds (:func:`seed_intervals`: columns ``<figure>_low``, ``<figure>_high``);
    the images those of ``on`` where given (:func:`seed_predictions`)."""
    rows = {}
    for key, runs in groups.items():
        predictions, labels = seed_predictions(runs, data, on=on)
        intervals = seed_intervals(predictions, labels, level)
        rows[key] = {**asdict(decompose(predictions, labels)),
                     **{f"{name}_{end}": bound for name, (low, high) in intervals.items()
                        for end, bound in (("low", low), ("high", high))}}
    return pd.DataFrame.from_dict(rows, orient="index")


def against(groups: Mapping[str, Sequence[Run]], reference: str, data: MNISTArrays | None = None,
            on: RunConfig | None = None, figures: Sequence[str] = ("error", "bias", "variance", "net_variance")
            ) -> pd.DataFrame:
    """Every configuration of ``groups`` (label -> its seeds' runs) against ``reference`` by :func:`compare`:
    rows indexed (label, figure) for ``figures``, with ``diff`` (label − reference), ``p`` and ``verdict``."""
    predictions = {label: seed_predictions(runs, data, on=on) for label, runs in groups.items()}
    base, labels = predictions[reference]
    parts = {label: compare(found, base, labels).loc[list(figures)]
             for label, (found, _) in predictions.items() if label != reference}
    return pd.concat(parts, names=["run", "figure"])
