"""The networks: the original's LeNet-5 (sparse C3) and width-list MLPs, and K of them stacked as one.

- ``nets``: LeNet-5 and its variants, the MLPs, the registry of named presets and their revisions;
- ``stacked``: the layers of K runs of one architecture as one model.
"""
from .._util.lazy import lazy_exports

__getattr__, __dir__, __all__ = lazy_exports(__name__, {
    "nets": ["C3_TABLE", "MODELS", "ORIGINAL_MODELS", "CustomMLP", "LeNet5", "SparseConv2d", "build_model",
             "count_parameters", "parameter_table", "predict_proba"],
    "stacked": ["stack_model"],
})
