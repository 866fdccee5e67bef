"""Interactive views for Jupyter (ipywidgets), each with a static twin for the HTML report.

    >>> from mnistlib.report.widgets import RunExplorer
    >>> explorer = RunExplorer()            # every run in the store
    >>> explorer                            # in Jupyter: the controls and a live figure
    >>> explorer.figure()                   # the same figure for the current selection

Every view reads finished runs from the run store and data from the data module; nothing is
trained. Each draws with a function of :mod:`mnistlib.report.plots`, so its ``figure()`` (what the
controls show now) is the static twin a notebook puts beside it for readers of the HTML. Figures
reach the widgets as PNG bytes in an ``Image`` widget and tables as ``HTML``, so an executed
notebook's saved widget state shows them as they were left.
"""
from __future__ import annotations

import io
from typing import Mapping, Sequence

import ipywidgets as w
import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import torch
from IPython.display import display
from matplotlib.figure import Figure

from . import plots
from ..data.augment import add_noise
from ..data.mnist import MEAN, PAD, STD, MNISTArrays, load_mnist, to_tensor
from ..errors import ConfigError, RunStoreError
from ..data.perturb import Perturbation
from ..runconfig import RunConfig
from ..store.store import Run, RunStore, summarize
from ..stats import ORIGINAL_WINDOW, STAT_COLUMNS
from ..words import column_text
from ..training.inference import load_model, mistakes, test_predictions
from ..data.cache import perturbed_images, run_tensors

METRICS = {"test accuracy": "test_acc", "training accuracy": "train_acc", "test loss": "test_loss",
           "training loss": "train_loss", "training − test accuracy": "gap"}
ALL = "all"


def png(fig: Figure) -> bytes:
    """The figure as PNG bytes (then closed), for an ``Image`` widget."""
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", bbox_inches="tight", dpi=90)
    plt.close(fig)
    return buffer.getvalue()


def _image() -> w.Image:
    """An Image widget shown at its own size (a column of widgets would otherwise stretch it)."""
    return w.Image(format="png", layout=w.Layout(align_self="flex-start"))


class _View:
    """Shared plumbing: ``widget`` is what Jupyter shows; ``update`` redraws from the controls."""

    widget: w.Widget

    def _ipython_display_(self):
        display(self.widget)

    def _first_page(self, pages: int) -> None:
        """Back to page 1 of ``pages`` after a filter changed, drawing once."""
        moved = self.page.value != 0
        self.page.value = 0  # the page slider's observer draws when the value changes
        self.page.max = pages - 1
        if not moved:
            self._draw()

    def _watch(self, *controls: w.Widget) -> None:
        for control in controls:
            control.observe(lambda change: self.update(), names="value")


