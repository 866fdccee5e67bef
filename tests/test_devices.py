"""Device plumbing, checked on the CPU: data lives on the training device, batches are sliced
there, no host sync per step, and shuffling does not depend on the device."""
import pytest
import torch

import mnistlib.training.loop as training
from mnistlib import RunConfig, RunStore, iterate_batches, prepare, train
from mnistlib.data.augment import augmentation
from mnistlib.training.cluster import train_many


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


def test_no_host_sync_inside_the_training_loop(mnist, monkeypatch):
    """Losses and counts accumulate on the device; .item() runs twice per epoch, not per step."""
    data = prepare(mnist, train_subset=640, test_subset=100)
    torch.manual_seed(0)
    model = training.build_model("CustomMLP_6")
    optimizer = torch.optim.SGD(model.parameters(), lr=0.01)
    calls = {"n": 0}
    real_item = torch.Tensor.item

    def counting_item(self):
        calls["n"] += 1
        return real_item(self)

    monkeypatch.setattr(torch.Tensor, "item", counting_item)
    training.train_one_epoch(model, data, optimizer, training.loss_function("cross_entropy"), 64,
                             torch.Generator().manual_seed(0))
    assert calls["n"] == 2  # 10 steps, 2 syncs


@pytest.mark.parametrize("cuda,mps,expected", [(True, False, "cuda"), (False, True, "mps"), (False, False, "cpu")])
def test_auto_device_prefers_cuda_then_mps(monkeypatch, cuda, mps, expected):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: cuda)
    monkeypatch.setattr(torch.backends.mps, "is_available", lambda: mps)
    assert training.resolve_device("auto").type == expected


def test_augmentation_generators_live_on_the_data_device(mnist):
    data = prepare(mnist, train_subset=64, test_subset=10)
    cfg = RunConfig(noise_std=0.2, shift=2, rotate=5, train_subset=64, test_subset=10)
    _, augment, generators = augmentation(cfg, data)
    assert set(generators) == {"noise", "shift", "affine"}
    assert all(g.device == data.device for g in generators.values())
    assert augment(data.x_train[:4]).device == data.device


def test_parallel_workers_equal_single_thread_runs(mnist, tmp_path, dask_scheduler):
    """train_many on Dask workers (1 thread each) gives the histories of in-process 1-thread runs."""
    configs = {f"mlp{s}": RunConfig(model="CustomMLP_6", epochs=2, seed=s, train_subset=1200, test_subset=300)
               for s in range(2)}
    names = train_many(configs, runs_dir=tmp_path / "parallel", log=lambda line: None, stack=1,
                       scheduler=dask_scheduler)
    assert set(names) == set(configs)
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        for label, cfg in configs.items():
            alone = train(cfg, store=RunStore(tmp_path / "alone"), data=mnist, progress=False)
            together = RunStore(tmp_path / "parallel").load(names[label])
            assert together.history.drop(columns="seconds").equals(alone.history.drop(columns="seconds"))
    finally:
        torch.set_num_threads(threads)
    # finished runs are not trained again
    logged = []
    train_many(configs, runs_dir=tmp_path / "parallel", log=logged.append, scheduler=dask_scheduler)
    assert logged == []
