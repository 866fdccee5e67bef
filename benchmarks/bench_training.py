"""mnistlib's training path against the pipeline PyTorch's MNIST example uses, side by side.

    python benchmarks/bench_training.py            # about 2.5 minutes on a 2-core CPU
    python benchmarks/bench_training.py --reps 9   # more repetitions
    python benchmarks/bench_training.py --short    # each pipeline once on a few hundred images, checked

(a) mnistlib: tensors padded and normalized once, batches sliced by a seeded permutation,
    evaluation in batches of 1,000: a ``Job`` (``mnistlib.training.job``) trained by
    ``mnistlib.training.loop.train_epoch(group_of([job]), 1)`` and tested by ``Job.evaluate``, the
    path every run takes.
(b) the standard pipeline: ``torchvision.datasets.MNIST`` with ``Pad(2)``, ``ToTensor()``,
    ``Normalize((0.1307,), (0.3081,))`` and ``DataLoader(batch_size=64, shuffle=True)``, the test
    set through a DataLoader of 1,000 (PyTorch's example uses that test batch too).
(c) the ceiling: the same number of optimizer steps on one batch reused, no data handling.

Same data (the IDX files are written from the arrays mnistlib loaded, so torchvision reads them
offline), same model, optimizer (SGD lr 0.01, momentum 0.9) and batch size (64). Repetitions
alternate a, b, c, a, b, c, ... in one process; the table shows medians, and the ratios are
medians of the ratios within each repetition (neighbours in time, so a machine whose speed
drifts, as a shared one does, moves both sides of a ratio together). Peak resident memory is
measured in a fresh process per pipeline that trains one epoch. Results also go to
``benchmarks/results/bench_training.json`` with the machine recorded. ``--short``: one repetition,
no warm-up, on the first 640 training and 500 test images, peak memory of the first model only (its
children on those images too); it checks every time, rate and ratio is finite and each epoch trained, and
writes no results.
"""
from __future__ import annotations

import argparse
import json
import math
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

import mnistlib as ml
from mnistlib.training.job import Job
from mnistlib.training.loop import group_of, train_epoch

BATCH = 64
SHORT = {"train_subset": 640, "test_subset": 500}  # --short: the images of each side
MODELS = ("LeNet5", "CustomMLP_6")
RESULTS = Path(__file__).resolve().parent / "results"


def write_idx(root: Path, arrays: ml.MNISTArrays) -> Path:
    """torchvision's MNIST/raw layout, uncompressed, from the arrays mnistlib loaded."""
    raw = root / "MNIST" / "raw"
    raw.mkdir(parents=True, exist_ok=True)
    for prefix, images, labels in (("train", arrays.train_images, arrays.train_labels),
                                   ("t10k", arrays.test_images, arrays.test_labels)):
        for kind, array, magic in (("images-idx3", images, 0x0803), ("labels-idx1", labels.astype(np.uint8), 0x0801)):
            header = magic.to_bytes(4, "big") + b"".join(d.to_bytes(4, "big") for d in array.shape)
            (raw / f"{prefix}-{kind}-ubyte").write_bytes(header + array.tobytes())
    return root


def first_images(arrays: ml.MNISTArrays, train: int, test: int) -> ml.MNISTArrays:
    """The first ``train`` training and ``test`` test images (prepare's "first" subsets), for write_idx."""
    return ml.MNISTArrays(arrays.train_images[:train], arrays.train_labels[:train], arrays.test_images[:test],
                          arrays.test_labels[:test], source=arrays.source)


def torchvision_loaders(root: Path):
    from torchvision import datasets, transforms

    transform = transforms.Compose([transforms.Pad(2), transforms.ToTensor(),
                                    transforms.Normalize((0.1307,), (0.3081,))])
    train = datasets.MNIST(str(root), train=True, download=False, transform=transform)
    test = datasets.MNIST(str(root), train=False, download=False, transform=transform)
    return (torch.utils.data.DataLoader(train, batch_size=BATCH, shuffle=True),
            torch.utils.data.DataLoader(test, batch_size=1000))


def new_model(name: str, seed: int = 0):
    torch.manual_seed(seed)
    model = ml.build_model(name)
    return model, torch.optim.SGD(model.parameters(), lr=0.01, momentum=0.9)


