"""Stacked training against one run at a time, at the original's batch 10 and at batch 64, side by side.

    python benchmarks/bench_stacking.py              # about 8 minutes on a 2-core CPU
    python benchmarks/bench_stacking.py --quick      # fewer steps and repetitions, about 2 minutes
    python benchmarks/bench_stacking.py --machine-only   # part 2 only, about 3 minutes
    python benchmarks/bench_stacking.py --short      # each measurement once on a few hundred images, checked

Part 1, one process, one thread (images/s of training, medians of alternating repetitions; ratios
are medians of per-repetition ratios, so a machine whose speed drifts moves both sides together):
  (a) one run: ``train_epoch(group_of([job]), 1)`` (``mnistlib.training.loop``), the path ``mnistlib.train``
      takes for a run alone;
  (b) K runs stacked: ``train_epoch(Stack(jobs), 1)``, K = 2, 4, 8, different seeds;
  (c) the standard pipeline: torchvision ``MNIST`` + ``DataLoader`` at the same batch size;
  (d) ceilings, no data handling at all: one batch reused, for one run and for 8 stacked runs;
  and the number of operators one training step dispatches (forward, backward, optimizer).
Part 2, the whole machine: a set of original-protocol LeNet-5 runs (batch 10, 1 epoch on a subset,
evaluation included) through ``train_many`` (``mnistlib.training.cluster``) with one worker process per
core, stacked (``stack=8``) against one run at a time (``stack=1``, the runner before stacking), alternating.

Results also go to ``benchmarks/results/bench_stacking.json`` with the machine recorded. ``--short``:
part 1 once (no warm-up) on a few hundred images per run, part 2 once with 4 runs of 100 images; it checks
every rate is finite, every stack trained its runs, and part 2's stacked side stacked; it writes no results.
"""
from __future__ import annotations

import argparse
import json
import math
import statistics
import sys
import tempfile
import time
from pathlib import Path

import torch
import torch.nn.functional as F
from torch.utils._python_dispatch import TorchDispatchMode

import mnistlib as ml
from mnistlib._util.machine import cores
from mnistlib.data.cache import run_tensors
from mnistlib.training.cluster import train_many
from mnistlib.training.job import Job
from mnistlib.training.loop import Stack, group_of, train_epoch

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_training import first_images, machine, write_idx  # noqa: E402  (a sibling script)

RESULTS = Path(__file__).resolve().parent / "results"
STACKS = (2, 4, 8)
SHORT_STEPS = 20  # --short: steps of each timed epoch in part 1 (200 images at batch 10)


def jobs(model: str, batch: int, subset: int, seeds, arrays) -> list[Job]:
    """Fresh runs of the original's protocol at ``batch`` on the first ``subset`` training images."""
    cfgs = [ml.RunConfig.preset("original", model=model, batch_size=batch, seed=s, train_subset=subset,
                                test_subset=1000) for s in seeds]
    return [Job(cfg, run_tensors(cfg, arrays, torch.device("cpu"))) for cfg in cfgs]


def checked(metrics: list[tuple[float, float]], k: int) -> None:
    """Each of the ``k`` runs' epoch gave a finite loss and an accuracy."""
    assert len(metrics) == k and all(math.isfinite(loss) and 0 <= acc <= 100 for loss, acc in metrics), metrics


def one_run(model, batch, subset, arrays) -> float:
    (job,) = jobs(model, batch, subset, [0], arrays)
    start = time.perf_counter()
    metrics = train_epoch(group_of([job]), 1)
    seconds = time.perf_counter() - start
    checked(metrics, 1)
    return subset / seconds


def stacked(model, batch, subset, arrays, k) -> float:
    stack = Stack(jobs(model, batch, subset, range(k), arrays))
    start = time.perf_counter()
    metrics = train_epoch(stack, 1)
    seconds = time.perf_counter() - start
    checked(metrics, k)
    return k * subset / seconds


def torchvision_pipeline(model, batch, subset, root) -> float:
    from torchvision import datasets, transforms

    transform = transforms.Compose([transforms.Pad(2), transforms.ToTensor(), transforms.Normalize((0.1307,), (0.3081,))])
    train = torch.utils.data.Subset(datasets.MNIST(str(root), train=True, transform=transform), range(subset))
    torch.manual_seed(0)
    net = ml.build_model(model)
    optimizer = torch.optim.SGD(net.parameters(), lr=0.01, momentum=0.6)
    start = time.perf_counter()
    for x, y in torch.utils.data.DataLoader(train, batch_size=batch, shuffle=True):
        optimizer.zero_grad()
        F.cross_entropy(torch.softmax(net(x), 1), y).backward()
        optimizer.step()
    return subset / (time.perf_counter() - start)


