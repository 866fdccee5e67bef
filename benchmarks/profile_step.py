"""Where a LeNet-5 training step spends its time: torch.profiler over 200 steps.

    python benchmarks/profile_step.py [--model LeNet5] [--steps 200] [--threads N]
    python benchmarks/profile_step.py --short     # 5 steps, checked: a smoke test

Prints the operators with the most self CPU time, and the share of the step spent in the
forward pass, the backward pass and the optimizer. ``--short`` profiles 5 steps after 2 of warm-up and
checks every phase was recorded and took time.
"""
from __future__ import annotations

import argparse
import math
import time

import torch
from torch.profiler import ProfilerActivity, profile, record_function

import mnistlib as ml
from mnistlib.training.optim import loss_function


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default="LeNet5")
    parser.add_argument("--steps", type=int, default=200)
    parser.add_argument("--threads", type=int, default=torch.get_num_threads())
    parser.add_argument("--short", action="store_true", help="5 steps after 2 of warm-up; phases checked")
    args = parser.parse_args()
    if args.short:
        args.steps = 5
    torch.set_num_threads(args.threads)
    data = ml.prepare(ml.load_mnist(), train_subset=args.steps * 64)
    torch.manual_seed(0)
    model = ml.build_model(args.model)
    optimizer = torch.optim.SGD(model.parameters(), lr=0.01, momentum=0.9)
    loss_sum = loss_function("cross_entropy")
    batches = list(ml.iterate_batches(data.x_train, data.y_train, 64, torch.Generator().manual_seed(0)))
    for xb, yb in batches[:2 if args.short else 20]:  # warm-up
        optimizer.zero_grad()
        (loss_sum(model(xb), yb) / len(yb)).backward()
        optimizer.step()
    with profile(activities=[ProfilerActivity.CPU]) as prof:
        start = time.perf_counter()
        for xb, yb in batches:
            with record_function("1 batch gather"):
                xb, yb = xb.contiguous(), yb
            with record_function("2 forward"):
                loss = loss_sum(model(xb), yb) / len(yb)
            with record_function("3 backward"):
                optimizer.zero_grad(set_to_none=True)
                loss.backward()
            with record_function("4 optimizer"):
                optimizer.step()
        seconds = time.perf_counter() - start
    print(f"{args.model}: {len(batches)} steps of 64 in {seconds:.2f} s = {len(batches) * 64 / seconds:,.0f} images/s "
          f"({args.threads} threads)\n")
    print(prof.key_averages().table(sort_by="self_cpu_time_total", row_limit=18))
    phases = {e.key: e.cpu_time_total for e in prof.key_averages() if e.key[:2] in ("1 ", "2 ", "3 ", "4 ")}
    total = sum(phases.values())
    print("share of the step: " + ", ".join(f"{k[2:]} {v / total:.0%}" for k, v in sorted(phases.items())))
    if args.short:
        assert len(batches) == args.steps and sorted(k[0] for k in phases) == ["1", "2", "3", "4"], phases
        assert all(v >= 0 for v in phases.values()) and total > 0 and math.isfinite(seconds), phases
        print("short run: checked")


if __name__ == "__main__":
    main()
