"""Notebook 6's findings: the runs past the seed (:func:`mnistlib.grids.beyond_grid`) as tables and sentences.

The functions below turn the stored runs into tables and into sentences, so the notebook's
conclusions are computed from the runs, never typed.
"""
from __future__ import annotations

import math
from typing import Mapping

import numpy as np
import pandas as pd

from .grids import RECIPE_TARGET
from .models import build_model, count_parameters
from .runs import Run
from .seed import SEED_LOSS_FLOOR, display_name
from .stats import NEAR_CHANCE_ACC, STAT_COLUMNS, permutation_test, run_statistics, turning_point

# ----------------------------------------------------------------------------- variance

def by_model(runs: Mapping[tuple, Run]) -> dict[str, list[Run]]:
    """{(model, seed): run} -> {model: [runs]}, in the order given (the grid's: models, then seeds)."""
    out: dict[str, list[Run]] = {}
    for (model, _seed), run in runs.items():
        out.setdefault(model, []).append(run)
    return out


def per_seed(groups: Mapping[str, list[Run]], window: tuple[int, int]) -> pd.DataFrame:
    """One row per (model, seed) with the seed's statistics."""
    rows = [{"model": model, "seed": run.config.seed, **run_statistics(run.history, window)}
            for model, runs in groups.items() for run in runs]
    return pd.DataFrame(rows)


def across_seeds(groups: Mapping[str, list[Run]], window: tuple[int, int]) -> pd.DataFrame:
    """The seed's statistics as mean ± std across seeds, one row per model (std with n − 1)."""
    table = per_seed(groups, window)
    grouped = table.groupby("model", sort=False)[list(STAT_COLUMNS)]
    mean, std = grouped.mean(), grouped.std(ddof=1)
    out = pd.DataFrame({"seeds": table.groupby("model", sort=False).size()})
    for column in STAT_COLUMNS:
        out[column] = mean[column]
        out[f"{column}_std"] = std[column]
    return out


def format_pm(spread: pd.DataFrame) -> pd.DataFrame:
    """:func:`across_seeds` as text, 'mean ± std' per statistic (losses to 4 places, accuracies to 2)."""
    out = pd.DataFrame(index=spread.index)
    out["seeds"] = spread.seeds
    for column in STAT_COLUMNS:
        digits = 4 if "loss" in column else 2
        out[column] = [f"{m:.{digits}f} ± {s:.{digits}f}" for m, s in zip(spread[column], spread[f"{column}_std"])]
    return out


def compare_pairs(groups: Mapping[str, list[Run]], window: tuple[int, int], pairs,
                  metric: str = "mean_test_acc", alpha: float = 0.05) -> pd.DataFrame:
    """For each (a, b): mean difference of ``metric`` across seeds, its exact permutation p-value,
    whether the seed ranges overlap, and a verdict at level ``alpha``."""
    table = per_seed(groups, window)
    rows = []
    for a, b in pairs:
        va, vb = table[table.model == a][metric].to_numpy(), table[table.model == b][metric].to_numpy()
        p = permutation_test(va, vb)
        smallest_p = 2 / math.comb(len(va) + len(vb), len(va))
        rows.append({"a": a, "b": b, "diff": va.mean() - vb.mean(), "p": p, "smallest_possible_p": smallest_p,
                     "a_range": f"{va.min():.2f}–{va.max():.2f}", "b_range": f"{vb.min():.2f}–{vb.max():.2f}",
                     "ranges_overlap": bool(va.min() <= vb.max() and vb.min() <= va.max()),
                     "differ": bool(p < alpha)})
    return pd.DataFrame(rows)


def variance_conclusion(tests: pd.DataFrame, seeds: int, alpha: float = 0.05) -> str:
    """Sentences on the seed's ranking, from :func:`compare_pairs` rows."""
    lines = []
    for row in tests.assign(a=tests.a.map(display_name), b=tests.b.map(display_name)).itertuples():
        direction = "above" if row.diff > 0 else "below"
        if row.differ:
            verdict = f"**{row.a} is {direction} {row.b}** beyond seed noise"
        elif row.smallest_possible_p >= alpha:
            verdict = (f"{seeds} seeds cannot separate {row.a} from {row.b} at the {alpha:g} level "
                       f"(the smallest possible p is {row.smallest_possible_p:.3f})")
        else:
            verdict = f"**{row.a} and {row.b} are not distinguishable** from seed noise"
        lines.append(f"- {verdict}: difference {row.diff:+.2f} points, exact permutation p = {row.p:.3f}; "
                     f"seed ranges {row.a_range} vs {row.b_range} ({'overlap' if row.ranges_overlap else 'disjoint'}).")
    return "\n".join(lines)


