"""Names a package re-exports from its modules, imported on first use (PEP 562).

    >>> __getattr__, __dir__, __all__ = lazy_exports(__name__, {"mnist": ["load_mnist"]})

So ``import mnistlib`` and ``mnistlib --help`` stay instant, torch loading only when a name that needs
it is used, and a package's own modules never import each other through its ``__init__``.
"""
from __future__ import annotations

import importlib
import sys
from typing import Callable, Mapping, Sequence


def lazy_exports(package: str, api: Mapping[str, Sequence[str]]) -> tuple[Callable, Callable, list[str]]:
    """(``__getattr__``, ``__dir__``, ``__all__``) for ``package``, re-exporting ``api``: module (relative
    to the package) -> the names it gives."""
    home = {name: module for module, names in api.items() for name in names}

    def __getattr__(name: str):
        if name in home:
            value = getattr(importlib.import_module(f"{package}.{home[name]}"), name)
            setattr(sys.modules[package], name, value)  # later lookups skip this function
            return value
        raise AttributeError(f"module {package!r} has no attribute {name!r}")

    def __dir__() -> list[str]:
        return sorted({*vars(sys.modules[package]), *home})

    return __getattr__, __dir__, sorted(home)
