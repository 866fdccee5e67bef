"""Notebook 6's analyses: the runs past the original (:func:`mnistlib.report.grids.beyond_grid`) as numbers and verdicts.

Every function returns a DataFrame or a dataclass of numbers and verdicts (which is ahead, by how
much, p, whether it differs); the notebooks turn them into sentences in the cells that show them.
So a conclusion is computed from the runs, never typed, and rewording one never touches this module.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Mapping, Sequence

import pandas as pd

from .. import difference
from ..store.store import Run
from ..original.record import ORIGINAL_LOSS_FLOOR
from ..stats import run_statistics, turning_point
from .seeds import across_seeds, by_key, seed_values

# ----------------------------------------------------------------------------- variance

VARIANCE_PAIRS = (("LeNet5", "CustomMLP_6"), ("LeNet5", "CustomMLP_5"), ("CustomMLP_5", "CustomMLP_6"))


def compare_pairs(groups: Mapping[str, list[Run]], window: tuple[int, int], pairs,
                  metric: str = "mean_test_acc") -> pd.DataFrame:
    """The rule for "different" (:mod:`mnistlib.difference`) on each pair (a, b) of configurations over their seeds'
    ``metric``: rows indexed (a, b) with the seeds, means, the difference a − b and its Welch interval, the exact
    permutation p and the verdict, and each side's lowest and highest seed."""
    values = seed_values(groups, metric, window)
    table = difference.pairs(values, pairs)
    for side, level in (("a", 0), ("b", 1)):
        keys = table.index.get_level_values(level)
        table[f"{side}_min"] = [values[k].min() for k in keys]
        table[f"{side}_max"] = [values[k].max() for k in keys]
    return table


# ----------------------------------------------------------------------------- λ sweep

def sweep_table(runs: Mapping[tuple, Run], window: tuple[int, int]) -> pd.DataFrame:
    """One row per (model, λ), one run (random seed) each: the original's means, final accuracies, the training–test
    gap, and whether training collapsed (:func:`mnistlib.stats.health`: it ends at chance or diverged)."""
    rows = []
    for (model, wd), run in sorted(runs.items(), key=lambda item: (item[0][0] != "LeNet5", item[0][0], item[0][1])):
        stats = run_statistics(run.history, window)
        last = run.history.iloc[-1]
        rows.append({"model": model, "lambda": wd, "seeds": 1, "mean_train_acc": stats["mean_train_acc"],
                     "mean_test_acc": stats["mean_test_acc"], "gap": stats["mean_train_acc"] - stats["mean_test_acc"],
                     "final_test_acc": last.test_acc, "final_train_loss": last.train_loss,
                     "collapsed": not run.health.trains})
    return pd.DataFrame(rows)


def sweep_findings(table: pd.DataFrame) -> pd.DataFrame:
    """Per model of a :func:`sweep_table`: the smallest λ that collapses and the largest that trains, and the
    gap at the smallest and largest λ that train. One seed per λ: no λ is ranked above another here (the
    original's three λ are compared over seeds on the weight-decay page)."""
    rows = []
    for model, part in table.groupby("model", sort=False):
        ok = part[~part.collapsed]
        row = {"model": model, "largest_lambda": part["lambda"].max(),
               "first_collapse": part[part.collapsed]["lambda"].min() if part.collapsed.any() else None,
               "largest_training": ok["lambda"].max() if len(ok) else None}
        if len(ok):
            row.update(smallest_training=ok["lambda"].iloc[0], gap_at_smallest=ok.gap.iloc[0],
                       gap_at_largest=ok.gap.iloc[-1])
        rows.append(row)
    return pd.DataFrame(rows).set_index("model")


def overfitting(turn: dict, spread: float) -> dict:
    """Whether over-fitting shows in a long run (its :func:`mnistlib.stats.turning_point`): in the test loss (it
    turned upward) and in the test accuracy (its last epochs' mean fell below its statistics window's by more
    than ``spread``, the standard deviation between random seeds of that statistic; None without one)."""
    change = turn["end_test_acc"] - turn["window_test_acc"]
    return {"in_loss": bool(turn["turned_upward"]), "accuracy_change": change,
            "in_accuracy": bool(change < -spread) if spread == spread else None}


# ----------------------------------------------------------------------------- the original's settings

@dataclass(frozen=True)
class OriginalSettings:
    """LeNet-5 with the original's loss and momentum, against our settings (λ = 0 and λ = 1e-2), over random seeds."""

    lowest_train_loss: float      # with the original's settings, λ = 0, the lowest of every seed's
    floor: float                  # ln(e + 9) − 1, the lowest its loss can go
    above_floor: bool
    mean_test_acc: float          # with the original's settings, λ = 0, the mean over seeds
    ours_mean_test_acc: float     # with ours, λ = 0
    against_ours: difference.Comparison   # the original's settings against ours at λ = 0, by the rule
    failed: tuple[int, int]       # λ = 1e-2 with the original's settings: seeds that collapse or end at chance, of all
    ours_failed: tuple[int, int]  # the same with ours

    @property
    def collapse(self) -> str:
        """Under which settings λ = 1e-2 fails in every seed: 'both' (so the original's loss and momentum do not
        explain its failure), 'theirs' (the original's only: they do), 'ours' (ours only), 'neither' (no seed fails
        under either); 'some' where some seeds fail and others do not."""
        def every(counts):
            failed, seeds = counts
            return True if failed == seeds else False if failed == 0 else None

        theirs, ours = every(self.failed), every(self.ours_failed)
        if theirs is None or ours is None:
            return "some"
        return {(True, True): "both", (True, False): "theirs", (False, True): "ours",
                (False, False): "neither"}[(theirs, ours)]


