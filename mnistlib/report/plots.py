"""Figures in one labelled style: one run's curves (the original's ``graph`` mode) and several
runs compared (``graph compare``). Functions return matplotlib Figures; ``save_figure``
writes PNG and SVG under ``figures/`` with stable names.
"""
from __future__ import annotations

import re
from pathlib import Path
from typing import Iterable, Mapping, Sequence

import matplotlib
import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import torch
from matplotlib.figure import Figure

from .. import paths
from ..data.augment import add_noise
from ..data.mnist import BACKGROUND, WHITE
from ..stats import spread
from ..store.store import Run
from ..words import column_text

METRICS = ("train_loss", "test_loss", "train_acc", "test_acc")  # a history's columns a figure draws (or "gap")
STYLE = {
    "figure.dpi": 100, "savefig.dpi": 120, "axes.grid": True, "grid.alpha": 0.3,
    "axes.spines.top": False, "axes.spines.right": False, "legend.frameon": False,
    "font.size": 10, "axes.titlesize": 11,
}


IMAGE_STYLE = {**STYLE, "axes.grid": False, "axes.spines.left": False, "axes.spines.bottom": False}


def _metric(history: pd.DataFrame, metric: str) -> pd.Series:
    return history.train_acc - history.test_acc if metric == "gap" else history[metric]


def _history(run: Run | pd.DataFrame) -> pd.DataFrame:
    return run.history if isinstance(run, Run) else run


def _seeds(runs) -> list:
    """A run, a history or a list of them (one per random seed) as a list."""
    return list(runs) if isinstance(runs, (list, tuple)) else [runs]


def _spread(runs, metric: str) -> pd.DataFrame:
    """Per epoch: mean, std, min and max of ``metric`` over one run or a list of one configuration's seeds."""
    histories = [_history(run) for run in _seeds(runs)]
    return spread(pd.concat({i: h.set_index("epoch").pipe(_metric, metric) for i, h in enumerate(histories)}, axis=1))


def _line(ax, runs, metric: str, **style):
    """``metric`` per epoch of one run, or of several seeds of one configuration: their mean as the line, ±1 std
    as a dark band and the lowest to the highest seed as a light one (:func:`mnistlib.stats.spread`). Returns
    the line."""
    table = _spread(runs, metric)
    line, = ax.plot(table.index, table["mean"], **style)
    if len(_seeds(runs)) > 1:
        ax.fill_between(table.index, table["mean"] - table["std"], table["mean"] + table["std"],
                        color=line.get_color(), alpha=0.25, linewidth=0)
        ax.fill_between(table.index, table["min"], table["max"], color=line.get_color(), alpha=0.1, linewidth=0)
    return line


ORIGINAL_STYLE = {"linestyle": "--", "color": "0.35", "linewidth": 1.2}  # the original's recorded curves


def _on_original_scale(run) -> bool:
    """Whether a run's losses are on the original's softmax-then-CE scale (comparable with its curves)."""
    return isinstance(run, Run) and run.config.loss == "softmax_then_cross_entropy"


def _draw_run(ax_loss, ax_acc, runs, original: pd.DataFrame | None = None,
              original_losses: bool = False) -> None:
    for ax, kind in ((ax, kind) for ax, kind in ((ax_loss, "loss"), (ax_acc, "acc")) if ax is not None):
        for split, style in (("train", "-"), ("test", "--")):
            _line(ax, runs, f"{split}_{kind}", linestyle=style, label=split)
        if original is not None and (kind == "acc" or original_losses):
            ax.plot(original.epoch, original[f"test_{kind}"], label="the original (test)", **ORIGINAL_STYLE)
        ax.set_xlabel("epoch")
        ax.set_ylabel("cross-entropy loss" if kind == "loss" else "accuracy (%)")
        ax.legend()


