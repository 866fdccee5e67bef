"""Preprocessing against torchvision's transforms; subsets, batches and noise."""
import numpy as np
import pytest
import torch

from mnistlib import ConfigError, add_noise, iterate_batches, prepare, to_tensor
from mnistlib.data.augment import random_affine, random_shift
from mnistlib.data.mnist import BACKGROUND, subset_indices


def test_to_tensor_equals_torchvision_transforms(mnist):
    from PIL import Image
    from torchvision import transforms

    reference = transforms.Compose([transforms.Pad(2), transforms.ToTensor(),
                                    transforms.Normalize((0.1307,), (0.3081,))])
    ours = to_tensor(mnist.train_images[:8])
    assert ours.shape == (8, 1, 32, 32) and ours.dtype == torch.float32
    for i in range(8):
        torch.testing.assert_close(ours[i], reference(Image.fromarray(mnist.train_images[i])), rtol=0, atol=1e-6)


def test_prepare_subsets(mnist):
    data = prepare(mnist, train_subset=1000, test_subset=500, subset_mode="stratified", seed=3)
    assert data.x_train.shape == (1000, 1, 32, 32) and len(data.y_test) == 500
    counts = torch.bincount(data.y_train, minlength=10).numpy()
    expected = np.bincount(mnist.train_labels) / 60000 * 1000
    assert np.all(np.abs(counts - expected) < 1)
    first = prepare(mnist, train_subset=100, test_subset=100)
    torch.testing.assert_close(first.x_train, to_tensor(mnist.train_images[:100]))


def test_stratified_subset_is_seeded_and_sorted():
    labels = np.repeat(np.arange(10), [50, 60, 40, 70, 30, 80, 20, 90, 10, 50])
    a, b = subset_indices(labels, 100, "stratified", seed=1), subset_indices(labels, 100, "stratified", seed=1)
    np.testing.assert_array_equal(a, b)
    assert len(a) == 100 and np.all(np.diff(a) > 0)
    assert not np.array_equal(a, subset_indices(labels, 100, "stratified", seed=2))
    with pytest.raises(ConfigError, match="subset mode"):
        subset_indices(labels, 10, "random")


def test_batches_cover_every_sample_once_and_shuffle_is_seeded():
    x, y = torch.arange(103).float().view(-1, 1), torch.arange(103)
    batches = list(iterate_batches(x, y, 10, torch.Generator().manual_seed(0)))
    assert [len(b[1]) for b in batches] == [10] * 10 + [3]
    seen = torch.cat([b[1] for b in batches])
    assert sorted(seen.tolist()) == list(range(103)) and seen.tolist() != list(range(103))
    again = torch.cat([b[1] for b in iterate_batches(x, y, 10, torch.Generator().manual_seed(0))])
    assert torch.equal(seen, again)
    assert torch.equal(torch.cat([b[0] for b in batches]).flatten(), seen.float())  # x and y stay paired


def test_add_noise_statistics_and_determinism():
    x = torch.zeros(200_000)
    noisy = add_noise(x, 0.3, 0.1, torch.Generator().manual_seed(0))
    assert abs(noisy.std().item() - 0.3) < 0.01 and abs(noisy.mean().item() - 0.1) < 0.01
    assert torch.equal(noisy, add_noise(x, 0.3, 0.1, torch.Generator().manual_seed(0)))
    assert add_noise(x, 0.0) is x
    assert torch.all(x == 0)  # input untouched


def test_random_shift_moves_whole_digits_within_the_frame(mnist):
    images = mnist.train_images[:300]
    # MNIST centres digits by mass, so a few touch the 28x28 edge; keep those with 2 blank pixels.
    blank_edge = (images[:, :2].max(axis=(1, 2)) == 0) & (images[:, -2:].max(axis=(1, 2)) == 0) & \
                 (images[:, :, :2].max(axis=(1, 2)) == 0) & (images[:, :, -2:].max(axis=(1, 2)) == 0)
    x = to_tensor(images[blank_edge][:200])
    assert len(x) == 200
    generator = torch.Generator().manual_seed(0)
    shifted = random_shift(x, 2, generator)
    assert shifted.shape == x.shape and random_shift(x, 0) is x
    # 2 blank pixels plus the 2-pixel pad: a 2-pixel shift keeps all ink in the frame.
    assert torch.equal(shifted.flatten(1).sort(dim=1).values, x.flatten(1).sort(dim=1).values)
    offsets = set()
    for i in range(len(x)):
        found = [(dy, dx) for dy in range(-2, 3) for dx in range(-2, 3)
                 if torch.equal(torch.roll(x[i], (dy, dx), dims=(1, 2)), shifted[i])]
        assert found, f"image {i} is not a translation of its original"
        offsets.add(found[0])
    assert len(offsets) == 25  # every offset in [-2, 2]^2 occurs
    again = random_shift(x, 2, torch.Generator().manual_seed(0))
    assert torch.equal(again, shifted)


def test_random_shift_fills_with_black():
    x = torch.full((8, 1, 6, 6), 1.0)
    out = random_shift(x, 3, torch.Generator().manual_seed(1))
    assert set(out.unique().tolist()) <= {1.0, BACKGROUND}


def test_random_affine_rotates_and_scales_about_the_centre(mnist):
    x = to_tensor(mnist.train_images[:64])
    assert random_affine(x, 0, 0) is x
    ink = (x - BACKGROUND).sum(dim=(1, 2, 3))
    rotated = random_affine(x, 20, 0, torch.Generator().manual_seed(0))
    assert not torch.equal(rotated, x)
    # rotation moves ink but keeps its amount (bilinear resampling loses a little)
    assert torch.allclose((rotated - BACKGROUND).sum(dim=(1, 2, 3)), ink, rtol=0.02)
    # the centre of mass stays put (rotation about the image centre; digits are centred by mass)
    grid = torch.arange(32, dtype=torch.float32)
    def centre(images):
        w = (images - BACKGROUND)[:, 0].clamp(min=0)
        return torch.stack([(w.sum(2) * grid).sum(1), (w.sum(1) * grid).sum(1)], 1) / w.sum((1, 2))[:, None]
    assert (centre(rotated) - centre(x)).abs().max() < 1.5
    scaled = random_affine(x, 0, 0.3, torch.Generator().manual_seed(0))
    ratio = (scaled - BACKGROUND).sum(dim=(1, 2, 3)) / ink  # ink grows with the square of the factor
    assert ratio.min() > 0.7 ** 2 - 0.05 and ratio.max() < 1.3 ** 2 + 0.05 and ratio.std() > 0.1
    assert torch.equal(scaled, random_affine(x, 0, 0.3, torch.Generator().manual_seed(0)))
    corners = scaled[:, 0, [0, 0, -1, -1], [0, -1, 0, -1]]
    assert torch.allclose(corners, torch.full_like(corners, BACKGROUND))
