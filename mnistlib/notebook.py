"""What the report's notebooks call: validated parameters, profiles, runs, figures, headlines.

Each notebook has a papermill ``parameters`` cell and then, first thing::

    ctx = setup_notebook("03_weight_decay", profile=profile, epochs=epochs, ...,
                         weight_decays=weight_decays)

which checks every value (a bad one stops here with one line naming it), loads the data and
opens the run store. After that the notebook only asks ``ctx`` for runs and figures:
finished runs are read from the store, so executing a notebook again does not retrain.
"""
from __future__ import annotations

import json
import time
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Sequence

import pandas as pd

from . import config
from .data import MNISTArrays, load_mnist
from .errors import ConfigError, RunHealthWarning
from .beyond import GRIDS, beyond_grid, key_label
from .experiments import (MLP_NAMES, REPRO_GRIDS, SEED_NOISE_STDS, SEED_WEIGHT_DECAYS, flat, reproduction_grid,
                          seed_grid)
from .models import resolve_model_name
from .runconfig import RunConfig
from .runs import Run, RunStore
from .training import train


@dataclass(frozen=True)
class Profile:
    """How much of the seed's experiment a report runs: epochs, data, statistics window."""

    epochs: int
    train_subset: int | None
    test_subset: int | None
    subset_mode: str
    window: tuple[int, int]  # epochs averaged in the seed's statistics
    description: str


PROFILES = {
    "full": Profile(50, None, None, "first", (20, 49), "full MNIST, 50 epochs per run, as the seed"),
    "quick": Profile(6, 20_000, None, "stratified", (3, 6),
                     "6 epochs on a stratified 20,000-image training subset, full test set"),
    "smoke": Profile(2, 600, 300, "stratified", (1, 2), "2 epochs on 600/300 images: for tests only"),
}


def _number_list(name: str, value: Any, minimum: float = 0.0) -> tuple[float, ...]:
    if isinstance(value, (str, bytes)) or not isinstance(value, Sequence) or not value:
        raise ConfigError(f"notebook parameter {name} must be a non-empty list of numbers, got {value!r}")
    out = []
    for item in value:
        if isinstance(item, bool) or not isinstance(item, (int, float)) or item < minimum:
            raise ConfigError(f"notebook parameter {name} must hold numbers >= {minimum:g}, got {item!r} in {value!r}")
        out.append(float(item))
    return tuple(out)


def _subset(name: str, value: Any, default: int | None) -> int | None:
    if value is None:
        return default
    if value == "all":
        return None
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise ConfigError(f"notebook parameter {name} must be None (the profile's), 'all' or a positive "
                          f"integer, got {value!r}")
    return value


def _folder(name: str, value: Any) -> Path | None:
    if value is None:
        return None
    if not isinstance(value, (str, Path)) or not str(value).strip():
        raise ConfigError(f"notebook parameter {name} must be a folder path or None, got {value!r}")
    return Path(value).expanduser()


