"""The original's record: its 34 published histories, its 13-row table, and its claims checked on ours.

    >>> from mnistlib import original
    >>> original.table().loc["LeNet-5", "mean_test_acc"]     # computed from its histories
    98.59...
    >>> original.history("LeNet5").epoch.tolist()[:3]
    [0, 1, 2]

The histories come from the original's own checkpoints (see ``original_record/histories.csv``,
whose first line gives the source); every "ours vs the original's" number in the report is taken
from them with the original's own statistic (:data:`ORIGINAL_WINDOW`: epochs 20–49). The table the
original printed is kept as :data:`PRINTED`, only to check that the histories reproduce it.
"""
from __future__ import annotations

import math
from functools import lru_cache
from pathlib import Path

import pandas as pd

from .models import MODELS
from .naming import run_label
from .stats import CHANCE_ACC, METRICS, ORIGINAL_WINDOW, STAT_COLUMNS, run_statistics

RECORD = Path(__file__).parent / "original_record"
SOURCE = "github.com/DRMBSGN/MNIST-Classification, model/*_model_0050.pt"
ORIGINAL_LOSS_FLOOR = math.log(math.e + 9) - 1  # softmax applied twice: the original's lowest possible loss
ORIGINAL_WEIGHT_DECAYS = (1e-4, 1e-3, 1e-2)
ORIGINAL_NOISE_STDS = (0.1, 0.2, 0.3)
MLP_NAMES = tuple(f"CustomMLP_{i}" for i in range(6, 0, -1))  # the original's table order

# The table as the original's report printed it (text, so the printed precision is kept):
# label -> train loss, test loss, train acc %, test acc %; best test accuracy and lowest test loss
# are stated for two runs only.
_PRINTED_TEXT = pd.DataFrame.from_dict({
    "LeNet-5": ("1.4716", "1.459", "99.06", "98.59", "98.81", "1.473"),
    "CustomMLP_6": ("1.474", "1.488", "98.83", "97.36", None, None),
    "CustomMLP_5": ("1.472", "1.488", "98.99", "97.39", None, None),
    "CustomMLP_4": ("1.478", "1.491", "98.31", "97.03", None, None),
    "CustomMLP_3": ("1.498", "1.504", "96.33", "95.66", None, None),
    "CustomMLP_2": ("1.505", "1.511", "95.61", "94.98", None, None),
    "CustomMLP_1": ("1.742", "1.780", "71.87", "68.15", None, None),
    "LeNet-5, λ=1e-4": ("1.474", "1.476", "98.97", "98.64", None, None),
    "LeNet-5, λ=1e-3": ("1.493", "1.491", "97.85", "97.94", None, None),
    "LeNet-5, λ=1e-2": ("2.302", "2.302", "11.24", "11.35", None, None),
    "LeNet-5, noise 0.1": ("1.472", "1.476", "99.05", "98.54", None, None),
    "LeNet-5, noise 0.2": ("1.471", "1.475", "99.10", "98.68", "98.9", "1.473"),
    "LeNet-5, noise 0.3": ("1.474", "1.478", "98.87", "98.41", None, None),
}, orient="index", columns=STAT_COLUMNS)
PRINTED = _PRINTED_TEXT.astype(float)
PRINTED.index.name = "run"
# Printed values that no reading of the histories gives: (label, column) -> why.
TYPOS = {("LeNet-5", "mean_test_loss"): "printed 1.459, below the 1.4612 floor this loss cannot cross; "
                                        "its history gives 1.4759"}


@lru_cache(maxsize=1)
def histories() -> pd.DataFrame:
    """All 34 published runs, one row per (run, epoch 0–50): run, model, weight_decay, noise_std,
    epoch, train_loss, train_acc, test_loss, test_acc (losses on the original's softmax-then-CE scale)."""
    table = pd.read_csv(RECORD / "histories.csv", comment="#")
    table["label"] = [run_label(m, wd, s) for m, wd, s in zip(table.model, table.weight_decay, table.noise_std)]
    return table


def runs() -> pd.DataFrame:
    """One row per published run: run (the original's name), label, model, weight_decay, noise_std."""
    return (histories()[["run", "label", "model", "weight_decay", "noise_std"]].drop_duplicates("run")
            .reset_index(drop=True))


def history(run: str) -> pd.DataFrame:
    """One published run's history, by the original's run name or the report's label: epoch and the
    four metrics, 51 rows (epoch 0 is the untrained model)."""
    table = histories()
    rows = table[(table.run == run) | (table.label == run)]
    if rows.empty:
        raise KeyError(f"the original published no run {run!r}; its runs: {', '.join(runs().run)}")
    return rows[["epoch", *METRICS]].reset_index(drop=True)


def statistics(window: tuple[int, int] = ORIGINAL_WINDOW) -> pd.DataFrame:
    """The original's statistics of all 34 runs, indexed by label, in the original's file order: the means
    over ``window``, best test accuracy, lowest test loss, and the model and regularizer."""
    rows = []
    for _, run in runs().iterrows():
        rows.append({"run": run.label, "the original's run": run.run, "model": run.model, "weight_decay": run.weight_decay,
                     "noise_std": run.noise_std, **run_statistics(history(run.run), window)})
    return pd.DataFrame(rows).set_index("run")


def table(window: tuple[int, int] = ORIGINAL_WINDOW) -> pd.DataFrame:
    """The original's 13-row results table, computed from its histories with its own statistic, in its
    order; columns as :data:`PRINTED` (best accuracy and lowest loss for every run)."""
    stats = statistics(window)
    return stats.loc[list(PRINTED.index), STAT_COLUMNS]


def printed_mismatches(tolerance_digits: int = 1) -> pd.DataFrame:
    """Where :func:`table` and the printed table differ by more than ``tolerance_digits`` units of
    the printed value's last digit (the original both rounded and truncated): label, column, printed,
    computed, and the known typo explanation if any."""
    computed = table()
    rows = []
    for label_, row in _PRINTED_TEXT.iterrows():
        for column, text in row.dropna().items():
            unit = 10.0 ** -len(text.partition(".")[2])  # one unit of the last printed digit
            if abs(computed.loc[label_, column] - float(text)) > tolerance_digits * unit + 1e-9:
                rows.append({"run": label_, "column": column, "printed": float(text),
                             "computed": computed.loc[label_, column], "typo": TYPOS.get((label_, column), "")})
    return pd.DataFrame(rows, columns=["run", "column", "printed", "computed", "typo"])


# The original's per-layer counts for LeNet-5 (its section 모델 구조 설명), keyed by our layer names.
ORIGINAL_LENET_LAYERS = {"c1": 156, "c3": 1516, "c5": 48120, "f6.0": 10164, "f7": 850, "total": 60806}


# ----------------------------------------------------------------------------- its conclusions, checked

def beside_original(summary: pd.DataFrame) -> pd.DataFrame:
    """Our four means, best test accuracy and lowest test loss (``summary``: a
    :func:`mnistlib.runs.summarize` table), with the original's published values beside them (``original_*``;
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
