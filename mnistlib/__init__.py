"""mnistlib: the course's LeNet-5 and MLP experiments on MNIST, as a reproducible library.

    >>> import mnistlib as ml
    >>> run = ml.train(ml.RunConfig(model="LeNet5", epochs=50))
    >>> ml.summarize([run])

Layers: each module imports only from the layers above its own (a test parses the imports and
fails on one that runs up this list). Each module's first docstring line says its one job.

    1. _version, errors, paths, stats, webassets
    2. sources, models
    3. data, runconfig
    4. augment, runs, seed
    5. training, grids, seedimport
    6. beyond, reproduction, plots
    7. parallel, widgets
    8. notebook, report
    9. cli
    10. __init__, __main__
"""
from ._version import __version__
from .augment import add_noise
from .data import MNISTArrays, TensorData, iterate_batches, load_mnist, prepare, to_tensor
from .errors import ConfigError, DataError, MnistlibError, RunStoreError
from .models import (C3_TABLE, MODELS, SEED_MODELS, CustomMLP, LeNet5, build_model, count_parameters,
                     parameter_table, predict_proba)
from .runconfig import RunConfig
from .runs import Run, RunStore, summarize
from .stats import Health, run_statistics
from .training import evaluate, resolve_device, train, train_one_epoch

__all__ = [
    "__version__",
    "MNISTArrays", "TensorData", "add_noise", "iterate_batches", "load_mnist", "prepare", "to_tensor",
    "ConfigError", "DataError", "MnistlibError", "RunStoreError",
    "C3_TABLE", "MODELS", "SEED_MODELS", "CustomMLP", "LeNet5", "build_model", "count_parameters",
    "parameter_table", "predict_proba", "RunConfig", "Run", "RunStore", "Health", "run_statistics", "summarize",
    "evaluate", "resolve_device", "train", "train_one_epoch",
]
