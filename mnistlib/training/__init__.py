"""Training: the optimizer and schedule, the one epoch loop and a run's life in the store, inference,
the named recipes, and a report's runs on a Dask cluster.
"""
from .._util.lazy import lazy_exports

__getattr__, __dir__, __all__ = lazy_exports(__name__, {
    "loop": ["train"],
    "stack": ["train_stack"],
    "inference": ["evaluate", "evaluate_checkpoints", "load_model", "test_predictions"],
    "optim": ["make_optimizer"],
    "recipes": ["RECIPES"],
})
