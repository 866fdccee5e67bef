"""Every script of benchmarks/ runs in its short mode and says so in its --help.

``--short`` runs each of a script's measurements once on tiny data, checks what they return (shapes, finite
numbers, runs trained, both sides of a comparison) and writes nothing to benchmarks/results/; it never
asserts a time. Scripts are found by glob, so a new one is covered without a change here.

What costs time here is starting Python with torch (about 3 s of a core each), not the tiny measurements, so
the scripts run as ``python SCRIPT --short`` would, but in two driver processes (one per core; this file's
tests share one pytest-xdist worker), each running its share of the scripts one after the other with
``runpy``, every script with its own scratch run store, figures and reports folders. They use one torch
thread (two drivers on two cores: more threads than cores makes tiny steps many times slower) and the
session's Dask cluster (tests/conftest.py's ``dask_scheduler``, as ``$MNISTLIB_SCHEDULER``): a script's
``train_many`` trains there instead of starting a LocalCluster of its own. Run by hand, without
``$MNISTLIB_SCHEDULER``, the same short modes start their own.
"""
from __future__ import annotations

import json
import os
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
BENCHMARKS = ROOT / "benchmarks"
RESULTS = BENCHMARKS / "results"
SCRIPTS = sorted(BENCHMARKS.glob("*.py"))
TIMEOUT = 480  # seconds for one driver: far above what it takes, so a hang fails here
TAIL = 4000  # characters of a failed script's output shown
SPAWNS = ("subprocess.run(", "Pool(", "ProcessPool")  # scripts that start processes of their own take longest

# Runs ``SCRIPT ARG`` for each script given, in turn, as `python SCRIPT ARG` would (argv, __main__), with its
# own scratch folders; writes {script: {"code", "output", "seconds"}} as JSON to the file named first.
DRIVER = r"""
import contextlib, io, json, os, runpy, sys, time, traceback
out_path, arg, scratch, *scripts = sys.argv[1:]
results = {}
for path in scripts:
    name = os.path.basename(path)
    for env, sub in (("MNISTLIB_RUNS", "runs"), ("MNISTLIB_FIGURES", "figures"), ("MNISTLIB_REPORTS", "reports")):
        os.environ[env] = os.path.join(scratch, name, sub)
    sys.argv, text, start = [path, arg], io.StringIO(), time.perf_counter()
    try:
        with contextlib.redirect_stdout(text), contextlib.redirect_stderr(text):
            runpy.run_path(path, run_name="__main__")
        code = 0
    except SystemExit as exc:
        code = exc.code if isinstance(exc.code, int) else (0 if exc.code is None else str(exc.code))
    except BaseException:
        code = traceback.format_exc()
    results[name] = {"code": code, "output": text.getvalue(), "seconds": time.perf_counter() - start}
with open(out_path, "w") as f:
    json.dump(results, f)
"""


def spawns(script: Path) -> bool:
    text = script.read_text()
    return any(marker in text for marker in SPAWNS)


def shares(scripts: list[Path], parts: int = 2) -> list[list[Path]]:
    """The scripts dealt to ``parts`` drivers: those that start processes of their own first, one each in turn."""
    ordered = sorted(scripts, key=lambda s: (not spawns(s), s.name))
    return [ordered[i::parts] for i in range(parts)]


def drive(scripts: list[Path], arg: str, tmp: Path, scheduler: str | None) -> dict:
    """Run ``scripts`` with ``arg`` in one driver process; each script's code, output and seconds."""
    out = tmp / f"driver-{arg}-{scripts[0].stem}.json"
    env = {**os.environ, "MPLBACKEND": "Agg", "OMP_NUM_THREADS": "1", "PYTHONUNBUFFERED": "1"}
    if scheduler:
        env["MNISTLIB_SCHEDULER"] = scheduler
    try:
        done = subprocess.run([sys.executable, "-c", DRIVER, str(out), arg, str(tmp / "scratch"), *map(str, scripts)],
                              cwd=ROOT, env=env, capture_output=True, text=True, timeout=TIMEOUT)
    except subprocess.TimeoutExpired:
        return {s.name: {"code": f"the driver timed out after {TIMEOUT} s", "output": ""} for s in scripts}
    if not out.exists():
        return {s.name: {"code": f"the driver exited {done.returncode}", "output": done.stderr[-TAIL:]} for s in scripts}
    return json.loads(out.read_text())


def results_folder() -> dict[str, int]:
    return {p.name: p.stat().st_mtime_ns for p in RESULTS.iterdir()} if RESULTS.is_dir() else {}


@pytest.fixture(scope="module")
def short_runs(dask_scheduler, tmp_path_factory):
    """Every script's ``--short`` and ``--help``, in two drivers side by side: script name -> its result."""
    tmp = tmp_path_factory.mktemp("benchmarks")
    before = results_folder()
    with ThreadPoolExecutor(max_workers=2) as pool:
        shorts = [pool.submit(drive, part, "--short", tmp, dask_scheduler) for part in shares(SCRIPTS)]
        found = {name: result for future in shorts for name, result in future.result().items()}
    helps = drive(SCRIPTS, "--help", tmp, None)
    return found, helps, before


def test_the_benchmarks_are_found():
    assert len(SCRIPTS) >= 11 and BENCHMARKS / "bench_recipe_grid.py" in SCRIPTS
    assert sorted(sum(shares(SCRIPTS), [])) == SCRIPTS


@pytest.mark.parametrize("script", SCRIPTS, ids=lambda path: path.name)
def test_short_mode_runs_and_checks_its_results(script, short_runs):
    result = short_runs[0][script.name]
    assert result["code"] == 0, (f"{script.name} --short: {result['code']}\n--- output (tail)\n"
                                 f"{result['output'][-TAIL:]}")


def test_every_help_offers_the_short_mode(short_runs):
    for name, answer in short_runs[1].items():
        assert answer["code"] == 0, f"{name} --help: {answer['code']}"
        assert "--short" in answer["output"], f"{name} --help does not mention --short:\n{answer['output']}"


def test_short_runs_write_no_results(short_runs):
    assert results_folder() == short_runs[2], "a short run wrote into benchmarks/results/"
