"""Every grid of runs the report trains: the original's 13, notebook 6's, notebook 7's and notebook 8's.

    >>> grid = original_grid(epochs=6, train_subset=20_000)   # group -> label -> RunConfig
    >>> flat(grid)["LeNet-5, λ=1e-3"].weight_decay
    0.001

Each function takes the report's shared RunConfig fields (``common``: epochs, batch, subsets, device)
and the sizes :data:`GRIDS` gives; :mod:`mnistlib.report.parameters` picks them from a report's
parameters.
"""
from __future__ import annotations

import dataclasses
from typing import Mapping

from ..words import run_label
from ..runconfig import RunConfig
from ..original.record import MLP_NAMES, ORIGINAL_NOISE_STDS, ORIGINAL_WEIGHT_DECAYS
from ..original.record import run_table
from ..training.recipes import RECIPES, SGD, SGD_FULL, Recipe

# ----------------------------------------------------------------------------- the original's 13 runs

def original_grid(weight_decays=ORIGINAL_WEIGHT_DECAYS, noise_stds=ORIGINAL_NOISE_STDS, mlps=MLP_NAMES,
              **common) -> dict[str, dict[str, RunConfig]]:
    """The original's runs by group ('baseline', 'mlp', 'weight_decay', 'noise': its 13, the
    :data:`ORIGINAL_GROUPS`), each a mapping label -> RunConfig, and 'fixed_noise': the noise runs with
    their noise drawn once and kept, as the original's code drew it (notebook 4 asks whether that loses
    the robustness). ``common`` holds the shared fields (epochs, batch_size, subsets, seed, ...)."""
    return {
        "baseline": {"LeNet-5": RunConfig(model="LeNet5", **common)},
        "mlp": {name: RunConfig(model=name, **common) for name in mlps},
        "weight_decay": {run_label("LeNet5", weight_decay=wd): RunConfig(model="LeNet5", weight_decay=wd, **common)
                         for wd in weight_decays},
        "noise": {run_label("LeNet5", noise_std=s): RunConfig(model="LeNet5", noise_std=s, **common)
                  for s in noise_stds},
        "fixed_noise": {f"{run_label('LeNet5', noise_std=s)}, drawn once":
                        RunConfig(model="LeNet5", noise_std=s, noise_mode="fixed", **common) for s in noise_stds},
    }


ORIGINAL_GROUPS = ("baseline", "mlp", "weight_decay", "noise")  # the original's 13 runs


def flat(grid: dict[str, dict[str, RunConfig]]) -> dict[str, RunConfig]:
    """All runs of a grid in one label -> RunConfig mapping, in group order."""
    return {label: cfg for group in grid.values() for label, cfg in group.items()}


def over_seeds(grid: dict[str, dict[str, RunConfig]], seeds) -> dict[str, dict[tuple[str, int], RunConfig]]:
    """Each run of ``grid`` (group -> label -> RunConfig) once per random seed: group -> {(label, seed): config},
    the configs equal but for their seed (the first seed's is the grid's own run when it is the grid's seed)."""
    return {group: {(label, seed): dataclasses.replace(cfg, seed=seed) for label, cfg in runs.items() for seed in seeds}
            for group, runs in grid.items()}


# ----------------------------------------------------------------------------- notebook 6: past the original

VARIANCE_MODELS = ("LeNet5", "CustomMLP_5", "CustomMLP_6")
SWEEP_MODELS = ("LeNet5", "CustomMLP_6")
LONG_MODELS = ("LeNet5", "CustomMLP_6")
ACTIVATIONS = {"sigmoid (the original's)": "LeNet5", "tanh": "LeNet5-tanh", "ReLU": "LeNet5-relu",
               "sigmoid, LeCun's F6 tanh(2x/3)": "LeNet5-lecun"}
