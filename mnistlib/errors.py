"""The project's exceptions. Each message is one line: what is wrong, then what to do."""
from __future__ import annotations


class MnistlibError(Exception):
    """Base class: the CLI prints these as a single ``mnistlib: error: ...`` line."""


class DataError(MnistlibError):
    """A data source is missing, corrupt, truncated or inconsistent."""


class ConfigError(MnistlibError, ValueError):
    """A run or model parameter has a bad value or type."""


class RunStoreError(MnistlibError):
    """A stored run is missing or cannot be read."""


class RunHealthWarning(UserWarning):
    """A run diverged or fell to chance: recorded as its health and warned about, never raised.
    Callers that report health themselves filter this category, not a message text."""


class StoreFormatError(RunStoreError):
    """A run store (or one run folder) written in another format than this mnistlib's."""