@dataclass
class NotebookContext:
    """A notebook's validated settings, its data, run store and output folders."""

    notebook: str
    profile: str
    window: tuple[int, int]
    common: dict                      # RunConfig fields shared by every run of the report
    grid: dict[str, dict[str, RunConfig]]
    beyond: dict[str, dict]           # the runs past the seed (beyond.beyond_grid), by group
    reproduce: dict[str, dict]        # notebook 7's runs (experiments.reproduction_grid), by group
    store: RunStore
    arrays: MNISTArrays
    figures: Path
    reports: Path
    progress: bool
    timings: dict[str, float] = field(default_factory=dict)

    def run(self, label: str, cfg: RunConfig) -> Run:
        """Train ``cfg`` or read it from the store; prints one line saying which."""
        stored = self.store.find(cfg)
        start = time.perf_counter()
        with warnings.catch_warnings():
            # train() warns about a collapsed run; the line printed below states its health instead
            warnings.filterwarnings("ignore", category=RunHealthWarning)
            run = train(cfg, store=self.store, data=self.arrays, progress=self.progress)
        seconds = time.perf_counter() - start
        how = "reused from the store" if stored is not None and stored.finished else f"trained in {seconds:.0f} s"
        self.timings[label] = seconds
        print(f"{label}: {how} ({run.path.name}, {run.epochs_done} epochs, {run.health})")
        return run

    def runs(self, group: str) -> dict[str, Run]:
        """All runs of one group of the seed's grid ('baseline', 'mlp', 'weight_decay', 'noise')."""
        if group not in self.grid:
            raise ConfigError(f"unknown run group {group!r}; choose one of {', '.join(self.grid)}")
        return {label: self.run(label, cfg) for label, cfg in self.grid[group].items()}

    def beyond_runs(self, group: str) -> dict:
        """The runs of one group of the beyond-the-seed grid, keyed as in :func:`beyond.beyond_grid`."""
        if group not in self.beyond:
            raise ConfigError(f"unknown run group {group!r}; choose one of {', '.join(self.beyond)}")
        return {key: self.run(key_label(group, key), cfg) for key, cfg in self.beyond[group].items()}

    def reproduce_runs(self, group: str) -> dict:
        """The runs of one group of notebook 7's grid, keyed as in :func:`experiments.reproduction_grid`."""
        if group not in self.reproduce:
            raise ConfigError(f"unknown run group {group!r}; choose one of {', '.join(self.reproduce)}")
        return {key: self.run(key_label(group, key), cfg) for key, cfg in self.reproduce[group].items()}

    def seed_curves(self, labels) -> dict:
        """The seed's published history (epochs 1–50) for each of ``labels`` the seed ran, for drawing
        beside ours; labels as the report prints them ('LeNet-5', 'LeNet-5, λ=1e-4')."""
        from . import seed

        known = set(seed.runs().label)
        return {label: seed.history(label).query("epoch >= 1") for label in labels if label in known}

    def stored_beyond(self) -> dict[str, dict] | None:
        """Every group of the beyond-the-seed grid read from the store, or None if any of its
        runs has not finished there (nothing is trained)."""
        groups = {}
        for group, configs in self.beyond.items():
            groups[group] = {}
            for key, cfg in configs.items():
                run = self.store.find(cfg)
                if run is None or not run.finished:
                    return None
                groups[group][key] = run
        return groups

    def all_runs(self) -> dict[str, Run]:
        """Every run of the seed's grid, in the seed's table order."""
        return {label: self.run(label, cfg) for label, cfg in flat(self.grid).items()}

    def config(self, **fields) -> RunConfig:
        """A RunConfig with this report's shared settings plus ``fields``."""
        return RunConfig(**{**self.common, **fields})

    def show(self, fig, name: str) -> None:
        """Save ``fig`` as ``figures/<profile>/<notebook number>-<name>.png`` (a stable name), show
        that very file in the notebook (whatever the matplotlib backend), and close the figure."""
        import matplotlib.pyplot as plt
        from IPython.display import Image, display

        from .plots import save_figure

        (path,) = save_figure(fig, f"{self.notebook.split('_')[0]}-{name}", self.figures, formats=("png",))
        title = fig._suptitle.get_text() if fig._suptitle else " / ".join(
            ax.get_title() for ax in fig.axes if ax.get_title())
        plt.close(fig)
        display(Image(filename=str(path), metadata={"alt": title or name.replace("-", " ")}))

    def headline(self, **values: Any) -> None:
        """Record this notebook's headline numbers for the report's index page."""
        path = self.reports / "headlines" / f"{self.notebook}.json"
        path.parent.mkdir(parents=True, exist_ok=True)
        values = {k: round(v, 4) if isinstance(v, float) else v for k, v in values.items()}
        path.write_text(json.dumps(values, indent=2, ensure_ascii=False, default=str))

    def save_table(self, table: pd.DataFrame, name: str) -> Path:
        """Write ``table`` as ``reports/<profile>/<name>.csv`` (for README and other tools)."""
        path = self.reports / f"{name}.csv"
        path.parent.mkdir(parents=True, exist_ok=True)
        table.to_csv(path)
        return path

    def describe(self) -> pd.DataFrame:
        """The settings this notebook ran with, as a table for the reader."""
        p = PROFILES[self.profile]
        rows = {"profile": f"{self.profile}: {p.description}", "epochs": self.common["epochs"],
                "batch size": self.common["batch_size"],
                "training images": self.common["train_subset"] or "all 60,000",
                "test images": self.common["test_subset"] or "all 10,000",
                "statistics window (epochs)": f"{self.window[0]}–{self.window[1]}",
                "seed": self.common["seed"], "data source": self.arrays.source,
                "optimizer": self.config().optimizer_text()}
        return pd.DataFrame({"setting": list(rows), "value": [str(v) for v in rows.values()]}).set_index("setting")


@dataclass(frozen=True)
class Settings:
    """A report's checked parameters: what every notebook and the runner agree on."""

    profile: str
    window: tuple[int, int]
    common: dict
    grid: dict[str, dict[str, RunConfig]]
    beyond: dict[str, dict]
    reproduce: dict[str, dict]
    folders: dict[str, Path | None]
    progress: bool