def plot_run(run: Run | pd.DataFrame | Sequence[Run], title: str | None = None,
             original: pd.DataFrame | None = None, zoom: bool = False) -> Figure:
    """Loss and accuracy per epoch, training vs test, side by side: of one run, or of a list of one configuration's
    random seeds (mean lines with bands). ``original``: the original's recorded history of the same run, drawn
    dashed in grey (its losses only when ours are on its scale). ``zoom``: the accuracy once more in a third
    panel, its axis narrowed to where the curves lie late in training (:func:`zoom_range`)."""
    first = _seeds(run)[0]
    title = title or (first.label if isinstance(first, Run) else None)
    with plt.rc_context(STYLE):
        fig, axes = plt.subplots(1, 3 if zoom else 2, figsize=(15 if zoom else 10, 3.8), layout="constrained")
        ax_loss, ax_acc = axes[:2]
        _draw_run(ax_loss, ax_acc, run, original, _on_original_scale(first))
        ax_loss.set_title("loss")
        ax_acc.set_title("accuracy")
        if zoom:
            _draw_run(None, axes[2], run, original, False)
            lows, highs = zip(*(zoom_range([_seeds(run)], metric) for metric in ("train_acc", "test_acc")))
            axes[2].set_ylim(min(lows), max(highs))
            axes[2].set_title("accuracy, zoomed in")
        if title:
            fig.suptitle(title)
    return fig


def plot_runs(runs: Mapping[str, Run | Sequence[Run]], title: str | None = None) -> Figure:
    """One row per run (or per configuration, its random seeds as mean lines with bands): its loss and accuracy
    curves, training vs test (small multiples)."""
    with plt.rc_context(STYLE):
        fig, axes = plt.subplots(len(runs), 2, figsize=(10, 2.6 * len(runs)), layout="constrained", squeeze=False)
        for (label, run), (ax_loss, ax_acc) in zip(runs.items(), axes):
            _draw_run(ax_loss, ax_acc, run)
            ax_loss.set_title(f"{label}: loss")
            ax_acc.set_title(f"{label}: accuracy")
        if title:
            fig.suptitle(title)
    return fig


def plot_compare(runs: Sequence[Run] | Mapping[str, Run | Sequence[Run]],
                 metrics: Iterable[str] = ("test_loss", "test_acc"),
                 title: str | None = None, ylim: dict[str, tuple[float, float]] | None = None,
                 original: Mapping[str, pd.DataFrame] | None = None, zoom: str | None = None) -> Figure:
    """One panel per metric, one line per run (labelled by the mapping's keys, if given); a mapping's value may
    be a list of one configuration's random seeds, drawn as their mean with bands (±1 std, and the lowest to the
    highest seed).

    ``original``: label -> the original's recorded history of that run, drawn dashed in the run's colour in
    the accuracy panels (and the loss panels when our run is on the original's loss scale). ``zoom``: a metric
    drawn once more in a last panel, its axis narrowed to where the runs differ (:func:`zoom_range`)."""
    metrics = list(metrics)
    unknown = [m for m in [*metrics, *([zoom] if zoom else [])] if m not in METRICS and m != "gap"]
    if unknown:
        raise ValueError(f"unknown metric {unknown[0]!r}; choose from {', '.join(METRICS)}, gap")
    labels, runs = (list(runs), list(runs.values())) if isinstance(runs, Mapping) else \
        ([run.label for run in runs], list(runs))
    panels = metrics + ([zoom] if zoom else [])
    ylim = {**(ylim or {})}
    with plt.rc_context(STYLE):
        fig, axes = plt.subplots(1, len(panels), figsize=(5 * len(panels), 3.8), layout="constrained",
                                 squeeze=False)
        drew_original = False
        for i, (ax, metric) in enumerate(zip(axes[0], panels)):
            zoomed = zoom is not None and i == len(metrics)
            for run, label in zip(runs, labels):
                line = _line(ax, run, metric, label=label)
                if original and label in original and ("loss" not in metric or _on_original_scale(_seeds(run)[0])):
                    ax.plot(original[label].epoch, _metric(original[label], metric),
                            **{**ORIGINAL_STYLE, "color": line.get_color()})
                    drew_original = True
            ax.set_xlabel("epoch")
            ax.set_ylabel(column_text(metric))
            ax.set_title(column_text(metric) + (", zoomed in" if zoomed else ""))
            if zoomed:
                ax.set_ylim(*zoom_range([_seeds(run) for run in runs], metric))
            elif metric in ylim:
                ax.set_ylim(*ylim[metric])
        if drew_original:
            axes[0][-1].plot([], [], label="dashed: the original's run", **ORIGINAL_STYLE)
        axes[0][-1].legend(fontsize=8)
        if title:
            fig.suptitle(title)
    return fig


