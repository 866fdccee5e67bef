"""The ipywidgets views: built from tiny stored runs, driven from Python (no browser)."""
import numpy as np
import pytest
import torch

import mnistlib.report.plots as plots
from mnistlib import ConfigError, RunConfig, RunStore, RunStoreError, train
from mnistlib.report.widgets import DataExplorer, DigitInspector, NoisePreview, RunExplorer

TINY = dict(train_subset=600, test_subset=300, subset_mode="stratified")


@pytest.fixture(scope="module")
def store(tmp_path_factory, mnist):
    store = RunStore(tmp_path_factory.mktemp("widget-runs"))
    for cfg in (RunConfig(model="CustomMLP_6", epochs=3, **TINY), RunConfig(model="CustomMLP_5", epochs=3, **TINY),
                RunConfig(model="LeNet5", epochs=2, **TINY)):
        train(cfg, store=store, data=mnist, progress=False)
    return store


def test_run_explorer_redraws_and_recomputes_the_window(store):
    explorer = RunExplorer(store=store, window=(1, 3))
    assert len(explorer.runs.options) == 3 and bytes(explorer.image.value).startswith(b"\x89PNG")
    before_image, before_table = explorer.image.value, explorer.table.value
    explorer.metric.value = "test_loss"
    assert explorer.image.value != before_image and explorer.table.value == before_table
    explorer.window.value = (3, 3)
    assert "Means over epochs 3–3" in explorer.table.value and explorer.table.value != before_table
    stats = explorer.statistics()
    name = explorer.runs.value[0]
    run = store.load(name)
    assert stats.loc[name, "mean_test_acc"] == pytest.approx(run.history.test_acc.iloc[2])  # epoch 3 alone
    explorer.runs.value = ()
    assert "choose one or more runs" in explorer.table.value


def test_run_explorer_labels_and_errors(store, tmp_path):
    names = [p.name for p in store.run_folders()]
    explorer = RunExplorer(names[:2], store=store, labels={names[0]: "first"}, selected=[names[0]])
    assert list(explorer.chosen()) == ["first"]
    with pytest.raises(RunStoreError, match="no runs to explore"):
        RunExplorer(store=RunStore(tmp_path / "empty"))
    with pytest.raises(Exception, match="metric must be one of"):
        RunExplorer(store=store, metric="speed")


def test_digit_inspector_counts_filters_and_pages(store, mnist):
    run = store.find(RunConfig(model="CustomMLP_6", epochs=3, **TINY))
    inspector = DigitInspector(run, data=mnist, per_page=5)
    n = len(inspector.label)
    assert n == 300 and inspector.confusion.sum() == n
    # the checkpoint's accuracy is the last epoch's test accuracy in the history
    assert 100 * np.trace(inspector.confusion) / n == pytest.approx(run.history.test_acc.iloc[-1])
    wrong = int((inspector.predicted != inspector.label).sum())
    assert f"<b>{wrong}</b> of 300" in inspector.summary.value
    assert inspector.page.max == -(-wrong // 5) - 1
    image, matrix = inspector.image.value, inspector.matrix.value
    true_class = int(np.bincount(inspector.label[inspector.predicted != inspector.label]).argmax())
    inspector.true_class.value = true_class
    picked = inspector.mistakes()
    assert len(picked) and (inspector.label[picked] == true_class).all()
    assert inspector.image.value != image and inspector.matrix.value != matrix  # row outlined
    predicted = int(inspector.predicted[picked[0]])
    inspector.predicted_class.value = predicted
    assert (inspector.predicted[inspector.mistakes()] == predicted).all()
    assert f"true {true_class}, predicted {predicted}" in inspector.summary.value
    assert inspector.page.value == 0


def test_noise_preview_uses_the_training_noise_function(mnist, monkeypatch):
    calls = []
    real = plots.add_noise
    monkeypatch.setattr(plots, "add_noise", lambda x, std, *a, **k: calls.append(std) or real(x, std, *a, **k))
    preview = NoisePreview(mnist, std=0.1)
    first = preview.image.value
    preview.std.value = 0.7
    assert preview.image.value != first and 0.7 in calls
    assert "measured std of the added noise: 0.7" in preview.stats.value
    preview.std.value = 0.0
    assert "measured std of the added noise: 0.000" in preview.stats.value


def test_data_explorer_browses_by_class_and_split(mnist):
    explorer = DataExplorer(mnist, per_page=4)
    assert (mnist.train_labels[explorer.indices()] == 0).all()
    image = explorer.image.value
    explorer.digit.value = 7
    assert explorer.image.value != image and (mnist.train_labels[explorer.indices()] == 7).all()
    assert f"{(mnist.train_labels == 7).sum():,} images of 7 in the train set" in explorer.stats.value
    explorer.page.value = 3
    assert "page 4 of" in explorer.stats.value
    explorer.split.value = "test"
    assert explorer.page.value == 0 and f"{(mnist.test_labels == 7).sum():,} images of 7 in the test set" \
        in explorer.stats.value
    fig = explorer.figure()
    shown = fig.axes[explorer.per_page].images[0].get_array()
    assert shown.shape == (32, 32)  # the model's input, padded
    assert float(shown.min()) == pytest.approx(float(torch.tensor(-0.1307 / 0.3081)), abs=1e-4)


def test_digit_inspector_switches_runs(store, mnist):
    mlp = store.find(RunConfig(model="CustomMLP_6", epochs=3, **TINY))
    lenet = store.find(RunConfig(model="LeNet5", epochs=2, **TINY))
    inspector = DigitInspector(mlp, data=mnist, store=store, choices={mlp.name: "MLP", lenet.name: "LeNet"})
    assert inspector.name == "MLP"
    inspector.true_class.value = 1
    inspector.run_select.value = lenet.name
    assert inspector.run.name == lenet.name and inspector.name == "LeNet"
    assert 100 * np.trace(inspector.confusion) / 300 == pytest.approx(lenet.history.test_acc.iloc[-1])
    assert "LeNet: mistakes with true 1" in inspector.figure()._suptitle.get_text()


def test_perturbation_viewer_shows_the_digits_as_the_models_get_them(store, mnist):
    from mnistlib.report.widgets import PerturbationViewer

    runs = {run.config.model: run for run in map(store.load, store.run_folders())}
    viewer = PerturbationViewer(runs, data=mnist, kind="noise", strength=0.5, n=4)
    assert viewer.perturbation().noise == 0.5 and bytes(viewer.image.value).startswith(b"\x89PNG")
    noisy = viewer.image.value
    viewer.kind.value = "shift"
    assert viewer.strength.max == 8 and viewer.strength.step == 1
    viewer.strength.value = 3
    assert viewer.perturbation().shift == 3 and viewer.perturbation().noise == 0 and viewer.image.value != noisy
    viewer.kind.value = "rotate"
    viewer.strength.value = 45
    assert viewer.perturbation().rotate == 45
    with pytest.raises(ConfigError, match="kind must be one of noise, shift, rotate"):
        PerturbationViewer(runs, data=mnist, kind="blur")