# ----------------------------------------------------------------------------- λ sweep

def collapsed(run: Run) -> bool:
    """Training went nowhere: the last epoch's test accuracy is near chance, or a loss is not finite."""
    h = run.history
    return bool(h.test_acc.iloc[-1] < NEAR_CHANCE_ACC or not np.isfinite(h[["train_loss", "test_loss"]]).all().all())


def sweep_table(runs: Mapping[tuple, Run], window: tuple[int, int]) -> pd.DataFrame:
    """One row per (model, λ): the seed's means, final accuracies, the training–test gap, collapse."""
    rows = []
    for (model, wd), run in sorted(runs.items(), key=lambda item: (item[0][0] != "LeNet5", item[0][0], item[0][1])):
        stats = run_statistics(run.history, window)
        last = run.history.iloc[-1]
        rows.append({"model": model, "lambda": wd, "mean_train_acc": stats["mean_train_acc"],
                     "mean_test_acc": stats["mean_test_acc"], "gap": stats["mean_train_acc"] - stats["mean_test_acc"],
                     "final_test_acc": last.test_acc, "final_train_loss": last.train_loss,
                     "collapsed": collapsed(run)})
    return pd.DataFrame(rows)


def sweep_conclusion(table: pd.DataFrame, seed_std: Mapping[str, float] | None = None) -> str:
    """Per model: the best λ, where training collapses, and what the gap does. ``seed_std``
    (model -> standard deviation of mean test accuracy across seeds) names the λ values that do
    as well as the best within that spread."""
    lines = []
    for model, part in table.groupby("model", sort=False):
        ok = part[~part.collapsed]
        best = ok.loc[ok.mean_test_acc.idxmax()] if len(ok) else None
        first_bad = part[part.collapsed]["lambda"].min() if part.collapsed.any() else None
        last_ok = ok["lambda"].max() if len(ok) else None
        text = f"- **{display_name(model)}**: "
        if best is not None:
            text += (f"best λ = {best['lambda']:g} ({best.mean_test_acc:.2f}% mean test accuracy, "
                     f"gap {best.gap:.2f} points); ")
            std = (seed_std or {}).get(model, (seed_std or {}).get(display_name(model)))
            if std is not None:
                close = ok[ok.mean_test_acc >= best.mean_test_acc - std]["lambda"]
                text += (f"λ = {', '.join(f'{v:g}' for v in close)} are within one seed standard deviation "
                         f"({std:.2f} points) of it; ")
        if first_bad is None:
            text += f"no λ up to {part['lambda'].max():g} collapses training."
        else:
            text += (f"training collapses to chance from λ = {first_bad:g} on "
                     f"(the largest λ that still trains: {last_ok:g})." if last_ok is not None else
                     "training collapses at every λ.")
        small, large = ok.iloc[0] if len(ok) else None, ok.iloc[-1] if len(ok) else None
        if small is not None and large is not None and len(ok) > 1:
            text += (f" Between λ = {small['lambda']:g} and {large['lambda']:g} the gap goes "
                     f"{small.gap:.2f} → {large.gap:.2f} points.")
        lines.append(text)
    return "\n".join(lines)


# ----------------------------------------------------------------------------- longer training

def long_conclusion(table: pd.DataFrame) -> str:
    """Sentences from a table of :func:`turning_point` rows indexed by model."""
    lines = []
    for model, row in table.iterrows():
        if row.turned_upward:
            lines.append(f"- **{model}: yes.** Test loss (5-epoch mean) is lowest at epoch {row.min_test_loss_epoch} "
                         f"({row.min_test_loss:.4f}) and ends {row.test_loss_rise_pct:.0f}% higher "
                         f"({row.end_test_loss:.4f}) after {row.epochs} epochs, while training loss falls from "
                         f"{row.train_loss_at_min:.4f} to {row.end_train_loss:.4f}; test accuracy ends at "
                         f"{row.final_test_acc:.2f}% (best {row.best_test_acc:.2f}%).")
        else:
            lines.append(f"- **{model}: not within {row.epochs} epochs.** Test loss (5-epoch mean) is lowest at "
                         f"epoch {row.min_test_loss_epoch} and ends {row.test_loss_rise_pct:+.0f}% from it; "
                         f"test accuracy ends at {row.final_test_acc:.2f}%.")
    return "\n".join(lines)