def _failed(runs: Sequence[Run]) -> tuple[int, int]:
    return sum(not run.health.trains for run in runs), len(runs)


def original_settings(runs: Mapping[float, Sequence[Run]], ours: Mapping[float, Sequence[Run]],
                      window: tuple[int, int]) -> OriginalSettings:
    """The original's settings' runs (``runs``: λ -> its seeds' runs) against ours (``ours``: the same), at λ 0 and
    1e-2."""
    plain = [run.history for run in runs[0.0]]
    lowest = min(float(h.train_loss.min()) for h in plain)
    theirs_acc = seed_values({"theirs": runs[0.0]}, "mean_test_acc", window)["theirs"]
    ours_acc = seed_values({"ours": ours[0.0]}, "mean_test_acc", window)["ours"]
    return OriginalSettings(
        lowest_train_loss=lowest, floor=ORIGINAL_LOSS_FLOOR, above_floor=bool(lowest >= ORIGINAL_LOSS_FLOOR - 1e-6),
        mean_test_acc=float(theirs_acc.mean()), ours_mean_test_acc=float(ours_acc.mean()),
        against_ours=difference.compare(theirs_acc, ours_acc), failed=_failed(runs[1e-2]),
        ours_failed=_failed(ours[1e-2]))


# ----------------------------------------------------------------------------- the answers at a glance

def _rows(question: str, subject: tuple, values: dict) -> list[dict]:
    return [{"question": question, "subject": subject, "finding": key, "value": value} for key, value in values.items()]


def answers(groups: Mapping[str, Mapping], window: tuple[int, int]) -> pd.DataFrame:
    """Notebook 6's answers, one finding per row, keyed by ids: ``question`` (a group of the beyond grid),
    ``subject`` (a tuple of what the finding is about: a model, two models, a model and its epochs), ``finding``
    and ``value`` (a number, or a verdict: True/False, 'trains'/'collapses', 'none', the rule's 'different' /
    'within_spread' / 'undecided', 'one_seed' for a group of one random seed a configuration: no ranking); the words are
    :func:`mnistlib.words.question_text` and :func:`~mnistlib.words.finding_text`'s. ``groups``: group -> {key: Run}."""
    rows = []
    variance = by_key(groups["variance"])
    spread = across_seeds(variance, window)
    for model, r in spread.iterrows():
        rows += _rows("variance", (model,), {"mean_test_acc": r.mean_test_acc, "std": r.mean_test_acc_std})
    rows += _rows("variance", (), {"seeds": int(spread.seeds.min())})
    tests = compare_pairs(variance, window, VARIANCE_PAIRS)
    for (a, b), t in tests.iterrows():
        rows += _rows("variance", (a, b), {"difference": t["diff"], "p": t.p, "verdict": t.verdict})
    for model, f in sweep_findings(sweep_table(groups["lambda_sweep"], window)).iterrows():
        rows += _rows("lambda_sweep", (model,), {
            "first_collapse": f.first_collapse if pd.notna(f.first_collapse) else "none", "ranking": "one_seed"})
    for model, run in groups["long"].items():
        turn = turning_point(run.history)
        rows += _rows("long", (model, turn["epochs"]), {
            "min_test_loss_epoch": turn["min_test_loss_epoch"], "test_loss_rise_pct": turn["test_loss_rise_pct"],
            "turned_upward": turn["turned_upward"], "final_test_acc": turn["final_test_acc"]})
    for name, run in groups["activations"].items():
        rows += _rows("activations", (name,), {"mean_test_acc": run.statistics(window)["mean_test_acc"]})
    rows += _rows("activations", (), {"ranking": "one_seed"})
    if "pooling" in groups:
        pooling = by_key(groups["pooling"])
        values = seed_values(pooling, "mean_test_acc", window)
        reference, *others = list(pooling)
        for name in others:
            c = difference.compare(values[name], values[reference])
            rows += _rows("pooling", (name, reference), {"difference": c.diff, "p": c.p, "verdict": c.verdict})
    settings = by_key(groups["original_settings"])
    plain, heavy = settings[0.0], settings[1e-2]
    failed, seeds = _failed(heavy)
    rows += _rows("original_settings", (), {
        "lowest_train_loss": min(float(run.history.train_loss.min()) for run in plain),
        "mean_test_acc": float(seed_values({"": plain}, "mean_test_acc", window)[""].mean()),
        "strongest": "collapses" if failed == seeds else "trains" if failed == 0 else f"{failed} of {seeds} collapse"})
    return pd.DataFrame(rows)
