"""Notebook 7's analyses: our runs of the original's protocol against the original's recorded runs.

Whether our runs reproduce a statistic of the original's published history is a test a faithful reproduction
passes at a known rate: the original's value inside the 95% prediction interval of one more of our seeds
(:func:`interval_table`, :func:`interval_summary`). A network that collapses in some seeds is judged by its
collapse count instead (:func:`collapse_table`; :func:`mnistlib.stats.health` is the test for a collapse).
Functions return numbers and verdicts, and the notebook words them, so its answers are computed, never typed.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Mapping, Sequence

import pandas as pd

from ..difference import LEVEL, Comparison, compare, gap_in_stds, leave_one_seed_out, prediction_interval
from ..original import record as original
from ..training.inference import mistakes
from ..words import display_name
from ..store.store import Run
from ..stats import bands, health, run_statistics

# The original's statistics a reproduction is checked on (their words: mnistlib.words.column_text).
STATISTICS = ("mean_test_acc", "mean_train_acc", "mean_test_loss", "mean_train_loss", "best_test_acc", "min_test_loss")


def interval_table(runs: Mapping[str, Sequence[Run]], window: tuple[int, int], level: float = LEVEL) -> pd.DataFrame:
    """Per model and statistic (index: model id, statistic id), the reproduction test a faithful one passes
    at a known rate: the original's value, our seeds' mean and std, the ``level`` prediction interval of
    one more seed (:func:`mnistlib.difference.prediction_interval`), whether the original's value lies
    inside it, its gap in units of our std, and the interval's leave-one-seed-out rate on our own seeds
    (NaN below 3 seeds). A model some of whose runs collapse is judged by its collapse count
    (:func:`collapse_table`), not by an interval its collapses widen: its rows say ``judged_by``
    'collapses' and hold no verdict."""
    published = original.statistics(window)
    rows = []
    for model, model_runs in runs.items():
        ours = pd.DataFrame([run_statistics(run.history, window) for run in model_runs])
        collapses = any(health(run.history).collapse_epoch is not None for run in model_runs)
        theirs = published.loc[display_name(model)]
        for column in STATISTICS:
            values, value = ours[column].to_numpy(float), float(theirs[column])
            low, high = prediction_interval(values, level) if len(values) >= 2 else (math.nan, math.nan)
            rows.append({"model": model, "statistic": column, "original": value, "ours_mean": values.mean(),
                         "ours_std": values.std(ddof=1) if len(values) > 1 else math.nan, "seeds": len(values),
                         "low": low, "high": high, "gap_in_stds": gap_in_stds(value, values),
                         "rate": leave_one_seed_out(values, level) if len(values) >= 3 else math.nan,
                         "judged_by": "collapses" if collapses else "interval",
                         "inside": None if collapses or math.isnan(low) else bool(low <= value <= high)})
    return pd.DataFrame(rows).set_index(["model", "statistic"])


@dataclass(frozen=True)
class IntervalSummary:
    """How many of the original's statistics a reproduction test found inside our prediction intervals, against
    what a faithful reproduction would score."""

    judged: int               # statistics judged by the interval (models that collapse are judged by their count)
    inside: int
    level: float              # the intervals' level: a faithful reproduction lands inside each at this rate
    expected: float           # level · judged
    rate: float               # the intervals' leave-one-seed-out rate on our own seeds, mean over the judged rows
    by_collapses: tuple[str, ...]   # the models judged by their collapse count


def interval_summary(table: pd.DataFrame, level: float = LEVEL) -> IntervalSummary:
    """The counts of an :func:`interval_table`."""
    judged = table[table.judged_by == "interval"]
    by_collapses = tuple(dict.fromkeys(table[table.judged_by == "collapses"].index.get_level_values("model")))
    return IntervalSummary(len(judged), int(judged.inside.astype(bool).sum()), level, level * len(judged),
                           float(judged.rate.mean()) if len(judged) else math.nan, by_collapses)


def collapse_table(groups: Mapping[str, Sequence[tuple[str, pd.DataFrame]]]) -> pd.DataFrame:
    """One row per run (index: source id, such as 'published' or 'original_protocol' (:data:`mnistlib.words.SOURCES`),
    and the run's name): its epochs, peak and final test accuracy, whether and at which epoch it collapsed."""
    rows = []
    for source, histories in groups.items():
        for name, history in histories:
            epoch = health(history).collapse_epoch
            rows.append({"source": source, "run": name, "epochs": int(history.epoch.iloc[-1]),
                         "peak_test_acc": float(history.test_acc.max()),
                         "final_test_acc": float(history.test_acc.iloc[-1]),
                         "collapsed": epoch is not None, "collapse_epoch": epoch})
    return pd.DataFrame(rows).set_index(["source", "run"])


def collapse_counts(table: pd.DataFrame) -> pd.DataFrame:
    """Per source of a :func:`collapse_table`: its runs, how many collapsed, and at which epochs."""
    return pd.DataFrame([{"source": source, "runs": len(part), "collapsed": int(part.collapsed.sum()),
                          "epochs": [int(e) for e in part.collapse_epoch.dropna()]}
                         for source, part in table.groupby(level="source", sort=False)]).set_index("source")


def bands_by_model(runs: Mapping[str, Sequence[Run]], metrics: Sequence[str]) -> dict[str, dict[str, pd.DataFrame]]:
    """{model: {metric: per-epoch mean/std/min/max across seeds}} (see :func:`mnistlib.stats.bands`)."""
    return {model: {metric: bands(list(model_runs), metric) for metric in metrics} for model, model_runs in runs.items()}


@dataclass(frozen=True)
class BatchEffect:
    """The original's loss and momentum at batch 10 and at batch 64 over random seeds, against the original's run."""

    at_10: float        # mean test accuracy (%), batch 10, λ = 0, the mean over seeds
    at_64: float        # the same at batch 64
    published: float    # the original's own run
    comparison: Comparison   # batch 10 against batch 64, by the rule

    @property
    def explains(self) -> bool:
        """Batch 10 is ahead of batch 64 by the rule: the batch size alone moves the result."""
        return self.comparison.different and self.comparison.diff > 0


def batch_effect(at_10: Sequence[float], at_64: Sequence[float], published: pd.Series) -> BatchEffect:
    """From each seed's mean test accuracy at batch 10 and at batch 64, λ = 0, with the original's loss and
    momentum (``published``: the original's statistics of its LeNet-5)."""
    c = compare(at_10, at_64)
    return BatchEffect(c.mean_a, c.mean_b, float(published.mean_test_acc), c)


def per_epoch_seconds(runs: Mapping[str, Sequence[Run]]) -> dict[str, float]:
    """Median seconds per trained epoch of each model's stored runs (epoch 0 excluded)."""
    return {model: float(pd.concat([run.history.query("epoch >= 1").seconds for run in model_runs]).median())
            for model, model_runs in runs.items()}


@dataclass(frozen=True)
class AllRunsEstimate:
    """What the original's 34 runs would cost under its protocol, at a profile's measured pace (one worker)."""

    lenet_runs: int
    mlp_runs: int
    lenet_epoch_seconds: float   # median seconds per LeNet-5 epoch of the runs measured
    mlp_epoch_seconds: float     # the slower of the MLPs measured
    epochs: int
    worker_hours: float


def all_runs_estimate(runs: Mapping[str, Sequence[Run]], epochs: int) -> AllRunsEstimate:
    """The original's 34 runs (its record) at ``epochs`` each, timed by the measured epochs of ``runs`` (model ->
    runs of the original's protocol: LeNet-5 for its LeNet-5 runs, the slowest MLP measured for its MLP runs)."""
    seconds = per_epoch_seconds(runs)
    counts = original.run_table().model.value_counts()
    lenet = int(counts.get("LeNet5", 0))
    mlp = int(counts.sum()) - lenet
    mlp_seconds = max(value for model, value in seconds.items() if model != "LeNet5")
    hours = (lenet * seconds["LeNet5"] + mlp * mlp_seconds) * epochs / 3600
    return AllRunsEstimate(lenet, mlp, seconds["LeNet5"], mlp_seconds, epochs, hours)


@dataclass(frozen=True)
class SharedMistakes:
    """The test digits two runs get wrong: each run's count and images, and those both get wrong."""

    theirs: int
    theirs_images: int
    ours: int
    ours_images: int
    both: int


def shared_mistakes(theirs: dict, ours: dict) -> SharedMistakes:
    """From two runs' :func:`mnistlib.training.inference.test_predictions`: how many images each gets wrong, and
    how many of the images both saw both get wrong."""
    wrong = [set(predictions["index"][mistakes(predictions)]) for predictions in (theirs, ours)]
    both = wrong[0] & wrong[1] if theirs["split"] == ours["split"] else set()  # indices into the same split
    return SharedMistakes(len(wrong[0]), len(theirs["index"]), len(wrong[1]), len(ours["index"]), len(both))