# ----------------------------------------------------------------------------- the seed's settings

def seed_settings_conclusion(runs: Mapping[float, Run], ours: Mapping[float, Run], window: tuple[int, int]) -> str:
    """The seed's loss and momentum beside ours, at λ = 0 and λ = 1e-2."""
    plain, heavy = runs[0.0], runs[1e-2]
    floor_ok = plain.history.train_loss.min() >= SEED_LOSS_FLOOR - 1e-6
    stats = run_statistics(plain.history, window)
    ours_plain = run_statistics(ours[0.0].history, window)
    lines = [f"- With softmax before cross-entropy and momentum 0.6, training loss never goes below "
             f"{plain.history.train_loss.min():.4f}: {'above' if floor_ok else 'BELOW'} the floor "
             f"ln(e + 9) − 1 = {SEED_LOSS_FLOOR:.4f}, which is where the seed's 1.46 came from. Mean test "
             f"accuracy {stats['mean_test_acc']:.2f}% vs {ours_plain['mean_test_acc']:.2f}% with our settings."]
    seed_collapse, our_collapse = collapsed(heavy), collapsed(ours[1e-2])
    if seed_collapse and our_collapse:
        lines.append("- λ = 1e-2 collapses to chance **with both** settings, so the seed's loss and momentum do not "
                     "explain its collapse: λ = 1e-2 is simply too strong for this network.")
    elif seed_collapse:
        lines.append("- λ = 1e-2 collapses with the seed's settings but **not** with ours: the seed's settings "
                     "explain its collapse.")
    elif our_collapse:
        lines.append("- λ = 1e-2 collapses with our settings but not with the seed's.")
    else:
        lines.append("- λ = 1e-2 trains with both settings here; the seed's collapse does not reproduce.")
    return "\n".join(lines)


# ----------------------------------------------------------------------------- the recipe

def ablation_table(runs: Mapping[tuple, Run]) -> pd.DataFrame:
    """Per recipe step: final test accuracy mean ± std across seeds, best and training accuracy,
    and what the step adds over the one before."""
    rows = pd.DataFrame([{"step": step, "final_test_acc": r.history.test_acc.iloc[-1],
                          "best_test_acc": r.history.test_acc.max(), "final_train_acc": r.history.train_acc.iloc[-1],
                          "epochs": r.config.epochs} for (step, _seed), r in runs.items()])
    table = rows.groupby("step", sort=False).agg(
        seeds=("final_test_acc", "size"), final_test_acc=("final_test_acc", "mean"),
        final_test_acc_std=("final_test_acc", "std"), best_test_acc=("best_test_acc", "mean"),
        final_train_acc=("final_train_acc", "mean"), epochs=("epochs", "first"))
    table["adds"] = table.final_test_acc.diff()
    return table


def recipe_conclusion(table: pd.DataFrame, target: float = RECIPE_TARGET) -> str:
    """The best step and whether it reaches the target."""
    best = table.final_test_acc.idxmax()
    row = table.loc[best]
    met = row.final_test_acc >= target
    return (f"The best recipe is **{best}** (all steps up to it): final test accuracy "
            f"{row.final_test_acc:.2f} ± {row.final_test_acc_std:.2f}% over {int(row.seeds)} seeds in "
            f"{int(row.epochs)} epochs, with the same {count_parameters(build_model('LeNet5')):,} parameters; the "
            f"course template gives {table.final_test_acc.iloc[0]:.2f}%. "
            f"Target {target:.1f}% (3-seed mean): **{'met' if met else 'not met'}**.")


def noise_conclusion(stats: pd.DataFrame, plain: str) -> str:
    """Whether noise beat the plain run at the course template (``stats``: summarize() rows)."""
    noisy = stats.drop(index=plain)
    best = noisy.mean_test_acc.idxmax()
    helps = noisy.mean_test_acc[best] > stats.mean_test_acc[plain]
    return (f"At the course template the best noise run, {best}, reaches {noisy.mean_test_acc[best]:.2f}% mean test "
            f"accuracy against {stats.mean_test_acc[plain]:.2f}% without noise: noise "
            f"{'helps' if helps else 'does not help'} there (one seed each).")


