"""Notebook 7's analysis: our runs of the seed's protocol against the seed's recorded runs.

Every table compares a statistic of the seed's published history with the spread (min–max over
seeds) of ours, and every sentence is built from those tables, so the notebook's answers are
computed, never typed. :func:`mnistlib.stats.collapse_epoch` is the test for the seed's late collapses.
"""
from __future__ import annotations

from typing import Mapping, Sequence

import pandas as pd

from . import seed
from .runs import Run
from .stats import bands, collapse_epoch, run_statistics

STATISTICS = {"mean_test_acc": "mean test accuracy (%)", "mean_train_acc": "mean training accuracy (%)",
              "mean_test_loss": "mean test loss", "mean_train_loss": "mean training loss",
              "best_test_acc": "best test accuracy (%)", "min_test_loss": "lowest test loss"}


def spread_table(runs: Mapping[str, Sequence[Run]], window: tuple[int, int]) -> pd.DataFrame:
    """Per model and statistic: the seed's value (from its published history), our min, mean and max
    across seeds, and whether the seed's value lies inside [min, max]."""
    published = seed.statistics(window)
    rows = []
    for model, model_runs in runs.items():
        ours = pd.DataFrame([run_statistics(run.history, window) for run in model_runs])
        theirs = published.loc[seed.display_name(model)]
        for column, name in STATISTICS.items():
            low, high = ours[column].min(), ours[column].max()
            rows.append({"model": seed.display_name(model), "statistic": name, "the seed's": theirs[column],
                         "ours, min": low, "ours, mean": ours[column].mean(), "ours, max": high,
                         "seeds": len(ours), "inside": bool(low <= theirs[column] <= high)})
    return pd.DataFrame(rows).set_index(["model", "statistic"])


def spread_conclusion(table: pd.DataFrame) -> str:
    """One sentence per model: how many of the seed's statistics fall inside our spread, and which not."""
    lines = []
    for model, part in table.groupby(level="model", sort=False):
        inside = part.inside.sum()
        out = part[~part.inside]
        outside = [f"{stat} (seed {theirs:.4g}, ours {low:.4g}–{high:.4g})" for stat, theirs, low, high in
                   zip(out.index.get_level_values("statistic"), out["the seed's"], out["ours, min"], out["ours, max"])]
        text = f"- **{model}**: {inside} of {len(part)} of the seed's statistics lie inside our {int(part.seeds.iloc[0])}-seed range"
        lines.append(text + (f"; outside: {'; '.join(outside)}." if outside else "."))
    return "\n".join(lines)


def collapse_table(groups: Mapping[str, Sequence[tuple[str, pd.DataFrame]]]) -> pd.DataFrame:
    """One row per run: where it comes from (e.g. "the seed's published run", "seed protocol"), which
    run, the peak and final test accuracy, and the epoch it collapsed at (empty if it did not)."""
    rows = []
    for source, histories in groups.items():
        for name, history in histories:
            epoch = collapse_epoch(history)
            rows.append({"source": source, "run": name, "epochs": int(history.epoch.iloc[-1]),
                         "peak test accuracy (%)": float(history.test_acc.max()),
                         "final test accuracy (%)": float(history.test_acc.iloc[-1]),
                         "collapsed": epoch is not None, "collapse epoch": epoch})
    return pd.DataFrame(rows).set_index(["source", "run"])


def collapse_conclusion(table: pd.DataFrame, model: str = "CustomMLP_1") -> str:
    """How often each source's runs collapsed, and when."""
    parts = []
    for source, part in table.groupby(level="source", sort=False):
        epochs = [str(int(e)) for e in part["collapse epoch"].dropna()]
        parts.append(f"{source}: {int(part.collapsed.sum())} of {len(part)} runs collapsed"
                     + (f" (at epoch {', '.join(epochs)})" if epochs else ""))
    return f"{model} — " + "; ".join(parts) + "."


def bands_by_model(runs: Mapping[str, Sequence[Run]], metrics: Sequence[str]) -> dict[str, dict[str, pd.DataFrame]]:
    """{model: {metric: per-epoch mean/std/min/max across seeds}} (see :func:`mnistlib.stats.bands`)."""
    return {model: {metric: bands(list(model_runs), metric) for metric in metrics} for model, model_runs in runs.items()}


def batch_conclusion(table: pd.DataFrame, published: pd.Series) -> str:
    """The seed's settings at batch 10 vs batch 64 against the seed's own run, from a
    :func:`mnistlib.runs.summarize` table with rows 'batch 10, λ=0' and 'batch 64, λ=0'
    (``published``: the seed's statistics of its LeNet-5)."""
    at10, at64 = table.mean_test_acc["batch 10, λ=0"], table.mean_test_acc["batch 64, λ=0"]
    text = (f"With the seed's loss and momentum, LeNet-5 reaches {at10:.2f}% mean test accuracy at the seed's "
            f"batch of 10 and {at64:.2f}% at batch 64 ({at10 - at64:+.2f} points at batch 10); the seed's own run "
            f"has {published.mean_test_acc:.2f}%. ")
    if at10 - at64 > 1:
        return text + ("Batch size alone makes the difference: an epoch at batch 10 is 6.4× as many SGD steps, "
                       "which the doubled softmax's weak gradients need; notebook 6's batch-64 number is a "
                       "batch-size effect, not the seed's result.")
    return text + "Within this profile, batch size does not explain the difference."


def per_epoch_seconds(runs: Mapping[str, Sequence[Run]]) -> dict[str, float]:
    """Median seconds per trained epoch of each model's stored runs (epoch 0 excluded)."""
    return {model: float(pd.concat([run.history.query("epoch >= 1").seconds for run in model_runs]).median())
            for model, model_runs in runs.items()}
