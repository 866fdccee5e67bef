"""What the recipe's per-batch augmentations cost, beside a LeNet-5 training step.

    python benchmarks/bench_augment.py             # about 30 s on a 2-core CPU
    python benchmarks/bench_augment.py --short     # each timing once, checked: a smoke test, seconds

Per batch (milliseconds, medians of repeated timings, one thread as in the report's workers):
random shifts as mnistlib does them (one gather of precomputed indices) against the baseline
way, indexing with broadcast row and column grids (the same result, checked); random rotation
and scaling (``grid_sample``); Gaussian noise; and one LeNet-5 training step (forward, backward,
SGD) for scale. Results also go to ``benchmarks/results/bench_augment.json``. ``--short`` times each
once on a batch of 128 and checks the outputs' shapes and the times' finiteness; it writes no results.
"""
from __future__ import annotations

import argparse
import json
import math
import statistics
import time
from pathlib import Path

import torch
import torch.nn.functional as F

import mnistlib as ml
from mnistlib.data.augment import random_affine, random_shift
from mnistlib.data.mnist import BACKGROUND

RESULTS = Path(__file__).resolve().parent / "results"


def shift_by_grids(x: torch.Tensor, k: int, generator: torch.Generator) -> torch.Tensor:
    """The baseline: per-image offsets applied by advanced indexing with row/column grids."""
    n, _, h, w = x.shape
    padded = F.pad(x, (k, k, k, k), value=BACKGROUND)
    choice = torch.randint(0, (2 * k + 1) ** 2, (n,), generator=generator)
    dy, dx = choice // (2 * k + 1), choice % (2 * k + 1)  # the same draw as random_shift's
    rows = dy[:, None] + torch.arange(h)
    cols = dx[:, None] + torch.arange(w)
    return padded[torch.arange(n)[:, None, None], :, rows[:, :, None], cols[:, None, :]].permute(0, 3, 1, 2)


def timed(fn, repeats: int, samples_of: int = 5) -> float:
    fn()  # warm-up
    samples = []
    for _ in range(samples_of):
        start = time.perf_counter()
        for _ in range(repeats):
            fn()
        samples.append((time.perf_counter() - start) / repeats * 1e3)
    return statistics.median(samples)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--batch", type=int, default=128)
    parser.add_argument("--repeats", type=int, default=200)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--short", action="store_true",
                        help="each timing once (one sample of one call), outputs checked, no results written")
    args = parser.parse_args()
    samples = 1 if args.short else 5
    if args.short:
        args.repeats = 1
    torch.set_num_threads(args.threads)
    arrays = ml.load_mnist()
    x = ml.to_tensor(arrays.train_images[:args.batch])
    y = torch.as_tensor(arrays.train_labels[:args.batch])
    g = lambda: torch.Generator().manual_seed(0)  # noqa: E731
    assert torch.equal(random_shift(x, 2, g()), shift_by_grids(x, 2, g())), "baseline differs from random_shift"
    model = ml.build_model("LeNet5")
    optimizer = torch.optim.SGD(model.parameters(), lr=0.1, momentum=0.9)

    def step():
        optimizer.zero_grad(set_to_none=True)
        torch.nn.functional.cross_entropy(model(x), y).backward()
        optimizer.step()

    gen = g()
    if args.short:  # what is timed returns images of the batch's shape, and a step trains
        for out in (random_shift(x, 2, gen), shift_by_grids(x, 2, gen), random_affine(x, 10, 0.1, gen),
                   ml.add_noise(x, 0.1, 0.0, gen)):
            assert out.shape == x.shape and torch.isfinite(out).all(), out.shape
        before = [p.detach().clone() for p in model.parameters()]
        step()
        assert any(not torch.equal(a, b) for a, b in zip(before, model.parameters())), "the step changed no weight"
    rows = {
        "shift ≤2 px, mnistlib (one gather)": timed(lambda: random_shift(x, 2, gen), args.repeats, samples),
        "shift ≤2 px, baseline (grid indexing)": timed(lambda: shift_by_grids(x, 2, gen), args.repeats, samples),
        "rotation ±10° and scaling ±10%": timed(lambda: random_affine(x, 10, 0.1, gen), args.repeats, samples),
        "Gaussian noise, std 0.1": timed(lambda: ml.add_noise(x, 0.1, 0.0, gen), args.repeats, samples),
        "LeNet-5 training step (for scale)": timed(step, 1 if args.short else max(10, args.repeats // 10), samples),
    }
    print(f"batch {args.batch}, {args.threads} thread(s); milliseconds per batch (median of {samples})")
    for name, ms in rows.items():
        print(f"  {name:<40} {ms:8.3f}")
    base, ours = rows["shift ≤2 px, baseline (grid indexing)"], rows["shift ≤2 px, mnistlib (one gather)"]
    step_ms = rows["LeNet-5 training step (for scale)"]
    print(f"shift: mnistlib ×{base / ours:.1f} faster than the baseline; per training step, shifts add "
          f"{100 * ours / step_ms:.1f}%, rotation and scaling "
          f"{100 * rows['rotation ±10° and scaling ±10%'] / step_ms:.1f}%, noise "
          f"{100 * rows['Gaussian noise, std 0.1'] / step_ms:.1f}%")
    if args.short:
        assert len(rows) == 5 and all(math.isfinite(ms) and ms > 0 for ms in rows.values()), rows
        print("short run: checked, no results written")
        return
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "bench_augment.json").write_text(json.dumps({"batch": args.batch, "threads": args.threads,
                                                            "ms_per_batch": rows}, indent=2, ensure_ascii=False))


if __name__ == "__main__":
    main()
