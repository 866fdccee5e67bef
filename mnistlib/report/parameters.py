"""The report's parameters: profiles, defaults and their checks, and the runs they ask for (:class:`Settings`).

    >>> params = ReportParameters(profile="quick", weight_decays=("1e-4", 1e-3))
    >>> params.weight_decays
    (0.0001, 0.001)
    >>> settings = params.settings()          # the grids every notebook and the runner share

Each notebook's papermill ``parameters`` cell declares some of these fields with the same defaults
(a test holds them equal); the runner builds one ``ReportParameters`` from a params file and hands
each notebook the fields it declares.
"""
from __future__ import annotations

from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any, Sequence

from .._util.checks import choice, number
from ..errors import ConfigError
from ..models.nets import resolve_model_name
from ..original.record import MLP_NAMES, ORIGINAL_NOISE_STDS, ORIGINAL_WEIGHT_DECAYS
from ..runconfig import RunConfig
from ..stats import ORIGINAL_WINDOW
from ..training.recipes import Recipe
from .grids import (BEYOND_SIZES, GRIDS, REPRO_GRIDS, beyond_grid, original_grid, over_seeds, recipe_grid,
                    reproduction_grid)


@dataclass(frozen=True)
class Profile:
    """How much of the original's experiment a report runs: epochs, data, statistics window."""

    epochs: int
    train_subset: int | None
    test_subset: int | None
    subset_mode: str
    window: tuple[int, int]  # epochs averaged in the original's statistics
    description: str
    perturbed_images: int | None = None  # test images of the perturbed-input analyses (None: the whole test set)
    speed_seeds: int = 5                 # seeds of each step of notebook 8's recipes
    seeds: int = 5                       # random seeds of each run of the original's grid and of notebook 7's
    target_seeds: int = 10               # seeds of the fast recipe itself and of each one-epoch step


PROFILES = {
    "full": Profile(50, None, None, "first", ORIGINAL_WINDOW, "full MNIST, 50 epochs per run, as the original"),
    # 4 seeds a configuration: the fewest whose exact test of 4 against 4 can reach p < 0.05 (2/70 = 0.029)
    "quick": Profile(6, 20_000, None, "stratified", (3, 6),
                     "6 epochs on a stratified 20,000-image training subset, full test set", 2_000, speed_seeds=2,
                     seeds=4, target_seeds=2),
    "smoke": Profile(2, 600, 300, "stratified", (1, 2), "2 epochs on 600/300 images: for tests only", speed_seeds=2,
                     seeds=2, target_seeds=2),
}


# What the report's runner sets in every notebook itself: a params file may not.
RUNNER_PARAMETERS = ("profile", "progress", "reports_dir")


def check_profile(profile: str) -> str:
    """``profile`` if it is one of :data:`PROFILES` (one ConfigError line otherwise)."""
    if profile not in PROFILES:
        raise ConfigError(f"unknown profile {profile!r}; choose one of {', '.join(PROFILES)}")
    return profile


def _refuse_unknown(values: dict, known: Sequence[str]) -> None:
    unknown = sorted(set(values) - set(known))
    if unknown:
        raise ConfigError(f"unknown report parameter {unknown[0]!r}; valid: {', '.join(sorted(known))}")


def _fail(name: str, must: str, value: Any) -> ConfigError:
    return ConfigError(f"notebook parameter {name} must be {must}, got {value!r}")


def _numbers(name: str, value: Any, minimum: float = 0.0) -> tuple[float, ...]:
    if isinstance(value, (str, bytes)) or not isinstance(value, Sequence) or not value:
        raise _fail(name, "a non-empty list of numbers", value)
    return tuple(number(f"notebook parameter {name}", item, minimum=minimum) for item in value)


def _subset(name: str, value: Any) -> int | str | None:
    if value is None or value == "all":
        return value
    if isinstance(value, str):
        raise _fail(name, "None (the profile's), 'all' or a positive integer", value)
    return number(f"notebook parameter {name}", value, integer=True, minimum=1)


