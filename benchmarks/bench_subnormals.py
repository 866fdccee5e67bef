"""What a run collapsed by weight decay costs its stack, with and without flushing subnormal floats.

    python benchmarks/bench_subnormals.py             # about a minute on a 2-core CPU
    python benchmarks/bench_subnormals.py --short     # each timing once, checked: a smoke test, seconds

Weight decay that collapses LeNet-5 (λ = 0.1 or 0.03 in notebook 6's sweep) leaves nearly every weight
below 1.2e-38, a subnormal float, on which the CPU's arithmetic takes a slow path. Per batch of 64, one
thread as in the report's workers, forward and backward pass (milliseconds, medians): (a) healthy
weights, the baseline; (b) the same weights scaled into the subnormal range, as the collapsed runs held
them, computed as they are; (c) the same, inside mnistlib's training context, which reads and writes
subnormals as zero (``mnistlib.training.lifecycle``). The weights are not stepped, so (b) and (c) stay
subnormal throughout. Results also go to ``benchmarks/results/bench_subnormals.json``. ``--short`` times
each once and checks the weights are subnormal and the times finite; it writes no results.
"""
from __future__ import annotations

import argparse
import json
import math
import statistics
import time
from pathlib import Path

import torch

import mnistlib as ml
from mnistlib.training.lifecycle import _subnormals_flushed

RESULTS = Path(__file__).resolve().parent / "results"
SMALLEST_NORMAL = torch.finfo(torch.float32).tiny


def timed(fn, repeats: int, samples_of: int) -> float:
    fn()  # warm-up
    samples = []
    for _ in range(samples_of):
        start = time.perf_counter()
        for _ in range(repeats):
            fn()
        samples.append((time.perf_counter() - start) / repeats * 1e3)
    return statistics.median(samples)


def subnormal_share(model: torch.nn.Module) -> float:
    values = torch.cat([p.detach().abs().flatten() for p in model.parameters()])
    return float(((values > 0) & (values < SMALLEST_NORMAL)).float().mean())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--batch", type=int, default=64)
    parser.add_argument("--repeats", type=int, default=10)
    parser.add_argument("--short", action="store_true",
                        help="each timing once (one sample of one call), checked, no results written")
    args = parser.parse_args()
    samples, repeats = (1, 1) if args.short else (5, args.repeats)
    torch.set_num_threads(1)
    arrays = ml.load_mnist()
    x = ml.to_tensor(arrays.train_images[:args.batch])
    y = torch.as_tensor(arrays.train_labels[:args.batch])
    healthy = ml.build_model("LeNet5")
    collapsed = ml.build_model("LeNet5")
    with torch.no_grad():
        for p in collapsed.parameters():
            p.copy_(p * 1e-39)  # what the collapsed runs' checkpoints hold: 60,767 of 60,806 weights subnormal

    def step(model):
        def run():
            model.zero_grad(set_to_none=True)
            torch.nn.functional.cross_entropy(model(x), y).backward()
        return run

    share = subnormal_share(collapsed)
    assert share > 0.99, f"only {share:.1%} of the collapsed weights are subnormal"

    def flushed():
        with _subnormals_flushed():
            step(collapsed)()

    rows = {"(a) healthy weights": timed(step(healthy), repeats, samples),
            "(b) subnormal weights, as computed before": timed(step(collapsed), repeats, samples),
            "(c) subnormal weights, mnistlib's training (flushed)": timed(flushed, repeats, samples)}
    print(f"LeNet-5, batch {args.batch}, 1 thread; forward + backward, milliseconds (median of {samples}); "
          f"{share:.1%} of the collapsed model's weights subnormal")
    for name, ms in rows.items():
        print(f"  {name:<55} {ms:8.2f}")
    a, b, c = rows.values()
    print(f"subnormal weights cost ×{b / a:.1f} the healthy step computed as they are, ×{c / a:.2f} flushed "
          f"(flushing: ×{b / c:.1f} faster)")
    if args.short:
        assert all(math.isfinite(ms) and ms > 0 for ms in rows.values()), rows
        print("short run: checked, no results written")
        return
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "bench_subnormals.json").write_text(json.dumps({"batch": args.batch, "threads": 1,
                                                               "ms_per_batch": rows}, indent=2, ensure_ascii=False))


if __name__ == "__main__":
    main()