def zoom_range(groups: Sequence[Sequence], metric: str, share: float = 0.5, floor: float = 50.0) -> tuple[float, float]:
    """The axis range where configurations differ in ``metric``: the band (mean ± std over seeds) of each over the
    last ``share`` of its epochs, leaving out a configuration whose mean there is at or below ``floor`` (a run at
    chance would stretch it), padded by a tenth on each side."""
    values = []
    for runs in groups:
        table = _spread(runs, metric)
        late = table[table.index >= table.index.max() * (1 - share)]
        if late["mean"].mean() > floor:
            values += [(late["mean"] - late["std"].fillna(0)).min(), (late["mean"] + late["std"].fillna(0)).max()]
    if not values:
        return 0.0, 100.0
    low, high = min(values), max(values)
    pad = max(high - low, 0.05) * 0.1
    return low - pad, high + pad


def plot_original_overlay(bands: Mapping[str, Mapping[str, pd.DataFrame]], original: Mapping[str, pd.DataFrame],
                      title: str | None = None) -> Figure:
    """One row per model, one panel per metric: our runs across seeds (mean line, min–max band) and
    the original's recorded run dashed. ``bands``: model -> metric -> per-epoch mean/min/max table."""
    models = list(bands)
    metrics = list(next(iter(bands.values())))
    with plt.rc_context(STYLE):
        fig, axes = plt.subplots(len(models), len(metrics), figsize=(5 * len(metrics), 3.2 * len(models)),
                                 layout="constrained", squeeze=False)
        for row, model in zip(axes, models):
            for ax, metric in zip(row, metrics):
                table = bands[model][metric]
                line, = ax.plot(table.index, table["mean"], label="ours: mean across seeds")
                ax.fill_between(table.index, table["min"], table["max"], color=line.get_color(), alpha=0.25,
                                linewidth=0, label="ours: min–max")
                if model in original:
                    ax.plot(original[model].epoch, original[model][metric], label="the original's run", **ORIGINAL_STYLE)
                ax.set_title(f"{model}: {column_text(metric)}")
                ax.set_xlabel("epoch")
        axes[0][-1].legend(fontsize=8)
        if title:
            fig.suptitle(title)
    return fig


def plot_histories(histories: Mapping[str, pd.DataFrame], metric: str = "test_acc",
                   title: str | None = None, recorded: Iterable[str] = ()) -> Figure:
    """One line per history of ``metric`` against the epoch: our runs in colour, and the labels in
    ``recorded`` (histories the original recorded) dashed in grey."""
    recorded = set(recorded)
    with plt.rc_context(STYLE):
        fig, ax = plt.subplots(figsize=(8, 3.8), layout="constrained")
        for label, history in histories.items():
            ax.plot(history.epoch, _metric(history, metric), label=label,
                    **(ORIGINAL_STYLE if label in recorded else {}))
        ax.set_xlabel("epoch")
        ax.set_ylabel(column_text(metric))
        ax.legend(fontsize=8)
        if title:
            ax.set_title(title)
    return fig


def figure_name(text: str) -> str:
    """A stable file stem from free text: lower case, [a-z0-9._-] only."""
    return re.sub(r"[^a-z0-9._]+", "-", text.lower()).strip("-") or "figure"


def save_figure(fig: Figure, name: str, folder: str | Path | None = None,
                formats: Sequence[str] = ("png", "svg")) -> list[Path]:
    """Write ``fig`` as ``<folder>/<name>.<fmt>`` for each format; returns the paths."""
    folder = Path(folder) if folder is not None else paths.figures_dir()
    folder.mkdir(parents=True, exist_ok=True)
    written = []
    for fmt in formats:
        path = folder / f"{figure_name(name)}.{fmt}"
        fig.savefig(path, bbox_inches="tight")
        written.append(path)
    return written


