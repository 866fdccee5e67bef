"""Statistics of run histories: the original's statistic, health, bands across seeds, exact tests.

Everything here reads per-epoch history tables (columns ``epoch`` and :data:`METRICS`), never a
model or the run store, so it is cheap to import and easy to test on made-up histories.
"""
from __future__ import annotations

import enum
import itertools
import math
from dataclasses import dataclass

import numpy as np
import pandas as pd

METRICS = ["train_loss", "train_acc", "test_loss", "test_acc"]
MEAN_COLUMNS = ["mean_train_loss", "mean_test_loss", "mean_train_acc", "mean_test_acc"]
STAT_COLUMNS = [*MEAN_COLUMNS, "best_test_acc", "min_test_loss"]
# The original's statistic: the mean over epochs 20-49 (entries [20:50] of its 51-entry lists, 30 values).
ORIGINAL_WINDOW = (20, 49)
# Test accuracy (%) at or below which a run is at chance: MNIST's largest class share is 11.35% (the
# ones of the test set), and this leaves room for a network that answers two or three classes.
CHANCE_ACC = 20.0
LEARNED_ACC = 50.0  # a run "had learned" once its test accuracy passed this (%): its fall to chance is a collapse


class State(str, enum.Enum):
    """What a run's history says about its training."""

    OK = "ok"
    EMPTY = "no epochs yet"
    DIVERGED = "diverged"
    COLLAPSED = "collapsed"
    AT_CHANCE = "at chance"


@dataclass(frozen=True)
class Health:
    """A run's health: its :class:`State` and, for a divergence or a collapse, the epoch it began.
    ``str()`` is the sentence stored in ``run.json`` and shown in tables."""

    state: State
    epoch: int | None = None

    @property
    def failed(self) -> bool:
        """Training broke down (diverged or collapsed) after it had started."""
        return self.state in (State.DIVERGED, State.COLLAPSED)

    @property
    def trains(self) -> bool:
        """The run ends above chance with finite losses."""
        return self.state is State.OK

    @property
    def collapse_epoch(self) -> int | None:
        """The epoch a collapse began (the first of the stretch at chance that ends the run), else None."""
        return self.epoch if self.state is State.COLLAPSED else None

    def __str__(self) -> str:
        if self.state is State.DIVERGED:
            return f"diverged: non-finite loss from epoch {self.epoch}"
        if self.state is State.COLLAPSED:
            return f"collapsed: test accuracy fell to chance at epoch {self.epoch}"
        if self.state is State.AT_CHANCE:
            return "at chance: test accuracy never rose above chance"
        return self.state.value


def health(history: pd.DataFrame) -> Health:
    """The one rule for how a run went: diverged (a non-finite loss, from its first epoch), collapsed
    (it ends at or below :data:`CHANCE_ACC` after having passed :data:`LEARNED_ACC`; from the first
    epoch of that final stretch), at chance (it ends there without having learned), or OK."""
    if history.empty:
        return Health(State.EMPTY)
    losses = history[["train_loss", "test_loss"]].to_numpy(dtype=float)
    bad = ~np.isfinite(losses).all(axis=1)
    if bad.any():
        return Health(State.DIVERGED, int(history.epoch[bad].iloc[0]))
    acc, epochs = history.test_acc.to_numpy(dtype=float), history.epoch.to_numpy()
    if acc[-1] > CHANCE_ACC:
        return Health(State.OK)
    first = len(acc) - 1
    while first > 0 and acc[first - 1] <= CHANCE_ACC:
        first -= 1
    if (acc[:first] > LEARNED_ACC).any():
        return Health(State.COLLAPSED, int(epochs[first]))
    return Health(State.AT_CHANCE)


def run_statistics(history: pd.DataFrame, window: tuple[int, int] = ORIGINAL_WINDOW) -> dict:
    """Means of each metric over epochs ``window`` (inclusive, 1-based), best test accuracy
    (and its epoch), lowest test loss (and its epoch)."""
    lo, hi = window
    part = history[(history.epoch >= lo) & (history.epoch <= hi)]
    stats = {column: float(part[column[len("mean_"):]].mean()) if len(part) else float("nan")
             for column in MEAN_COLUMNS}
    if len(history):
        best, low = history.test_acc.idxmax(), history.test_loss.idxmin()
        stats.update(best_test_acc=float(history.test_acc[best]), best_epoch=int(history.epoch[best]),
                     min_test_loss=float(history.test_loss.min()),
                     min_loss_epoch=int(history.epoch[low]) if pd.notna(low) else -1)
    stats.update(window=f"{lo}-{min(hi, int(part.epoch.max()))}" if len(part) else "none",
                 epochs=int(history.epoch.iloc[-1]) if len(history) else 0)
    return stats


def bands(runs: list, metric: str) -> pd.DataFrame:
    """Per epoch: mean, std, min and max of ``metric`` across runs (seeds; anything with a ``history``)."""
    return spread(pd.concat({i: r.history.set_index("epoch")[metric] for i, r in enumerate(runs)}, axis=1))


def spread(table: pd.DataFrame) -> pd.DataFrame:
    """Per row of ``table`` (one column per run): mean, std (n − 1), min and max across the columns."""
    return pd.DataFrame({"mean": table.mean(axis=1), "std": table.std(axis=1, ddof=1),
                         "min": table.min(axis=1), "max": table.max(axis=1)})


