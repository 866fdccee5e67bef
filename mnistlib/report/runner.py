"""``mnistlib report``: execute the notebooks in order with papermill, export HTML, write an index.

    mnistlib report --profile quick                 # or full (all data, 50 epochs, as the original), smoke (tests)
    mnistlib report --profile full --params my.yaml # any notebook parameter from a YAML file

Output, per profile: ``reports/<profile>/NN_name.ipynb`` (executed), ``NN_name.html``
(self-contained: figures embedded, plumbing hidden), ``logs/NN_name.log``, ``logs/training.log`` (each run: trained
by this report, or reused from the store) and ``index.html``;
figures under ``figures/<profile>/``. A failing notebook stops the report with one line naming
it and its cell; its partial output and everything before it stay on disk.
"""
from __future__ import annotations

import base64
import importlib.util
import json
import re
import platform
import sys
import time
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Callable

from .. import paths
from . import webassets
from .._version import __version__
from ..data.mnist import load_mnist
from ..errors import ConfigError, MnistlibError
from .parameters import PROFILES, ReportParameters
from .grids import flat_beyond
from ..training.cluster import train_many
from .._util.machine import cpu_name
from ..words import NOT_TRAINED, REUSED, TRAINED
from ..runconfig import read_yaml_mapping
from ..store.identity import config_hash
from ..store.store import RunStore

KERNEL = "mnistlib"
TEMPLATES = Path(__file__).parent / "templates"
# Tags the notebooks use: hide a cell's code but keep its output, or drop the cell entirely.
HIDE_INPUT, REMOVE_CELL = "hide-input", "remove-cell"


class ReportError(MnistlibError):
    """A notebook failed; the message names it, its cell and where the partial output is."""


def _kernel_manager_class():
    """A kernel manager on Unix-socket (IPC) transport: the kernel's ports stay off the network
    (and ipykernel does not warn about plain TCP). Windows has no IPC transport."""
    from jupyter_client.manager import AsyncKernelManager

    if sys.platform == "win32":
        return AsyncKernelManager

    class IPCKernelManager(AsyncKernelManager):
        transport = "ipc"

    return IPCKernelManager


def notebook_paths(folder: Path | None = None) -> list[Path]:
    """The report's notebooks, in order: ``notebooks/NN_*.ipynb``."""
    folder = folder or paths.project_root() / "notebooks"
    found = sorted(folder.glob("[0-9][0-9]_*.ipynb"))
    if not found:
        raise MnistlibError(f"no notebooks (NN_name.ipynb) in {folder}; run from the mnistlib checkout")
    return found


def notebook_parameters(path: Path) -> dict[str, Any]:
    """The names and defaults declared in a notebook's ``parameters`` cell."""
    import papermill

    return {name: info["default"] for name, info in papermill.inspect_notebook(str(path)).items()}


GRID_NAMES = ("original", "beyond", "reproduce", "recipes")


def notebook_grids(path: Path) -> set[str]:
    """The grids of runs a notebook asks for, as its metadata declares them (``mnistlib.runs``):
    'original' (the original's 13), 'beyond' (notebook 6's), 'reproduce' (notebook 7's), 'recipes' (notebook 8's)."""
    import nbformat

    grids = nbformat.read(path, as_version=4).metadata.get("mnistlib", {}).get("runs", [])
    unknown = sorted(set(grids) - set(GRID_NAMES))
    if unknown:
        raise MnistlibError(f"{path.name}: unknown grid {unknown[0]!r} in its metadata mnistlib.runs; "
                            f"choose from {', '.join(GRID_NAMES)}")
    return set(grids)


def load_params_file(path: str | Path | None) -> dict:
    """Notebook parameters from a YAML file (a mapping), or {}."""
    return read_yaml_mapping(path, "parameters") if path is not None else {}


