"""What the report's notebooks call: validated parameters, profiles, runs, figures, headlines.

Each notebook has a papermill ``parameters`` cell and then, first thing::

    ctx = setup_notebook("03_weight_decay", globals())

which takes the report parameters the notebook defined, checks every value (a bad one stops here
with one line naming it), loads the data and opens the run store. After that the notebook only asks ``ctx`` for runs and figures:
finished runs are read from the store, so executing a notebook again does not retrain.
"""
from __future__ import annotations

import html
import json
import shutil
import time
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterable, Mapping

import matplotlib.pyplot as plt
import pandas as pd
from IPython.display import HTML, Image, display

from .. import paths
from ..original import record as original
from ..data.mnist import MNISTArrays, load_mnist
from ..errors import ConfigError, RunHealthWarning
from .grids import ORIGINAL_GROUPS, grid_label
from .parameters import PROFILES, ReportParameters, Settings
from .plots import save_figure
from ..runconfig import RunConfig
from ..store.store import Run, RunStore
from ..training.recipes import Recipe
from ..analysis.seeds import by_key
from ..words import REUSED, TRAINED, lambda_values_text, optimizer_text, seeds_range
from ..training.lifecycle import train


@dataclass
class NotebookContext:
    """A notebook's validated settings, its data, run store and output folders."""

    notebook: str
    profile: str
    window: tuple[int, int]
    common: dict                      # RunConfig fields shared by every run of the report
    grid: dict[str, dict[str, RunConfig]]   # the original's runs at the first seed
    seeds: tuple[int, ...]                  # the random seeds of each of them
    original: dict[str, dict]               # the same over every seed: group -> {(label, seed): config}
    beyond: dict[str, dict]           # the runs past the original (grids.beyond_grid), by group
    reproduce: dict[str, dict]        # notebook 7's runs (grids.reproduction_grid), by group
    recipes: dict[str, dict]          # notebook 8's runs (grids.recipe_grid), by group
    sgd_recipe: Recipe                # the SGD recipe of recipes["sgd"]
    store: RunStore
    arrays: MNISTArrays
    figures: Path
    reports: Path
    progress: bool
    timings: dict[str, float] = field(default_factory=dict)

    def run(self, label: str, cfg: RunConfig) -> Run:
        """Train ``cfg`` or read it from the store; one line saying which goes to the notebook's
        runs log (``reports/<profile>/logs/<notebook>-runs.log``), not onto the page."""
        reused = self.store.find_finished(cfg) is not None
        start = time.perf_counter()
        with warnings.catch_warnings():
            # train() warns about a collapsed run; the line printed below states its health instead
            warnings.filterwarnings("ignore", category=RunHealthWarning)
            run = train(cfg, store=self.store, data=self.arrays, progress=self.progress)
        seconds = time.perf_counter() - start
        how = REUSED if reused else f"{TRAINED} in {seconds:.0f} s"
        self.timings[label] = seconds
        self.log(f"{label}: {how} ({run.path.name}, {run.epochs_done} epochs, {run.health})")
        return run

    def log(self, line: str) -> None:
        """Append a line of plumbing (what was trained or reused) to this notebook's runs log."""
        path = self.reports / "logs" / f"{self.notebook}-runs.log"
        path.parent.mkdir(parents=True, exist_ok=True)
        with open(path, "a", encoding="utf-8") as log:
            log.write(line + "\n")

    def original_runs(self, group: str) -> dict[str, Run]:
        """All runs of one group of the original's grid ('baseline', 'mlp', 'weight_decay', 'noise',
        'fixed_noise')."""
        if group not in self.grid:
            raise ConfigError(f"unknown run group {group!r}; choose one of {', '.join(self.grid)}")
        return {label: self.run(label, cfg) for label, cfg in self.grid[group].items()}

    def seed_runs(self, group: str) -> dict[str, list[Run]]:
        """One group of the original's grid over every random seed of the report: {label: [a run per seed]}
        (the first the run :meth:`original_runs` gives)."""
        if group not in self.original:
            raise ConfigError(f"unknown run group {group!r}; choose one of {', '.join(self.original)}")
        return by_key({key: self.run(grid_label(group, key), cfg) for key, cfg in self.original[group].items()})

    def all_seed_runs(self) -> dict[str, list[Run]]:
        """The original's 13 runs over every random seed, in the original's table order: {label: [runs]}."""
        return {label: runs for group in ORIGINAL_GROUPS for label, runs in self.seed_runs(group).items()}

    def beyond_runs(self, group: str) -> dict:
        """The runs of one group of the beyond-the-original grid, keyed as in :func:`grids.beyond_grid`."""
        if group not in self.beyond:
            raise ConfigError(f"unknown run group {group!r}; choose one of {', '.join(self.beyond)}")
        return {key: self.run(grid_label(group, key), cfg) for key, cfg in self.beyond[group].items()}

    def reproduce_runs(self, group: str) -> dict:
        """The runs of one group of notebook 7's grid, keyed as in :func:`grids.reproduction_grid`."""
        if group not in self.reproduce:
            raise ConfigError(f"unknown run group {group!r}; choose one of {', '.join(self.reproduce)}")
        return {key: self.run(grid_label(group, key), cfg) for key, cfg in self.reproduce[group].items()}

    def recipe_runs(self, group: str) -> dict:
        """The runs of one group of notebook 8's grid ('fast', 'far'), keyed (step, seed)."""
        if group not in self.recipes:
            raise ConfigError(f"unknown run group {group!r}; choose one of {', '.join(self.recipes)}")
        return {key: self.run(grid_label(group, key), cfg) for key, cfg in self.recipes[group].items()}

    def original_curves(self, labels) -> dict:
        """The original's published history (epochs 1–50) for each of ``labels`` the original ran, for drawing
        beside ours; labels as the report prints them ('LeNet-5', 'LeNet-5, λ=1e-4')."""
        known = set(original.run_table().label)
        return {label: original.history(label).query("epoch >= 1") for label in labels if label in known}

    def stored_beyond(self) -> dict[str, dict] | None:
        """Every group of the beyond-the-original grid read from the store, or None if any of its
        runs has not finished there (nothing is trained)."""
        groups = {}
        for group, configs in self.beyond.items():
            groups[group] = {}
            for key, cfg in configs.items():
                run = self.store.find_finished(cfg)
                if run is None:
                    return None
                groups[group][key] = run
        return groups

    def config(self, **fields) -> RunConfig:
        """A RunConfig with this report's shared settings plus ``fields``."""
        return RunConfig(**{**self.common, **fields})

    def perturbed_on(self) -> RunConfig:
        """The config whose test images the analyses of perturbed inputs use (notebooks 3, 4 and 6):
        the report's, or in a profile with ``perturbed_images`` (quick) that many of them, so that
        dozens of evaluations per notebook stay quick."""
        images = PROFILES[self.profile].perturbed_images
        return self.config(test_subset=images) if images and images < self.test_images() else self.config()

    def test_images(self, config: RunConfig | None = None) -> int:
        """How many test images ``config`` (default: the report's) evaluates on."""
        return (config or self.config()).test_subset or len(self.arrays.test_labels)

    def show(self, fig, name: str, caption: str | None = None, twin: bool = False, headline: bool = False) -> None:
        """Save ``fig`` as ``figures/<profile>/<notebook number>-<name>.png`` (a stable name), show
        that very file in the notebook (whatever the matplotlib backend), and close the figure; then its
        ``caption``, under it: what to see in it (every figure but a widget's twin has one).

        ``twin``: the figure is the static twin of the widget above it; the HTML report leaves it out
        where the widget is drawn from its saved state, and keeps it where it cannot be (no widget
        JavaScript), as a reader of the .ipynb on a site without widgets sees it. ``headline``: the
        report's index page shows this figure beside the headline numbers."""
        (path,) = save_figure(fig, f"{self.notebook.split('_')[0]}-{name}", self.figures, formats=("png",))
        title = fig._suptitle.get_text() if fig._suptitle else " / ".join(
            ax.get_title() for ax in fig.axes if ax.get_title())
        plt.close(fig)
        display(Image(filename=str(path), metadata={"alt": title or name.replace("-", " "), "twin": twin}))
        if caption:
            display(HTML(f'<p class="mnistlib-caption"><b>Figure.</b> {html.escape(caption)}</p>'))
        if headline:
            target = self.reports / "headlines" / "figure.png"
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(path, target)

    def headline(self, **values: Any) -> None:
        """Record this notebook's headline numbers for the report's index page."""
        path = self.reports / "headlines" / f"{self.notebook}.json"
        path.parent.mkdir(parents=True, exist_ok=True)
        values = {k: round(v, 4) if isinstance(v, float) else v for k, v in values.items()}
        path.write_text(json.dumps(values, indent=2, ensure_ascii=False, default=str))

    def save_table(self, table: pd.DataFrame, name: str) -> None:
        """Write ``table`` as ``reports/<profile>/<name>.csv`` (for README and other tools). Returns
        nothing, so a cell ending with it shows no path of the machine that ran it."""
        path = self.reports / f"{name}.csv"
        path.parent.mkdir(parents=True, exist_ok=True)
        table.to_csv(path)

    def describe(self, groups: Mapping[str, Iterable[RunConfig]] | None = None) -> pd.DataFrame:
        """The settings this page's runs used, as a table for the reader: one column per group of runs (``groups``:
        name -> the group's configs), each row what those configs set: epochs, batch size, images, random seeds,
        optimizer and loss, weight decay (and noise, where a run has some); a row the groups share reads the same in each column. Without ``groups``, the
        original's runs of this report over its random seeds (notebooks 1–5's)."""
        if groups is None:
            groups = {"our runs of the original's configurations": [cfg for runs in self.original.values()
                                                                     for cfg in runs.values()]}
        p = PROFILES[self.profile]
        columns = {name: self._settings(list(configs)) for name, configs in groups.items()}
        shared = {"profile": f"{self.profile}: {p.description}", "data source": self.arrays.source,
                  "statistics window (epochs)": f"{self.window[0]}–{self.window[1]}",
                  "test images of the perturbed-input analyses": f"{self.test_images(self.perturbed_on()):,}"}
        table = pd.DataFrame({name: {**column, **shared} for name, column in columns.items()})
        table.index.name = "setting"
        return table

    def _settings(self, configs: list[RunConfig]) -> dict[str, str]:
        """What a group of configs sets, each value once ('2, 30' where they differ)."""
        each = lambda values: ", ".join(dict.fromkeys(str(v) for v in values))  # noqa: E731
        images = lambda n, total: f"{n:,}" if n else f"all {total:,}"  # noqa: E731
        train = [images(c.train_subset, len(self.arrays.train_labels) - c.validation)
                 + (f" ({c.validation:,} held out for validation)" if c.validation else "") for c in configs]
        return {"epochs": each(c.epochs for c in configs), "batch size": each(c.batch_size for c in configs),
                "training images": each(train),
                "test images": each(images(c.test_subset, len(self.arrays.test_labels)) for c in configs),
                "random seeds": seeds_range(sorted({c.seed for c in configs})),
                "optimizer and loss": each(optimizer_text(c, decay=False) for c in configs),
                "weight decay (λ)": lambda_values_text(c.weight_decay for c in configs),
                **({"noise on the training images (std)": each(f"{std:g}" for std in sorted({c.noise_std for c in configs}))}
                   if any(c.noise_std for c in configs) else {})}


