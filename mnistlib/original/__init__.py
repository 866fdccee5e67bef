"""The original (the student's report): its published histories, its table and its checkpoints.

- ``record``: its 34 histories, its 13-row table as computed and as printed;
- ``checkpoints``: its checkpoints imported as runs of the store (``mnistlib import-original``).

    >>> from mnistlib import original
    >>> original.table().loc["LeNet-5", "mean_test_acc"]
"""
from .._util.lazy import lazy_exports

__getattr__, __dir__, __all__ = lazy_exports(__name__, {
    "record": ["MLP_NAMES", "ORIGINAL_LENET_LAYERS", "ORIGINAL_LOSS_FLOOR", "ORIGINAL_NOISE_STDS", "ORIGINAL_WINDOW",
               "ORIGINAL_WEIGHT_DECAYS", "PRINTED", "PUBLISHED", "STATED_DIFFERENCES", "history", "histories",
               "loss_floor_gaps", "printed_readings", "run_table", "statistics", "table"],
    "checkpoints": ["import_original"],
})