def ensure_kernel(name: str = KERNEL) -> str:
    """Register a Jupyter kernel that runs this interpreter (the project's environment), if the
    one of that name runs another; returns its name."""
    from jupyter_client.kernelspec import KernelSpecManager, NoSuchKernel

    try:
        spec = KernelSpecManager().get_kernel_spec(name)
        if Path(spec.argv[0]).resolve() == Path(sys.executable).resolve():
            return name
    except NoSuchKernel:
        pass
    from ipykernel.kernelspec import install

    install(kernel_name=name, display_name="Python (mnistlib)", prefix=sys.prefix)
    spec = KernelSpecManager().get_kernel_spec(name)
    if Path(spec.argv[0]).resolve() != Path(sys.executable).resolve():
        raise MnistlibError(f"the Jupyter kernel {name!r} at {spec.resource_dir} runs {spec.argv[0]}, not this "
                            f"environment; remove it (jupyter kernelspec remove {name}) and run again")
    return name


def export_html(notebook: Path, nav: list[dict] | None = None, widgets_js: str | None = None) -> Path:
    """HTML beside the executed notebook: code of plumbing cells hidden, images embedded.
    ``widgets_js``: the html-manager bundle's path relative to the page, to draw saved widgets."""
    import nbformat
    from nbconvert import HTMLExporter
    from nbconvert.preprocessors import TagRemovePreprocessor

    exporter = HTMLExporter(template_name="mnistlib", extra_template_basedirs=[str(TEMPLATES)],
                            exclude_input_prompt=True, exclude_output_prompt=True, embed_images=True)
    exporter.register_preprocessor(TagRemovePreprocessor(
        remove_cell_tags={REMOVE_CELL, "parameters", "injected-parameters"},
        remove_input_tags={HIDE_INPUT}, enabled=True), enabled=True)
    nb = nbformat.read(notebook, as_version=4)
    body, _ = exporter.from_notebook_node(nb, resources={"mnistlib_nav": nav or [], "mnistlib_widgets_js": widgets_js,
                                                         "metadata": {"name": _title(nb, notebook)}})
    out = notebook.with_suffix(".html")
    out.write_text(with_contents(body), encoding="utf-8")
    return out


_SECTION = re.compile(r'<h2 id="([^"]+)">(.*?)<a class="anchor-link"', re.S)


def with_contents(page: str) -> str:
    """The page with a table of contents of its sections (its h2 headings, linked by the anchors
    nbconvert gives them) after the navigation bar."""
    sections = _SECTION.findall(page)
    if not sections or "</nav>" not in page:
        return page
    links = "".join(f'<li><a href="#{anchor}">{text.strip()}</a></li>' for anchor, text in sections)
    # A list without numbers of its own: the headings that are numbered carry their number.
    return page.replace("</nav>", f'</nav>\n<nav class="mnistlib-toc" aria-label="contents"><b>Contents</b>'
                                  f'<ul>{links}</ul></nav>', 1)


def short_title(path: Path) -> str:
    """A notebook's title up to its colon, for the navigation bar: '1. Architecture'."""
    import nbformat

    return _title(nbformat.read(path, as_version=4), path).split(":", 1)[0]


def _title(nb, path: Path) -> str:
    for cell in nb.cells:
        if cell.cell_type == "markdown":
            for line in cell.source.splitlines():
                if line.startswith("# "):
                    return line[2:].strip()
    return path.stem


NOTEBOOKS_EXTRA = ("papermill", "nbconvert", "nbformat", "ipykernel", "jupyter_client", "ipywidgets", "jinja2")


def require_notebooks_extra() -> None:
    """One MnistlibError line naming the install command when the notebooks extra is missing."""
    missing = [name for name in NOTEBOOKS_EXTRA if importlib.util.find_spec(name) is None]
    if missing:
        raise MnistlibError(f"mnistlib report needs the notebooks extra, which is not installed (missing: "
                            f"{', '.join(missing)}); install it with: pip install -e '.[notebooks]' (or make setup)")


