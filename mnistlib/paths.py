"""Where mnistlib keeps things: one place that resolves every folder.

Every other module asks here instead of building paths itself. The project root is the
checkout that holds ``pyproject.toml`` (an editable install); from a plain install it is the
current directory. Each folder can be moved with an environment variable, which is how
tests and notebooks point the library at a scratch area::

    MNISTLIB_DATA=/big/disk/mnist  MNISTLIB_RUNS=/tmp/runs  mnistlib train ...
"""
from __future__ import annotations

import os
from pathlib import Path


def project_root() -> Path:
    """The checkout this package lives in, or the current directory for a plain install."""
    if "MNISTLIB_ROOT" in os.environ:
        return Path(os.environ["MNISTLIB_ROOT"]).expanduser().resolve()
    here = Path(__file__).resolve().parent.parent  # this file sits in the package's top folder (a test says so)
    return here if (here / "pyproject.toml").exists() else Path.cwd()


def _folder(env: str, default: str) -> Path:
    value = os.environ.get(env)
    return Path(value).expanduser().resolve() if value else project_root() / default


def data_dir() -> Path:
    """Where MNIST files are looked for and downloaded to (``$MNISTLIB_DATA``, else ``data/``)."""
    return _folder("MNISTLIB_DATA", "data")


def cache_dir() -> Path:
    """Decoded-array cache (``$MNISTLIB_CACHE``, else ``cache/`` inside the data folder)."""
    value = os.environ.get("MNISTLIB_CACHE")
    return Path(value).expanduser().resolve() if value else data_dir() / "cache"


def runs_dir() -> Path:
    """The run store (``$MNISTLIB_RUNS``, else ``runs/``)."""
    return _folder("MNISTLIB_RUNS", "runs")


def figures_dir() -> Path:
    """Saved figures (``$MNISTLIB_FIGURES``, else ``figures/``)."""
    return _folder("MNISTLIB_FIGURES", "figures")


def reports_dir() -> Path:
    """Executed notebooks and HTML (``$MNISTLIB_REPORTS``, else ``reports/``)."""
    return _folder("MNISTLIB_REPORTS", "reports")
