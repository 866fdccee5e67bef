"""mnistlib: the course's LeNet-5 and MLP experiments on MNIST, as a reproducible library.

    >>> import mnistlib as ml
    >>> run = ml.train(ml.RunConfig(model="LeNet5", epochs=50))
    >>> ml.summarize([run])

Modules: ``data`` and ``sources`` (MNIST from any source), ``models``, ``runconfig``,
``training``, ``runs`` (the run store), ``plots``, ``cli``; ``config`` resolves folders.
"""
from ._version import __version__

from .data import MNISTArrays, TensorData, add_noise, iterate_batches, load_mnist, prepare, to_tensor
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
