"""What evaluating a stored model costs: max_pool2d and the default layout against mnistlib's pooling and layouts.

    python benchmarks/bench_inference.py             # about half a minute on a 2-core CPU
    python benchmarks/bench_inference.py --short     # each timing once, checked: a smoke test, seconds

Every epoch of every run evaluates the test set, and after training notebooks 3, 4 and 6 evaluate dozens of
stored models on perturbed test images and bias and variance read every seed's predictions. For each model of
the report (LeNet-5 and the variants it trains, one MLP), the forward pass over the test set in batches of
1,000 (as ``mnistlib.training.inference`` evaluates), in eval mode, images per second (medians), at 1 torch
thread (a training worker's) and at one per core (the notebooks'):
(a) ``nn.MaxPool2d`` in the default (contiguous) layout: the baseline, what evaluation ran before;
(b) ``nets.MaxPool2x2``, what every evaluation uses now, training's too: the same logits bit for bit;
(c) (b) with channels-last weights, as ``inference.for_inference`` gives every model read from the store:
logits equal to float rounding; the largest difference from (a) and how many answers (argmax) differ.
Results also go to ``benchmarks/results/bench_inference.json``; ``--short`` times each once on 1,000 images,
at one thread count, checks the outputs, and writes no results.
"""
from __future__ import annotations

import argparse
import copy
import json
import math
import os
import statistics
import time
from pathlib import Path

import torch

import mnistlib as ml
from mnistlib._util.machine import cpu_name
from mnistlib.models.nets import MaxPool2x2
from mnistlib.training.inference import EVAL_BATCH, for_inference

RESULTS = Path(__file__).resolve().parent / "results"
MODELS = ("LeNet5", "LeNet5-subsampling", "LeNet5-relu-silu", "CustomMLP_6")


@torch.no_grad()
def images_per_second(model: torch.nn.Module, x: torch.Tensor, samples: int) -> float:
    def one_pass():
        for xb in x.split(EVAL_BATCH):
            model(xb)

    one_pass()  # warm-up
    times = []
    for _ in range(samples):
        start = time.perf_counter()
        one_pass()
        times.append(time.perf_counter() - start)
    return len(x) / statistics.median(times)


def with_max_pool2d(model: torch.nn.Module) -> torch.nn.Module:
    """A copy of ``model`` with nn.MaxPool2d(2, 2) where it has MaxPool2x2: the baseline."""
    baseline = copy.deepcopy(model)
    for name, module in list(baseline.named_modules()):
        if isinstance(module, MaxPool2x2):
            parent, _, child = name.rpartition(".")
            setattr(baseline.get_submodule(parent), child, torch.nn.MaxPool2d(2, 2))
    return baseline


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--images", type=int, default=10_000)
    parser.add_argument("--samples", type=int, default=5)
    parser.add_argument("--short", action="store_true",
                        help="each timing once on 1,000 images at one thread count, checked, no results written")
    args = parser.parse_args()
    images, samples = (1_000, 1) if args.short else (args.images, args.samples)
    threads = [torch.get_num_threads()] if args.short else sorted({1, os.cpu_count() or 1})
    x = ml.to_tensor(ml.load_mnist().test_images[:images])
    print(f"forward passes over {images:,} test images, batches of {EVAL_BATCH:,}; {cpu_name()} ({os.cpu_count()} "
          f"cores); images per second (median of {samples})")
    print(f"  {'model':<20} {'threads':>7} {'(a) max_pool2d':>15} {'(b) MaxPool2x2':>15} {'(c) + channels-last':>20} "
          f"{'(b)/(a)':>8} {'(c)/(a)':>8} {'max |Δ logit| (c)':>18} {'answers differ':>15}")
    rows = {}
    for name in MODELS:
        torch.manual_seed(0)
        model = ml.build_model(name).eval()
        variants = {"max_pool2d": with_max_pool2d(model).eval(), "MaxPool2x2": model,
                    "channels_last": for_inference(copy.deepcopy(model))}
        with torch.no_grad():
            out = {key: m(x) for key, m in variants.items()}
        gap = float((out["channels_last"] - out["max_pool2d"]).abs().max())
        differ = int((out["channels_last"].argmax(1) != out["max_pool2d"].argmax(1)).sum())
        assert torch.equal(out["MaxPool2x2"], out["max_pool2d"]), f"{name}: (b) is not (a) bit for bit"
        for count in threads:
            torch.set_num_threads(count)
            speed = {key: images_per_second(m, x, samples) for key, m in variants.items()}
            a, b, c = speed.values()
            rows[f"{name}, {count} thread{'s' if count > 1 else ''}"] = {
                **speed, "max_logit_difference": gap, "answers_differ": differ}
            print(f"  {name:<20} {count:>7} {a:>15,.0f} {b:>15,.0f} {c:>20,.0f} {b / a:>7.2f}× {c / a:>7.2f}× "
                  f"{gap:>18.1e} {differ:>15}")
            if args.short:
                assert all(math.isfinite(v) and v > 0 for v in speed.values()), (name, speed)
                assert gap < 1e-4 and differ == 0, (name, gap, differ)
    if args.short:
        print("short run: checked, no results written")
        return
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "bench_inference.json").write_text(json.dumps(
        {"images": images, "batch": EVAL_BATCH, "cpu": cpu_name(), "images_per_second": rows}, indent=2,
        ensure_ascii=False))


if __name__ == "__main__":
    main()
