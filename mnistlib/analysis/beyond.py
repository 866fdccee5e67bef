"""Notebook 6's analyses: the runs past the original (:func:`mnistlib.report.grids.beyond_grid`) as numbers and verdicts.

Every function returns a DataFrame or a dataclass of numbers and verdicts (which is ahead, by how
much, p, whether it differs); the notebooks turn them into sentences in the cells that show them.
So a conclusion is computed from the runs, never typed, and rewording one never touches this module.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Mapping

import pandas as pd

from ..store.store import Run
from ..original.record import ORIGINAL_LOSS_FLOOR
from ..stats import STAT_COLUMNS, permutation_test, run_statistics, smallest_p, turning_point
from .seeds import by_key

# ----------------------------------------------------------------------------- variance

def per_seed(groups: Mapping[str, list[Run]], window: tuple[int, int]) -> pd.DataFrame:
    """One row per (model, seed) with the original's statistics."""
    rows = [{"model": model, "seed": run.config.seed, **run_statistics(run.history, window)}
            for model, runs in groups.items() for run in runs]
    return pd.DataFrame(rows)


def across_seeds(groups: Mapping[str, list[Run]], window: tuple[int, int]) -> pd.DataFrame:
    """The original's statistics as mean and std across seeds (``<statistic>_std``, with n − 1), one row per model."""
    table = per_seed(groups, window)
    grouped = table.groupby("model", sort=False)[list(STAT_COLUMNS)]
    mean, std = grouped.mean(), grouped.std(ddof=1)
    out = pd.DataFrame({"seeds": table.groupby("model", sort=False).size()})
    for column in STAT_COLUMNS:
        out[column] = mean[column]
        out[f"{column}_std"] = std[column]
    return out


def compare_pairs(groups: Mapping[str, list[Run]], window: tuple[int, int], pairs,
                  metric: str = "mean_test_acc", alpha: float = 0.05) -> pd.DataFrame:
    """For each (a, b): the mean difference of ``metric`` across seeds, its exact permutation p-value
    and the smallest p these seed counts allow, each model's range over seeds, and the verdicts:
    ``differ`` (p < ``alpha``) and ``separable`` (enough seeds that some split could reach ``alpha``)."""
    table = per_seed(groups, window)
    rows = []
    for a, b in pairs:
        va, vb = table[table.model == a][metric].to_numpy(), table[table.model == b][metric].to_numpy()
        p = permutation_test(va, vb)
        least = smallest_p(len(va), len(vb))
        rows.append({"a": a, "b": b, "diff": va.mean() - vb.mean(), "p": p, "smallest_possible_p": least,
                     "a_min": va.min(), "a_max": va.max(), "b_min": vb.min(), "b_max": vb.max(),
                     "ranges_overlap": bool(va.min() <= vb.max() and vb.min() <= va.max()),
                     "differ": bool(p < alpha), "separable": bool(least < alpha)})
    return pd.DataFrame(rows)


# ----------------------------------------------------------------------------- λ sweep

def sweep_table(runs: Mapping[tuple, Run], window: tuple[int, int]) -> pd.DataFrame:
    """One row per (model, λ): the original's means, final accuracies, the training–test gap, and whether
    training collapsed (:func:`mnistlib.stats.health`: it ends at chance or diverged)."""
    rows = []
    for (model, wd), run in sorted(runs.items(), key=lambda item: (item[0][0] != "LeNet5", item[0][0], item[0][1])):
        stats = run_statistics(run.history, window)
        last = run.history.iloc[-1]
        rows.append({"model": model, "lambda": wd, "mean_train_acc": stats["mean_train_acc"],
                     "mean_test_acc": stats["mean_test_acc"], "gap": stats["mean_train_acc"] - stats["mean_test_acc"],
                     "final_test_acc": last.test_acc, "final_train_loss": last.train_loss,
                     "collapsed": not run.health.trains})
    return pd.DataFrame(rows)


def sweep_findings(table: pd.DataFrame, seed_std: Mapping[str, float] | None = None) -> pd.DataFrame:
    """Per model of a :func:`sweep_table`: the best λ that trains (its accuracy and gap), the λ within
    one seed standard deviation of it (``seed_std``: model -> that std, if known), the smallest λ that
    collapses and the largest that trains, and the gap at the smallest and largest λ that train."""
    rows = []
    for model, part in table.groupby("model", sort=False):
        ok = part[~part.collapsed]
        row = {"model": model, "largest_lambda": part["lambda"].max(),
               "first_collapse": part[part.collapsed]["lambda"].min() if part.collapsed.any() else None,
               "largest_training": ok["lambda"].max() if len(ok) else None}
        if len(ok):
            best = ok.loc[ok.mean_test_acc.idxmax()]
            std = (seed_std or {}).get(model)
            row.update(best_lambda=best["lambda"], best_mean_test_acc=best.mean_test_acc, best_gap=best.gap,
                       seed_std=std, close_lambdas=tuple(ok[ok.mean_test_acc >= best.mean_test_acc - std]["lambda"])
                       if std is not None else (), smallest_training=ok["lambda"].iloc[0],
                       gap_at_smallest=ok.gap.iloc[0], gap_at_largest=ok.gap.iloc[-1])
        rows.append(row)
    return pd.DataFrame(rows).set_index("model")


