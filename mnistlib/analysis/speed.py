"""Notebook 8's analyses: how fast and how far the original's LeNet-5 goes, as numbers and verdicts.

Runs come keyed ``(step, seed)`` (:func:`mnistlib.report.grids.recipe_grid`). Every function returns a
DataFrame or a dataclass; the notebook writes the sentences. A target is met only by every number
it names: "fast" needs each seed at or above 99% at the end of its last epoch, "far" the mean over
seeds at or above 99.4%. Final accuracies are those after the last epoch, never the best epoch.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Mapping, Sequence

import numpy as np
import pandas as pd

from .. import difference
from ..data.cache import training_images
from ..store.store import Run
from ..stats import spread
from ..training.recipes import FAR_EPOCHS, FAST_EPOCHS, ONE_EPOCH_EPOCHS
from .seeds import by_key, seed_values

FAST_TARGET = 99.0   # % test accuracy after at most FAST_EPOCHS epochs (the one-epoch recipe: ONE_EPOCH_EPOCHS), every seed
FAR_TARGET = 99.4    # % mean final test accuracy over the seeds, within FAR_EPOCHS (the far recipe's, the target's)


def curve_bands(runs: Mapping[tuple, Run]) -> dict[str, pd.DataFrame]:
    """Per step: test accuracy against training images seen (index), as mean, std, min and max
    across seeds, from each run's curve (its evaluations inside epochs), or its history where it has
    no curve (one point per epoch)."""
    out = {}
    for step, group in by_key(runs).items():
        series = {}
        for i, run in enumerate(group):
            curve = run.curve
            if curve.empty:
                curve = run.history.assign(images=run.history.epoch * training_images(run.config))
            series[i] = curve.drop_duplicates("images", keep="last").set_index("images").test_acc
        out[step] = spread(pd.concat(series, axis=1))
    return out


def step_table(runs: Mapping[tuple, Run], target: float, outside: tuple[str, ...] = ()) -> pd.DataFrame:
    """One row per step: seeds, epochs, final test accuracy (mean, std, lowest and highest seed), how
    many seeds end at or above ``target``, the 95% prediction interval of one more seed's final accuracy
    (``new_seed_low`` to ``new_seed_high``: :func:`mnistlib.difference.prediction_interval`), the final training accuracy (the last epoch's, on its training
    batches as augmented, mean over seeds), the change of the mean against the step before by the rule for
    "different" (:func:`mnistlib.difference.compare` over seeds: the change, Welch's interval ``change_low`` to
    ``change_high``, the exact permutation p and the ``verdict``), and the mean training time per run
    (seconds, as the runs measured it). Steps in ``outside`` (a reference, such as the original's protocol) get
    a row but stand outside the chain: no change of theirs, and the next step is compared with the step before
    them."""
    rows, before = [], None
    for step, group in by_key(runs).items():
        final = np.array([run.history.test_acc.iloc[-1] for run in group])
        c = difference.compare(final, before) if before is not None and step not in outside else None
        row = {"step": step, "seeds": len(group), "epochs": group[0].config.epochs,
               "final_test_acc": final.mean(), "final_test_acc_std": final.std(ddof=1) if len(final) > 1 else math.nan,
               "lowest_seed": final.min(), "highest_seed": final.max(),
               "seeds_at_target": int((final >= target).sum()),
               **dict(zip(("new_seed_low", "new_seed_high"),
                          difference.prediction_interval(final) if len(final) > 1 else (math.nan, math.nan))),
               "final_train_acc": float(np.mean([run.history.train_acc.iloc[-1] for run in group])),
               "change": c.diff if c else math.nan, "change_low": c.low if c else math.nan,
               "change_high": c.high if c else math.nan, "p_against_step_before": c.p if c else math.nan,
               "verdict": c.verdict if c else None,
               "seconds_per_run": float(np.mean([run.history.seconds.sum() for run in group]))}
        if step not in outside:
            before = final
        rows.append(row)
    return pd.DataFrame(rows).set_index("step")


def final_values(runs: Mapping[tuple, Run]) -> dict[str, np.ndarray]:
    """{step: each seed's final test accuracy}, what the rule for "different" compares."""
    return {step: np.array([run.history.test_acc.iloc[-1] for run in group]) for step, group in by_key(runs).items()}


def images_to_reach(bands: Mapping[str, pd.DataFrame], level: float) -> pd.Series:
    """Per step: the training images seen at the first evaluation where the mean over seeds reaches
    ``level`` (% test accuracy); NaN where it never does."""
    return pd.Series({step: next((images for images, mean in band["mean"].items() if mean >= level), math.nan)
                      for step, band in bands.items()}, dtype=float)


@dataclass(frozen=True)
class Target:
    """A recipe (the last step of a :func:`step_table`) against its target."""

    step: str
    target: float
    rule: str                  # "every seed" or "mean over seeds"
    final_test_acc: float      # mean over seeds
    final_test_acc_std: float
    lowest_seed: float
    new_seed_low: float        # the 95% prediction interval of one more seed's final accuracy
    new_seed_high: float
    seeds: int
    epochs: int
    met: bool
    seconds_per_run: float


def fast_target(table: pd.DataFrame, target: float = FAST_TARGET, max_epochs: int = FAST_EPOCHS) -> Target:
    """Whether the last step reaches ``target`` with every seed after at most ``max_epochs``."""
    row, step = table.iloc[-1], table.index[-1]
    met = bool(row.lowest_seed >= target and row.epochs <= max_epochs)
    return _target(step, row, target, "every seed", met)


def far_target(table: pd.DataFrame, target: float = FAR_TARGET, max_epochs: int = FAR_EPOCHS) -> Target:
    """Whether the last step reaches ``target`` as the mean over seeds within ``max_epochs``."""
    row, step = table.iloc[-1], table.index[-1]
    met = bool(row.final_test_acc >= target and row.epochs <= max_epochs)
    return _target(step, row, target, "mean over seeds", met)


def _target(step: str, row: pd.Series, target: float, rule: str, met: bool) -> Target:
    return Target(step=step, target=target, rule=rule, final_test_acc=float(row.final_test_acc),
                  final_test_acc_std=float(row.final_test_acc_std), lowest_seed=float(row.lowest_seed),
                  new_seed_low=float(row.new_seed_low), new_seed_high=float(row.new_seed_high),
                  seeds=int(row.seeds), epochs=int(row.epochs), met=met, seconds_per_run=float(row.seconds_per_run))


def noise_at_template(plain: Sequence[Run], noisy: Mapping[str, Sequence[Run]], window: tuple[int, int]) -> pd.DataFrame:
    """Noise on the training inputs at the course template (notebook 4's runs over their seeds): each noise std
    (label -> its seeds' runs) against ``plain`` (the same configuration without noise) by the rule for
    "different" on the seeds' mean test accuracy; a :func:`mnistlib.difference.against` table, one row per
    noise std."""
    values = seed_values({PLAIN: list(plain), **{label: list(runs) for label, runs in noisy.items()}},
                         "mean_test_acc", window)
    return difference.against(values, PLAIN)


PLAIN = "no noise"


def one_epoch_target(table: pd.DataFrame, target: float = FAST_TARGET) -> Target:
    """Whether the one-epoch recipe (the last step of ``table``) reaches ``target`` with every seed after
    :data:`~mnistlib.training.recipes.ONE_EPOCH_EPOCHS` epochs."""
    return fast_target(table, target, ONE_EPOCH_EPOCHS)


def answers(fast: pd.DataFrame, far: pd.DataFrame, sgd: pd.DataFrame | None = None,
            one_epoch: pd.DataFrame | None = None) -> pd.DataFrame:
    """Notebook 8's answers, one finding per row, keyed by ids (question 'fast', 'one-epoch', 'far' or 'sgd'; subject;
    finding; value: a number, a step's name, or 'met'/'not met'), from the :func:`step_table` of the fast runs, the
    far runs and (optionally) the SGD recipe's and the one-epoch recipe's; the words are :mod:`mnistlib.words`'."""
    rows = []

    def add(question: str, values: dict, subject: tuple = ()) -> None:
        rows.extend({"question": question, "subject": subject, "finding": key, "value": value}
                    for key, value in values.items())

    # (question, its table, its target, whether the table's first step is the course template: the one-epoch
    # recipe's is the fast recipe in one epoch)
    targets = [("fast", fast, fast_target(fast), True)]
    if one_epoch is not None:
        targets.append(("one-epoch", one_epoch, one_epoch_target(one_epoch), False))
    for question, table, target, has_template in targets + [("far", far, far_target(far), True)]:
        template = {"template_final_test_acc": float(table.iloc[0].final_test_acc)} if has_template else {}
        add(question, {"recipe": target.step, "epochs": target.epochs, "seeds": target.seeds,
                       "final_test_acc": target.final_test_acc, "final_test_acc_std": target.final_test_acc_std,
                       "lowest_seed": target.lowest_seed, "new_seed_low": target.new_seed_low, **template,
                       "seconds_per_run": target.seconds_per_run})
        add(question, {"target": "met" if target.met else "not met"}, (target.target, target.rule))
    if sgd is not None:  # the whole recipe: its last step (which step is best is the rule's, over seeds)
        last = sgd.index[-1]
        add("sgd", {"recipe": last, "final_test_acc": float(sgd.final_test_acc[last]),
                    "final_test_acc_std": float(sgd.final_test_acc_std[last]), "seeds": int(sgd.seeds[last])})
    return pd.DataFrame(rows)
