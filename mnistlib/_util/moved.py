"""Where the modules of mnistlib 0.1 went: importing an old name fails with one line naming the new one.

mnistlib 0.2 put the package into folders (its layers, ``help(mnistlib)``). The old module names are not kept
as aliases, so there is one name for everything; code written for 0.1 (a notebook of one's own, a script) stops
at its first old import with the line to change. The run store needs nothing: no stored file names a module.
"""
from __future__ import annotations

import importlib
import importlib.abc
import pkgutil
import sys

MOVED = {  # 0.1's module -> where its contents are now
    "augment": "mnistlib.data.augment", "beyond": "mnistlib.analysis.beyond", "checks": "mnistlib._util.checks",
    "cluster": "mnistlib.training.cluster", "export": "mnistlib.store.export", "fastfar": "mnistlib.analysis.speed",
    "files": "mnistlib._util.files", "grids": "mnistlib.report.grids (and mnistlib.report.parameters)",
    "machine": "mnistlib._util.machine", "naming": "mnistlib.store.identity (and mnistlib.words)",
    "notebook": "mnistlib.report.context (and mnistlib.report.tables)",
    "originalimport": "mnistlib.original.checkpoints",
    "perturb": "mnistlib.data.perturb", "plots": "mnistlib.report.plots", "publish": "mnistlib.report.publish",
    "recipes": "mnistlib.training.recipes", "regularizers": "mnistlib.analysis.robustness",
    "reproduction": "mnistlib.analysis.reproduction", "runs": "mnistlib.store.store",
    "sources": "mnistlib.data.sources",
    "stacking": "mnistlib.training.lifecycle (train_stack), mnistlib.training.loop (stack_groups, stack_key) and "
                "mnistlib.models.stacked", "storeformat": "mnistlib.store.format",
    "webassets": "mnistlib.report.webassets", "widgets": "mnistlib.report.widgets",
}


# Names 0.1's modules gave that are gone or renamed, not merely moved into a module of their package.
RENAMED = {"training.train_one_epoch": "mnistlib.training.loop.train_epoch (one epoch of a run alone or of a "
                                       "stack: group_of)",
           "training.ProgressBar": "train_stack's own progress bar (progress=True)",
           "original.runs": "mnistlib.original.run_table", "original.RECORD": "mnistlib.original.PUBLISHED",
           "original.beside_original": "mnistlib.analysis.claims.beside_original",
           "original.check_original_claims": "mnistlib.analysis.claims.check_original_claims"}


def moved_text(old: str, new: str) -> str:
    return f"{old} was mnistlib 0.1's; since 0.2 it is {new}: change the import (help(mnistlib) maps the package)"


def where(package: str, name: str) -> str | None:
    """Where a name that 0.1's module ``package`` gave is now: a module of that package, or mnistlib.words."""
    key = f"{package.partition('.')[2]}.{name}"
    if key in RENAMED:
        return RENAMED[key]
    folder = getattr(sys.modules.get(package), "__path__", None)
    if folder is None or package == "mnistlib" or name.startswith("_"):  # the top's API is mnistlib.__all__
        return None
    for module in [f"{package}.{info.name}" for info in pkgutil.iter_modules(folder)] + ["mnistlib.words"]:
        value = getattr(importlib.import_module(module), name, None)
        if value is not None and getattr(value, "__module__", module) == module:
            return f"{module}.{name}"
    return None


class MovedModules(importlib.abc.MetaPathFinder):
    """Asked last, for what no other finder found: an old module of mnistlib is one ModuleNotFoundError line, and
    ``from mnistlib.<package> import <name>`` of a name 0.1's module of that name gave is one ImportError line."""

    def find_spec(self, fullname, path=None, target=None):
        parts = fullname.split(".")
        if parts[0] != "mnistlib":
            return None
        if len(parts) == 2 and parts[1] in MOVED:
            raise ModuleNotFoundError(moved_text(fullname, MOVED[parts[1]]), name=fullname)
        if len(parts) == 3 and (new := where(".".join(parts[:2]), parts[2])):
            raise ImportError(moved_text(fullname, new), name=fullname)
        return None


def install() -> None:
    """Put the finder at the end of ``sys.meta_path`` (once)."""
    if not any(isinstance(finder, MovedModules) for finder in sys.meta_path):
        sys.meta_path.append(MovedModules())
