"""Test images perturbed on purpose, and calibration: exact shifts and rotations, seeded and the same
for every model, nothing changed by a clean setting, and an expected calibration error that tells an
honest model from an over-confident one."""
import numpy as np
import pandas as pd
import pytest
import torch

from mnistlib import RunConfig, RunStore
from mnistlib.cli import main
from mnistlib.data.mnist import BACKGROUND
from mnistlib.errors import ConfigError
from mnistlib.data.perturb import DIRECTIONS, Perturbation, perturb, rotate_exactly, shift_exactly
from mnistlib.stats import calibration
from mnistlib.data.cache import perturbed_images


def dot_images(n: int) -> torch.Tensor:
    """n blank 32x32 images with one bright pixel at (16, 16)."""
    x = torch.full((n, 1, 32, 32), BACKGROUND)
    x[:, 0, 16, 16] = 2.0
    return x


@pytest.mark.parametrize("pixels", [1, 3, 8])
def test_a_shift_moves_each_image_exactly_k_pixels_in_a_compass_direction(pixels):
    moved = shift_exactly(dot_images(400), pixels, torch.Generator().manual_seed(0))
    where = [tuple((image[0] == 2.0).nonzero()[0].tolist()) for image in moved]
    steps = {((r - 16) // pixels, (c - 16) // pixels) for r, c in where}
    assert steps == set(DIRECTIONS)  # every image moved by exactly k, and all eight directions drawn
    assert all(abs(r - 16) in (0, pixels) and abs(c - 16) in (0, pixels) for r, c in where)
    assert (moved == 2.0).sum() == 400 and moved.min() == BACKGROUND  # nothing else changed


def test_a_rotation_turns_each_image_by_exactly_d_degrees_one_way_or_the_other():
    x = torch.full((64, 1, 32, 32), BACKGROUND)
    x[:, 0, 4:10, 14:18] = 2.0  # a bar above the centre
    turned = rotate_exactly(x, 90.0, torch.Generator().manual_seed(0))
    senses = set()
    for image, original in zip(turned, x):
        for k in (1, -1):
            if torch.allclose(image, torch.rot90(original, k, dims=(1, 2)), atol=1e-4):
                senses.add(k)
    assert senses == {1, -1}


def test_noise_has_the_std_asked_for_and_a_clean_setting_changes_nothing():
    x = dot_images(200)
    noisy = perturb(x, Perturbation(noise=0.3))
    assert (noisy - x).std().item() == pytest.approx(0.3, rel=0.02) and abs((noisy - x).mean().item()) < 0.01
    clean = Perturbation(noise=0, shift=0, rotate=0)
    assert clean.clean and clean.name() == "clean" and perturb(x, clean) is x
    assert Perturbation(noise=0.3, shift=2, rotate=15).name() == "noise0.3-shift2-rotate15"
    assert Perturbation(shift=2, seed=1).name() == "shift2-seed1"


@pytest.mark.parametrize("values, match", [({"noise": -1}, "noise must be >= 0"), ({"shift": 9}, "shift must be <= 8"),
                                           ({"shift": 1.5}, "shift must be an integer"),
                                           ({"rotate": 91}, "rotate must be <= 90")])
def test_bad_values_are_one_line(values, match, capsys):
    with pytest.raises(ConfigError, match=match):
        Perturbation(**values)
    flags = [f"--{key}={value}" for key, value in values.items() if key != "shift" or value != 1.5]
    if flags:  # the command line refuses them before looking for the run
        assert main(["test", "any-run", *flags]) == 2
        err = capsys.readouterr().err.strip()
        assert len(err.splitlines()) == 1 and match in err


def test_every_model_sees_the_same_perturbed_images(mnist):
    tiny = dict(train_subset=200, test_subset=300, subset_mode="stratified")
    p = Perturbation(noise=0.5, shift=2, rotate=20)
    lenet, mlp = RunConfig(model="LeNet5", **tiny), RunConfig(model="CustomMLP_6", lr=0.1, **tiny)
    a, b = perturbed_images(lenet, mnist, torch.device("cpu"), p), perturbed_images(mlp, mnist, torch.device("cpu"), p)
    assert torch.equal(a, b)
    from mnistlib.data.cache import _perturbed

    _perturbed.cache_clear()  # made again from nothing: the same draws
    assert torch.equal(perturbed_images(lenet, mnist, torch.device("cpu"), p), a)
    other = perturbed_images(lenet, mnist, torch.device("cpu"), Perturbation(noise=0.5, shift=2, rotate=20, seed=1))
    assert not torch.equal(other, a)
    clean = perturbed_images(lenet, mnist, torch.device("cpu"), Perturbation())
    assert not torch.equal(clean, a) and clean.shape == a.shape


def test_calibration_tells_an_honest_model_from_an_overconfident_one():
    rng = np.random.default_rng(0)
    confidence = rng.uniform(0.1, 1.0, 200_000)
    honest = calibration(confidence, rng.uniform(size=confidence.size) < confidence)
    assert honest["ece"] < 0.5  # points: right as often as it says
    assert honest["confidence_right"] > honest["confidence_wrong"]
    overconfident = calibration(np.full(10_000, 0.99), rng.uniform(size=10_000) < 0.6)
    assert overconfident["ece"] == pytest.approx(39, abs=1.5)
    bins = overconfident["bins"]
    assert len(bins) == 15 and bins.answers.sum() == 10_000 and bins.answers.iloc[-1] == 10_000


def test_the_original_checkpoint_tested_clean_and_perturbed(mnist, tmp_path, capsys):
    """Clean, the imported original gives its logged accuracy; perturbed, a file of its own beside
    test_eval.csv, and the same numbers twice."""
    from mnistlib import original
    from mnistlib.original.checkpoints import import_original

    store = RunStore(tmp_path / "runs")
    (run,) = import_original(original.PUBLISHED / "LeNet5_model_0050.pt", store)
    runs_dir = ["--runs-dir", str(tmp_path / "runs")]
    assert main(["test", run.name, "--which", "last", *runs_dir]) == 0
    clean = pd.read_csv(run.path / "test_eval.csv")
    assert round(clean.test_acc.iloc[0], 2) == 98.82 and 0 <= clean.ece.iloc[0] < 100
    capsys.readouterr()
    outputs = []
    for _ in range(2):
        assert main(["test", run.name, "--which", "last", "--noise", "1.0", "--shift", "2", *runs_dir]) == 0
        outputs.append(capsys.readouterr().out)
    assert outputs[0] == outputs[1] and "test_eval-noise1-shift2.csv" in outputs[0]
    noisy = pd.read_csv(run.path / "test_eval-noise1-shift2.csv")
    assert noisy.test_acc.iloc[0] < clean.test_acc.iloc[0]
    pd.testing.assert_frame_equal(pd.read_csv(run.path / "test_eval.csv"), clean)  # never written over


def test_weight_table_counts_norms_and_near_zeros():
    from mnistlib.models.nets import build_model
    from mnistlib.analysis.robustness import weight_table

    model = build_model("mlp:4")
    with torch.no_grad():
        model.layers[0].weight.fill_(0.0)
        model.layers[0].weight[0, :4] = torch.tensor([3.0, 4.0, 0.0005, -0.0005])
        model.layers[2].weight.fill_(1.0)
    table = weight_table(model)
    assert list(table.index) == ["layers.0", "layers.2", "all"]
    assert table.loc["layers.0", "weights"] == 4 * 1024 and table.loc["layers.0", "l2_norm"] == pytest.approx(5.0)
    assert table.loc["layers.0", "near_zero"] == pytest.approx(100 * (4 * 1024 - 2) / (4 * 1024))
    assert table.loc["layers.2", "near_zero"] == 0 and table.loc["layers.2", "l2_norm"] == pytest.approx(40 ** 0.5)
    assert table.loc["all", "l2_norm"] == pytest.approx((25 + 40) ** 0.5)


def test_robustness_puts_every_run_on_the_same_images_and_finds_where_curves_cross(mnist, tmp_path):
    from mnistlib import train
    from mnistlib.analysis.robustness import at_setting, honesty, noise_levels, robustness

    tiny = dict(model="CustomMLP_6", epochs=1, train_subset=600, test_subset=200, subset_mode="stratified")
    store = RunStore(tmp_path)
    trained = lambda **fields: [train(RunConfig(**tiny, **fields, seed=s), store=store, data=mnist, progress=False)  # noqa: E731
                                for s in (0, 1)]
    runs = {"plain": trained(), "noisy": trained(noise_std=1.0)}
    table = robustness(runs, noise_levels([0, 1.0]), data=mnist)
    assert len(table) == 8 and set(table.columns) >= {"run", "seed", "noise", "test_acc", "ece", "confidence_right"}
    again = robustness(runs, noise_levels([0, 1.0]), data=mnist)
    pd.testing.assert_frame_equal(table, again)
    clean = table[(table.noise == 0) & (table.seed == 0)].set_index("run").test_acc
    assert clean["plain"] == pytest.approx(runs["plain"][0].history.test_acc.iloc[-1])  # noise 0: the run's own number
    assert list(at_setting(table, noise=1.0)["noisy"]) == list(table[(table.noise == 1.0) & (table.run == "noisy")].test_acc)
    found = honesty(runs, against="plain", data=mnist)
    assert found.loc["plain", "ece_change"] == 0 and found.loc["plain", "verdict"] == "–"
    assert found.loc["noisy", "verdict"] == "undecided"  # 2 seeds against 2 cannot reach p < 0.05
    assert found.loc["noisy", "ece_change_low"] <= found.loc["noisy", "ece_change"] <= found.loc["noisy", "ece_change_high"]
    assert found.loc["noisy", "ece"] == pytest.approx(table[(table.run == "noisy") & (table.noise == 0)].ece.mean())


def test_a_verdict_on_calibration_is_the_rules_on_each_seeds_error(monkeypatch):
    from mnistlib.analysis import robustness as module

    ece = {"plain": [2.0, 2.1, 2.2, 2.3, 2.4], "decayed": [1.0, 1.1, 1.2, 1.3, 1.4], "same": [2.05, 2.15, 2.25, 2.35, 2.3],
           "at chance": [0.1] * 5}
    rows = [{"run": label, "seed": s, "noise": 0.0, "shift": 0, "rotate": 0.0, "ece": e,
             "test_acc": 11.35 if label == "at chance" else 98.8, "test_loss": 0.1, "confidence_right": 90.0,
             "confidence_wrong": 60.0, "confidence": 98.0} for label, values in ece.items() for s, e in enumerate(values)]
    monkeypatch.setattr(module, "robustness", lambda *args, **kwargs: pd.DataFrame(rows))
    found = module.honesty({label: [] for label in ece}, against="plain")
    assert found.verdict.to_dict() == {"plain": "–", "decayed": "more honest", "same": "no different",
                                       "at chance": "at chance"}
    assert found.loc["decayed", "ece_change"] == pytest.approx(-1.0) and found.loc["decayed", "p"] == pytest.approx(2 / 252)
    assert found.loc["decayed", "overconfidence"] == pytest.approx(98.0 - 98.8)


def test_a_noise_run_is_ahead_from_where_the_rule_says_so_at_every_stronger_setting():
    from mnistlib.analysis.robustness import crossing

    seeds = np.arange(5) * 0.1
    made_up = pd.DataFrame([{"run": run, "seed": s, "noise": noise, "shift": 0, "rotate": 0.0, "test_acc": acc + seeds[s]}
                            for noise, accs in ((0, (99, 98.8)), (0.5, (95, 95.1)), (1.0, (80, 90)), (1.5, (60, 75)))
                            for run, acc in zip(("a", "b"), accs) for s in range(5)])
    assert crossing(made_up, "b", "a") == 1.0  # at 0.5 b is ahead by 0.1 point: within the spread, not ahead
    assert crossing(made_up, "a", "b") is None


def test_weight_decay_alone_shrinks_a_weight_by_its_geometric_sum():
    """Momentum m sums a constant gradient λ·w to λ·w/(1 − m): the shrink per step, then per epoch."""
    from mnistlib.analysis.robustness import weight_shrink

    found = weight_shrink(RunConfig(weight_decay=1e-2, lr=0.01, momentum=0.9, batch_size=64))
    assert found.per_step == pytest.approx(1e-3) and found.steps_per_epoch == 938
    assert found.per_epoch == pytest.approx(0.999 ** 938)
    w = torch.ones(1, requires_grad=True)  # the same, by SGD itself on a loss of 0: only the decay acts
    sgd = torch.optim.SGD([w], lr=0.01, momentum=0.9, weight_decay=1e-2)
    for _ in range(2000):
        sgd.zero_grad()
        (w * 0).sum().backward()
        sgd.step()
    late = w.item()
    for _ in range(100):
        sgd.zero_grad()
        (w * 0).sum().backward()
        sgd.step()
    assert w.item() / late == pytest.approx((1 - found.per_step) ** 100, rel=1e-3)
    assert weight_shrink(RunConfig(weight_decay=1e-3, train_subset=600, batch_size=10)).steps_per_epoch == 60
