"""Device plumbing, checked on the CPU: data lives on the training device, batches are sliced
there, no host sync per step, and shuffling does not depend on the device."""
import pytest
import torch

from mnistlib import RunConfig, iterate_batches, prepare
from mnistlib._util.machine import resolve_device
from mnistlib.data.augment import augmentation
from mnistlib.data.cache import run_tensors
from mnistlib.training.job import Job
from mnistlib.training.loop import group_of, train_epoch


def test_prepare_puts_every_tensor_on_the_device(mnist):
    data = prepare(mnist, device="cpu", train_subset=100, test_subset=50)
    assert {t.device.type for t in (data.x_train, data.y_train, data.x_test, data.y_test)} == {"cpu"}
    assert data.device == torch.device("cpu")


def test_batches_stay_on_the_data_device_and_order_is_device_independent():
    x, y = torch.arange(50.0).view(-1, 1), torch.arange(50)
    batches = list(iterate_batches(x, y, 8, torch.Generator().manual_seed(3)))
    assert all(xb.device == x.device and yb.device == y.device for xb, yb in batches)
    # the permutation comes from a CPU generator: the same order whatever device holds the data
    expected = torch.randperm(50, generator=torch.Generator().manual_seed(3))
    assert torch.equal(torch.cat([yb for _, yb in batches]), expected)


@pytest.mark.parametrize("runs", [1, 3])
def test_no_host_sync_inside_the_training_loop(mnist, monkeypatch, runs):
    """Losses and counts accumulate on the device, alone or stacked; .item() runs twice per run and epoch, not
    per step."""
    cfgs = [RunConfig(model="CustomMLP_6", seed=s, train_subset=640, test_subset=100) for s in range(runs)]
    group = group_of([Job(cfg, run_tensors(cfg, mnist, torch.device("cpu"))) for cfg in cfgs])
    calls = {"n": 0}
    real_item = torch.Tensor.item

    def counting_item(self):
        calls["n"] += 1
        return real_item(self)

    monkeypatch.setattr(torch.Tensor, "item", counting_item)
    train_epoch(group, 1)
    assert calls["n"] == 2 * runs  # 10 steps, 2 syncs a run


@pytest.mark.parametrize("cuda,mps,expected", [(True, False, "cuda"), (False, True, "mps"), (False, False, "cpu")])
def test_auto_device_prefers_cuda_then_mps(monkeypatch, cuda, mps, expected):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: cuda)
    monkeypatch.setattr(torch.backends.mps, "is_available", lambda: mps)
    assert resolve_device("auto").type == expected


def test_augmentation_generators_live_on_the_data_device(mnist):
    data = prepare(mnist, train_subset=64, test_subset=10)
    cfg = RunConfig(noise_std=0.2, shift=2, rotate=5, train_subset=64, test_subset=10)
    _, augment, generators = augmentation(cfg, data)
    assert set(generators) == {"noise", "shift", "affine"}
    assert all(g.device == data.device for g in generators.values())
    assert augment(data.x_train[:4]).device == data.device

