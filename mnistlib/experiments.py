"""The seed's experiment: its 13 runs as RunConfigs, and its published results as data.

    >>> grid = seed_grid(epochs=50)
    >>> list(grid)[:2]
    ['LeNet-5', 'CustomMLP_6']

``SEED_RESULTS`` is the seed report's table (means over epochs 20–49, test set unless said),
computed from the seed's own histories (:mod:`mnistlib.seed`), kept to compare against, never to
stand in for our numbers.
"""
from __future__ import annotations

from .runconfig import RunConfig
from .seed import MLP_NAMES, SEED_LOSS_FLOOR, SEED_NOISE_STDS, SEED_WEIGHT_DECAYS, noise_label, table, wd_label

__all__ = ["MLP_NAMES", "SEED_LOSS_FLOOR", "SEED_NOISE_STDS", "SEED_RESULTS", "SEED_WEIGHT_DECAYS", "flat",
           "noise_label", "seed_grid", "wd_label"]

# The seed's 13-row table, computed from its published histories with its own statistic
# (means over epochs 20–49); mnistlib.seed.PRINTED is the table as printed.
SEED_RESULTS = table()


def seed_grid(weight_decays=SEED_WEIGHT_DECAYS, noise_stds=SEED_NOISE_STDS, mlps=MLP_NAMES,
              **common) -> dict[str, dict[str, RunConfig]]:
    """The seed's runs by group ('baseline', 'mlp', 'weight_decay', 'noise'), each a mapping
    label -> RunConfig. ``common`` holds the shared fields (epochs, batch_size, subsets, seed, ...)."""
    return {
        "baseline": {"LeNet-5": RunConfig(model="LeNet5", **common)},
        "mlp": {name: RunConfig(model=name, **common) for name in mlps},
        "weight_decay": {wd_label(wd): RunConfig(model="LeNet5", weight_decay=wd, **common) for wd in weight_decays},
        "noise": {noise_label(s): RunConfig(model="LeNet5", noise_std=s, **common) for s in noise_stds},
    }


def flat(grid: dict[str, dict[str, RunConfig]]) -> dict[str, RunConfig]:
    """All runs of a grid in one label -> RunConfig mapping, in group order."""
    return {label: cfg for group in grid.values() for label, cfg in group.items()}

# The seed's per-layer counts for LeNet-5 (its section 모델 구조 설명), keyed by our layer names.
SEED_LENET_LAYERS = {"c1": 156, "c3": 1516, "c5": 48120, "f6.0": 10164, "f7": 850, "total": 60806}


# Notebook 7: the seed's protocol (RunConfig.preset("seed")) on the runs whose curves it checks.
REPRO_MODELS = ("LeNet5", "CustomMLP_1", "CustomMLP_6")
REPRO_LAMBDAS = (0.0, 1e-2)  # the seed's settings, as in notebook 6, at the seed's batch of 10
REPRO_GRIDS = ("default", "all")


def reproduction_grid(common: dict, *, seeds: int = 3, grid: str = "default") -> dict[str, dict]:
    """Notebook 7's runs by group: 'seed_protocol' {(model, seed): cfg} for REPRO_MODELS under the
    seed's protocol; 'our_protocol' {("CustomMLP_1", seed): cfg} under ours (does it collapse there
    too?); 'batch_10_settings' {λ: cfg}, LeNet-5 under the seed's protocol (notebook 6's
    'seed_settings' at batch 10); with ``grid='all'`` also 'all_seed_runs' {label: cfg}: every one
    of the seed's 34 published runs under its protocol, seed 0.
    ``common``: the report's shared fields; the seed's protocol brings its own batch size."""
    from .seed import runs as seed_runs

    ours = {k: v for k, v in common.items() if k != "seed"}
    base = {k: v for k, v in ours.items() if k != "batch_size"}
    seedp = lambda **fields: RunConfig.preset("seed", **{**base, "seed": 0, **fields})  # noqa: E731
    groups = {
        "seed_protocol": {(m, s): seedp(model=m, seed=s) for m in REPRO_MODELS for s in range(seeds)},
        "our_protocol": {("CustomMLP_1", s): RunConfig(**{**ours, "model": "CustomMLP_1", "seed": s})
                         for s in range(seeds)},
        "batch_10_settings": {wd: seedp(weight_decay=wd) for wd in REPRO_LAMBDAS},
    }
    if grid == "all":
        groups["all_seed_runs"] = {row.label: seedp(model=row.model, weight_decay=row.weight_decay,
                                                    noise_std=row.noise_std) for row in seed_runs().itertuples()}
    return groups
