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
