"""mnistlib: the course's LeNet-5 and MLP experiments on MNIST, as a reproducible library.

    >>> import mnistlib as ml
    >>> run = ml.train(ml.RunConfig(model="LeNet5", epochs=50))
    >>> ml.summarize([run])

The package is its layers, one folder (or root module) a room, each room importing only from the
floors below its own (:data:`LAYERS`; a test walks every module's imports and fails on one that runs up):

   10  cli                the ``mnistlib`` command
    9  report/            the report's parameters and grids (``parameters``, ``grids``), what a notebook calls
                          (``context``), ``tables`` for reading, ``plots``, ``widgets``, the ``runner`` (papermill,
                          HTML), ``publish`` (``docs/``), ``webassets``
    8  analysis/          each notebook's findings as numbers and verdicts keyed by ids: ``claims``,
                          ``robustness``, ``beyond``, ``reproduction``, ``speed``, ``seeds``,
                          ``bias_variance`` (Domingos's, over seeds)
    7  training/          ``optim`` (optimizer, loss, schedule), ``job`` (a run's state), ``loop`` (the one epoch
                          loop, alone or stacked), ``lifecycle`` (a run's life in the store: ``train``,
                          ``train_stack``), ``inference``, ``recipes``, ``cluster`` (Dask)
       original/          the original's published ``record`` (34 histories, its table) and its ``checkpoints``
    6  store/             the run store: ``identity`` (hash, folder name), ``format`` (and its upgrade),
                          ``store`` (``RunStore``, ``Run``), ``export`` (TensorBoard)
    5  data/              ``sources``, ``mnist`` (load, tensors, subsets, batches), ``augment``, ``perturb``,
                          ``cache`` (a run's tensors, once per process)
       words              the words a reader sees: column headers, model names, run labels
    4  runconfig          ``RunConfig``: everything that decides a run's numbers
    3  models/            ``nets`` (LeNet-5 with the sparse C3, the MLPs, the registry), ``stacked``
    2  _util/             ``checks`` (typed-in values), ``files`` (atomic writes, safe checkpoints), ``machine``,
                          ``lazy`` (re-exports on first use), ``moved`` (where 0.1's modules went)
       difference         the one rule for "different" (seeds, exact test, Welch interval), the reproduction interval
    1  stats              statistics of histories: the original's statistic, health, bands, exact tests
       errors             the exceptions, each message one line
       paths              every folder, each movable with an environment variable
       _version           the version

Each module's first docstring line says its one job.
"""
from __future__ import annotations

from ._util import moved
from ._util.lazy import lazy_exports
from ._version import __version__

moved.install()  # an import of a module of mnistlib 0.1 says where it went

# The package's API, imported on first use: ``import mnistlib`` and ``mnistlib --help`` stay instant.
__getattr__, __dir__, _API = lazy_exports(__name__, {
    "data.augment": ["add_noise"],
    "data.mnist": ["MNISTArrays", "TensorData", "iterate_batches", "load_mnist", "prepare", "to_tensor"],
    "errors": ["ConfigError", "DataError", "MnistlibError", "RunStoreError"],
    "models.nets": ["C3_TABLE", "MODELS", "ORIGINAL_MODELS", "CustomMLP", "LeNet5", "build_model", "count_parameters",
                    "parameter_table", "predict_proba"],
    "runconfig": ["RunConfig"],
    "store.store": ["Run", "RunStore", "summarize"],
    "stats": ["Health", "run_statistics"],
    "_util.machine": ["resolve_device"],
    "training.inference": ["evaluate"],
    "training.lifecycle": ["train", "train_stack"],
})
__all__ = ["__version__", *_API]

# The floors of the package's rooms (a folder, or a module at the top), lowest first; the docstring's map.
LAYERS: tuple[tuple[str, ...], ...] = (
    ("stats", "errors", "paths", "_version"),
    ("_util", "difference"),
    ("models",),
    ("runconfig",),
    ("data", "words"),
    ("store",),
    ("training", "original"),
    ("analysis",),
    ("report",),
    ("cli",),
    ("__main__",),
)