def digit_grid(images: np.ndarray, labels: np.ndarray, per_class: int = 8, title: str | None = None) -> Figure:
    """The first ``per_class`` images of each digit, one row per class."""
    with plt.rc_context(IMAGE_STYLE):
        fig, axes = plt.subplots(10, per_class, figsize=(per_class * 0.75, 10 * 0.8), layout="constrained")
        for digit in range(10):
            for ax, index in zip(axes[digit], np.flatnonzero(labels == digit)[:per_class]):
                ax.imshow(images[index], cmap="gray_r")
                ax.set_xticks([]), ax.set_yticks([])
            axes[digit][0].set_ylabel(str(digit), rotation=0, labelpad=10, fontsize=12)
        if title:
            fig.suptitle(title)
    return fig


def connection_table(mask: torch.Tensor, title: str = "C3 connections (LeCun et al. 1998, Table I)") -> Figure:
    """The (out, in) connection matrix drawn as the paper's table: an X where a map connects."""
    mask = mask.cpu().numpy()
    with plt.rc_context({**STYLE, "axes.grid": False}):
        fig, ax = plt.subplots(figsize=(8, 3.4), layout="constrained")
        ax.imshow(mask.T, cmap="Blues", vmin=0, vmax=1.6, aspect="equal")
        for out_map, in_map in zip(*np.nonzero(mask)):
            ax.text(out_map, in_map, "X", ha="center", va="center", fontsize=10)
        ax.set_xticks(range(mask.shape[0]))
        ax.set_yticks(range(mask.shape[1]))
        ax.set_xlabel("C3 feature map")
        ax.set_ylabel("S2 feature map")
        ax.set_title(f"{title}: {int(mask.sum())} of {mask.size} connections")
    return fig


def noise_preview(x: torch.Tensor, stds: Sequence[float], mean: float = 0.0, seed: int = 0) -> Figure:
    """The same normalized digits (N, 1, 32, 32) with the training loop's noise at each std.

    Uses :func:`mnistlib.data.augment.add_noise`, the function the training loop calls.
    """
    stds = [0.0, *stds]
    with plt.rc_context(IMAGE_STYLE):
        fig, axes = plt.subplots(len(stds), len(x), figsize=(len(x) * 0.9, len(stds) * 0.95),
                                 layout="constrained", squeeze=False)
        for row, std in zip(axes, stds):
            noisy = add_noise(x, std, mean, torch.Generator(device=x.device).manual_seed(seed))
            for ax, image in zip(row, noisy.cpu()):
                ax.imshow(image[0].numpy(), cmap="gray_r", vmin=BACKGROUND, vmax=WHITE)  # the normalized [0, 1] range
                ax.set_xticks([]), ax.set_yticks([])
            row[0].set_ylabel(f"std {std:g}", rotation=0, labelpad=24)
        fig.suptitle("training inputs after normalization, with Gaussian noise")
    return fig


def perturbed_digits(images: torch.Tensor, labels: Sequence[int], answers: Mapping[str, Sequence[int]],
                     title: str | None = None) -> Figure:
    """Normalized digits (N, 1, 32, 32) as a model gets them, each with its true class and every model's
    answer under it (a wrong answer in red)."""
    with plt.rc_context(IMAGE_STYLE):
        fig, axes = plt.subplots(1, len(images), figsize=(len(images) * 1.05, 1.5 + 0.22 * len(answers)),
                                 layout="constrained", squeeze=False)
        for k, (ax, image) in enumerate(zip(axes[0], images.cpu())):
            ax.imshow(image[0].numpy(), cmap="gray_r", vmin=BACKGROUND, vmax=WHITE)
            ax.set_xticks([]), ax.set_yticks([])
            ax.set_title(f"true {int(labels[k])}", fontsize=8)
            for row, (name, answer) in enumerate(answers.items()):
                ax.text(0.5, -0.12 - 0.2 * row, f"{name}: {int(answer[k])}", transform=ax.transAxes, ha="center",
                        va="top", fontsize=7, color="black" if int(answer[k]) == int(labels[k]) else "crimson")
        if title:
            fig.suptitle(title, fontsize=10)
    return fig


