"""The original's conclusions checked on our runs over their random seeds, and our statistics set beside its
published ones.

    >>> seeds = per_seed(groups, window)               # one row per (run, random seed)
    >>> claims = check_original_claims(seeds)          # one row per conclusion: its verdict and evidence

Every verdict comes from the rule for "different" (:mod:`mnistlib.difference`): a conclusion that ranks two
configurations holds only where the rule calls them different in its direction, fails where it calls them
different the other way, and is otherwise *within the spread between random seeds*.
"""
from __future__ import annotations

from typing import Mapping

import numpy as np
import pandas as pd

from ..difference import Comparison, compare
from ..models.nets import MODELS
from ..original.record import CLAIM_WORDS, MLP_NAMES, table
from ..stats import CHANCE_ACC
from ..words import run_label

# A claim's verdicts (ids; words: mnistlib.words.CLAIM_VERDICTS).
HOLDS, FAILS, WITHIN, SOME_SEEDS = "holds", "does not hold", "within the spread", "some seeds"


def beside_original(spread: pd.DataFrame) -> pd.DataFrame:
    """Our statistics over random seeds (``spread``: a :func:`mnistlib.analysis.seeds.across_seeds` table, one row
    per run label: ``seeds``, each statistic's mean and ``<statistic>_std``), with the original's published
    values beside them (``original_*``; computed from its recorded histories) and our mean minus the original's
    mean test accuracy (``diff_test_acc``)."""
    joined = spread.join(table().add_prefix("original_"), how="left")
    joined["diff_test_acc"] = joined.mean_test_acc - joined.original_mean_test_acc
    return joined


def _values(seeds: pd.DataFrame, column: str | pd.Series) -> dict[str, np.ndarray]:
    values = seeds[column] if isinstance(column, str) else column
    return {label: values[seeds.model == label].to_numpy(float) for label in seeds.model.unique()}


def _mean_std(values: np.ndarray) -> str:
    return f"{values.mean():.4g} ± {values.std(ddof=1):.2g}" if len(values) > 1 else f"{values.mean():.4g}"


def _claim(claim: str, verdict: str, comparisons: int, **evidence) -> dict:
    words, reading = CLAIM_WORDS[claim]
    return {"claim": claim, "the original says": reading, "its words": words, "verdict": verdict,
            "comparisons": comparisons, "evidence": evidence}


def _ordered(comparisons: list[tuple[Comparison, int]]) -> str:
    """The verdict of a claim that each comparison's difference has the sign given beside it (+1: a above b,
    −1: below): it holds when the rule calls every one different that way, fails when it calls one different
    the other way, and is within the spread otherwise."""
    if any(c.different and np.sign(c.diff) == -sign for c, sign in comparisons):
        return FAILS
    if all(c.different and np.sign(c.diff) == sign for c, sign in comparisons):
        return HOLDS
    return WITHIN


def _p_text(c: Comparison) -> str:
    return f"{c.diff:+.4g} (p = {c.p:.3f})"


def check_original_claims(seeds: pd.DataFrame) -> pd.DataFrame:
    """The original's conclusions as rows: the ``claim`` (an id), what ``the original says`` as read here and ``its
    words`` (:data:`mnistlib.original.record.CLAIM_WORDS`), the verdict by the rule over random seeds
    (:data:`HOLDS`, :data:`FAILS`, :data:`WITHIN`, or for a run at chance :data:`SOME_SEEDS`), how many of the rule's
    ``comparisons`` it took, and the evidence, a mapping of what was compared to its value.

    ``seeds``: one row per (run, seed) with the run's label in ``model`` ('LeNet-5', 'CustomMLP_6', 'LeNet-5,
    λ=1e-4', 'LeNet-5, noise 0.2', ...) and the original's statistics (:func:`mnistlib.analysis.seeds.per_seed`).
    Claims about runs missing from it are left out."""
    return pd.DataFrame(_architecture_claims(seeds) + _regularizer_claims(seeds))