def check_parameters(**parameters) -> Settings:
    """Check the report's parameters (no I/O; see :class:`mnistlib.report.parameters.ReportParameters`) and
    return the runs they ask for; the first bad one raises ConfigError naming it."""
    return ReportParameters.from_mapping(parameters).settings()


def setup_notebook(notebook: str, namespace: Mapping[str, Any] | None = None, **parameters) -> NotebookContext:
    """Check a notebook's parameters (see :func:`check_parameters`), then load data and open the store.

    ``namespace``: the notebook's ``globals()``, whose report parameters (the names its parameters
    cell defines) are taken; ``parameters`` name more, or override them."""
    given = {name: namespace[name] for name in ReportParameters.names() if name in (namespace or {})}
    s = check_parameters(**{**given, **parameters})
    pd.set_option("display.max_colwidth", None)  # a table cell is never cut short on the page
    return NotebookContext(
        notebook=notebook, profile=s.profile, window=s.window, common=s.common, grid=s.grid, seeds=s.seeds,
        original=s.original, beyond=s.beyond,
        reproduce=s.reproduce, recipes=s.recipes, sgd_recipe=s.sgd_recipe, store=RunStore(s.folders["runs_dir"]),
        arrays=load_mnist(s.folders["data_dir"]),
        figures=(s.folders["figures_dir"] or paths.figures_dir()) / s.profile,
        reports=(s.folders["reports_dir"] or paths.reports_dir()) / s.profile, progress=s.progress)