@dataclass(frozen=True)
class ReportParameters:
    """Every parameter a report's notebooks take, with its default; checked on construction (no I/O),
    the first bad value raising one ConfigError line that names it."""

    profile: str = "quick"                   # full | quick | smoke (PROFILES)
    epochs: int | None = None                # None: the profile's
    batch_size: int = 64                     # our protocol's batch, the same for every run
    train_subset: int | str | None = None    # None: the profile's; "all"; or a number of images
    test_subset: int | str | None = None
    device: str = "auto"
    seed: int = 0                            # the first random seed of the original's runs (notebooks 6 and 7 pick their own)
    original_seeds: int | None = None        # random seeds of each of the original's runs: seed, seed + 1, ...; None: the profile's
    data_dir: str | None = None
    runs_dir: str | None = None
    figures_dir: str | None = None
    reports_dir: str | None = None
    progress: bool = True
    mlps: tuple[str, ...] = MLP_NAMES
    weight_decays: tuple[float, ...] = ORIGINAL_WEIGHT_DECAYS
    noise_stds: tuple[float, ...] = ORIGINAL_NOISE_STDS
    grid: str = "default"                    # the runs past the original: default | full (GRIDS)
    seeds: int | None = None                 # None: the grid's (default: the profile's); these four override single values of it
    lambdas: tuple[float, ...] | None = None
    long_factor: int | None = None
    recipe_seeds: int | None = None
    reproduce: str = "default"               # notebook 7: default | all (also the original's 34 runs)
    reproduce_seeds: int | None = None       # notebook 7: random seeds of its runs of the original's protocol; None: the profile's
    speed_seeds: int | None = None           # notebook 8: seeds of each recipe step; None: the profile's (5; quick and smoke 2)
    target_seeds: int | None = None          # notebook 8: seeds of the fast recipe itself and of the one-epoch steps; None: the profile's (10; quick, smoke 2)
    folders: dict = field(init=False, repr=False, compare=False)

    def __post_init__(self):
        fix = lambda key, value: object.__setattr__(self, key, value)  # noqa: E731  (frozen)
        parameter = lambda name: f"notebook parameter {name}"  # noqa: E731
        check_profile(self.profile)
        for name in ("train_subset", "test_subset"):
            fix(name, _subset(name, getattr(self, name)))
        fix("weight_decays", _numbers("weight_decays", self.weight_decays))
        fix("noise_stds", _numbers("noise_stds", self.noise_stds))
        if self.lambdas is not None:
            fix("lambdas", _numbers("lambdas", self.lambdas))
        if isinstance(self.mlps, str) or not isinstance(self.mlps, Sequence):
            raise _fail("mlps", "a list of model names", self.mlps)
        fix("mlps", tuple(resolve_model_name(m) for m in self.mlps))
        if not isinstance(self.progress, bool):
            raise _fail("progress", "True or False", self.progress)
        choice(parameter("grid"), self.grid, GRIDS)
        for name in ("seeds", "long_factor", "recipe_seeds"):
            fix(name, number(parameter(name), getattr(self, name), integer=True, minimum=2, optional=True))
        choice(parameter("reproduce"), self.reproduce, REPRO_GRIDS)
        for name in ("reproduce_seeds", "speed_seeds", "original_seeds", "target_seeds"):
            fix(name, number(parameter(name), getattr(self, name), integer=True, minimum=2, optional=True))
        folders = {}
        for name in ("data_dir", "runs_dir", "figures_dir", "reports_dir"):
            value = getattr(self, name)
            if value is not None and (not isinstance(value, (str, Path)) or not str(value).strip()):
                raise _fail(name, "a folder path or None", value)
            folders[name] = Path(value).expanduser() if value is not None else None
        fix("folders", folders)
        self.common()  # RunConfig's own checks of epochs, batch size, subsets, seed, device

    @classmethod
    def names(cls) -> list[str]:
        """The parameters' names, in declaration order."""
        return [f.name for f in fields(cls) if f.init]

    @classmethod
    def from_mapping(cls, values: dict) -> "ReportParameters":
        """From a mapping of parameters (keyword arguments); an unknown name is one ConfigError line."""
        _refuse_unknown(values, cls.names())
        return cls(**values)

    @classmethod
    def check_names(cls, profile: str, values: dict) -> None:
        """The report's ``profile`` and the names a params file gives, which may be every parameter but those
        the runner sets itself (:data:`RUNNER_PARAMETERS`); one ConfigError line otherwise."""
        check_profile(profile)
        _refuse_unknown(values, [name for name in cls.names() if name not in RUNNER_PARAMETERS])

    @classmethod
    def for_report(cls, profile: str, values: dict) -> "ReportParameters":
        """A report's parameters: its ``profile`` and a params file's ``values`` (:meth:`check_names`)."""
        cls.check_names(profile, values)
        return cls(**{**values, "profile": profile})

    def common(self) -> dict:
        """The RunConfig fields every run of the report shares (epochs, batch, subsets, seed, device)."""
        p = PROFILES[self.profile]
        subset = lambda value, default: default if value is None else None if value == "all" else value  # noqa: E731
        common = dict(epochs=p.epochs if self.epochs is None else self.epochs, batch_size=self.batch_size,
                      train_subset=subset(self.train_subset, p.train_subset),
                      test_subset=subset(self.test_subset, p.test_subset),
                      subset_mode=p.subset_mode, seed=self.seed, device=self.device)
        return {k: v for k, v in RunConfig(**common).to_dict().items() if k in common}

    def window(self) -> tuple[int, int]:
        """The statistics window: the profile's, or one that follows epochs set apart from it."""
        p, epochs = PROFILES[self.profile], self.common()["epochs"]
        return p.window if epochs == p.epochs else (max(1, round(epochs * 0.4)), epochs)

    def run_seeds(self) -> tuple[int, ...]:
        """The random seeds of each of the original's runs: ``seed`` and the next ones, as many as
        ``original_seeds`` or the profile's."""
        return tuple(range(self.seed, self.seed + (self.original_seeds or PROFILES[self.profile].seeds)))

    def settings(self) -> "Settings":
        """The grids of runs these parameters ask for, and what the notebooks share."""
        common = self.common()
        sizes = dict(GRIDS[self.grid])
        sizes.update({name: getattr(self, name) for name in ("seeds", "lambdas", "long_factor", "recipe_seeds")
                      if getattr(self, name) is not None})
        sizes["seeds"] = sizes["seeds"] or PROFILES[self.profile].seeds
        grid = original_grid(self.weight_decays, self.noise_stds, self.mlps, **common)
        return Settings(self.profile, self.window(), common, grid, self.run_seeds(), over_seeds(grid, self.run_seeds()),
                        beyond_grid(common, **{k: v for k, v in sizes.items() if k in BEYOND_SIZES}),
                        reproduction_grid(common, seeds=self.reproduce_seeds or PROFILES[self.profile].seeds,
                                          grid=self.reproduce),
                        recipe_grid(common, seeds=self.speed_seeds or PROFILES[self.profile].speed_seeds,
                                    target_seeds=self.target_seeds or PROFILES[self.profile].target_seeds,
                                    **{k: v for k, v in sizes.items() if k not in BEYOND_SIZES}),
                        sizes["recipe"], self.folders, self.progress)


@dataclass(frozen=True)
class Settings:
    """A report's checked parameters turned into runs: what every notebook and the runner agree on."""

    profile: str
    window: tuple[int, int]
    common: dict
    grid: dict[str, dict[str, RunConfig]]   # the original's 13 runs (original_grid), at the first seed
    seeds: tuple[int, ...]                  # the random seeds of each of them
    original: dict[str, dict]               # the same over every seed: group -> {(label, seed): config} (over_seeds)
    beyond: dict[str, dict]                 # notebook 6's (beyond_grid)
    reproduce: dict[str, dict]              # notebook 7's (reproduction_grid)
    recipes: dict[str, dict]                # notebook 8's (recipe_grid)
    sgd_recipe: Recipe                      # the SGD recipe of recipes["sgd"], its steps and what each sets
    folders: dict[str, Path | None]
    progress: bool
