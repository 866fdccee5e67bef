"""The report: its parameters and grids, what a notebook calls, tables, figures, widgets, the runner, publishing.

- ``grids``: every grid of runs; ``parameters``: the report's parameters and profiles;
- ``context``: what a notebook calls (``setup_notebook``); ``tables``: tables for reading;
- ``plots``: figures; ``widgets``: the interactive views;
- ``runner``: papermill, HTML and the index (``mnistlib report``); ``publish``: the copy in ``docs/``;
- ``webassets``: the widgets' JavaScript.

Names below are imported on first use: the notebooks extra (papermill, ipywidgets) may be missing.
"""
from .._util.lazy import lazy_exports

__getattr__, __dir__, __all__ = lazy_exports(__name__, {
    "context": ["setup_notebook"],
    "parameters": ["PROFILES", "ReportParameters"],
    "runner": ["run_report"],
})