def check_parameters(*, profile: str = "quick", epochs: int | None = None, batch_size: int = 64,
                     train_subset: int | str | None = None, test_subset: int | str | None = None,
                     device: str = "auto", seed: int = 0, data_dir: str | None = None, runs_dir: str | None = None,
                     figures_dir: str | None = None, reports_dir: str | None = None, progress: bool = True,
                     weight_decays: Sequence[float] = SEED_WEIGHT_DECAYS,
                     noise_stds: Sequence[float] = SEED_NOISE_STDS, mlps: Sequence[str] = MLP_NAMES,
                     grid: str = "default", seeds: int | None = None, lambdas: Sequence[float] | None = None,
                     long_factor: int | None = None, recipe_seeds: int | None = None, reproduce: str = "default",
                     reproduce_seeds: int = 3) -> Settings:
    """Check the report's parameters (no I/O); the first bad one raises ConfigError naming it.

    ``epochs``/``train_subset``/``test_subset`` default to the profile's ('all' for the full set).
    ``grid`` ('default' or 'full') sizes the runs past the seed; ``seeds``, ``lambdas``,
    ``long_factor`` (long runs = epochs × this) and ``recipe_seeds`` override its values.
    ``reproduce`` ('default' or 'all': also the seed's 34 runs) and ``reproduce_seeds`` size notebook 7.
    """
    if profile not in PROFILES:
        raise ConfigError(f"notebook parameter profile must be one of {', '.join(PROFILES)}; got {profile!r}")
    p = PROFILES[profile]
    common = dict(epochs=p.epochs if epochs is None else epochs, batch_size=batch_size,
                  train_subset=_subset("train_subset", train_subset, p.train_subset),
                  test_subset=_subset("test_subset", test_subset, p.test_subset),
                  subset_mode=p.subset_mode, seed=seed, device=device)
    common = {k: v for k, v in RunConfig(**common).to_dict().items() if k in common}  # RunConfig's checks
    weight_decays = _number_list("weight_decays", weight_decays)
    noise_stds = _number_list("noise_stds", noise_stds)
    if isinstance(mlps, str) or not isinstance(mlps, Sequence):
        raise ConfigError(f"notebook parameter mlps must be a list of model names, got {mlps!r}")
    mlps = tuple(resolve_model_name(m) for m in mlps)
    if not isinstance(progress, bool):
        raise ConfigError(f"notebook parameter progress must be True or False, got {progress!r}")
    folders = {name: _folder(name, value) for name, value in
               (("data_dir", data_dir), ("runs_dir", runs_dir), ("figures_dir", figures_dir),
                ("reports_dir", reports_dir))}
    # the statistics window follows the epochs when they differ from the profile's
    window = p.window if common["epochs"] == p.epochs else (max(1, round(common["epochs"] * 0.4)), common["epochs"])
    if grid not in GRIDS:
        raise ConfigError(f"notebook parameter grid must be one of {', '.join(GRIDS)}; got {grid!r}")
    sizes = dict(GRIDS[grid])
    for name, value, least in (("seeds", seeds, 2), ("long_factor", long_factor, 2), ("recipe_seeds", recipe_seeds, 2)):
        if value is not None:
            if isinstance(value, bool) or not isinstance(value, int) or value < least:
                raise ConfigError(f"notebook parameter {name} must be an integer >= {least} or None (the grid's), "
                                  f"got {value!r}")
            sizes[name] = value
    if lambdas is not None:
        sizes["lambdas"] = _number_list("lambdas", lambdas)
    beyond = beyond_grid(common, **sizes)
    if reproduce not in REPRO_GRIDS:
        raise ConfigError(f"notebook parameter reproduce must be one of {', '.join(REPRO_GRIDS)}; got {reproduce!r}")
    if isinstance(reproduce_seeds, bool) or not isinstance(reproduce_seeds, int) or reproduce_seeds < 2:
        raise ConfigError(f"notebook parameter reproduce_seeds must be an integer >= 2, got {reproduce_seeds!r}")
    return Settings(profile, window, common, seed_grid(weight_decays, noise_stds, mlps, **common), beyond,
                    reproduction_grid(common, seeds=reproduce_seeds, grid=reproduce), folders, progress)


def setup_notebook(notebook: str, **parameters) -> NotebookContext:
    """Check a notebook's parameters (see :func:`check_parameters`), then load data and open the store."""
    s = check_parameters(**parameters)
    return NotebookContext(
        notebook=notebook, profile=s.profile, window=s.window, common=s.common, grid=s.grid, beyond=s.beyond,
        reproduce=s.reproduce, store=RunStore(s.folders["runs_dir"]), arrays=load_mnist(s.folders["data_dir"]),
        figures=(s.folders["figures_dir"] or config.figures_dir()) / s.profile,
        reports=(s.folders["reports_dir"] or config.reports_dir()) / s.profile, progress=s.progress)


def format_table(table: pd.DataFrame):
    """A DataFrame styled for reading: losses to 4 places, accuracies and gaps to 2."""
    formats = {}
    for column in table.columns:
        if "loss" in column:
            formats[column] = "{:.4f}"
        elif "acc" in column or "gap" in column or "diff" in column:
            formats[column] = "{:.2f}"
    return table.style.format(formats, na_rep="–")
