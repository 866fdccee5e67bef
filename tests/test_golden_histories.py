"""The numbers do not change with the code around them: histories made at 0c5081e (before the one epoch loop),
made again bit for bit.

``fixtures/golden/histories-0c5081e-<cpu>.json`` hold five smoke-sized cases trained at that commit, one thread,
one file per CPU model (the same code gives other last bits on another CPU; a CPU with no file skips the test): a
stack of SGD runs with mixed weight decay and noise (one drawn once), a stack of MLPs with shifts, a batch-10
stack of the original's protocol, a lone Adam + one-cycle + label-smoothing run with a curve inside its epochs,
and a lone SGD run with a warm-up, a cosine schedule and every augmentation. Each case is trained again here
and compared by exact equality: every history value, every curve point, every run's folder name, a sha256
of its final weights and one of its optimizer's state (what a resume starts from).
"""
import dataclasses
import hashlib
import json
from pathlib import Path

import pytest
import torch

from mnistlib import RunConfig
from mnistlib._util.machine import cpu_name
from mnistlib.store.store import RunStore
from mnistlib.training.lifecycle import train, train_stack
from mnistlib.training.recipes import RECIPES

def _cpu_model() -> str:
    return cpu_name().rsplit(" ×", 1)[0]


GOLDENS = {found["machine"]: found for found in
           (json.loads(path.read_text()) for path in (Path(__file__).parent / "fixtures" / "golden").glob("*.json"))}
GOLDEN = GOLDENS.get(_cpu_model(), {"cases": {}})
pytestmark = pytest.mark.skipif(
    _cpu_model() not in GOLDENS, reason=f"no golden histories for this CPU ({_cpu_model()}; made on "
                                        f"{', '.join(GOLDENS)}): make them with fixtures/golden/make_at_0c5081e.py")
COMMON = dict(train_subset=600, test_subset=300, subset_mode="stratified", epochs=2)


def cases() -> dict[str, list[RunConfig]]:
    """The configs of the golden cases, as the script that made them at 0c5081e built them."""
    return {
        "sgd_stack": [RunConfig(model="LeNet5", seed=0, **COMMON),
                      RunConfig(model="LeNet5", seed=1, weight_decay=1e-3, noise_std=0.2, **COMMON),
                      RunConfig(model="LeNet5", seed=2, weight_decay=1e-2, noise_std=0.3, noise_mode="fixed", **COMMON)],
        "mlp_stack": [RunConfig(model="CustomMLP_6", seed=0, **COMMON),
                      RunConfig(model="CustomMLP_6", seed=1, weight_decay=1e-4, shift=1, **COMMON)],
        "original_stack": [RunConfig.preset("original", model="LeNet5", seed=0, **COMMON),
                           RunConfig.preset("original", model="LeNet5", seed=1, weight_decay=1e-2, **COMMON)],
        "lone_fast": [dataclasses.replace(RECIPES["fast"].config(**{k: v for k, v in COMMON.items() if k != "epochs"}),
                                          eval_every=5)],
        "lone_sgd": [RunConfig(model="LeNet5", schedule="cosine", lr=0.1, batch_size=128, warmup_epochs=1, shift=2,
                               rotate=10, scale=0.1, elastic=20, eval_every=3, **COMMON)],
    }


def optimizer_sha256(run) -> str:
    """The optimizer's state at the last epoch (momentum buffers, Adam's moments and steps, the schedule's values)."""
    state = torch.load(run.checkpoint("last"), weights_only=True)["optimizer"]
    digest = hashlib.sha256(repr(state["param_groups"]).encode())
    for index in sorted(state["state"]):
        for key in sorted(state["state"][index]):
            value = state["state"][index][key]
            digest.update(f"{index}.{key}".encode())
            digest.update(value.contiguous().numpy().tobytes() if torch.is_tensor(value) else repr(value).encode())
    return digest.hexdigest()


def weights_sha256(run) -> str:
    state = torch.load(run.checkpoint("last"), weights_only=True)["model"]
    digest = hashlib.sha256()
    for key in sorted(state):
        digest.update(key.encode())
        digest.update(state[key].contiguous().numpy().tobytes())
    return digest.hexdigest()


@pytest.fixture
def one_thread():
    """The fixture was made at one thread: floating-point sums depend on the thread count."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


@pytest.mark.filterwarnings("ignore::mnistlib.errors.RunHealthWarning")  # 2 epochs of LeNet-5: still at chance
@pytest.mark.parametrize("case", ["sgd_stack", "mlp_stack", "original_stack", "lone_fast", "lone_sgd"])
def test_the_histories_of_0c5081e_made_again_bit_for_bit(case, mnist, tmp_path, one_thread):
    cfgs = cases()[case]
    runs = train_stack(cfgs, store=RunStore(tmp_path), data=mnist, progress=False) if len(cfgs) > 1 \
        else [train(cfgs[0], store=RunStore(tmp_path), data=mnist, progress=False)]
    for cfg, run, golden in zip(cfgs, runs, GOLDEN["cases"][case], strict=True):
        made = cfg.to_dict()
        assert {key: value for key, value in made.items() if key in golden["config"]} == golden["config"]
        assert all(value == getattr(RunConfig(), key) for key, value in made.items() if key not in golden["config"])
        assert run.name == golden["folder"]  # fields added since 0c5081e are at their defaults: the same runs
        assert run.history.drop(columns=["seconds"]).to_dict("records") == golden["history"]
        assert run.curve.to_dict("records") == golden["curve"]
        assert weights_sha256(run) == golden["weights_sha256"]
        assert optimizer_sha256(run) == golden["optimizer_sha256"]  # what a resume starts from, given back by a stack


def test_the_comparison_can_fail(mnist, tmp_path, one_thread):
    """Another random seed, and nothing matches."""
    cfg = dataclasses.replace(cases()["lone_fast"][0], seed=1)
    run = train(cfg, store=RunStore(tmp_path), data=mnist, progress=False)
    golden = GOLDEN["cases"]["lone_fast"][0]
    assert run.history.drop(columns=["seconds"]).to_dict("records") != golden["history"]
    assert weights_sha256(run) != golden["weights_sha256"]

