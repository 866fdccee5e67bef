"""Training: the optimizer and schedule, a run's state, the one epoch loop (alone or stacked), a run's life
in the store, inference, the named recipes, and a report's runs on a Dask cluster.

- ``optim``: the optimizer, the loss, the learning-rate and momentum schedules;
- ``job``: one run's training state (model, optimizer, generators, curve, checkpoint);
- ``loop``: the one epoch loop, for one run or a stack, and which runs may share a stack;
- ``lifecycle``: ``train`` and ``train_stack``: lock, resume, save every epoch, callbacks, progress;
- ``inference``: evaluation, a run's checkpoints tested, its model and predictions;
- ``recipes``: the named recipes (fast, far, the SGD recipe), step by step;
- ``cluster``: a report's runs on Dask.
"""
from .._util.lazy import lazy_exports

__getattr__, __dir__, __all__ = lazy_exports(__name__, {
    "lifecycle": ["train", "train_stack"],
    "loop": ["train_epoch", "stack_groups"],
    "inference": ["evaluate", "evaluate_checkpoints", "load_model", "test_predictions"],
    "optim": ["make_optimizer"],
    "recipes": ["RECIPES"],
})
