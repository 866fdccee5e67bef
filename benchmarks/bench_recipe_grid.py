"""Notebook 8's grid of runs from an empty run store, stacked (as the report trains it now) against every
run alone (as the report trained notebook 8's runs before), one after the other.

    python benchmarks/bench_recipe_grid.py                        # notebook 8's 40 runs, full profile: about 50 min
    python benchmarks/bench_recipe_grid.py --groups fast far sgd  # and the SGD recipe's 6 runs of 50 epochs
    python benchmarks/bench_recipe_grid.py --order alone-first    # the other order, for a pair
    python benchmarks/bench_recipe_grid.py --short                # the smoke profile, checked: a smoke test

The runs are the report's ``recipes`` grid (``check_parameters(profile=...).recipes``, flattened with
``mnistlib.report.grids.flat_beyond``), by default its groups ``fast`` (the course template, the original's
protocol and each step of the fast recipe, evaluated inside their epochs) and ``far`` (the far recipe's steps),
less the runs notebook 6 asks for too (the far group's course template): notebook 8's own 40 runs of the
full profile, those that trained alone before #27 (32 minutes then, on a 2-core Intel Xeon). Each side trains
all of them into a fresh temporary store with ``mnistlib.training.cluster.train_many`` on a LocalCluster of one
single-threaded worker per core: stacked (``stack=MAX_STACK``: runs that differ only in seed, λ, noise or
augmentation share a stack, Adam, one-cycle and curve runs too) and alone (``stack=1``). Both wall times include the cluster's
start, the same on both sides.

Prints both wall times, the ratio alone / stacked, the number of runs and of stacks, how busy the workers
were (from the runs' own run.json, as in bench_cluster.py), the CPU, and the largest absolute difference
of final test accuracy between the two stores' runs: stacking changes the rounding of a run, not its
result, so expect well under 0.5 points. Results go to ``benchmarks/results/bench_recipe_grid.json``.
``--short``: the smoke profile's grid, each side once; it checks both sides trained every run (stored,
finished, stacked on one side and alone on the other) and every number is finite, and writes no results.
"""
from __future__ import annotations

import argparse
import json
import math
import sys
import tempfile
import time
from pathlib import Path

from mnistlib._util.machine import cores, cpu_name
from mnistlib.report.context import check_parameters
from mnistlib.report.grids import flat_beyond
from mnistlib.store.identity import config_hash
from mnistlib.store.store import RunStore
from mnistlib.training.cluster import _bases, train_many
from mnistlib.training.loop import MAX_STACK, stack_groups

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_cluster import busy_seconds  # noqa: E402
from bench_training import machine  # noqa: E402

RESULTS = Path(__file__).resolve().parent / "results"
SIDES = {"stacked": MAX_STACK, "alone": 1}  # side -> train_many's stack
GROUPS = ["fast", "far", "sgd"]  # recipe_grid's
SHORT_GROUP = "fast"  # the runs that stack since #27: Adam, one-cycle, evaluated inside epochs


def stack_count(configs: dict, stack: int, workers: int) -> int:
    """The tasks train_many makes of ``configs`` from an empty store: its stacks of the runs ready at the
    start, and one per run that continues a shorter run of the grid."""
    first: dict[str, tuple[str, object]] = {}  # config hash -> its first label and config, as train_many keeps them
    for label, cfg in configs.items():
        first.setdefault(config_hash(cfg), (label, cfg))
    todo = dict(first.values())
    waits_for = _bases(todo)
    ready = {label: cfg for label, cfg in todo.items() if label not in waits_for}
    return len(stack_groups(ready, stack, parts=min(workers, len(todo)))) + len(waits_for)