class RunExplorer(_View):
    """Choose stored runs and a metric; the curves, and the original's statistics over the epoch
    window of the range slider, recomputed as it moves."""

    def __init__(self, runs: Sequence[str] | None = None, *, store: RunStore | None = None,
                 selected: Sequence[str] | None = None, metric: str = "test_acc",
                 window: tuple[int, int] = ORIGINAL_WINDOW, labels: dict[str, str] | None = None):
        self.store = store or RunStore()
        names = list(runs) if runs is not None else [p.name for p in self.store.run_folders()]
        if not names:
            raise RunStoreError(f"{self.store.root}: no runs to explore; train one first (mnistlib train ...)")
        if metric not in METRICS.values():
            raise ConfigError(f"metric must be one of {', '.join(METRICS.values())}; got {metric!r}")
        self._runs = {name: self.store.load(name) for name in names}  # read once; a bad run fails here
        self.labels = {name: (labels or {}).get(name, name) for name in names}
        longest = max(len(run.history) for run in self._runs.values())
        lo, hi = window
        self.runs = w.SelectMultiple(options=[(self.labels[n], n) for n in names],
                                     value=tuple(selected or names[:4]), rows=min(8, len(names)),
                                     description="runs", layout=w.Layout(width="460px"))
        self.metric = w.Dropdown(options=list(METRICS.items()), value=metric, description="metric")
        self.window = w.IntRangeSlider(value=(min(lo, longest), min(hi, longest)), min=1, max=max(longest, 1),
                                       description="statistics", continuous_update=False,
                                       layout=w.Layout(width="460px"))
        self.image = _image()
        self.table = w.HTML()
        self._watch(self.runs, self.metric, self.window)
        self.widget = w.VBox([w.HBox([self.runs, w.VBox([self.metric, self.window])]), self.image, self.table])
        self.update()

    def chosen(self) -> dict[str, Run]:
        """The selected runs, by label."""
        return {self.labels[name]: self._runs[name] for name in self.runs.value}

    def statistics(self) -> pd.DataFrame:
        """The original's statistics of the selected runs over the slider's epoch window."""
        return summarize(self.chosen(), tuple(self.window.value))

    def figure(self) -> Figure:
        """The selected runs' curves of the chosen metric, the statistics window shaded."""
        fig = plots.plot_compare(self.chosen(), [self.metric.value])
        lo, hi = self.window.value
        fig.axes[0].axvspan(lo, hi, color="gray", alpha=0.12, label=f"statistics: epochs {lo}–{hi}")
        fig.axes[0].legend(fontsize=8)
        return fig

    def update(self) -> None:
        if not self.runs.value:
            self.image.value, self.table.value = b"", "<i>choose one or more runs</i>"
            return
        self.image.value = png(self.figure())
        stats = self.statistics()[[*STAT_COLUMNS, "window"]]
        lo, hi = self.window.value
        shown = stats.rename(columns=column_text)
        digits = {column_text(c): (lambda v: f"{v:.4f}") if "loss" in c else (lambda v: f"{v:.2f}")
                  for c in STAT_COLUMNS}  # losses to 4 places, accuracies to 2
        self.table.value = (f"<b>Means over epochs {lo}–{hi}</b>, best test accuracy and lowest test loss:"
                            + shown.to_html(formatters=digits, classes="mnistlib-table"))