def epoch_mnistlib(name: str, data: ml.TensorData) -> dict:
    """A run's first epoch as mnistlib trains it: the same model, seed, optimizer (SGD lr 0.01, momentum
    0.9, the RunConfig defaults) and batch as :func:`new_model` and the other pipelines."""
    job = Job(ml.RunConfig(model=name, batch_size=BATCH, seed=0), data)
    t0 = time.perf_counter()
    (metrics,) = train_epoch(group_of([job]), 1)
    t1 = time.perf_counter()
    row = job.evaluate(1, t1, train=metrics)
    t2 = time.perf_counter()
    assert all(math.isfinite(row[key]) for key in ("train_loss", "train_acc", "test_loss", "test_acc")), row
    return {"train_s": t1 - t0, "test_s": t2 - t1}


def epoch_torchvision(name: str, loaders) -> dict:
    """The body of PyTorch's MNIST example: train() then test()."""
    train_loader, test_loader = loaders
    model, optimizer = new_model(name)
    t0 = time.perf_counter()
    model.train()
    for x, y in train_loader:
        optimizer.zero_grad()
        loss = F.cross_entropy(model(x), y)
        loss.backward()
        optimizer.step()
    t1 = time.perf_counter()
    model.eval()
    test_loss, correct = 0.0, 0
    with torch.no_grad():
        for x, y in test_loader:
            output = model(x)
            test_loss += F.cross_entropy(output, y, reduction="sum").item()
            correct += (output.argmax(1) == y).sum().item()
    t2 = time.perf_counter()
    return {"train_s": t1 - t0, "test_s": t2 - t1}