def train_side(name: str, configs: dict, workers: int) -> dict:
    """Train every run of ``configs`` into a fresh store, ``name``'s way; its time and each run's result."""
    with tempfile.TemporaryDirectory() as tmp:
        def log(line: str) -> None:  # each line with the side and the minutes since its start
            print(f"{name:7s} {(time.perf_counter() - start) / 60:6.1f} min  {line}", flush=True)

        start = time.perf_counter()
        folders = train_many(configs, workers, runs_dir=tmp, log=log, stack=SIDES[name])
        seconds = time.perf_counter() - start
        store = RunStore(tmp)
        runs = {label: store.load(folder) for label, folder in folders.items()}
        assert sorted(runs) == sorted(configs) and all(run.finished for run in runs.values()), \
            f"{name}: not every run trained: {sorted(set(configs) - set(runs))}"
        return {"seconds": seconds, "busy_seconds": busy_seconds(tmp),
                "final_test_acc": {label: float(run.history.test_acc.iloc[-1]) for label, run in runs.items()},
                "stack_sizes": {label: run.status.get("stack", 1) for label, run in runs.items()}}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--profile", default="full", help="the report profile whose grid to train (full)")
    parser.add_argument("--order", choices=("stacked-first", "alone-first"), default="stacked-first",
                        help="which side trains first (default stacked-first)")
    parser.add_argument("--groups", nargs="+", choices=GROUPS, default=["fast", "far"],
                        help=f"notebook 8's groups of runs to train, of {' '.join(GROUPS)} (default fast far: the 40 "
                             f"runs #23 added; sgd adds the SGD recipe's 50-epoch runs)")
    parser.add_argument("--with-shared", action="store_true",
                        help="also the runs notebook 6 asks for too (the far course template's 50-epoch runs); "
                             "by default notebook 8's own only")
    parser.add_argument("--short", action="store_true",
                        help=f"the smoke profile's {SHORT_GROUP!r} group, checked (both sides trained every run); "
                             f"no results written")
    args = parser.parse_args()
    profile, groups = ("smoke", [SHORT_GROUP]) if args.short else (args.profile, args.groups)
    settings = check_parameters(profile=profile)
    configs = flat_beyond({group: settings.recipes[group] for group in groups})
    if not args.with_shared:  # notebook 8's own runs: those of notebook 6 (the far course template) train there
        shared = {config_hash(cfg) for cfg in flat_beyond(settings.beyond).values()}
        configs = {label: cfg for label, cfg in configs.items() if config_hash(cfg) not in shared}
    runs = len({config_hash(cfg) for cfg in configs.values()})
    workers = min(cores(), runs)
    stacks = {name: stack_count(configs, stack, workers) for name, stack in SIDES.items()}
    print(f"notebook 8's grid ({', '.join(groups)}), {profile} profile: {len(configs)} labels, {runs} runs; "
          f"{stacks['stacked']} stacks "
          f"stacked, {stacks['alone']} alone; {workers} workers × 1 thread; {cpu_name()}", flush=True)
    order = list(SIDES) if args.order == "stacked-first" else list(SIDES)[::-1]
    sides = {name: train_side(name, configs, workers) for name in order}
    stacked, alone = sides["stacked"], sides["alone"]
    ratio = alone["seconds"] / stacked["seconds"]
    differences = {label: abs(stacked["final_test_acc"][label] - alone["final_test_acc"][label]) for label in configs}
    worst = max(differences, key=differences.get)

    print(f"\nnotebook 8's {runs} runs, {profile} profile, from an empty store on {workers} workers, "
          f"{args.order}; {cpu_name()}")
    for name in SIDES:
        side = sides[name]
        print(f"  {name:7s}: {side['seconds'] / 60:6.2f} min ({stacks[name]} stacks); stacks busy "
              f"{side['busy_seconds'] / 60:.2f} worker-min, workers idle "
              f"{1 - side['busy_seconds'] / (side['seconds'] * workers):.1%} of the wall time")
    print(f"  alone / stacked: ×{ratio:.2f}")
    print(f"  final test accuracy, stacked against alone: largest difference {differences[worst]:.2f} points "
          f"({worst}); stacking changes rounding, not results: expect well under 0.5")
    if args.short:
        assert all(math.isfinite(side["seconds"]) and side["seconds"] > 0 for side in sides.values()), sides
        assert all(math.isfinite(acc) for side in sides.values() for acc in side["final_test_acc"].values()), sides
        assert set(alone["stack_sizes"].values()) == {1}, alone["stack_sizes"]
        assert max(stacked["stack_sizes"].values()) > 1, stacked["stack_sizes"]
        assert math.isfinite(ratio) and math.isfinite(differences[worst]), (ratio, differences)
        print("short run: checked, no results written")
        return
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "bench_recipe_grid.json").write_text(json.dumps(
        {"machine": machine(), "cpu": cpu_name(), "profile": profile, "order": args.order, "labels": len(configs),
         "runs": runs, "stacks": stacks, "workers": workers, "seconds": {n: s["seconds"] for n, s in sides.items()},
         "busy_seconds": {n: s["busy_seconds"] for n, s in sides.items()}, "alone_over_stacked": ratio,
         "max_abs_test_acc_difference": differences[worst], "worst_label": worst,
         "final_test_acc": {n: s["final_test_acc"] for n, s in sides.items()},
         "stack_sizes": stacked["stack_sizes"]}, indent=1, ensure_ascii=False))
    print(f"\nwritten: {RESULTS / 'bench_recipe_grid.json'}")


if __name__ == "__main__":
    main()