class DigitInspector(_View):
    """The test digits a stored run gets wrong, each with its most probable classes, and the
    confusion matrix; filtered by true and by predicted class. With ``choices`` (run name ->
    label), a menu switches between runs (each run's predictions are computed once)."""

    def __init__(self, run: Run | str, *, data: MNISTArrays | None = None, store: RunStore | None = None,
                 checkpoint: str = "last", per_page: int = 24, label: str | None = None,
                 choices: dict[str, str] | None = None):
        self.store = store or RunStore()
        self.arrays = data if data is not None else load_mnist()
        self.checkpoint = checkpoint
        self.per_page = per_page
        first = run if isinstance(run, Run) else self.store.load(run)
        self._runs: dict[str, Run] = {first.name: first}
        self._predictions: dict[str, dict] = {}
        names = dict(choices or {})
        names.setdefault(first.name, label or first.label)
        self.run_select = w.Dropdown(options=[(text, name) for name, text in names.items()], value=first.name,
                                     description="run", layout=w.Layout(width="360px"))
        classes = [("all", ALL)] + [(str(d), d) for d in range(10)]
        self.true_class = w.Dropdown(options=classes, value=ALL, description="true")
        self.predicted_class = w.Dropdown(options=classes, value=ALL, description="predicted")
        self.page = w.IntSlider(value=0, min=0, max=0, description="page", continuous_update=False)
        self.summary = w.HTML()
        self.image = _image()
        self.matrix = _image()
        self._watch(self.run_select, self.true_class, self.predicted_class)
        self.page.observe(lambda change: self._draw(), names="value")
        controls = [self.true_class, self.predicted_class, self.page]
        self.widget = w.VBox([w.HBox(([self.run_select] if choices else []) + controls[:2]),
                              w.HBox([controls[2], self.summary]), w.HBox([self.image, self.matrix])])
        self.update()

    def _load(self) -> None:
        """Predictions of the chosen run's checkpoint on its test set (computed once per run)."""
        name = self.run_select.value
        if name not in self._runs:
            self._runs[name] = self.store.load(name)
        if name not in self._predictions:
            self._predictions[name] = test_predictions(self._runs[name], self.arrays, self.checkpoint)
        self.run, self.name = self._runs[name], self.run_select.label
        p = self._predictions[name]
        self.index, self.images, self.label, self.proba = p["index"], p["images"], p["label"], p["proba"]
        self.predicted = self.proba.argmax(1)
        self.confusion = pd.crosstab(pd.Categorical(self.label, range(10)), pd.Categorical(self.predicted, range(10)),
                                     dropna=False).to_numpy()

    @property
    def predictions(self) -> dict:
        """The chosen run's :func:`~mnistlib.training.inference.test_predictions` (computed once per run)."""
        return self._predictions[self.run_select.value]

    def mistakes(self) -> np.ndarray:
        """Positions (into this run's test set) of wrong predictions matching the filters."""
        wrong = mistakes(self.predictions)
        keep = np.ones(len(wrong), dtype=bool)
        if self.true_class.value != ALL:
            keep &= self.label[wrong] == self.true_class.value
        if self.predicted_class.value != ALL:
            keep &= self.predicted[wrong] == self.predicted_class.value
        return wrong[keep]

    def figure(self) -> Figure:
        """The current page of matching mistakes."""
        chosen = self.mistakes()[self.page.value * self.per_page:(self.page.value + 1) * self.per_page]
        return plots.mistakes_figure(self.images[chosen], self.label[chosen],
                                     self.proba[chosen], title=f"{self.name}: {self._filter_text()}")

    def confusion_figure(self) -> Figure:
        """The confusion matrix, the filtered row and column outlined."""
        pick = lambda v: None if v == ALL else v  # noqa: E731
        return plots.confusion_figure(self.confusion, title=f"{self.name}: confusion matrix",
                                      highlight=(pick(self.true_class.value), pick(self.predicted_class.value)))

    def _filter_text(self) -> str:
        parts = [f"true {self.true_class.value}" if self.true_class.value != ALL else "",
                 f"predicted {self.predicted_class.value}" if self.predicted_class.value != ALL else ""]
        return "mistakes" + (" with " + ", ".join(p for p in parts if p) if any(parts) else "")

    def update(self) -> None:
        self._load()
        self.matrix.value = png(self.confusion_figure())
        self._first_page(max(1, -(-len(self.mistakes()) // self.per_page)))

    def _draw(self) -> None:
        matching = len(self.mistakes())
        wrong = len(mistakes(self.predictions))
        digits = "test digits" if self.predictions["split"] == "test" else "held-out training digits"
        self.summary.value = (f"<b>{wrong}</b> of {len(self.label):,} {digits} wrong "
                              f"({100 * wrong / len(self.label):.2f}%); {matching} match "
                              f"({self._filter_text()}); page {self.page.value + 1} of {self.page.max + 1}")
        self.image.value = png(self.figure())


class NoisePreview(_View):
    """The same digits with the Gaussian noise the training loop adds at the slider's std
    (:func:`mnistlib.data.augment.add_noise`, the function training calls)."""

    def __init__(self, data: MNISTArrays | None = None, *, std: float = 0.2, n: int = 8, seed: int = 0):
        arrays = data if data is not None else load_mnist()
        first = [int(np.flatnonzero(arrays.train_labels == d)[0]) for d in range(min(n, 10))]
        self.x = to_tensor(arrays.train_images[first])
        self.seed = seed
        self.std = w.FloatSlider(value=std, min=0.0, max=1.0, step=0.05, description="noise std",
                                 continuous_update=False)
        self.image = _image()
        self.stats = w.HTML()
        self._watch(self.std)
        self.widget = w.VBox([self.std, self.image, self.stats])
        self.update()

    def figure(self) -> Figure:
        return plots.noise_preview(self.x, [self.std.value], seed=self.seed)

    def update(self) -> None:
        self.image.value = png(self.figure())
        noisy = add_noise(self.x, self.std.value, 0.0, torch.Generator().manual_seed(self.seed))
        change = (noisy - self.x).std().item()
        self.stats.value = (f"std {self.std.value:.2f} on the normalized input (a pixel's range is "
                            f"{self.x.min().item():.2f} to {self.x.max().item():.2f}); measured std of the added "
                            f"noise: {change:.3f}")


class DataExplorer(_View):
    """Browse the training or test set by class: each digit as stored and as the model gets it
    (padded to 32×32, normalized)."""

    def __init__(self, data: MNISTArrays | None = None, *, per_page: int = 8):
        self.arrays = data if data is not None else load_mnist()
        self.per_page = per_page
        self.split = w.ToggleButtons(options=["train", "test"], value="train", description="set")
        self.digit = w.Dropdown(options=list(range(10)), value=0, description="digit")
        self.page = w.IntSlider(value=0, min=0, max=0, description="page", continuous_update=False)
        self.image = _image()
        self.stats = w.HTML()
        self._watch(self.split, self.digit)
        self.page.observe(lambda change: self._draw(), names="value")
        self.widget = w.VBox([w.HBox([self.split, self.digit, self.page]), self.image, self.stats])
        self.update()

    def _split(self) -> tuple[np.ndarray, np.ndarray]:
        a = self.arrays
        return (a.train_images, a.train_labels) if self.split.value == "train" else (a.test_images, a.test_labels)

    def indices(self) -> np.ndarray:
        """Indices (into the chosen set) of the chosen digit."""
        return np.flatnonzero(self._split()[1] == self.digit.value)

    def figure(self) -> Figure:
        images, _ = self._split()
        chosen = self.indices()[self.page.value * self.per_page:(self.page.value + 1) * self.per_page]
        return plots.pipeline_figure(images[chosen], to_tensor(images[chosen]), [f"#{i}" for i in chosen],
                                     title=f"{self.split.value} set, digit {self.digit.value}")

    def update(self) -> None:
        self._first_page(max(1, -(-len(self.indices()) // self.per_page)))

    def _draw(self) -> None:
        self.image.value = png(self.figure())
        images, labels = self._split()
        self.stats.value = (f"{len(self.indices()):,} images of {self.digit.value} in the {self.split.value} set "
                            f"({len(labels):,} in all); page {self.page.value + 1} of {self.page.max + 1}. Model input: "
                            f"pad {PAD} black pixels per side, scale to [0, 1], subtract {MEAN}, divide by {STD}.")


class PerturbationViewer(_View):
    """Pick a perturbation of the test images (noise, a shift, a rotation) and its strength: the digits
    as the models get them, each with every model's answer (:mod:`mnistlib.data.perturb`; nothing is trained)."""

    RANGES = {"noise": (0.0, 1.5, 0.1), "shift": (0, 8, 1), "rotate": (0, 90, 5)}  # min, max, step

    def __init__(self, runs: Mapping[str, Run], data: MNISTArrays | None = None, *, on: RunConfig | None = None,
                 kind: str = "noise", strength: float = 1.0, n: int = 8, seed: int = 0):
        if kind not in self.RANGES:
            raise ConfigError(f"kind must be one of {', '.join(self.RANGES)}; got {kind!r}")
        self.arrays = data if data is not None else load_mnist()
        self.on, self.n, self.seed = on or next(iter(runs.values())).config, n, seed
        self.models = {label: load_model(run) for label, run in runs.items()}
        self.kind = w.ToggleButtons(options=list(self.RANGES), value=kind, description="perturbation")
        low, high, step = self.RANGES[kind]
        self.strength = w.FloatSlider(value=strength, min=low, max=high, step=step, description="strength",
                                      continuous_update=False)
        self.image = _image()
        self.kind.observe(lambda change: self._rescale(), names="value")
        self._watch(self.strength)
        self.widget = w.VBox([w.HBox([self.kind, self.strength]), self.image])
        self.update()

    def _rescale(self) -> None:
        low, high, step = self.RANGES[self.kind.value]
        self.strength.min, self.strength.max, self.strength.step = low, high, step
        self.update()

    def perturbation(self) -> Perturbation:
        """The perturbation the controls describe."""
        value = self.strength.value
        return Perturbation(seed=self.seed, **{self.kind.value: int(value) if self.kind.value == "shift" else value})

    @torch.no_grad()
    def figure(self) -> Figure:
        x = perturbed_images(self.on, self.arrays, torch.device("cpu"), self.perturbation())[:self.n]
        y = run_tensors(self.on, self.arrays, torch.device("cpu")).y_test[:self.n]
        answers = {label: model(x).argmax(1).numpy() for label, model in self.models.items()}
        units = {"noise": "std", "shift": "pixels", "rotate": "degrees"}[self.kind.value]
        return plots.perturbed_digits(x, y.numpy(), answers, title=f"test digits, {self.kind.value} "
                                                                   f"{self.strength.value:g} {units}")

    def update(self) -> None:
        self.image.value = png(self.figure())