def plot_vs_original(table: pd.DataFrame, ours: str = "mean_test_acc", original: str = "original_mean_test_acc",
                 title: str = "mean test accuracy, ours vs the original's") -> Figure:
    """Horizontal bars, one pair per run: our statistic beside the original's; where ``table`` has ``<ours>_std``
    (ours over random seeds), ±1 std as an error bar."""
    with plt.rc_context(STYLE):
        fig, ax = plt.subplots(figsize=(8, 0.42 * len(table) + 1.2), layout="constrained")
        y = np.arange(len(table))
        std = table.get(f"{ours}_std")
        ax.barh(y - 0.2, table[ours], height=0.4, label="ours" if std is None else "ours: mean over random seeds, ±1 std",
                xerr=None if std is None else std.fillna(0).to_numpy(), error_kw={"elinewidth": 1, "capsize": 2})
        ax.barh(y + 0.2, table[original], height=0.4, label="the original (one run)")
        ax.set_yticks(y, table.index)
        ax.invert_yaxis()
        low = float(np.nanmin(table[[ours, original]].to_numpy()))
        ax.set_xlim(max(0.0, low - 2), 100)
        ax.set_xlabel("accuracy (%)")
        ax.set_title(title)
        ax.legend(loc="upper left", bbox_to_anchor=(1.0, 1.0))
    return fig


def plot_bands(bands: Mapping[str, pd.DataFrame], metric: str, title: str | None = None,
               ylim: tuple[float, float] | None = None, xlabel: str = "epoch", target: float | None = None,
               x_scale: float = 1.0) -> Figure:
    """Mean across seeds as a line, ± one std as a band and min–max as a lighter band, one colour per
    model (``bands``: model -> :func:`mnistlib.stats.bands` table, indexed by epoch or by what
    ``xlabel`` names, divided by ``x_scale`` on the axis); ``target``: a dashed line at that value."""
    many = len(bands) + (target is not None) > 4  # then the legend goes under the axes, off the lines
    with plt.rc_context(STYLE):
        fig, ax = plt.subplots(figsize=(8, 5.4 if many else 4.2), layout="constrained")
        for (label, table), color in zip(bands.items(), _distinct_colors()):
            x = table.index / x_scale
            line, = ax.plot(x, table["mean"], label=label, color=color)
            ax.fill_between(x, table["mean"] - table["std"], table["mean"] + table["std"],
                            color=line.get_color(), alpha=0.25, linewidth=0)
            ax.fill_between(x, table["min"], table["max"], color=line.get_color(), alpha=0.1, linewidth=0)
        if target is not None:
            ax.axhline(target, color="crimson", linestyle="--", linewidth=1, label=f"target {target:g}%")
        ax.set_xlabel(xlabel)
        ax.set_ylabel(column_text(metric))
        if ylim:
            ax.set_ylim(*ylim)
        ax.set_title(title or f"{column_text(metric)}: mean across seeds, ±1 std (dark), min–max (light)")
        if many:
            ax.legend(loc="upper center", bbox_to_anchor=(0.5, -0.14), ncol=2, fontsize=8, frameon=False)
        else:
            ax.legend()
    return fig


def plot_sweep(table: pd.DataFrame, title: str = "weight decay sweep") -> Figure:
    """Mean test accuracy and the training–test gap against λ (log axis), one line per model;
    collapsed runs are drawn as crosses."""
    with plt.rc_context(STYLE):
        fig, (ax_acc, ax_gap) = plt.subplots(1, 2, figsize=(10, 3.8), layout="constrained")
        for model, part in table.groupby("model", sort=False):
            line, = ax_acc.plot(part["lambda"], part.mean_test_acc, "o-", label=model)
            ax_gap.plot(part["lambda"], part.gap, "o-", color=line.get_color(), label=model)
            bad = part[part.collapsed]
            ax_acc.plot(bad["lambda"], bad.mean_test_acc, "x", color="crimson", markersize=10, mew=2)
        ax_acc.plot([], [], "x", color="crimson", mew=2, label="collapsed to chance")
        for ax, ylabel in ((ax_acc, "mean test accuracy (%)"), (ax_gap, column_text("gap"))):
            ax.set_xscale("log")
            ax.set_xlabel("weight decay λ")
            ax.set_ylabel(ylabel)
        ax_acc.set_title("test accuracy")
        ax_gap.set_title("training − test gap")
        ax_acc.legend(fontsize=8)
        fig.suptitle(title)
    return fig


