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
from ..stats import METRICS, ORIGINAL_WINDOW, STAT_COLUMNS, health, run_statistics

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


def loss_floor_gaps() -> tuple[float, list[str]]:
    """How far the table's mean losses sit above :data:`ORIGINAL_LOSS_FLOOR`: the largest gap among the runs whose
    training went well (:func:`mnistlib.stats.health`: they end above chance), and the runs that did not (a late
    collapse, a run at chance), whose losses sit where their failure left them."""
    computed = table()
    ok = [health(history(label)).trains for label in computed.index]
    gaps = computed.loc[ok, ["mean_train_loss", "mean_test_loss"]].to_numpy() - ORIGINAL_LOSS_FLOOR
    return float(gaps.max()), [label for label, fine in zip(computed.index, ok) if not fine]


def printed_readings() -> pd.DataFrame:
    """How each number the original printed comes from its history: one row per printed value (run, column,
    printed, computed, reading), the reading 'rounded' (the computed value rounded to the printed digits),
    'truncated' (cut off at the printed digits, where rounding would give another last digit) or 'typo'
    (neither: :data:`TYPOS` says why)."""
    computed = table()
    rows = []
    for label_, row in _PRINTED_TEXT.iterrows():
        for column, text in row.dropna().items():
            digits, value, printed = len(text.partition(".")[2]), computed.loc[label_, column], float(text)
            rounded = abs(round(value, digits) - printed) < 1e-9
            truncated = abs(math.floor(value * 10 ** digits + 1e-9) / 10 ** digits - printed) < 1e-9
            rows.append({"run": label_, "column": column, "printed": printed, "computed": value,
                         "reading": "rounded" if rounded else "truncated" if truncated else "typo",
                         "typo": TYPOS.get((label_, column), "")})
    return pd.DataFrame(rows)


# The difference from LeNet-5's 60,806 parameters the original wrote beside each MLP's count ("2개 파라미터 부족":
# 2 too few; "13개 파라미터 초과": 13 too many), signed as ours: the MLP's count minus LeNet-5's.
STATED_DIFFERENCES = {"CustomMLP_1": -2, "CustomMLP_2": 13, "CustomMLP_3": 2, "CustomMLP_4": 8, "CustomMLP_5": 21,
                      "CustomMLP_6": -269}


# The original's per-layer counts for LeNet-5 (its section 모델 구조 설명), keyed by our layer names.
ORIGINAL_LENET_LAYERS = {"c1": 156, "c3": 1516, "c5": 48120, "f6.0": 10164, "f7": 850, "total": 60806}


# ----------------------------------------------------------------------------- its conclusions, in its words

# Each conclusion the report checks (mnistlib.analysis.claims), by id: the original's own sentence (its README), and
# how it is read here. The original states no sentence for λ = 1e-2: its table's row is quoted.
CLAIM_WORDS = {
    "lenet_beats_mlps": ("LeNet5을 구현하여 학습하였을 때, 일반적인 MLP에 비해 낮은 평균 Loss값과 높은 정확도를 기록하였다.",
                         "LeNet-5 has a lower mean test loss and a higher mean test accuracy than every MLP"),
    "mlp5_mlp6_best": ("상대적으로 적은 파라미터로 Layer를 적게 쌓은 CustomMLP_6와 레이어를 3개를 쌓은 CustomMLP_5가 그 다음의 "
                       "정확한 분류를 함을 알 수 있다.", "CustomMLP_5 and CustomMLP_6 are the two best MLPs"),
    "mlp5_ahead": ("CustomMLP중 가장 정확도가 높았던 모델은 CustomMLP_5(평균 accuracy: 97.39, 평균 loss 1.488 )이었다.",
                   "CustomMLP_5 is slightly ahead of CustomMLP_6"),
    "mlp6_closest": ("CustomMLP 중 파라미터의 개수가 가장 작고 LeNet5의 성능과 유사했던 모델은 CustomMLP_6이며",
                     "CustomMLP_6, the MLP with the fewest parameters, comes closest to LeNet-5"),
    "deeper_worse": ("MLP의 레이어가 커질수록 학습에서 문제가 발생함을 확인할 수 있었다.",
                     "the deeper the MLP, the worse it learns (CustomMLP_1, 6 layers, worst)"),
    "decay_no_gain": ("LeNet5에 weight decay를 적용했을 때 test accuracy 향상에 큰 영향을 주지 않았다.",
                      "weight decay does not improve LeNet-5's test accuracy"),
    "decay_lowers_train_loss": ("람다의 값이 커질수록 Training loss가 감소하여, 전체적인 학습에 부정적인 요인으로 작용하였다.",
                                "a larger λ lowers the training loss (read as written: 감소, 'decreases'; its own "
                                "table shows the training loss rising with λ)"),
    "decay_narrows_gap": ("weight decay를 사용하여 학습할 경우 Training과 Test 사이의 격차는 줄어들지만",
                          "weight decay narrows the gap between training and test accuracy"),
    "strongest_decay_fails": ("weight decay 0.01 적용 … Average Accuracy: train 11.24 / test 11.35",
                              "λ = 1e-2 makes LeNet-5 fail: accuracy stays near chance (11%)"),
    "noise_best": ("학습한 모델 중 LeNet5에 noise를 추가하여 학습한 모델이 가장 성능이 좋음을 알 수 있었다. … 최고 accuracy: "
                   "LeNet5 (with std = 0.2 noise) 98.9", "noise injection gives the best LeNet-5, with std 0.2"),
}


