"""Figures in one labelled style: one run's curves (the seed's ``graph`` mode) and several
runs compared (``graph compare``). Functions return matplotlib Figures; ``save_figure``
writes PNG and SVG under ``figures/`` with stable names.
"""
from __future__ import annotations

import re
from pathlib import Path
from typing import Iterable, Sequence

import matplotlib.pyplot as plt
import pandas as pd
from matplotlib.figure import Figure

from . import config
from .runs import Run

METRIC_LABELS = {
    "train_loss": "training loss", "test_loss": "test loss",
    "train_acc": "training accuracy (%)", "test_acc": "test accuracy (%)",
}
STYLE = {
    "figure.dpi": 100, "savefig.dpi": 120, "axes.grid": True, "grid.alpha": 0.3,
    "axes.spines.top": False, "axes.spines.right": False, "legend.frameon": False,
    "font.size": 10, "axes.titlesize": 11,
}


def _history(run: Run | pd.DataFrame) -> pd.DataFrame:
    return run.history if isinstance(run, Run) else run


def plot_run(run: Run | pd.DataFrame, title: str | None = None) -> Figure:
    """Loss and accuracy per epoch, training vs test, side by side."""
    history = _history(run)
    title = title or (run.label if isinstance(run, Run) else None)
    with plt.rc_context(STYLE):
        fig, (ax_loss, ax_acc) = plt.subplots(1, 2, figsize=(10, 3.8), layout="constrained")
        for ax, kind in ((ax_loss, "loss"), (ax_acc, "acc")):
            for split, style in (("train", "-"), ("test", "--")):
                ax.plot(history.epoch, history[f"{split}_{kind}"], style, label=split)
            ax.set_xlabel("epoch")
            ax.set_ylabel("cross-entropy loss" if kind == "loss" else "accuracy (%)")
            ax.legend()
        ax_loss.set_title("loss")
        ax_acc.set_title("accuracy")
        if title:
            fig.suptitle(title)
    return fig


def plot_compare(runs: Sequence[Run], metrics: Iterable[str] = ("test_loss", "test_acc"),
                 labels: Sequence[str] | None = None, title: str | None = None,
                 ylim: dict[str, tuple[float, float]] | None = None) -> Figure:
    """One panel per metric, one line per run."""
    metrics = list(metrics)
    unknown = [m for m in metrics if m not in METRIC_LABELS]
    if unknown:
        raise ValueError(f"unknown metric {unknown[0]!r}; choose from {', '.join(METRIC_LABELS)}")
    labels = list(labels) if labels is not None else [run.label for run in runs]
    with plt.rc_context(STYLE):
        fig, axes = plt.subplots(1, len(metrics), figsize=(5 * len(metrics), 3.8), layout="constrained",
                                 squeeze=False)
        for ax, metric in zip(axes[0], metrics):
            for run, label in zip(runs, labels):
                ax.plot(run.history.epoch, run.history[metric], label=label)
            ax.set_xlabel("epoch")
            ax.set_ylabel(METRIC_LABELS[metric])
            ax.set_title(METRIC_LABELS[metric])
            if ylim and metric in ylim:
                ax.set_ylim(*ylim[metric])
        axes[0][-1].legend(fontsize=8)
        if title:
            fig.suptitle(title)
    return fig


def figure_name(text: str) -> str:
    """A stable file stem from free text: lower case, [a-z0-9.-] only."""
    return re.sub(r"[^a-z0-9.]+", "-", text.lower()).strip("-") or "figure"


def save_figure(fig: Figure, name: str, folder: str | Path | None = None,
                formats: Sequence[str] = ("png", "svg")) -> list[Path]:
    """Write ``fig`` as ``<folder>/<name>.<fmt>`` for each format; returns the paths."""
    folder = Path(folder) if folder is not None else config.figures_dir()
    folder.mkdir(parents=True, exist_ok=True)
    paths = []
    for fmt in formats:
        path = folder / f"{figure_name(name)}.{fmt}"
        fig.savefig(path, bbox_inches="tight")
        paths.append(path)
    return paths
