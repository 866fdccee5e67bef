"""Where the modules of mnistlib 0.1 went: importing an old name fails with one line naming the new one.

mnistlib 0.2 put the package into folders (its layers, ``help(mnistlib)``). The old module names are not kept
as aliases, so there is one name for everything; code written for 0.1 (a notebook of one's own, a script) stops
at its first old import with the line to change. The run store needs nothing: no stored file names a module.
"""
from __future__ import annotations

import importlib.abc
import sys

MOVED = {  # 0.1's module -> where its contents are now
    "augment": "mnistlib.data.augment", "beyond": "mnistlib.analysis.beyond", "checks": "mnistlib._util.checks",
    "cluster": "mnistlib.training.cluster", "export": "mnistlib.store.export", "fastfar": "mnistlib.analysis.speed",
    "files": "mnistlib._util.files", "grids": "mnistlib.report.grids (and mnistlib.report.parameters)",
    "machine": "mnistlib._util.machine", "naming": "mnistlib.store.identity (and mnistlib.words)",
    "notebook": "mnistlib.report.context (and mnistlib.report.tables)", "originalimport": "mnistlib.original.checkpoints",
    "perturb": "mnistlib.data.perturb", "plots": "mnistlib.report.plots", "publish": "mnistlib.report.publish",
    "recipes": "mnistlib.training.recipes", "regularizers": "mnistlib.analysis.robustness",
    "reproduction": "mnistlib.analysis.reproduction", "runs": "mnistlib.store.store", "sources": "mnistlib.data.sources",
    "stacking": "mnistlib.training.loop (and mnistlib.models.stacked)", "storeformat": "mnistlib.store.format",
    "webassets": "mnistlib.report.webassets", "widgets": "mnistlib.report.widgets",
}


class MovedModules(importlib.abc.MetaPathFinder):
    """Asked last, for what no other finder found: an old module of mnistlib is one ModuleNotFoundError line."""

    def find_spec(self, fullname, path=None, target=None):
        package, _, name = fullname.partition(".")
        if package == "mnistlib" and name in MOVED:
            raise ModuleNotFoundError(f"mnistlib.{name} was mnistlib 0.1's; since 0.2 it is {MOVED[name]}: "
                                      f"change the import (help(mnistlib) maps the package)", name=fullname)
        return None


def install() -> None:
    """Put the finder at the end of ``sys.meta_path`` (once)."""
    if not any(isinstance(finder, MovedModules) for finder in sys.meta_path):
        sys.meta_path.append(MovedModules())
