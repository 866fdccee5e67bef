"""The original's record: its 34 published histories, its 13-row table, and its claims checked on ours.

    >>> from mnistlib import original
    >>> original.table().loc["LeNet-5", "mean_test_acc"]     # computed from its histories
    98.59...
    >>> original.history("LeNet5").epoch.tolist()[:3]
    [0, 1, 2]

The histories come from the original's own checkpoints (see ``original/published/histories.csv``,
whose first line gives the source); every "ours vs the original's" number in the report is taken
from them with the original's own statistic (:data:`ORIGINAL_WINDOW`: epochs 20–49). The table the
original printed is kept as :data:`PRINTED`, only to check that the histories reproduce it.
"""
from __future__ import annotations

import math
from functools import lru_cache
from pathlib import Path

import pandas as pd

from ..words import run_label
from ..stats import METRICS, ORIGINAL_WINDOW, STAT_COLUMNS, run_statistics

PUBLISHED = Path(__file__).parent / "published"  # what the original published: its histories and checkpoints
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
    table = pd.read_csv(PUBLISHED / "histories.csv", comment="#")
    table["label"] = [run_label(m, wd, s) for m, wd, s in zip(table.model, table.weight_decay, table.noise_std)]
    return table


def run_table() -> pd.DataFrame:
    """One row per published run: run (the original's name), label, model, weight_decay, noise_std."""
    return (histories()[["run", "label", "model", "weight_decay", "noise_std"]].drop_duplicates("run")
            .reset_index(drop=True))


def history(run: str) -> pd.DataFrame:
    """One published run's history, by the original's run name or the report's label: epoch and the
    four metrics, 51 rows (epoch 0 is the untrained model)."""
    table = histories()
    rows = table[(table.run == run) | (table.label == run)]
    if rows.empty:
        raise KeyError(f"the original published no run {run!r}; its runs: {', '.join(run_table().run)}")
    return rows[["epoch", *METRICS]].reset_index(drop=True)


def statistics(window: tuple[int, int] = ORIGINAL_WINDOW) -> pd.DataFrame:
    """The original's statistics of all 34 runs, indexed by label, in the original's file order: the means
    over ``window``, best test accuracy, lowest test loss, and the model and regularizer."""
    rows = []
    for _, run in run_table().iterrows():
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