def reused_batch_step(model, batch, arrays, k):
    """One training step on one batch reused (no data handling): k = 1 the plain model, else k stacked runs."""
    group = jobs(model, batch, batch, range(k), arrays)
    if k == 1:
        job = group[0]
        xb, yb = job.train_data.x_train[:batch], job.train_data.y_train[:batch]

        def step():
            job.optimizer.zero_grad()
            (job.loss_sum(job.model(xb), yb) / batch).backward()
            job.optimizer.step()
        return step
    stack = Stack(group)
    xb, yb = stack.inputs(torch.arange(batch).repeat(k, 1))

    def stacked_step():
        _, losses = stack.forward(xb, yb)
        stack.optimizer.zero_grad()
        (losses.sum() / batch).backward()
        stack.step()
    return stacked_step


def ceiling(model, batch, subset, arrays, k) -> float:
    """Training images/s of :func:`reused_batch_step` over an epoch's number of steps."""
    step, steps = reused_batch_step(model, batch, arrays, k), subset // batch
    start = time.perf_counter()
    for _ in range(steps):
        step()
    return k * steps * batch / (time.perf_counter() - start)


class _Count(TorchDispatchMode):
    def __init__(self):
        super().__init__()
        self.calls = 0

    def __torch_dispatch__(self, func, types, args=(), kwargs=None):
        self.calls += 1
        return func(*args, **(kwargs or {}))


def operators_per_step(model, batch, arrays, k) -> int:
    """aten operators one training step dispatches (forward, backward, optimizer), after a warm-up step."""
    step = reused_batch_step(model, batch, arrays, k)
    step()
    with _Count() as counter:
        step()
    return counter.calls


def part1(models, batches, reps, arrays, root, quick, short=False) -> list[dict]:
    rows = []
    for model in models:
        for batch in batches:
            subset = (1000 if quick else 3000) * batch // 10 if model.startswith("LeNet") else 6000 * batch // 10
            subset = min(subset, 60_000) if not short else SHORT_STEPS * batch
            runs = {"one run": lambda: one_run(model, batch, subset, arrays),
                    **{f"{k} stacked": (lambda k=k: stacked(model, batch, subset, arrays, k)) for k in STACKS},
                    "torchvision": lambda: torchvision_pipeline(model, batch, subset, root),
                    "ceiling, one run": lambda: ceiling(model, batch, subset, arrays, 1),
                    "ceiling, 8 stacked": lambda: ceiling(model, batch, subset, arrays, 8)}
            for fn in runs.values() if not short else ():
                fn()  # warm-up
            reps_out = []
            for rep in range(reps):
                reps_out.append({name: fn() for name, fn in runs.items()})
                print(f"{model} batch {batch} rep {rep + 1}/{reps}: " +
                      ", ".join(f"{name} {v:,.0f}" for name, v in reps_out[-1].items()), flush=True)
            ops = {"one run": operators_per_step(model, batch, arrays, 1),
                   "8 stacked": operators_per_step(model, batch, arrays, 8)}
            for name in runs:
                rows.append({"model": model, "batch": batch, "path": name,
                             "img_s": statistics.median(r[name] for r in reps_out),
                             "vs_one_run": statistics.median(r[name] / r["one run"] for r in reps_out),
                             "ops_per_step": ops.get(name), "reps": [r[name] for r in reps_out]})
    return rows