def epoch_model_only(name: str, data: ml.TensorData) -> dict:
    """The ceiling: the same number of steps on one batch, reused, with no data handling at all."""
    model, optimizer = new_model(name)
    xb, yb = data.x_train[:BATCH], data.y_train[:BATCH]
    t0 = time.perf_counter()
    for _ in range(len(data.y_train) // BATCH):
        optimizer.zero_grad()
        F.cross_entropy(model(xb), yb).backward()
        optimizer.step()
    t1 = time.perf_counter()
    with torch.no_grad():
        for _ in range(max(1, len(data.y_test) // 1000)):
            model(data.x_test[:1000])
    return {"train_s": t1 - t0, "test_s": time.perf_counter() - t1}


def peak_rss_mb(pipeline: str, model: str, root: Path, short: bool = False) -> float:
    """Train one epoch in a fresh process; its peak resident set size in MB."""
    out = subprocess.run([sys.executable, __file__, "--child", pipeline, model, str(root), *(["--short"] * short)],
                         capture_output=True, text=True, check=True)
    return float(out.stdout.strip().splitlines()[-1])


def child(pipeline: str, model: str, root: str, short: bool = False) -> None:
    if pipeline == "torchvision":
        epoch_torchvision(model, torchvision_loaders(Path(root)))
    else:
        data = ml.prepare(ml.load_mnist(), **(SHORT if short else {}))
        (epoch_mnistlib if pipeline == "mnistlib" else epoch_model_only)(model, data)
    # VmHWM, not ru_maxrss: Linux carries ru_maxrss over from the parent across fork + exec.
    status = Path("/proc/self/status").read_text()
    print(int(next(line.split()[1] for line in status.splitlines() if line.startswith("VmHWM"))) / 1024)


def machine() -> dict:
    cpu = next((line.split(":", 1)[1].strip() for line in Path("/proc/cpuinfo").read_text().splitlines()
                if line.startswith("model name")), platform.processor()) if Path("/proc/cpuinfo").exists() \
        else platform.processor()
    return {"cpu": cpu, "cores": len(os.sched_getaffinity(0)), "torch": torch.__version__,
            "torch_threads": torch.get_num_threads(), "python": platform.python_version()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--reps", type=int, default=5, help="repetitions of each pipeline (default 5)")
    parser.add_argument("--child", nargs=3, metavar=("PIPELINE", "MODEL", "ROOT"), help=argparse.SUPPRESS)
    parser.add_argument("--short", action="store_true",
                        help=f"one repetition on {SHORT['train_subset']} training and {SHORT['test_subset']} test "
                             f"images, results checked, none written")
    args = parser.parse_args()
    if args.child:
        return child(*args.child, short=args.short)
    if args.short:
        args.reps = 1

    arrays = ml.load_mnist()
    data = ml.prepare(arrays, **(SHORT if args.short else {}))
    n_train, n_test = len(data.y_train), len(data.y_test)
    with tempfile.TemporaryDirectory() as tmp:
        # torchvision reads the same images: all of them, or --short's first ones (prepare's "first" subset)
        root = write_idx(Path(tmp), first_images(arrays, n_train, n_test) if args.short else arrays)
        loaders = torchvision_loaders(root)
        rows = []
        for name in MODELS:
            timings = {"mnistlib": [], "torchvision": [], "model only": []}
            if not args.short:
                epoch_mnistlib(name, data)  # warm-up: allocator, kernels
            for rep in range(args.reps):
                timings["mnistlib"].append(epoch_mnistlib(name, data))
                timings["torchvision"].append(epoch_torchvision(name, loaders))
                timings["model only"].append(epoch_model_only(name, data))
                print(f"{name} rep {rep + 1}/{args.reps}: mnistlib {timings['mnistlib'][-1]['train_s']:.1f} s, "
                      f"torchvision {timings['torchvision'][-1]['train_s']:.1f} s (training)", flush=True)
            # --short measures the first model's memory only: each child is a fresh process, seconds of start-up
            memory = {p: peak_rss_mb(p, name, root, args.short) for p in ("mnistlib", "torchvision")
                      if not args.short or name == MODELS[0]}
            for pipeline, reps in timings.items():
                train_s = statistics.median(r["train_s"] for r in reps)
                test_s = statistics.median(r["test_s"] for r in reps)
                epoch_s = statistics.median(r["train_s"] + r["test_s"] for r in reps)
                rows.append({"model": name, "pipeline": pipeline, "train_img_s": n_train / train_s,
                             "epoch_s": epoch_s, "test_img_s": n_test / test_s, "peak_rss_mb": memory.get(pipeline, float("nan")),
                             "reps": [dict(r) for r in reps]})

    print(f"\nmedians of {args.reps} alternating repetitions, {n_train:,} training and {n_test:,} test images; "
          f"{machine()}")
    header = f"{'model':12s} {'pipeline':12s} {'train img/s':>12s} {'epoch+test s':>13s} {'test img/s':>11s} {'peak MB':>8s}"
    print(header + "\n" + "-" * len(header))
    for row in rows:
        print(f"{row['model']:12s} {row['pipeline']:12s} {row['train_img_s']:12,.0f} {row['epoch_s']:13.2f} "
              f"{row['test_img_s']:11,.0f} {row['peak_rss_mb']:8.0f}")
    print("\n(a) mnistlib / (b) torchvision pipeline, and (a) as a share of the model-only ceiling (c);"
          " medians of per-repetition ratios")
    ratios = {}
    for name in MODELS:
        a, b, c = (next(r for r in rows if r["model"] == name and r["pipeline"] == p)["reps"]
                   for p in ("mnistlib", "torchvision", "model only"))
        ratio = lambda f: statistics.median(f(x, y, z) for x, y, z in zip(a, b, c))  # noqa: E731
        ratios[name] = {
            "training": ratio(lambda x, y, z: y["train_s"] / x["train_s"]),
            "epoch_with_test": ratio(lambda x, y, z: (y["train_s"] + y["test_s"]) / (x["train_s"] + x["test_s"])),
            "test": ratio(lambda x, y, z: y["test_s"] / x["test_s"]),
            "share_of_ceiling": ratio(lambda x, y, z: z["train_s"] / x["train_s"]),
        }
        memory = [r["peak_rss_mb"] for r in rows if r["model"] == name][:2]
        r = ratios[name]
        print(f"{name:12s} training ×{r['training']:.1f}   epoch+test ×{r['epoch_with_test']:.1f}   "
              f"test ×{r['test']:.1f}   memory ×{memory[0] / memory[1]:.2f}   "
              f"training at {r['share_of_ceiling']:.0%} of the ceiling")
    if args.short:
        assert len(rows) == len(MODELS) * 3, rows
        assert all(r["train_s"] > 0 and r["test_s"] > 0 for row in rows for r in row["reps"]), rows
        assert all(math.isfinite(v) and v > 0 for row in rows for key, v in row.items()
                   if key in ("train_img_s", "epoch_s", "test_img_s")), rows
        assert all(row["peak_rss_mb"] > 0 for row in rows if row["model"] == MODELS[0] and row["pipeline"] != "model only"), rows
        assert all(math.isfinite(v) and v > 0 for r in ratios.values() for v in r.values()), ratios
        print("short run: checked, no results written")
        return
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "bench_training.json").write_text(json.dumps({"machine": machine(), "rows": rows, "ratios": ratios}, indent=2))
    print(f"\nwritten: {RESULTS / 'bench_training.json'}")


if __name__ == "__main__":
    main()