PERTURBATION_AXES = {"noise": "test noise std (normalized units)", "shift": "shift of the test images (pixels)",
                     "rotate": "rotation of the test images (degrees)"}


def _distinct_colors() -> list:
    """Twenty colours, the ten strong ones first: a legend of up to twenty lines never repeats one."""
    tab20 = matplotlib.colormaps["tab20"].colors
    return list(tab20[::2]) + list(tab20[1::2])


FAMILY_STYLES = ({"linestyle": "-", "marker": "o"}, {"linestyle": "-.", "marker": "s"},
                 {"linestyle": "--", "marker": "^"}, {"linestyle": ":", "marker": "d"})


def plot_robustness(table: pd.DataFrame, axes: Sequence[str] = ("noise",),
                    families: Mapping[str, Mapping[str, str]] | None = None, title: str | None = None) -> Figure:
    """Test accuracy against a perturbation's strength, one panel per axis ('noise', 'shift', 'rotate')
    and one line per run of a :func:`mnistlib.analysis.robustness.robustness` table (a panel uses the rows
    where the other two are 0): the mean over a configuration's random seeds, with ±1 std as a band where it
    has more than one. ``families``: family name -> {run label -> colour key}: each family is drawn in a line
    style of its own (:data:`FAMILY_STYLES`: solid, dash-dot, dashed, dotted) and runs of one colour key share
    a colour across families (the same training noise, say), so that two legends, colours and styles, tell them
    apart; without it every run is solid in a colour of its own."""
    if families is None:
        families = {"": {run: run for run in dict.fromkeys(table.run)}}
    keys = list(dict.fromkeys(key for members in families.values() for key in members.values()))
    colour = dict(zip(keys, _distinct_colors()))
    with plt.rc_context(STYLE):
        fig, panels = plt.subplots(1, len(axes), figsize=(5.5 * len(axes), 4), layout="constrained", squeeze=False)
        for ax, axis in zip(panels[0], axes):
            others = [a for a in PERTURBATION_AXES if a != axis]
            part = table[(table[others] == 0).all(axis=1)]
            for (family, members), style in zip(families.items(), FAMILY_STYLES):
                for run, key in members.items():
                    curve = part[part.run == run].groupby(axis).test_acc.agg(["mean", "std"]).sort_index()
                    ax.plot(curve.index, curve["mean"], markersize=3, color=colour[key], **style)
                    if curve["std"].notna().any():
                        ax.fill_between(curve.index, curve["mean"] - curve["std"], curve["mean"] + curve["std"],
                                        color=colour[key], alpha=0.15, linewidth=0)
            ax.set_xlabel(PERTURBATION_AXES[axis])
            ax.set_ylabel("test accuracy (%)")
        handles = [plt.Line2D([], [], color=colour[key], linewidth=2, label=key) for key in keys]
        if len(families) > 1:
            handles += [plt.Line2D([], [], color="0.3", label=family, markersize=4, **style)
                        for family, style in zip(families, FAMILY_STYLES)]
        # under the panels, never over a curve or the title
        fig.legend(handles=handles, loc="outside lower center", fontsize=7, ncols=4)
        if title:
            fig.suptitle(title)
    return fig


