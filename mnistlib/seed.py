"""The seed's record: its 34 published histories, its 13-row table, and its claims checked on ours.

    >>> from mnistlib import seed
    >>> seed.table().loc["LeNet-5", "mean_test_acc"]     # computed from its history
    98.59...
    >>> seed.history("LeNet5").epoch.tolist()[:3]
    [0, 1, 2]

The histories come from the seed's own checkpoints (see ``seed_record/seed_histories.csv``,
whose first line gives the source); every "ours vs the seed's" number in the report is taken
from them with the seed's own statistic (:data:`SEED_WINDOW`: epochs 20–49). The table the
seed printed is kept as :data:`PRINTED`, only to check that the histories reproduce it.
"""
from __future__ import annotations

import math
from functools import lru_cache
from pathlib import Path

import pandas as pd

from .models import MODELS
from .stats import METRICS, NEAR_CHANCE_ACC, SEED_WINDOW, STAT_COLUMNS, run_statistics  # noqa: F401  (for callers)

RECORD = Path(__file__).parent / "seed_record"
SOURCE = "github.com/DRMBSGN/MNIST-Classification, model/*_model_0050.pt"
SEED_LOSS_FLOOR = math.log(math.e + 9) - 1  # softmax applied twice: the seed's lowest possible loss
SEED_WEIGHT_DECAYS = (1e-4, 1e-3, 1e-2)
SEED_NOISE_STDS = (0.1, 0.2, 0.3)
MLP_NAMES = tuple(f"CustomMLP_{i}" for i in range(6, 0, -1))  # the seed's table order

# The table as the seed's report printed it (text, so the printed precision is kept):
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


def wd_label(weight_decay: float, model: str = "LeNet5") -> str:
    """'LeNet-5, λ=1e-3' for 0.001, the seed's spelling."""
    return f"{display_name(model)}, λ={weight_decay:.0e}".replace("e-0", "e-").replace("e+0", "e")


def noise_label(std: float, model: str = "LeNet5") -> str:
    """'LeNet-5, noise 0.2'."""
    return f"{display_name(model)}, noise {std:g}"


DISPLAY_NAMES = {"LeNet5": "LeNet-5"}


def display_name(model: str) -> str:
    """A model's name as the report prints it ('LeNet-5' for 'LeNet5')."""
    return DISPLAY_NAMES.get(model, model)


def label(model: str, weight_decay: float = 0.0, noise_std: float = 0.0) -> str:
    """The report's label of a run: 'LeNet-5', 'CustomMLP_6, λ=1e-5', 'CustomMLP_5, noise 0.2'."""
    if weight_decay:
        return wd_label(weight_decay, model)
    if noise_std:
        return noise_label(noise_std, model)
    return display_name(model)


@lru_cache(maxsize=1)
def histories() -> pd.DataFrame:
    """All 34 published runs, one row per (run, epoch 0–50): run, model, weight_decay, noise_std,
    epoch, train_loss, train_acc, test_loss, test_acc (losses on the seed's softmax-then-CE scale)."""
    table = pd.read_csv(RECORD / "seed_histories.csv", comment="#")
    table["label"] = [label(m, wd, s) for m, wd, s in zip(table.model, table.weight_decay, table.noise_std)]
    return table


def runs() -> pd.DataFrame:
    """One row per published run: run (the seed's name), label, model, weight_decay, noise_std."""
    return (histories()[["run", "label", "model", "weight_decay", "noise_std"]].drop_duplicates("run")
            .reset_index(drop=True))


def run_name(model: str, weight_decay: float = 0.0, noise_std: float = 0.0) -> str | None:
    """The seed's name of its run of this setting ('LeNet5_weight_decay_0.0001'), or None if it has none."""
    known = runs()
    match = known[(known.model == model) & (known.weight_decay == weight_decay) & (known.noise_std == noise_std)]
    return match.run.iloc[0] if len(match) else None


def history(run: str) -> pd.DataFrame:
    """One published run's history, by the seed's run name or the report's label: epoch and the
    four metrics, 51 rows (epoch 0 is the untrained model)."""
    table = histories()
    rows = table[(table.run == run) | (table.label == run)]
    if rows.empty:
        raise KeyError(f"the seed published no run {run!r}; its runs: {', '.join(runs().run)}")
    return rows[["epoch", *METRICS]].reset_index(drop=True)


def statistics(window: tuple[int, int] = SEED_WINDOW) -> pd.DataFrame:
    """The seed's statistics of all 34 runs, indexed by label, in the seed's file order: the means
    over ``window``, best test accuracy, lowest test loss, and the model and regularizer."""
    rows = []
    for _, run in runs().iterrows():
        rows.append({"run": run.label, "seed run": run.run, "model": run.model, "weight_decay": run.weight_decay,
                     "noise_std": run.noise_std, **run_statistics(history(run.run), window)})
    return pd.DataFrame(rows).set_index("run")


def table(window: tuple[int, int] = SEED_WINDOW) -> pd.DataFrame:
    """The seed's 13-row results table, computed from its histories with its own statistic, in its
    order; columns as :data:`PRINTED` (best accuracy and lowest loss for every run)."""
    stats = statistics(window)
    return stats.loc[list(PRINTED.index), STAT_COLUMNS]


def printed_mismatches(tolerance_digits: int = 1) -> pd.DataFrame:
    """Where :func:`table` and the printed table differ by more than ``tolerance_digits`` units of
    the printed value's last digit (the seed both rounded and truncated): label, column, printed,
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


# The seed's 13-row table, computed from its published histories with its own statistic
# (means over epochs 20–49); PRINTED is the table as printed.
SEED_RESULTS = table()
# The seed's per-layer counts for LeNet-5 (its section 모델 구조 설명), keyed by our layer names.
SEED_LENET_LAYERS = {"c1": 156, "c3": 1516, "c5": 48120, "f6.0": 10164, "f7": 850, "total": 60806}


# ----------------------------------------------------------------------------- its conclusions, checked

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