def run_report(profile: str = "full", params: dict | None = None, *, notebooks: list[Path] | None = None,
               reports_dir: str | Path | None = None, progress: bool = True, workers: int | None = None,
               scheduler: str | None = None, log: Callable[[str], None] = print) -> Path:
    """Execute the notebooks for ``profile`` and write the HTML report; returns index.html.

    ``params``: notebook parameters (each goes to the notebooks that declare it), checked
    before anything runs. ``workers``: processes that train the report's runs before the
    notebooks execute (None: one per core; 0: none, the notebooks train them one by one);
    ``scheduler``: a Dask scheduler's address to train them on instead (:func:`cluster.train_many`).
    Raises ReportError naming the notebook and cell when one fails; earlier outputs stay.
    """
    ReportParameters.check_names(profile, params or {})
    require_notebooks_extra()
    if workers is not None and (isinstance(workers, bool) or not isinstance(workers, int) or workers < 0):
        raise ConfigError(f"workers must be 0 (none) or a positive number of processes, got {workers!r}")
    started = time.perf_counter()
    params = dict(params or {})
    notebooks = notebooks or notebook_paths()
    declared = {path: notebook_parameters(path) for path in notebooks}
    notes = _notes(params, notebooks, declared, log)
    settings = ReportParameters.for_report(profile, params).settings()  # every value checked, still before any work
    root = Path(reports_dir) if reports_dir is not None else paths.reports_dir()
    out = root / profile
    (out / "logs").mkdir(parents=True, exist_ok=True)
    kernel = ensure_kernel()
    load_mnist(settings.folders["data_dir"])  # a data problem stops the report before any notebook
    if workers != 0:
        _pretrain(settings, notebooks, workers, scheduler, progress, log, out)
    params.update(profile=profile, progress=False, reports_dir=str(root))
    nav = [{"href": p.with_suffix(".html").name, "title": short_title(p)} for p in notebooks]
    widgets_js = webassets.copy_to(out)
    if widgets_js is None:
        log("note: widget JavaScript not installed (python -m mnistlib.report.webassets); the HTML shows widgets' "
            "static figures only")
    records = []
    for number, path in enumerate(notebooks, 1):
        log(f"[{number}/{len(notebooks)}] {path.name} → {out / path.name}")
        parameters = {k: v for k, v in params.items() if k in declared[path]}
        records.append(_execute(path, out, parameters, kernel, progress, nav, widgets_js))
    machines = trained_on(report_configs(settings, notebooks), RunStore(settings.folders["runs_dir"]))
    index = write_index(out, profile, records, time.perf_counter() - started, notes, machines)
    log(f"report: {index} ({time.perf_counter() - started:.0f} s)")
    return index


def _notes(params: dict, notebooks: list[Path], declared: dict, log: Callable[[str], None]) -> list[str]:
    """Where a given value does not apply (a notebook that does not declare it); logged, and returned."""
    # A value reaches every notebook that declares it; say where it does not apply.
    notes = [f"{name} does not apply to {', '.join(p.stem for p in notebooks if name not in declared[p])}"
             for name in params if any(name not in names for names in declared.values())]
    for note in notes:
        log(f"note: {note}")
    return notes


def report_configs(settings, notebooks: list[Path]) -> dict:
    """label -> RunConfig of every run of the grids the notebooks declare (:func:`notebook_grids`)."""
    grids = {"original": flat_beyond(settings.original), "beyond": flat_beyond(settings.beyond),
             "reproduce": flat_beyond(settings.reproduce), "recipes": flat_beyond(settings.recipes)}
    used = set().union(*(notebook_grids(path) for path in notebooks))
    return {label: cfg for name in grids if name in used for label, cfg in grids[name].items()}


def trained_on(configs, store: RunStore) -> str:
    """Which machines trained the report's runs, from their ``run.json``: 'Intel(R) Xeon(R) Processor ×2, 1 thread a
    run (162 runs)'; one entry per CPU and thread count, the most runs first; '' when none is stored."""
    found: dict[tuple[str, int], int] = {}
    for cfg in {config_hash(cfg): cfg for cfg in configs.values()}.values():
        run = store.find_finished(cfg)
        if run is not None:
            status = run.status
            key = (str(status.get("cpu", "an unrecorded CPU")), int(status.get("threads", 1)))
            found[key] = found.get(key, 0) + 1
    return "; ".join(f"{cpu}, {threads} thread{'s' if threads > 1 else ''} a run ({n} run{'s' if n > 1 else ''})"
                     for (cpu, threads), n in sorted(found.items(), key=lambda item: -item[1]))


