"""The fast and one-epoch recipes (notebook 8) against the course template, step for step, in one process.

    python benchmarks/bench_fast.py                 # about a minute on a 2-core CPU
    python benchmarks/bench_fast.py --threads 2 --reps 5
    python benchmarks/bench_fast.py --short         # each part once on a few hundred images, checked: seconds
    python benchmarks/bench_fast.py --device cuda   # on a GPU: the same, timed between torch.cuda.synchronize() calls

Two questions, kept apart: how fast does each recipe *step* (images per second of training), and
how long does each recipe *train* to its answer (its epochs on all 60,000 images, then one pass over
the 10,000 test images). The first says how much of the time is the machine's; the second, divided
by the first, how much is the recipe's (the images it needs).

(a) the course template: LeNet-5 (sigmoid, F6 1.7159·tanh), SGD lr 0.01 momentum 0.9, batch 64;
(b) the fast recipe: LeNet-5 (ReLU, F6 SiLU), Adam with one-cycle, batch 32, label smoothing 0.1, two epochs;
(c) the one-epoch recipe: the same at batch 8, lr 0.002, one epoch.

Each repetition trains (a), (b) and (c) for one epoch of a 19,200-image slice (a ``Job`` trained by
``mnistlib.training.loop.train_epoch(group_of([job]), 1)``, the training path every run takes), so
neighbours in time share the machine's speed; the ratios are medians of the per-repetition ratios. Then
each recipe trains once for real, through ``mnistlib.train`` into a scratch store: its epochs' time and its
final test accuracy. Results go to ``benchmarks/results/bench_fast.json`` with the machine
recorded. ``--short``: one repetition on a 320-image slice, no warm-up, and the real training on 320
training and 200 test images; it checks every number is finite and each run has its epochs, and writes
no results.
"""
from __future__ import annotations

import argparse
import dataclasses
import json
import math
import statistics
import sys
import tempfile
import time
import warnings
from pathlib import Path

import torch

import mnistlib as ml
from mnistlib._util.machine import resolve_device
from mnistlib.errors import RunHealthWarning
from mnistlib.store.identity import identity
from mnistlib.training.recipes import RECIPES
from mnistlib.data.cache import run_tensors
from mnistlib.training.job import Job
from mnistlib.training.loop import group_of, train_epoch

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_training import machine  # noqa: E402

SLICE = 19_200  # images per timed epoch: a multiple of every batch
SHORT_SLICE, SHORT_TEST = 320, 200  # --short: the timed slice, and the real training's subsets
RESULTS = Path(__file__).resolve().parent / "results"


