"""The one rule for "different", and the reproduction interval.

Two configurations are *different* when the exact unpaired permutation test on their random seeds'
values of one statistic (a run's mean test accuracy over the statistics window, or its final value
where a page is about the end) gives p < :data:`ALPHA`; the difference comes with Welch's 95%
interval. Unpaired, because the seeds of two configurations share nothing but their number: a paired
test over 5 seeds cannot go below p = 0.0625. With too few seeds for any split to reach ``ALPHA``
(2 against 2: p ≥ 0.33) the rule cannot decide, and says so. A page that makes m comparisons
expects ``ALPHA · m`` of them to come out "different" by chance alone (:func:`chance_verdicts`).

Whether our runs reproduce a number the original printed is a different question: a faithful
reproduction's number is one more draw from our seeds' distribution, which the 95% prediction
interval of n seeds, mean ± t·s·√(1 + 1/n), holds 95% of the time (for normal draws, exactly);
:func:`leave_one_seed_out` checks that rate on our own seeds.
"""
from __future__ import annotations

import itertools
import math
from dataclasses import dataclass
from typing import Callable, Mapping, Sequence

import numpy as np
import pandas as pd

from .stats import permutation_test, smallest_p

ALPHA = 0.05  # the level of each comparison
LEVEL = 0.95  # of the intervals

DIFFERENT, WITHIN, UNDECIDED = "different", "within_spread", "undecided"  # the rule's verdicts (ids)


@dataclass(frozen=True)
class Comparison:
    """Configuration a against b over their seeds: means, the difference a − b with Welch's interval
    (``low``, ``high``; NaN with fewer than 2 seeds on a side), the exact permutation p, and the verdict."""

    n_a: int
    n_b: int
    mean_a: float
    mean_b: float
    diff: float
    low: float
    high: float
    p: float
    alpha: float = ALPHA

    @property
    def decidable(self) -> bool:
        """Whether these seed counts allow p < alpha at all."""
        return smallest_p(self.n_a, self.n_b) < self.alpha

    @property
    def different(self) -> bool:
        return self.p < self.alpha

    @property
    def verdict(self) -> str:
        """:data:`DIFFERENT`, :data:`WITHIN` (the spread between seeds) or :data:`UNDECIDED` (too few seeds)."""
        return DIFFERENT if self.different else WITHIN if self.decidable else UNDECIDED


def compare(a: Sequence[float], b: Sequence[float], alpha: float = ALPHA, level: float = LEVEL) -> Comparison:
    """The rule applied to one statistic's values, one per seed, of configurations a and b."""
    a, b = np.asarray(a, float), np.asarray(b, float)
    if len(a) < 1 or len(b) < 1:
        raise ValueError(f"compare needs at least one seed on each side, got {len(a)} and {len(b)}")
    low, high = welch_interval(a, b, level)
    return Comparison(len(a), len(b), float(a.mean()), float(b.mean()), float(a.mean() - b.mean()), low, high,
                      permutation_test(a, b), alpha)


def permutation_p(a: Sequence, b: Sequence, statistic: Callable[[list], float | np.ndarray]) -> float | np.ndarray:
    """The rule's exact unpaired permutation test for a statistic of a *set* of seeds rather than of each seed
    (bias and variance: how far a configuration's seeds agree on each test image): every split of the pooled
    seeds into groups of the two sizes, and the share whose |statistic(first) − statistic(second)| is at
    least the observed one. ``a``, ``b``: one item per seed (a seed's predictions, say). A statistic that
    returns an array (several figures at once) gets an array of p, one per figure."""
    pooled, n = list(a) + list(b), len(a)
    if n < 1 or len(b) < 1:
        raise ValueError(f"a permutation test needs at least one seed on each side, got {len(a)} and {len(b)}")
    observed = np.abs(np.asarray(statistic(list(a))) - np.asarray(statistic(list(b))))
    splits = []
    for chosen in itertools.combinations(range(len(pooled)), n):
        first = set(chosen)
        splits.append(np.asarray(statistic([pooled[i] for i in chosen]))
                      - np.asarray(statistic([pooled[i] for i in range(len(pooled)) if i not in first])))
    p = (np.abs(np.array(splits)) >= observed - 1e-12).mean(axis=0)
    return float(p) if np.ndim(p) == 0 else p


def welch_interval(a: Sequence[float], b: Sequence[float], level: float = LEVEL) -> tuple[float, float]:
    """Welch's ``level`` interval of mean(a) − mean(b) (unequal variances, Welch–Satterthwaite degrees of
    freedom); (NaN, NaN) with fewer than 2 values on a side, the point itself when both sides are constant."""
    a, b = np.asarray(a, float), np.asarray(b, float)
    diff = float(a.mean() - b.mean())
    if len(a) < 2 or len(b) < 2:
        return math.nan, math.nan
    va, vb = a.var(ddof=1) / len(a), b.var(ddof=1) / len(b)
    if va + vb == 0:
        return diff, diff
    df = (va + vb) ** 2 / (va ** 2 / (len(a) - 1) + vb ** 2 / (len(b) - 1))
    half = float(t_quantile(0.5 + level / 2, df) * math.sqrt(va + vb))
    return diff - half, diff + half