def _pretrain(settings, notebooks: list[Path], workers: int | None, scheduler: str | None, progress: bool,
              log: Callable[[str], None], out: Path) -> None:
    """Train the runs of every grid the notebooks declare, on a Dask cluster, before they execute; say
    in ``out/logs/training.log`` which runs this report trained and which it found stored."""
    configs = report_configs(settings, notebooks)
    store = RunStore(settings.folders["runs_dir"]).writable()  # upgrades a store of an earlier mnistlib first
    stored = {label for label, cfg in configs.items() if store.find_finished(cfg) is not None}
    lines: list[str] = []

    def both(line: str) -> None:
        lines.append(line)
        log(line)

    done: dict[str, str] = {}
    try:
        done = train_many(configs, workers, data_dir=settings.folders["data_dir"],
                          runs_dir=settings.folders["runs_dir"], log=both, scheduler=scheduler, progress=progress)
    finally:  # what this report trained and what it found stored, one line a run, even when training stopped
        lines += [f"{label}: " + (REUSED if label in stored else TRAINED if label in done else NOT_TRAINED)
                  + (f" ({done[label]})" if label in done else "") for label in configs]
        (out / "logs" / "training.log").write_text("\n".join(lines) + "\n", encoding="utf-8")


def _execute(path: Path, out: Path, parameters: dict, kernel: str, progress: bool, nav: list[dict],
             widgets_js: str | None) -> dict:
    """Execute one notebook with papermill into ``out``, export its HTML; its record for the index."""
    import nbformat
    import papermill
    from papermill.exceptions import PapermillExecutionError

    target, log_path = out / path.name, out / "logs" / f"{path.stem}.log"
    t0 = time.perf_counter()
    with open(log_path, "w", encoding="utf-8") as log_file:
        try:
            papermill.execute_notebook(
                str(path), str(target), kernel_name=kernel, cwd=str(path.parent), progress_bar=progress,
                parameters=parameters, stdout_file=log_file, stderr_file=log_file,
                kernel_manager_class=_kernel_manager_class())
        except PapermillExecutionError as exc:
            evalue = str(exc.evalue).strip().splitlines()[-1] if str(exc.evalue).strip() else ""
            raise ReportError(f"{path.name} failed in cell {exc.exec_count} ({exc.ename}: {evalue}); "
                              f"partial notebook kept: {target}; log: {log_path}") from None
    seconds = time.perf_counter() - t0
    html_path = export_html(target, nav, widgets_js)
    headline_path = out / "headlines" / f"{path.stem}.json"
    return {"notebook": path.stem, "html": html_path.name, "seconds": seconds,
            "title": _title(nbformat.read(target, as_version=4), target),
            "headline": json.loads(headline_path.read_text()) if headline_path.exists() else {}}


def write_index(out: Path, profile: str, records: list[dict], seconds: float, notes: list[str] = (),
                trained: str = "") -> Path:
    """``index.html`` (template ``templates/report_index.html.j2``): the notebooks in order, each with
    its headline numbers and run time, ``notes`` (e.g. a parameter that does not apply to some), and the
    machines that ``trained`` its runs (:func:`trained_on`)."""
    import jinja2

    env = jinja2.Environment(loader=jinja2.FileSystemLoader(TEMPLATES), autoescape=True)
    env.filters["fmt"] = _fmt
    figure = out / "headlines" / "figure.png"
    page = env.get_template("report_index.html.j2").render(
        figure=base64.b64encode(figure.read_bytes()).decode() if figure.exists() else None, profile=profile, description=PROFILES[profile].description, records=records, notes=notes,
        generated=datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M UTC"), version=__version__, trained=trained,
        minutes=f"{seconds / 60:.1f}", machine=f"{platform.machine()}, {cpu_name()}, Python {platform.python_version()}")
    path = out / "index.html"
    path.write_text(page, encoding="utf-8")
    return path


def _fmt(value: Any) -> str:
    if isinstance(value, bool):
        return "yes" if value else "no"
    return f"{value:.2f}" if isinstance(value, float) else str(value)