def _architecture_claims(seeds: pd.DataFrame) -> list[dict]:
    """The original's claims about LeNet-5 against the MLPs, and among the MLPs."""
    acc, loss = _values(seeds, "mean_test_acc"), _values(seeds, "mean_test_loss")
    rows = []
    mlps = [m for m in MLP_NAMES if m in acc]
    lenet = "LeNet-5"
    if lenet in acc and mlps:
        tests = [(compare(acc[lenet], acc[m]), 1) for m in mlps] + [(compare(loss[lenet], loss[m]), -1) for m in mlps]
        rows.append(_claim(
            "lenet_beats_mlps", _ordered(tests),
            len(tests),
            **{"LeNet-5 mean test accuracy (%)": _mean_std(acc[lenet]),
               **{f"LeNet-5 − {m}, accuracy (points)": _p_text(c) for m, (c, _) in zip(mlps, tests)}}))
    if {"CustomMLP_5", "CustomMLP_6"} <= set(mlps) and len(mlps) > 2:
        others = [m for m in mlps if m not in ("CustomMLP_5", "CustomMLP_6")]
        tests = {(a, b): compare(acc[a], acc[b]) for a in ("CustomMLP_5", "CustomMLP_6") for b in others}
        rows.append(_claim("mlp5_mlp6_best",
                           _ordered([(c, 1) for c in tests.values()]), len(tests),
                           **{f"{a} − {b} (points)": _p_text(c) for (a, b), c in tests.items()}))
        ahead = compare(acc["CustomMLP_5"], acc["CustomMLP_6"])
        rows.append(_claim("mlp5_ahead", _ordered([(ahead, 1)]), 1,
                           **{"CustomMLP_5 mean test accuracy (%)": _mean_std(acc["CustomMLP_5"]),
                              "CustomMLP_6 mean test accuracy (%)": _mean_std(acc["CustomMLP_6"]),
                              "CustomMLP_5 − CustomMLP_6 (points)": _p_text(ahead)}))
    if "CustomMLP_6" in mlps and len(mlps) > 1:
        fewest = min(mlps, key=lambda m: MODELS[m].original_parameters)
        tests = [(compare(acc["CustomMLP_6"], acc[m]), 1) for m in mlps if m != "CustomMLP_6"]
        # closest to LeNet-5 among the MLPs: above every other MLP by the rule
        rows.append(_claim("mlp6_closest", FAILS if fewest != "CustomMLP_6" else _ordered(tests), len(tests),
                           **{"the MLP with the fewest parameters": f"{fewest} ({MODELS[fewest].original_parameters:,})",
                              **{f"CustomMLP_6 − {m} (points)": _p_text(c) for m, (c, _) in
                                 zip([m for m in mlps if m != "CustomMLP_6"], tests)}}))
    if len(mlps) >= 3 and "CustomMLP_1" in mlps:
        depth = pd.Series({m: MODELS[m].depth for m in mlps})
        means = pd.Series({m: acc[m].mean() for m in mlps})
        rho = float(means.rank().corr(depth.rank()))  # Spearman: Pearson on ranks
        tests = [(compare(acc["CustomMLP_1"], acc[m]), -1) for m in mlps if m != "CustomMLP_1"]
        verdict = _ordered(tests)
        if rho >= 0 and verdict == HOLDS:  # the deepest below every other, yet no trend with depth
            verdict = WITHIN
        rows.append(_claim("deeper_worse", verdict, len(tests),
                           **{"Spearman ρ of depth and mean test accuracy (means over seeds)": f"{rho:.2f}",
                              **{f"CustomMLP_1 − {m} (points)": _p_text(c) for m, (c, _) in
                                 zip([m for m in mlps if m != "CustomMLP_1"], tests)}}))
    return rows


def _regularizer_claims(seeds: pd.DataFrame) -> list[dict]:
    """The original's claims about weight decay and noise injection on LeNet-5."""
    acc, lenet = _values(seeds, "mean_test_acc"), "LeNet-5"
    rows = []
    wds = sorted((label for label in acc if label.startswith("LeNet-5, λ=")), key=lambda label: float(label.split("=")[1]))
    lam = lambda label: "λ=0" if label == lenet else label.split(", ")[1]  # noqa: E731
    if lenet in acc and wds:
        tests = {label: compare(acc[label], acc[lenet]) for label in wds}
        improves = any(c.different and c.diff > 0 for c in tests.values())
        rows.append(_claim("decay_no_gain",
                           FAILS if improves else HOLDS if all(c.decidable for c in tests.values()) else WITHIN,
                           len(tests),
                           **{f"{lam(label)} − λ=0 (points)": _p_text(c) for label, c in tests.items()}))
        ordered = [lenet] + wds
        train = _values(seeds, "mean_train_loss")
        steps = [(compare(train[b], train[a]), -1) for a, b in zip(ordered, ordered[1:])]
        rows.append(_claim("decay_lowers_train_loss", _ordered(steps), len(steps),
                           **{f"{lam(label)} mean training loss": _mean_std(train[label]) for label in ordered}))
        gap = _values(seeds, seeds.mean_train_acc - seeds.mean_test_acc)
        tests = [(compare(gap[label], gap[lenet]), -1) for label in wds]
        rows.append(_claim("decay_narrows_gap", _ordered(tests), len(tests),
                           **{f"{lam(label)} gap (points)": _mean_std(gap[label]) for label in ordered}))
    strongest = run_label("LeNet5", weight_decay=1e-2)
    if strongest in acc:
        at_chance = int((acc[strongest] <= CHANCE_ACC).sum())
        n = len(acc[strongest])
        rows.append(_claim("strongest_decay_fails",
                           HOLDS if at_chance == n else FAILS if at_chance == 0 else SOME_SEEDS, 0,
                           **{"mean test accuracy (%)": _mean_std(acc[strongest]),
                              "random seeds at chance": f"{at_chance} of {n}"}))
    noises = [label for label in acc if label.startswith("LeNet-5, noise")]
    claimed = run_label("LeNet5", noise_std=0.2)
    if lenet in acc and claimed in noises:
        rivals = [lenet] + wds + [label for label in noises if label != claimed]
        tests = [(compare(acc[claimed], acc[label]), 1) for label in rivals]
        rows.append(_claim("noise_best", _ordered(tests), len(tests),
                           **{f"noise 0.2 − {lam(label) if label in wds or label == lenet else label.split(', ')[1]} "
                              f"(points)": _p_text(c) for label, (c, _) in zip(rivals, tests)}))
    return rows


def claim_counts(claims: pd.DataFrame) -> Mapping[str, int]:
    """How many claims got each verdict, in the order holds, does not hold, within the spread, some seeds."""
    counts = claims.verdict.value_counts()
    return {verdict: int(counts.get(verdict, 0)) for verdict in (HOLDS, FAILS, WITHIN, SOME_SEEDS)}