# S2 and S4 before their sigmoid: the original's max-pool, or the paper's subsampling (a coefficient and a bias a map)
POOLINGS = {"max pooling (the original's)": "LeNet5", "the paper's subsampling": "LeNet5-subsampling"}
ORIGINAL_SETTINGS = {"loss": "softmax_then_cross_entropy", "momentum": 0.6}  # the original's code, not its template
ORIGINAL_SETTINGS_LAMBDAS = (0.0, 1e-2)
GRIDS = {
    # seeds None: the profile's (full 5, quick 4, smoke 2), as for the original's grid.
    "default": dict(seeds=None, lambdas=(1e-6, 1e-5, 1e-4, 1e-3, 3e-3, 1e-2, 3e-2, 1e-1), long_factor=3,
                    recipe_seeds=3, recipe=SGD),
    # For a bigger machine: twice the seeds, half-decade λ steps, 6x longer, 5 recipe seeds.
    "full": dict(seeds=10, lambdas=tuple(float(f"{10 ** (e / 2):.0e}") for e in range(-12, -1)), long_factor=6,
                 recipe_seeds=5, recipe=SGD_FULL),
}


BEYOND_SIZES = ("seeds", "lambdas", "long_factor")  # the GRIDS entries beyond_grid takes; recipe_grid the rest


def beyond_grid(common: dict, *, seeds: int, lambdas, long_factor: int) -> dict[str, dict]:
    """The runs that answer the open questions, by group. ``common``: shared RunConfig fields
    (epochs, batch size, subsets, device); seeds are 0..n-1, seed 0 being the original grid's run."""
    base = {k: v for k, v in common.items() if k != "seed"}
    run = lambda **fields: RunConfig(**{**base, "seed": 0, **fields})  # noqa: E731
    epochs = base.get("epochs", RunConfig().epochs)
    return {
        "variance": {(m, s): run(model=m, seed=s) for m in VARIANCE_MODELS for s in range(seeds)},
        "lambda_sweep": {(m, wd): run(model=m, weight_decay=wd) for m in SWEEP_MODELS for wd in lambdas},
        "long": {m: run(model=m, epochs=epochs * long_factor) for m in LONG_MODELS},
        "activations": {name: run(model=model) for name, model in ACTIVATIONS.items()},
        "pooling": {(name, s): run(model=model, seed=s) for name, model in POOLINGS.items() for s in range(seeds)},
        "original_settings": {(wd, s): run(weight_decay=wd, seed=s, **ORIGINAL_SETTINGS)
                              for wd in ORIGINAL_SETTINGS_LAMBDAS for s in range(seeds)},
    }


def flat_beyond(grid: Mapping[str, Mapping]) -> dict[str, RunConfig]:
    """label -> RunConfig for every run of a beyond grid."""
    return {grid_label(group, key): cfg for group, runs in grid.items() for key, cfg in runs.items()}


# ----------------------------------------------------------------------------- notebook 7

# the original's protocol (RunConfig.preset("original")) on the runs whose curves it checks.
REPRO_MODELS = ("LeNet5", "CustomMLP_1", "CustomMLP_6")
REPRO_LAMBDAS = (0.0, 1e-2)  # the original's settings, as in notebook 6, at the original's batch of 10
REPRO_GRIDS = ("default", "all")


def reproduction_grid(common: dict, *, seeds: int = 3, grid: str = "default") -> dict[str, dict]:
    """Notebook 7's runs by group: 'original_protocol' {(model, seed): cfg} for REPRO_MODELS under the
    original's protocol; 'our_protocol' {("CustomMLP_1", seed): cfg} under ours (does it collapse there
    too?); 'batch_10_settings' {(λ, seed): cfg}, LeNet-5 under the original's protocol (notebook 6's
    'original_settings' at batch 10; its λ = 0 runs are 'original_protocol''s LeNet-5); with ``grid='all'`` also 'all_original_runs' {label: cfg}: every one
    of the original's 34 published runs under its protocol, seed 0.
    ``common``: the report's shared fields; the original's protocol brings its own batch size."""
    ours = {k: v for k, v in common.items() if k != "seed"}
    base = {k: v for k, v in ours.items() if k != "batch_size"}
    originalp = lambda **fields: RunConfig.preset("original", **{**base, "seed": 0, **fields})  # noqa: E731
    groups = {
        "original_protocol": {(m, s): originalp(model=m, seed=s) for m in REPRO_MODELS for s in range(seeds)},
        "our_protocol": {("CustomMLP_1", s): RunConfig(**{**ours, "model": "CustomMLP_1", "seed": s})
                         for s in range(seeds)},
        "batch_10_settings": {(wd, s): originalp(weight_decay=wd, seed=s) for wd in REPRO_LAMBDAS for s in range(seeds)},
    }
    if grid == "all":
        groups["all_original_runs"] = {row.label: originalp(model=row.model, weight_decay=row.weight_decay,
                                                    noise_std=row.noise_std) for row in run_table().itertuples()}
    return groups