def activation_conclusion(stats: pd.DataFrame, reference: str) -> str:
    """The best activation by mean test accuracy and each one's difference from ``reference``."""
    best = stats.mean_test_acc.idxmax()
    parts = [f"{name} {row.mean_test_acc:.2f}% (best {row.best_test_acc:.2f}%)" for name, row in stats.iterrows()]
    diff = stats.mean_test_acc[best] - stats.mean_test_acc[reference]
    return (f"Mean test accuracy: {'; '.join(parts)}. Best: **{best}**"
            + (f", {diff:+.2f} points over {reference} (one seed each; compare with the seed spread in section 1)."
               if best != reference else "."))


def answer_table(groups: Mapping[str, Mapping], window: tuple[int, int], target: float = RECIPE_TARGET) -> pd.DataFrame:
    """One short, computed answer per question, from the runs of every group of the beyond grid
    (``groups``: group -> {key: Run}); for the summary notebook and README."""
    rows = []
    variance = by_model(groups["variance"])
    spread = across_seeds(variance, window)
    tests = compare_pairs(variance, window, [("LeNet5", "CustomMLP_6"), ("LeNet5", "CustomMLP_5"),
                                             ("CustomMLP_5", "CustomMLP_6")])
    rows.append(("variance across seeds", "; ".join(
        f"{display_name(m)} {r.mean_test_acc:.2f} ± {r.mean_test_acc_std:.2f}%" for m, r in spread.iterrows())
        + f" ({int(spread.seeds.min())} seeds); " + "; ".join(
        f"{display_name(t.a)} vs {display_name(t.b)}: {t.diff:+.2f} points, p = {t.p:.3f}"
        for t in tests.itertuples())))
    sweep = sweep_table(groups["lambda_sweep"], window)
    for model, part in sweep.groupby("model", sort=False):
        ok = part[~part.collapsed]
        best = ok.loc[ok.mean_test_acc.idxmax()] if len(ok) else None
        bad = part[part.collapsed]["lambda"]
        rows.append((f"λ sweep, {display_name(model)}", (f"best λ {best['lambda']:g} ({best.mean_test_acc:.2f}%); " if best is not None
                                          else "") + (f"collapses from λ {bad.min():g}" if len(bad) else
                                                      f"no collapse up to λ {part['lambda'].max():g}")))
    for model, run in groups["long"].items():
        turn = turning_point(run.history)
        rows.append((f"{turn['epochs']} epochs, {display_name(model)}",
                     f"test loss lowest at epoch {turn['min_test_loss_epoch']}, ends {turn['test_loss_rise_pct']:+.0f}% "
                     f"({'turns upward' if turn['turned_upward'] else 'no upturn'}); final test accuracy "
                     f"{turn['final_test_acc']:.2f}%"))
    act = pd.DataFrame({name: run_statistics(run.history, window) for name, run in groups["activations"].items()}).T
    rows.append(("activations", "; ".join(f"{name} {float(r.mean_test_acc):.2f}%" for name, r in act.iterrows())))
    seed_runs = groups["seed_settings"]
    plain = seed_runs[0.0].history
    rows.append(("the seed's settings", f"lowest training loss {plain.train_loss.min():.4f} (floor {SEED_LOSS_FLOOR:.4f}); "
                 f"mean test accuracy {run_statistics(plain, window)['mean_test_acc']:.2f}%; λ = 1e-2 "
                 f"{'collapses' if collapsed(seed_runs[1e-2]) else 'trains'}"))
    recipe = ablation_table(groups["recipe"])
    best = recipe.final_test_acc.idxmax()
    rows.append(("best LeNet-5 recipe", f"{best}: {recipe.final_test_acc[best]:.2f} ± "
                 f"{recipe.final_test_acc_std[best]:.2f}% final test accuracy ({int(recipe.seeds[best])} seeds, "
                 f"{int(recipe.epochs[best])} epochs); target {target:g}% "
                 f"{'met' if recipe.final_test_acc[best] >= target else 'not met'}"))
    return pd.DataFrame(rows, columns=["question", "answer"]).set_index("question")
