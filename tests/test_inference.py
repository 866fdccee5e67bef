"""A run's weights put to use: one set of images a run is evaluated on, whatever reads it."""
import numpy as np
import pytest

from mnistlib import RunConfig, RunStore, train
from mnistlib.data.mnist import validation_split
from mnistlib.training.inference import evaluate_checkpoints, mistakes, test_predictions as predictions_of


@pytest.mark.parametrize("fields", [dict(validation=2_000), dict(train_subset=600, test_subset=300,
                                                                  subset_mode="stratified", seed=1)])
def test_a_runs_history_its_test_command_and_its_predictions_see_the_same_images(mnist, tmp_path, fields):
    """With a validation split they are its held-out training images, never the test set."""
    cfg = RunConfig(model="CustomMLP_6", epochs=1, **fields)
    run = train(cfg, store=RunStore(tmp_path), data=mnist, progress=False)
    table = evaluate_checkpoints(run, "last", data=mnist)
    found = predictions_of(run, data=mnist)
    right = 100 * float((found["proba"].argmax(1) == found["label"]).mean())
    assert table.test_acc.iloc[0] == pytest.approx(run.history.test_acc.iloc[-1], abs=1e-9)
    assert right == pytest.approx(run.history.test_acc.iloc[-1], abs=1e-9)
    if cfg.validation:
        assert found["split"] == "train" and len(found["index"]) == 2_000
        assert np.array_equal(found["index"], validation_split(60_000, 2_000)[1])
        assert np.array_equal(found["images"], mnist.train_images[found["index"]])
    else:
        assert found["split"] == "test" and len(found["label"]) == 300
        assert np.array_equal(found["images"], mnist.test_images[found["index"]])
    wrong = mistakes(found)
    assert len(wrong) == round(len(found["label"]) * (1 - right / 100))
    assert (found["proba"][wrong].argmax(1) != found["label"][wrong]).all()


def test_a_runs_predictions_are_stored_with_it_reused_and_made_again_when_stale_or_damaged(mnist, tmp_path,
                                                                                          monkeypatch):
    import mnistlib.training.inference as inference
    from mnistlib._util.files import save_checkpoint
    from mnistlib.training.inference import predictions_path

    cfg = RunConfig(model="CustomMLP_6", epochs=1, train_subset=600, test_subset=300, subset_mode="stratified")
    run = train(cfg, store=RunStore(tmp_path), data=mnist, progress=False)
    first = predictions_of(run, data=mnist)
    path = predictions_path(run)
    assert path.exists() and path.stat().st_size < 300 * 10 * 4 + 4_000
    loads = []
    real = inference.load_model
    monkeypatch.setattr(inference, "load_model", lambda *a, **k: loads.append(a) or real(*a, **k))
    again = predictions_of(run, data=mnist)
    assert loads == [] and np.array_equal(again["proba"], first["proba"]) and again["proba"].dtype == np.float32
    path.write_bytes(b"not a zip")  # damaged: computed again, and stored again
    assert np.array_equal(predictions_of(run, data=mnist)["proba"], first["proba"]) and len(loads) == 1
    state = torch_load(run.checkpoint())
    state["model"] = {k: v * 0 for k, v in state["model"].items()}
    save_checkpoint(run.checkpoint(), state)  # another checkpoint: the stored file is stale
    changed = predictions_of(run, data=mnist)
    assert len(loads) == 2 and not np.array_equal(changed["proba"], first["proba"])


def test_predictions_on_another_configs_images_are_made_and_never_stored_over_the_runs_own(mnist, tmp_path):
    """A profile whose test subset each seed draws: seeds of one configuration voted on the images of one config."""
    import dataclasses

    from mnistlib.analysis.bias_variance import seed_predictions
    from mnistlib.training.inference import predictions_path

    cfg = RunConfig(model="CustomMLP_6", epochs=1, train_subset=600, test_subset=300, subset_mode="stratified")
    runs = [train(dataclasses.replace(cfg, seed=s), store=RunStore(tmp_path), data=mnist, progress=False) for s in (0, 1)]
    own = predictions_of(runs[1], data=mnist)
    stored = predictions_path(runs[1]).read_bytes()
    theirs = predictions_of(runs[1], data=mnist, on=runs[0].config)
    assert not np.array_equal(own["index"], theirs["index"])  # seed 1 draws another test subset than seed 0
    assert np.array_equal(theirs["index"], predictions_of(runs[0], data=mnist)["index"])
    assert predictions_path(runs[1]).read_bytes() == stored  # the run's own file is left as it was
    with pytest.raises(ValueError, match="evaluated on different images; give `on`"):
        seed_predictions(runs, mnist)
    classes, labels = seed_predictions(runs, mnist, on=cfg)
    assert classes.shape == (2, 300) and np.array_equal(labels, theirs["label"])


def test_the_images_key_tells_two_evaluation_sets_apart(mnist):
    from mnistlib.training.inference import images_sha256

    images, labels = mnist.test_images[:100], mnist.test_labels[:100]
    assert images_sha256(images, labels) == images_sha256(images.copy(), labels.astype(np.int32))
    assert images_sha256(images, labels) != images_sha256(images[::-1], labels[::-1])
    assert images_sha256(images, labels) != images_sha256(images[:99], labels[:99])


@pytest.mark.parametrize("name", ["LeNet5", "LeNet5-subsampling", "CustomMLP_6"])
def test_a_stored_models_layout_for_inference_changes_its_answers_only_by_float_rounding(mnist, tmp_path, name):
    """load_model gives channels-last convolutions (faster on a CPU); outputs as the training layout's, to 1e-5."""
    import torch

    from mnistlib.data.mnist import to_tensor
    from mnistlib.models.nets import build_model
    from mnistlib.training.inference import load_model

    cfg = RunConfig(model=name, epochs=1, train_subset=600, test_subset=300, subset_mode="stratified")
    run = train(cfg, store=RunStore(tmp_path), data=mnist, progress=False)
    model = load_model(run)
    plain = build_model(name)
    plain.load_state_dict(torch_load(run.checkpoint("last"))["model"])
    x = to_tensor(mnist.test_images[:1000])
    convs = [m.weight for m in model.modules() if isinstance(m, torch.nn.Conv2d)]
    assert not model.training and all(w.is_contiguous(memory_format=torch.channels_last) for w in convs)
    with torch.no_grad():
        fast, reference = model(x), plain.eval()(x)
    top2 = reference.topk(2, dim=1).values
    clear = (top2[:, 0] - top2[:, 1]) > 1e-4  # an answer float rounding cannot flip
    assert torch.allclose(fast, reference, atol=1e-5, rtol=0) and clear.sum() > 900
    assert torch.equal(fast.argmax(1)[clear], reference.argmax(1)[clear])
    assert [k for k in model.state_dict()] == [k for k in plain.state_dict()]


def torch_load(path):
    import torch

    return torch.load(path, weights_only=True)
