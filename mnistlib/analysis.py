"""The summary's analysis: our statistics beside the seed's, and the seed's conclusions
checked one by one against our runs. Every verdict is computed from a statistics table
(:func:`mnistlib.runs.summarize` indexed by the seed's run labels)."""
from __future__ import annotations

import pandas as pd

from .experiments import MLP_NAMES, SEED_RESULTS, noise_label, wd_label
from .models import MODELS
from .stats import NEAR_CHANCE_ACC, STAT_COLUMNS



def beside_seed(table: pd.DataFrame) -> pd.DataFrame:
    """Our four means, best test accuracy and lowest test loss, with the seed's published values
    beside them (``seed_*``; its best accuracy and lowest loss exist for two runs only) and our
    minus the seed's mean test accuracy (``diff_test_acc``)."""
    ours = table[STAT_COLUMNS + ["health"]].copy()
    ours["health"] = [h.state.value for h in ours.health]  # 'ok', 'at chance', 'collapsed', 'diverged'
    seed = SEED_RESULTS.add_prefix("seed_")
    joined = ours.join(seed, how="left")
    joined["diff_test_acc"] = joined.mean_test_acc - joined.seed_mean_test_acc
    return joined


def _claim(claim: str, holds: bool | None, evidence: str) -> dict:
    return {"the seed says": claim, "on our runs": evidence,
            "verdict": "not tested" if holds is None else ("holds" if holds else "does not hold")}


def check_seed_claims(table: pd.DataFrame, gap_tolerance: float = 0.2) -> pd.DataFrame:
    """The seed's conclusions as rows: the claim, our evidence (numbers), and the verdict.

    ``table``: seed statistics indexed by the seed's labels ('LeNet-5', 'CustomMLP_6',
    'LeNet-5, λ=1e-4', 'LeNet-5, noise 0.2', ...). Claims about runs missing from the table
    are reported as not tested.
    """
    return pd.DataFrame(_architecture_claims(table) + _regularizer_claims(table, gap_tolerance))


def _architecture_claims(table: pd.DataFrame) -> list[dict]:
    """The seed's claims about LeNet-5 against the MLPs, and among the MLPs."""
    acc, loss = table.mean_test_acc, table.mean_test_loss
    rows = []
    mlps = [m for m in MLP_NAMES if m in table.index]
    lenet = "LeNet-5"
    if lenet in table.index and mlps:
        best_mlp = acc[mlps].idxmax()
        rows.append(_claim(
            "LeNet-5 has a lower mean test loss and a higher mean test accuracy than every MLP",
            bool(acc[lenet] > acc[mlps].max() and loss[lenet] < loss[mlps].min()),
            f"LeNet-5 {acc[lenet]:.2f}% / {loss[lenet]:.4f}; best MLP {best_mlp} {acc[best_mlp]:.2f}%, "
            f"lowest MLP loss {loss[mlps].min():.4f}"))
    if {"CustomMLP_5", "CustomMLP_6"} <= set(mlps) and len(mlps) > 2:
        top2 = list(acc[mlps].sort_values(ascending=False).index[:2])
        rows.append(_claim("CustomMLP_5 and CustomMLP_6 are the two best MLPs, CustomMLP_5 slightly ahead",
                           set(top2) == {"CustomMLP_5", "CustomMLP_6"} and top2[0] == "CustomMLP_5",
                           "ranking: " + ", ".join(f"{m} {acc[m]:.2f}%" for m in
                                                   acc[mlps].sort_values(ascending=False).index)))
    if len(mlps) >= 3:
        depth = pd.Series({m: MODELS[m].depth for m in mlps})
        rho = acc[mlps].rank().corr(depth.rank())  # Spearman: Pearson on ranks (no scipy)
        worst = acc[mlps].idxmin()
        rows.append(_claim("the deeper the MLP, the worse it learns (CustomMLP_1, 6 layers, worst)",
                           bool(rho < 0 and worst == "CustomMLP_1"),
                           f"Spearman ρ(depth, mean test accuracy) = {rho:.2f}; worst: {worst} {acc[worst]:.2f}%"))
    return rows


def _regularizer_claims(table: pd.DataFrame, gap_tolerance: float) -> list[dict]:
    """The seed's claims about weight decay and noise injection on LeNet-5."""
    acc, lenet = table.mean_test_acc, "LeNet-5"
    rows = []
    wds = [label for label in table.index if label.startswith("LeNet-5, λ=")]
    if lenet in table.index and wds:
        best_wd = acc[wds].idxmax()
        rows.append(_claim(f"weight decay does not improve LeNet-5's test accuracy (within {gap_tolerance} points)",
                           bool(acc[best_wd] - acc[lenet] < gap_tolerance),
                           f"best: {best_wd} {acc[best_wd]:.2f}% vs λ=0 {acc[lenet]:.2f}%"))
        ordered = [lenet] + sorted(wds, key=lambda label: float(label.split("=")[1]))
        train_loss = table.mean_train_loss[ordered]
        rows.append(_claim("a larger λ lowers the training loss (its text; its own table shows it rising)",
                           bool(train_loss.is_monotonic_decreasing),
                           "mean training loss by λ: " + ", ".join(
                               f"{'0' if l == lenet else l.split('=')[1]}: {train_loss[l]:.4f}" for l in ordered)))
        gap = table.mean_train_acc - table.mean_test_acc
        rows.append(_claim("weight decay narrows the gap between training and test accuracy",
                           bool((gap[wds] < gap[lenet]).all()),
                           f"gap (points): λ=0 {gap[lenet]:.2f}; " + ", ".join(
                               f"{l.split('=')[1]} {gap[l]:.2f}" for l in ordered[1:])))
    strongest = wd_label(1e-2)
    if strongest in table.index:
        rows.append(_claim("λ = 1e-2 makes LeNet-5 fail: accuracy stays near chance (11%)",
                           bool(acc[strongest] < NEAR_CHANCE_ACC),
                           f"mean test accuracy {acc[strongest]:.2f}% ({table.health[strongest]})"))
    noises = [label for label in table.index if label.startswith("LeNet-5, noise")]
    if lenet in table.index and noises:
        lenets = [lenet] + wds + noises
        best = acc[lenets].idxmax()
        rows.append(_claim("noise injection gives the best LeNet-5, with std 0.2",
                           best == noise_label(0.2),
                           "best LeNet-5 variant: " + f"{best} {acc[best]:.2f}%; noise runs: " +
                           ", ".join(f"{l.split()[-1]} {acc[l]:.2f}%" for l in noises) +
                           f"; λ=0 {acc[lenet]:.2f}%"))
    return rows
