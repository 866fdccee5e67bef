"""The report: its parameters and grids, what a notebook calls, tables, figures, widgets, the runner, publishing.

- ``grids``: every grid of runs; ``parameters``: the report's parameters and profiles;
- ``context``: what a notebook calls (``setup_notebook``); ``tables``: tables for reading;
- ``plots``: figures; ``widgets``: the interactive views;
- ``runner``: papermill, HTML and the index (``mnistlib report``); ``publish``: the copy in ``docs/``;
- ``webassets``: the widgets' JavaScript.

Nothing is imported here: the notebooks extra (papermill, ipywidgets) may be missing.
"""