def plot_reliability(bins: Mapping[str, pd.DataFrame], title: str | None = None) -> Figure:
    """Reliability diagrams side by side: accuracy against mean confidence in each confidence bin
    (:func:`mnistlib.stats.calibration`), the diagonal where a model is as right as it is sure; under each, how
    many answers fall in each bin (a log axis: a bin of a few answers says little)."""
    with plt.rc_context(STYLE):
        fig, axes = plt.subplots(2, len(bins), figsize=(2.9 * len(bins), 4.4), layout="constrained", squeeze=False,
                                 sharey="row", sharex=True, gridspec_kw={"height_ratios": (3, 1.2)})
        for (top, bottom), (label, table) in zip(axes.T, bins.items()):
            used = table[table.answers > 0]
            centres = (used.lower + used.upper) / 2 * 100
            width = 100 / len(table) * 0.9
            top.plot([0, 100], [0, 100], ":", color="gray", linewidth=1)
            top.bar(centres, used.accuracy, width=width, color="tab:blue", alpha=0.7)
            top.plot(used.confidence, used.accuracy, "o", color="tab:red", markersize=3)
            top.set_title(label, fontsize=9)
            top.set_ylim(0, 100)
            bottom.bar(centres, used.answers, width=width, color="0.5")
            bottom.set_yscale("log")
            bottom.set_xlabel("confidence (%)")
            bottom.set_xlim(0, 100)
        axes[0][0].set_ylabel("accuracy in the bin (%)")
        axes[1][0].set_ylabel("answers")
        if title:
            fig.suptitle(title)
    return fig


def plot_against_lambda(table: pd.DataFrame, columns: Mapping[str, str], title: str | None = None) -> Figure:
    """One panel per column of ``table`` (``columns``: column -> axis label) against ``λ`` (a log axis;
    λ = 0 drawn at the left edge), one line per ``model``."""
    with plt.rc_context(STYLE):
        fig, axes = plt.subplots(1, len(columns), figsize=(4.6 * len(columns), 3.6), layout="constrained",
                                 squeeze=False)
        smallest = table.loc[table["lambda"] > 0, "lambda"].min()
        x = table["lambda"].where(table["lambda"] > 0, smallest / 10)  # λ = 0 one decade below the smallest
        xlabel = "weight decay λ" + (" (λ = 0 at the left)" if (table["lambda"] == 0).any() else "")
        for ax, (column, label) in zip(axes[0], columns.items()):
            for model, part in table.assign(x=x).groupby("model", sort=False):
                ax.plot(part.x, part[column], "o-", markersize=3, label=model)
            ax.set_xscale("log")
            ax.set_xlabel(xlabel)
            ax.set_ylabel(label)
        axes[0][0].legend(fontsize=8)
        if title:
            fig.suptitle(title)
    return fig


def plot_long(runs: Mapping[str, Run], turns: pd.DataFrame, title: str = "longer training") -> Figure:
    """Training and test loss per epoch (log scale), one panel per run, with the epoch of the
    lowest (5-epoch mean) test loss marked."""
    with plt.rc_context(STYLE):
        fig, axes = plt.subplots(1, len(runs), figsize=(5 * len(runs), 3.8), layout="constrained", squeeze=False)
        for ax, (label, run) in zip(axes[0], runs.items()):
            h = run.history
            ax.plot(h.epoch, h.train_loss, label="training loss")
            ax.plot(h.epoch, h.test_loss, label="test loss")
            epoch = turns.loc[label, "min_test_loss_epoch"]
            ax.axvline(epoch, color="gray", linestyle=":", label=f"lowest test loss (epoch {epoch})")
            ax.set_yscale("log")
            ax.set_xlabel("epoch")
            ax.set_ylabel("cross-entropy loss")
            ax.set_title(label)
            ax.legend(fontsize=8)
        fig.suptitle(title)
    return fig


def plot_ablation(table: pd.DataFrame, target: float | None = None,
                  title: str = "LeNet-5 recipe: final test accuracy, mean ± std over seeds") -> Figure:
    """One bar per recipe step (cumulative), with ± one std; an optional target line."""
    with plt.rc_context(STYLE):
        fig, ax = plt.subplots(figsize=(8, 0.55 * len(table) + 1.3), layout="constrained")
        y = np.arange(len(table))
        ax.barh(y, table.final_test_acc, xerr=table.final_test_acc_std.fillna(0), height=0.6, capsize=4)
        ax.set_yticks(y, table.index)
        ax.invert_yaxis()
        low = float(np.nanmin(table.final_test_acc))
        ax.set_xlim(max(0.0, low - 0.5), min(100, max(float(table.final_test_acc.max()), target or 0) + 0.3))
        if target is not None:
            ax.axvline(target, color="crimson", linestyle="--", label=f"target {target:g}%")
            ax.legend(loc="lower right")
        ax.set_xlabel("final test accuracy (%)")
        ax.set_title(title)
    return fig