def synchronize(device: torch.device) -> None:
    """Wait for the device's queued work: a GPU runs asynchronously, so a clock read without it times the queueing."""
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def images_per_second(cfg: ml.RunConfig, arrays, images: int = SLICE, device: torch.device = torch.device("cpu")) -> float:
    """Training images per second of ``cfg``'s steps on ``device``, over one epoch of an ``images``-image subset."""
    cfg = dataclasses.replace(cfg, train_subset=images)
    job = Job(cfg, run_tensors(cfg, arrays, device))
    synchronize(device)
    start = time.perf_counter()
    ((loss, accuracy),) = train_epoch(group_of([job]), 1)
    synchronize(device)
    seconds = time.perf_counter() - start
    assert math.isfinite(loss) and 0 <= accuracy <= 100, (loss, accuracy)
    return images / seconds


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--reps", type=int, default=3, help="alternating repetitions (default 3)")
    parser.add_argument("--threads", type=int, default=1,
                        help="torch threads (default 1: as each of a report's worker processes trains)")
    parser.add_argument("--short", action="store_true",
                        help=f"one repetition on {SHORT_SLICE} images, the real training on {SHORT_SLICE}/{SHORT_TEST} "
                             f"images, results checked, none written")
    parser.add_argument("--device", default="cpu", help="cpu (default), cuda, mps or auto (mnistlib's choice)")
    args = parser.parse_args()
    if args.short:
        args.reps = 1
    device = resolve_device(args.device)
    torch.set_num_threads(args.threads)
    arrays = ml.load_mnist()
    steps = RECIPES["fast"].configs()
    configs = {"template": list(steps.values())[0], "fast": list(steps.values())[-1],
               "one-epoch": RECIPES["one-epoch"].config()}
    configs = {key: dataclasses.replace(cfg, device=device.type) for key, cfg in configs.items()}
    images = SHORT_SLICE if args.short else SLICE
    if not args.short:
        images_per_second(configs["fast"], arrays, device=device)  # warm-up: allocator, kernels
    reps = []
    for rep in range(args.reps):
        reps.append({key: images_per_second(cfg, arrays, images, device) for key, cfg in configs.items()})
        print(f"rep {rep + 1}/{args.reps}: " + ", ".join(f"{key} {v:,.0f} images/s" for key, v in reps[-1].items()),
              flush=True)
    speed = {key: statistics.median(r[key] for r in reps) for key in configs}
    ratio = {key: statistics.median(r[key] / r["template"] for r in reps) for key in configs if key != "template"}

    if args.short:
        warnings.filterwarnings("ignore", category=RunHealthWarning)  # 320 images may not leave chance
    trained = {}
    for key in ratio:
        cfg = configs[key]
        if args.short:
            cfg = dataclasses.replace(cfg, train_subset=SHORT_SLICE, test_subset=SHORT_TEST)
        with tempfile.TemporaryDirectory() as tmp:
            synchronize(device)
            start = time.perf_counter()
            run = ml.train(cfg, store=ml.RunStore(tmp), data=arrays, progress=False)
            synchronize(device)
            seconds = time.perf_counter() - start
        seen = cfg.epochs * (cfg.train_subset or len(arrays.train_labels))
        trained[key] = {"config": identity(cfg), "epochs": cfg.epochs, "seconds": seconds, "training_images": seen,
                        "final_test_acc": float(run.history.test_acc.iloc[-1]),
                        "at_template_step_speed_s": seen / speed["template"], "finished": run.finished,
                        "history_epochs": list(run.history.epoch)}
    where = {**machine(), "device": str(device),
             **({"gpu": torch.cuda.get_device_name(device)} if device.type == "cuda" else {})}
    result = {"machine": where, "threads": args.threads, "reps": reps, "images_per_second": speed,
              "step_speed_over_template": ratio, "recipes": trained}
    print(f"\n{where}, {args.threads} thread(s); medians of {args.reps} alternating repetitions")
    print(f"course template steps:  {speed['template']:,.0f} training images/s (LeNet-5, SGD, batch 64)")
    for key in ratio:
        print(f"{key + ' recipe steps:':<23} {speed[key]:,.0f} training images/s (×{ratio[key]:.2f} the template's, "
              f"median of per-repetition ratios; batch {configs[key].batch_size})")
    for key, t in trained.items():
        print(f"{key} recipe, {t['epochs']} epoch(s), {t['training_images']:,} images plus the test passes: "
              f"{t['seconds']:.1f} s, final test accuracy {t['final_test_acc']:.2f}% (seed 0); at the template's "
              f"step speed the same images: {t['at_template_step_speed_s']:.1f} s")
    if args.short:
        assert all(math.isfinite(v) and v > 0 for r in reps for v in r.values()), reps
        assert all(math.isfinite(v) for v in ratio.values()), ratio
        for key, t in trained.items():
            assert t["finished"] and t["history_epochs"] == list(range(1, configs[key].epochs + 1)), (key, t)
            assert 0 <= t["final_test_acc"] <= 100 and math.isfinite(t["seconds"]), (key, t)
        print("short run: checked, no results written")
        return
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "bench_fast.json").write_text(json.dumps(result, indent=2))
    print(f"\nwritten: {RESULTS / 'bench_fast.json'}")


if __name__ == "__main__":
    main()