def part2(runs, subset, pairs, test_subset=1000) -> dict:
    """Machine-wide images/s of ``runs`` original-protocol LeNet-5 runs, stacked vs one at a time: end to
    end (process start, data, the protocol's epoch-0 evaluation of the training set, all of it), and
    per trained epoch (the epochs' own seconds in the runs' histories, training and test pass)."""
    cfgs = {f"seed {s}": ml.RunConfig.preset("original", model="LeNet5", epochs=1, seed=s, train_subset=subset,
                                             test_subset=test_subset) for s in range(runs)}
    stacked_by = {}  # side -> the stack sizes its runs' run.json record
    out = {f"{name}, {how}": [] for name in ("alone", "stacked") for how in ("end to end", "per epoch")}
    for _ in range(pairs):
        for name, stack in (("alone", 1), ("stacked", 8)):
            with tempfile.TemporaryDirectory() as tmp:
                start = time.perf_counter()
                names = train_many(cfgs, workers=cores(), runs_dir=tmp, log=lambda line: None, stack=stack)
                out[f"{name}, end to end"].append(runs * subset / (time.perf_counter() - start))
                stored = [ml.RunStore(tmp).load(n) for n in names.values()]
                assert len(stored) == runs and all(run.finished for run in stored), names
                stacked_by[name] = sorted(run.status.get("stack", 1) for run in stored)
                # each worker's epochs run side by side: the epochs' wall time is their seconds over the workers
                seconds = sum(run.history.query("epoch >= 1").seconds.sum() for run in stored)
                out[f"{name}, per epoch"].append(runs * subset / (seconds / cores()))
        print("machine: " + ", ".join(f"{k} {v[-1]:,.0f} img/s" for k, v in out.items()), flush=True)
    ratio = {how: statistics.median(s / a for s, a in zip(out[f"stacked, {how}"], out[f"alone, {how}"]))
             for how in ("end to end", "per epoch")}
    return {"runs": runs, "subset": subset, "workers": cores(), "img_s": {k: statistics.median(v) for k, v in out.items()},
            "ratio": ratio, "reps": out, "stack_sizes": stacked_by}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="fewer steps and repetitions")
    parser.add_argument("--machine-only", action="store_true", help="part 2 only")
    parser.add_argument("--short", action="store_true",
                        help=f"each measurement once, part 1 on {SHORT_STEPS} steps a run, part 2 on 4 runs of 100 "
                             f"images; results checked, none written")
    args = parser.parse_args()
    reps = 1 if args.short else 2 if args.quick else 3
    torch.set_num_threads(1)
    arrays = ml.load_mnist()
    rows = []
    models, batches = ("LeNet5", "CustomMLP_6"), (10, 64)
    if not args.machine_only:
        with tempfile.TemporaryDirectory() as tmp:
            written = first_images(arrays, SHORT_STEPS * max(batches), 100) if args.short else arrays
            rows = part1(models, batches, reps, arrays, write_idx(Path(tmp), written), args.quick, args.short)
    if args.short:  # 4 runs on 2 workers: two stacks of 2 against four runs alone
        machine_wide = part2(4, 100, 1, test_subset=100)
    else:
        machine_wide = part2(8, 4000 if args.quick else 20_000, 1 if args.quick else 2)
    print(f"\nmedians of {reps} alternating repetitions, one process, one thread; {machine()}")
    header = f"{'model':12s} {'batch':>5s} {'path':20s} {'train img/s':>12s} {'× one run':>10s} {'ops/step':>9s}"
    print(header + "\n" + "-" * len(header))
    for row in rows:
        ops = "" if row["ops_per_step"] is None else f"{row['ops_per_step']:9d}"
        print(f"{row['model']:12s} {row['batch']:5d} {row['path']:20s} {row['img_s']:12,.0f} {row['vs_one_run']:10.2f} {ops}")
    m = machine_wide
    print(f"\nwhole machine ({m['workers']} worker processes × 1 thread): {m['runs']} original-protocol LeNet-5 runs, "
          f"1 epoch of {m['subset']:,} images each")
    for how in ("end to end", "per epoch"):
        print(f"  {how:10s}: one at a time {m['img_s'][f'alone, {how}']:,.0f} img/s, "
              f"stacked {m['img_s'][f'stacked, {how}']:,.0f} img/s, ×{m['ratio'][how]:.2f}")
    print(f"  runs per stack: one at a time {m['stack_sizes']['alone']}, stacked {m['stack_sizes']['stacked']}")
    if args.short:
        paths = ["one run", *(f"{k} stacked" for k in STACKS), "torchvision", "ceiling, one run", "ceiling, 8 stacked"]
        assert args.machine_only or len(rows) == len(models) * len(batches) * len(paths), len(rows)
        assert all(math.isfinite(row["img_s"]) and row["img_s"] > 0 and math.isfinite(row["vs_one_run"])
                   for row in rows), rows
        assert all(row["ops_per_step"] > 0 for row in rows if row["path"] in ("one run", "8 stacked")), rows
        assert all(math.isfinite(v) and v > 0 for v in [*m["img_s"].values(), *m["ratio"].values()]), m
        assert m["stack_sizes"]["alone"] == [1] * m["runs"] and max(m["stack_sizes"]["stacked"]) > 1, m["stack_sizes"]
        print("short run: checked, no results written")
        return
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "bench_stacking.json").write_text(json.dumps(
        {"machine": machine(), "quick": args.quick, "per_process": rows, "machine_wide": machine_wide}, indent=1))


if __name__ == "__main__":
    main()