def mistakes_figure(images: np.ndarray, labels: np.ndarray, proba: np.ndarray, title: str | None = None,
                    columns: int = 8) -> Figure:
    """Digits with their true label and the model's three most probable classes."""
    n = len(images)
    rows = max(1, -(-n // columns))
    with plt.rc_context(IMAGE_STYLE):
        fig, axes = plt.subplots(rows, columns, figsize=(columns * 1.25, rows * 1.7), layout="constrained",
                                 squeeze=False)
        for ax in axes.flat:
            ax.set_axis_off()
        for ax, image, label, p in zip(axes.flat, images, labels, proba):
            ax.imshow(image, cmap="gray_r")
            top = np.argsort(-p)[:3]
            ax.set_title(f"true {label}\n" + "\n".join(f"{c}: {p[c]:.2f}" for c in top), fontsize=8, loc="left")
        if n == 0:
            axes.flat[0].text(0.5, 0.5, "no digits match", ha="center", va="center")
        if title:
            fig.suptitle(title)
    return fig


def confusion_figure(confusion: np.ndarray, title: str = "confusion matrix (test set)",
                     highlight: tuple[int | None, int | None] = (None, None)) -> Figure:
    """Counts of (true, predicted) classes; the diagonal is correct. ``highlight`` outlines a row
    (true class) and/or a column (predicted class)."""
    with plt.rc_context({**STYLE, "axes.grid": False}):
        fig, ax = plt.subplots(figsize=(5.2, 4.6), layout="constrained")
        off = confusion.astype(float).copy()
        np.fill_diagonal(off, np.nan)  # colour the mistakes; the diagonal would swamp them
        ax.imshow(off, cmap="Reds")
        for (i, j), count in np.ndenumerate(confusion):
            ax.text(j, i, str(count), ha="center", va="center", fontsize=7,
                    color="black" if i != j else "#2a6")
        row, col = highlight
        if row is not None:
            ax.add_patch(plt.Rectangle((-0.5, row - 0.5), 10, 1, fill=False, edgecolor="#1f77b4", linewidth=2))
        if col is not None:
            ax.add_patch(plt.Rectangle((col - 0.5, -0.5), 1, 10, fill=False, edgecolor="#ff7f0e", linewidth=2))
        ax.set_xticks(range(10)), ax.set_yticks(range(10))
        ax.set_xlabel("predicted class")
        ax.set_ylabel("true class")
        ax.set_title(title)
    return fig


def pipeline_figure(raw: np.ndarray, processed: torch.Tensor, captions: Sequence[str], title: str | None = None) -> Figure:
    """Digits as stored (28×28, 0–255) above the model's input (32×32 after padding and
    normalization), with the 28×28 area outlined and the normalized scale shown."""
    n = len(raw)
    with plt.rc_context(IMAGE_STYLE):
        fig, axes = plt.subplots(2, max(n, 1), figsize=(max(n, 1) * 1.15 + 0.8, 2.9), layout="constrained",
                                 squeeze=False)
        shown = None
        for i in range(n):
            axes[0][i].imshow(raw[i], cmap="gray_r", vmin=0, vmax=255)
            axes[0][i].set_title(captions[i], fontsize=8)
            shown = axes[1][i].imshow(processed[i, 0].cpu().numpy(), cmap="gray_r", vmin=BACKGROUND, vmax=WHITE)
            axes[1][i].add_patch(plt.Rectangle((1.5, 1.5), 28, 28, fill=False, edgecolor="#1f77b4",
                                               linewidth=0.8, linestyle="--"))
        for ax in axes.flat:
            ax.set_xticks([]), ax.set_yticks([])
        axes[0][0].set_ylabel("stored\n28×28", rotation=0, labelpad=24, fontsize=8)
        axes[1][0].set_ylabel("model input\n32×32", rotation=0, labelpad=28, fontsize=8)
        if shown is not None:
            fig.colorbar(shown, ax=axes[1].tolist(), shrink=0.9, label="normalized value")
        if title:
            fig.suptitle(title)
    return fig
