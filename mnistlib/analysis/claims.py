"""The original's conclusions checked on our runs, and our statistics set beside its published ones.

    >>> claims = check_original_claims(summarize(runs))      # one row per conclusion: its verdict and evidence
"""
from __future__ import annotations

import pandas as pd

from ..models.nets import MODELS
from ..original.record import MLP_NAMES, table
from ..stats import CHANCE_ACC, STAT_COLUMNS
from ..words import run_label


def beside_original(summary: pd.DataFrame) -> pd.DataFrame:
    """Our four means, best test accuracy and lowest test loss (``summary``: a
    :func:`mnistlib.store.store.summarize` table), with the original's published values beside them (``original_*``;
    its best accuracy and lowest loss exist for two runs only) and our minus the original's mean test
    accuracy (``diff_test_acc``)."""
    ours = summary[STAT_COLUMNS + ["health"]].copy()
    ours["health"] = [h.state.value for h in ours.health]  # 'ok', 'at chance', 'collapsed', 'diverged'
    joined = ours.join(table().add_prefix("original_"), how="left")
    joined["diff_test_acc"] = joined.mean_test_acc - joined.original_mean_test_acc
    return joined


def _claim(claim: str, holds: bool | None, **evidence) -> dict:
    return {"the original says": claim, "evidence": evidence,
            "verdict": "not tested" if holds is None else ("holds" if holds else "does not hold")}


def check_original_claims(table: pd.DataFrame, gap_tolerance: float = 0.2) -> pd.DataFrame:
    """The original's conclusions as rows: the claim (its words), the verdict on our runs, and the
    evidence, a mapping of what was compared to its value (numbers, or the name of a run).

    ``table``: statistics indexed by the original's labels ('LeNet-5', 'CustomMLP_6',
    'LeNet-5, λ=1e-4', 'LeNet-5, noise 0.2', ...). Claims about runs missing from the table
    are left out.
    """
    return pd.DataFrame(_architecture_claims(table) + _regularizer_claims(table, gap_tolerance))


def _architecture_claims(table: pd.DataFrame) -> list[dict]:
    """The original's claims about LeNet-5 against the MLPs, and among the MLPs."""
    acc, loss = table.mean_test_acc, table.mean_test_loss
    rows = []
    mlps = [m for m in MLP_NAMES if m in table.index]
    lenet = "LeNet-5"
    if lenet in table.index and mlps:
        best_mlp = acc[mlps].idxmax()
        rows.append(_claim(
            "LeNet-5 has a lower mean test loss and a higher mean test accuracy than every MLP",
            bool(acc[lenet] > acc[mlps].max() and loss[lenet] < loss[mlps].min()),
            **{"LeNet-5 mean test accuracy (%)": acc[lenet], "LeNet-5 mean test loss": loss[lenet],
               "best MLP": best_mlp, "its mean test accuracy (%)": acc[best_mlp],
               "lowest MLP mean test loss": loss[mlps].min()}))
    if {"CustomMLP_5", "CustomMLP_6"} <= set(mlps) and len(mlps) > 2:
        ranking = acc[mlps].sort_values(ascending=False)
        rows.append(_claim("CustomMLP_5 and CustomMLP_6 are the two best MLPs, CustomMLP_5 slightly ahead",
                           set(ranking.index[:2]) == {"CustomMLP_5", "CustomMLP_6"} and ranking.index[0] == "CustomMLP_5",
                           **{f"{m} mean test accuracy (%)": a for m, a in ranking.items()}))
    if len(mlps) >= 3:
        depth = pd.Series({m: MODELS[m].depth for m in mlps})
        rho = acc[mlps].rank().corr(depth.rank())  # Spearman: Pearson on ranks (no scipy)
        worst = acc[mlps].idxmin()
        rows.append(_claim("the deeper the MLP, the worse it learns (CustomMLP_1, 6 layers, worst)",
                           bool(rho < 0 and worst == "CustomMLP_1"),
                           **{"Spearman ρ of depth and mean test accuracy": rho, "worst MLP": worst,
                              "its mean test accuracy (%)": acc[worst]}))
    return rows


def _regularizer_claims(table: pd.DataFrame, gap_tolerance: float) -> list[dict]:
    """The original's claims about weight decay and noise injection on LeNet-5."""
    acc, lenet = table.mean_test_acc, "LeNet-5"
    rows = []
    wds = [label for label in table.index if label.startswith("LeNet-5, λ=")]
    if lenet in table.index and wds:
        best_wd = acc[wds].idxmax()
        rows.append(_claim(f"weight decay does not improve LeNet-5's test accuracy (within {gap_tolerance} points)",
                           bool(acc[best_wd] - acc[lenet] < gap_tolerance),
                           **{"best weight decay": best_wd, "its mean test accuracy (%)": acc[best_wd],
                              "λ=0 mean test accuracy (%)": acc[lenet]}))
        ordered = [lenet] + sorted(wds, key=lambda label: float(label.split("=")[1]))
        train_loss = table.mean_train_loss[ordered]
        rows.append(_claim("a larger λ lowers the training loss (its text; its own table shows it rising)",
                           bool(train_loss.is_monotonic_decreasing),
                           **{f"{'λ=0' if label == lenet else label.split(', ')[1]} mean training loss": value
                              for label, value in train_loss.items()}))
        gap = table.mean_train_acc - table.mean_test_acc
        rows.append(_claim("weight decay narrows the gap between training and test accuracy",
                           bool((gap[wds] < gap[lenet]).all()),
                           **{f"{'λ=0' if label == lenet else label.split(', ')[1]} gap (points)": gap[label]
                              for label in ordered}))
    strongest = run_label("LeNet5", weight_decay=1e-2)
    if strongest in table.index:
        rows.append(_claim("λ = 1e-2 makes LeNet-5 fail: accuracy stays near chance (11%)",
                           bool(acc[strongest] <= CHANCE_ACC),
                           **{"mean test accuracy (%)": acc[strongest], "health": str(table.health[strongest])}))
    noises = [label for label in table.index if label.startswith("LeNet-5, noise")]
    if lenet in table.index and noises:
        best = acc[[lenet] + wds + noises].idxmax()
        rows.append(_claim("noise injection gives the best LeNet-5, with std 0.2",
                           best == run_label("LeNet5", noise_std=0.2),
                           **{"best LeNet-5": best, "its mean test accuracy (%)": acc[best],
                              **{f"{label.split(', ')[1]} mean test accuracy (%)": acc[label] for label in noises},
                              "λ=0 mean test accuracy (%)": acc[lenet]}))
    return rows