# ----------------------------------------------------------------------------- notebook 8

ORIGINAL_PROTOCOL_STEP = "the original's protocol: SGD, lr 0.01, momentum 0.6, batch 10, softmax then cross-entropy"
# The fast runs' curves: a test evaluation every this many training images (8 an epoch of all 60,000). Fixed in
# images, not per epoch: on a profile's subset the evaluations would otherwise cost more than the training.
EVAL_IMAGES = 7_500


def recipe_grid(common: dict, *, seeds: int, recipe_seeds: int, target_seeds: int | None = None,
                recipe: Recipe = SGD) -> dict[str, dict]:
    """Notebook 8's runs by group, each {(step, seed): RunConfig}, seeds 0..n-1 (``seeds``; the fast recipe's last
    step, whose runs measure its target, ``target_seeds`` (default ``seeds``); the SGD recipe's ``recipe_seeds``).

    'fast': the course template, the original's protocol and each step of the fast recipe
    (:data:`mnistlib.training.recipes.RECIPES`), over the recipe's two epochs, evaluated
    every :data:`EVAL_IMAGES` training images. 'one-epoch': each step of the one-epoch recipe, evaluated the same
    way, every step over ``target_seeds``, since each is a candidate for its target. 'far': the course template over the report's epochs (notebook
    6's variance runs: the same configs, so the same stored runs), then each step of the far recipe, over
    its epochs or the report's, whichever is fewer. 'sgd': the first search, SGD with a schedule and
    shifts (``recipe``: :data:`mnistlib.training.recipes.SGD`, or its full grid's ``SGD_FULL``), over the
    report's epochs. ``common``: the report's shared fields."""
    base = {k: v for k, v in common.items() if k not in ("seed", "batch_size", "epochs")}
    every = lambda cfg: dataclasses.replace(cfg, eval_every=max(1, EVAL_IMAGES // cfg.batch_size))  # noqa: E731
    fast_steps = RECIPES["fast"].configs(**base)
    template_step, template = next(iter(fast_steps.items()))
    original = RunConfig.preset("original", **base, epochs=template.epochs)
    fast = {template_step: template, ORIGINAL_PROTOCOL_STEP: original, **dict(list(fast_steps.items())[1:])}
    last_fast = list(fast_steps)[-1]
    far_recipe = RECIPES["far"]
    epochs = min(far_recipe.base["epochs"], common["epochs"])
    far_steps = far_recipe.configs(**base)
    far = {template_step: RunConfig(**{**common, "model": "LeNet5", "seed": 0})}  # its epochs are the report's
    far.update({step: dataclasses.replace(cfg, epochs=epochs) for step, cfg in far_steps.items()})
    sgd = recipe.configs(**{k: v for k, v in common.items() if k != "seed"})
    return {
        "fast": {(step, s): every(dataclasses.replace(cfg, seed=s)) for step, cfg in fast.items()
                 for s in range(target_seeds or seeds if step == last_fast else seeds)},
        "one-epoch": {(step, s): every(dataclasses.replace(cfg, seed=s))
                      for step, cfg in RECIPES["one-epoch"].configs(**base).items() for s in range(target_seeds or seeds)},
        "far": {(step, s): dataclasses.replace(cfg, seed=s) for step, cfg in far.items() for s in range(seeds)},
        "sgd": {(step, s): dataclasses.replace(cfg, seed=s) for step, cfg in sgd.items() for s in range(recipe_seeds)},
    }


# ----------------------------------------------------------------------------- the report's parameters


def grid_label(group: str, key) -> str:
    """A readable, unique label for a run of a notebook's grid: 'variance: LeNet5, 0'."""
    parts = key if isinstance(key, tuple) else (key,)
    return f"{group}: " + ", ".join(f"{p:g}" if isinstance(p, float) else str(p) for p in parts)