def permutation_test(a, b) -> float:
    """Exact two-sided permutation p-value for a difference in means between samples a and b
    (every split of the pooled values into groups of their sizes; no normality assumed)."""
    a, b = np.asarray(a, float), np.asarray(b, float)
    pooled = np.concatenate([a, b])
    observed = abs(a.mean() - b.mean())
    n, total = len(a), pooled.sum()
    extreme = count = 0
    for chosen in itertools.combinations(range(len(pooled)), n):
        first = pooled[list(chosen)].sum()
        diff = abs(first / n - (total - first) / (len(pooled) - n))
        extreme += diff >= observed - 1e-12
        count += 1
    return extreme / count


def smallest_p(n_a: int, n_b: int) -> float:
    """The smallest two-sided p :func:`permutation_test` can give for samples of ``n_a`` and ``n_b`` values, of
    its C(n_a + n_b, n_a) splits: with equal sizes the observed complete separation and its mirror (2 splits);
    with unequal sizes the mirror's difference of means can be smaller, leaving 1."""
    return (2 if n_a == n_b else 1) / math.comb(n_a + n_b, n_a)


def turning_point(history: pd.DataFrame, smooth: int = 5, rise: float = 0.05,
                  window: tuple[int, int] = ORIGINAL_WINDOW) -> dict:
    """Where test loss turns upward: the epoch of the lowest ``smooth``-epoch rolling mean, and
    whether the last ``smooth`` epochs sit more than ``rise`` (relative) above it while training
    loss kept falling after it; and test accuracy over the last ``smooth`` epochs (``end_test_acc``) beside its
    mean over the statistics ``window`` (``window_test_acc``), where over-fitting would show in the accuracy."""
    test = history.test_loss.rolling(smooth, min_periods=1).mean()
    train = history.train_loss.rolling(smooth, min_periods=1).mean()
    low = int(test.idxmin())
    epoch = int(history.epoch[low])
    end_test, min_test = float(test.iloc[-1]), float(test[low])
    train_fell = bool(train.iloc[-1] < train[low])
    turned = bool(end_test > min_test * (1 + rise) and train_fell and low < len(history) - smooth)
    return {"epochs": len(history), "min_test_loss_epoch": epoch, "min_test_loss": min_test,
            "end_test_loss": end_test, "test_loss_rise_pct": 100 * (end_test / min_test - 1),
            "train_loss_at_min": float(train[low]), "end_train_loss": float(train.iloc[-1]),
            "train_loss_kept_falling": train_fell, "turned_upward": turned,
            "final_test_acc": float(history.test_acc.iloc[-1]), "best_test_acc": float(history.test_acc.max()),
            "end_test_acc": float(history.test_acc.iloc[-smooth:].mean()),
            "window_test_acc": run_statistics(history, window)["mean_test_acc"]}


def _bin_of(confidence: np.ndarray, bins: int) -> np.ndarray:
    """Each answer's confidence bin: bin b holds [b/bins, (b+1)/bins), and 1.0 the last."""
    return np.minimum((confidence * bins).astype(int), bins - 1)


def _ece_rows(confidence: np.ndarray, correct: np.ndarray, bins: int) -> np.ndarray:
    """:func:`calibration`'s error (points) for each row of (rows × answers) arrays."""
    rows, n = confidence.shape
    if n == 0:
        return np.zeros(rows)
    which = _bin_of(confidence, bins) + bins * np.arange(rows)[:, None]
    gap = (np.bincount(which.ravel(), weights=correct.ravel().astype(float), minlength=rows * bins)
           - np.bincount(which.ravel(), weights=confidence.ravel(), minlength=rows * bins))
    # |accuracy − confidence| of a bin times its share of the answers is |Σ correct − Σ confidence| / n
    return 100 * np.abs(gap).reshape(rows, bins).sum(axis=1) / n


def calibration(confidence, correct, bins: int = 15) -> dict:
    """How honest a model's confidence is, from each answer's confidence (its largest softmax
    probability, 0 to 1) and whether it was right: the expected calibration error over ``bins``
    equal-width confidence bins (the bins' |accuracy − mean confidence| weighted by their share of the
    answers), the mean confidence on right and on wrong answers, and the bins themselves, for a
    reliability diagram. Accuracies, confidences and the error in percent (points)."""
    confidence, correct = np.asarray(confidence, float), np.asarray(correct, bool)
    table = pd.DataFrame({"bin": _bin_of(confidence, bins), "confidence": confidence, "correct": correct}).groupby("bin").agg(
        answers=("correct", "size"), accuracy=("correct", "mean"), confidence=("confidence", "mean"))
    table = table.reindex(range(bins))
    table.insert(0, "upper", (np.arange(bins) + 1) / bins)
    table.insert(0, "lower", np.arange(bins) / bins)
    table["answers"] = table.answers.fillna(0).astype(int)
    table[["accuracy", "confidence"]] *= 100
    mean = lambda values: float(values.mean() * 100) if len(values) else float("nan")  # noqa: E731
    return {"ece": float(_ece_rows(confidence[None], correct[None], bins)[0]), "confidence_right": mean(confidence[correct]),
            "confidence_wrong": mean(confidence[~correct]), "bins": table}