def against(values: Mapping[str, Sequence[float]], reference: str) -> pd.DataFrame:
    """Every configuration of ``values`` (label -> one value per seed) against ``reference``'s by the rule:
    one row per other label (in the mapping's order) with its seeds, mean and std, the difference from the
    reference with Welch's interval, p and the verdict (:func:`comparison_table`)."""
    if reference not in values:
        raise KeyError(f"{reference!r} is not among the configurations compared ({', '.join(values)})")
    return comparison_table({label: compare(v, values[reference]) for label, v in values.items() if label != reference},
                            values)


def pairs(values: Mapping[str, Sequence[float]], pairs_: Sequence[tuple[str, str]]) -> pd.DataFrame:
    """The rule on each pair (a, b) of labels of ``values``; rows indexed (a, b) (:func:`comparison_table`)."""
    return comparison_table({(a, b): compare(values[a], values[b]) for a, b in pairs_})


def comparison_table(comparisons: Mapping, values: Mapping[str, Sequence[float]] | None = None) -> pd.DataFrame:
    """:class:`Comparison` s as rows (their keys the index): ``seeds`` (of a), ``mean`` and ``std`` of a's seeds
    where ``values`` gives them, ``diff`` (a − b), ``low``, ``high``, ``p`` and ``verdict``."""
    rows = {}
    for key, c in comparisons.items():
        row = {"seeds": c.n_a, "against_seeds": c.n_b, "mean": c.mean_a, "against_mean": c.mean_b}
        if values is not None and key in values and len(values[key]) > 1:
            row["std"] = float(np.std(values[key], ddof=1))
        rows[key] = {**row, "diff": c.diff, "low": c.low, "high": c.high, "p": c.p, "verdict": c.verdict}
    table = pd.DataFrame.from_dict(rows, orient="index")
    if isinstance(next(iter(rows), None), tuple):
        table.index = pd.MultiIndex.from_tuples(table.index, names=["a", "b"])
    return table


@dataclass(frozen=True)
class Leader:
    """The configuration with the highest mean (or the lowest, as asked) and every one the rule cannot tell from
    it: ``tied`` holds the leader and those within the spread between random seeds or undecided, in the order
    of their means. The leader is *the* best only when ``decided`` (no other in ``tied``)."""

    top: str
    tied: tuple[str, ...]
    comparisons: int
    means: dict
    undecided: bool = False   # some comparison had too few seeds to reach the level at all
    stds: dict | None = None  # each configuration's std over its seeds (NaN for one seed)
    seeds: dict | None = None  # each configuration's number of seeds

    @property
    def decided(self) -> bool:
        return len(self.tied) == 1


def leader(values: Mapping[str, Sequence[float]], highest: bool = True) -> Leader:
    """The rule's answer to "which configuration is best": the one with the highest (``highest``; else the
    lowest) mean over its seeds, set against every other (``len(values) − 1`` comparisons)."""
    means = {label: float(np.mean(v)) for label, v in values.items()}
    order = sorted(means, key=means.get, reverse=highest)
    top = order[0]
    tests = {label: compare(values[top], values[label]) for label in order[1:]}
    tied = [top] + [label for label, c in tests.items() if not c.different]
    stds = {label: float(np.std(v, ddof=1)) if len(v) > 1 else math.nan for label, v in values.items()}
    return Leader(top, tuple(tied), len(order) - 1, means, any(c.verdict == UNDECIDED for c in tests.values()),
                  stds, {label: len(v) for label, v in values.items()})


def t_quantile(q: float, df: float) -> float:
    """Student's t distribution's ``q`` quantile with ``df`` degrees of freedom."""
    from scipy import stats  # here: importing scipy.stats takes a while, and most users of this module never ask

    return float(stats.t.ppf(q, df))


def chance_verdicts(comparisons: int, alpha: float = ALPHA) -> float:
    """How many of ``comparisons`` would come out "different" by chance alone, were no configuration different."""
    return alpha * comparisons


def prediction_interval(values: Sequence[float], level: float = LEVEL) -> tuple[float, float]:
    """The ``level`` prediction interval for one more seed, from n seeds: mean ± t(n−1)·s·√(1 + 1/n)."""
    values = np.asarray(values, float)
    n = len(values)
    if n < 2:
        raise ValueError(f"a prediction interval needs at least 2 seeds, got {n}")
    half = float(t_quantile(0.5 + level / 2, n - 1) * values.std(ddof=1) * math.sqrt(1 + 1 / n))
    return float(values.mean()) - half, float(values.mean()) + half


def leave_one_seed_out(values: Sequence[float], level: float = LEVEL) -> float:
    """The share of seeds inside the prediction interval of the others: the rate at which the interval
    holds a faithful draw, measured on our own seeds (needs 3 or more)."""
    values = np.asarray(values, float)
    if len(values) < 3:
        raise ValueError(f"leave-one-seed-out needs at least 3 seeds, got {len(values)}")
    inside = []
    for i in range(len(values)):
        low, high = prediction_interval(np.delete(values, i), level)
        inside.append(low <= values[i] <= high)
    return float(np.mean(inside))


def gap_in_stds(value: float, values: Sequence[float]) -> float:
    """How far ``value`` lies from the seeds' mean, in units of their standard deviation (NaN if it is 0)."""
    values = np.asarray(values, float)
    std = values.std(ddof=1) if len(values) > 1 else 0.0
    return float((value - values.mean()) / std) if std > 0 else math.nan