# ----------------------------------------------------------------------------- the original's settings

@dataclass(frozen=True)
class OriginalSettings:
    """LeNet-5 with the original's loss and momentum, against our settings (λ = 0 and λ = 1e-2)."""

    lowest_train_loss: float      # with the original's settings, λ = 0
    floor: float                  # ln(e + 9) − 1, the lowest its loss can go
    above_floor: bool
    mean_test_acc: float          # with the original's settings, λ = 0
    ours_mean_test_acc: float     # with ours, λ = 0
    collapses: bool               # λ = 1e-2 with the original's settings
    ours_collapses: bool          # λ = 1e-2 with ours

    @property
    def collapse(self) -> str:
        """Under which settings λ = 1e-2 collapses: 'both' (so the original's loss and momentum do not explain
        its collapse), 'theirs' (the original's only: they do), 'ours' (ours only) or 'neither'."""
        return {(True, True): "both", (True, False): "theirs", (False, True): "ours",
                (False, False): "neither"}[(self.collapses, self.ours_collapses)]


def original_settings(runs: Mapping[float, Run], ours: Mapping[float, Run],
                      window: tuple[int, int]) -> OriginalSettings:
    """The original's settings' runs (``runs``: λ -> Run) against ours (``ours``: λ -> Run), at λ 0 and 1e-2."""
    plain = runs[0.0].history
    return OriginalSettings(
        lowest_train_loss=float(plain.train_loss.min()), floor=ORIGINAL_LOSS_FLOOR,
        above_floor=bool(plain.train_loss.min() >= ORIGINAL_LOSS_FLOOR - 1e-6),
        mean_test_acc=run_statistics(plain, window)["mean_test_acc"],
        ours_mean_test_acc=run_statistics(ours[0.0].history, window)["mean_test_acc"],
        collapses=not runs[1e-2].health.trains, ours_collapses=not ours[1e-2].health.trains)


# ----------------------------------------------------------------------------- the answers at a glance

def _rows(question: str, subject: tuple, values: dict) -> list[dict]:
    return [{"question": question, "subject": subject, "finding": key, "value": value} for key, value in values.items()]


def answers(groups: Mapping[str, Mapping], window: tuple[int, int]) -> pd.DataFrame:
    """Notebook 6's answers, one finding per row, keyed by ids: ``question`` (a group of the beyond grid),
    ``subject`` (a tuple of what the finding is about: a model, two models, a model and its epochs), ``finding``
    and ``value`` (a number, or a verdict: True/False, 'trains'/'collapses', 'none'); the words are
    :func:`mnistlib.words.question_text` and :func:`~mnistlib.words.finding_text`'s. ``groups``: group -> {key: Run}."""
    rows = []
    variance = by_key(groups["variance"])
    spread = across_seeds(variance, window)
    for model, r in spread.iterrows():
        rows += _rows("variance", (model,), {"mean_test_acc": r.mean_test_acc, "std": r.mean_test_acc_std})
    rows += _rows("variance", (), {"seeds": int(spread.seeds.min())})
    tests = compare_pairs(variance, window, [("LeNet5", "CustomMLP_6"), ("LeNet5", "CustomMLP_5"),
                                             ("CustomMLP_5", "CustomMLP_6")])
    for t in tests.itertuples():
        rows += _rows("variance", (t.a, t.b), {"difference": t.diff, "p": t.p})
    for model, f in sweep_findings(sweep_table(groups["lambda_sweep"], window)).iterrows():
        rows += _rows("lambda_sweep", (model,), {
            "best_lambda": f.get("best_lambda"), "best_mean_test_acc": f.get("best_mean_test_acc"),
            "first_collapse": f.first_collapse if pd.notna(f.first_collapse) else "none"})
    for model, run in groups["long"].items():
        turn = turning_point(run.history)
        rows += _rows("long", (model, turn["epochs"]), {
            "min_test_loss_epoch": turn["min_test_loss_epoch"], "test_loss_rise_pct": turn["test_loss_rise_pct"],
            "turned_upward": turn["turned_upward"], "final_test_acc": turn["final_test_acc"]})
    for name, run in groups["activations"].items():
        rows += _rows("activations", (name,), {"mean_test_acc": run.statistics(window)["mean_test_acc"]})
    plain, heavy = groups["original_settings"][0.0], groups["original_settings"][1e-2]
    rows += _rows("original_settings", (), {"lowest_train_loss": float(plain.history.train_loss.min()),
                                            "mean_test_acc": plain.statistics(window)["mean_test_acc"],
                                            "strongest": "trains" if heavy.health.trains else "collapses"})
    return pd.DataFrame(rows)
