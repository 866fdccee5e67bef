"""Every script of benchmarks/ runs in its short mode and says so in its --help.

``--short`` runs each of a script's measurements once on tiny data, checks what they return (shapes, finite
numbers, runs trained, both sides of a comparison) and writes nothing to benchmarks/results/; it never
asserts a time. Scripts are found by glob, so a new one is covered without a change here.

The scripts run as subprocesses, two at a time (this file's tests run on one pytest-xdist worker; the
threads here use the cores), each with its own scratch run store, figures and reports folders, one torch
thread (two scripts on two cores: more threads than cores makes OpenMP's barriers wait on descheduled
threads, many times slower on tiny steps), and the session's Dask cluster (tests/conftest.py's
``dask_scheduler``, as ``$MNISTLIB_SCHEDULER``): a script's ``train_many`` trains there instead of
starting and closing a LocalCluster of its own each call, seconds each on a loaded 2-core machine. Run by
hand, without ``$MNISTLIB_SCHEDULER``, the same short modes start their own.
"""
from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
BENCHMARKS = ROOT / "benchmarks"
RESULTS = BENCHMARKS / "results"
SCRIPTS = sorted(BENCHMARKS.glob("*.py"))
TIMEOUT = 420  # seconds for one script's short mode: far above what any takes, so a hang fails here
TAIL = 4000  # characters of a failed script's output shown

# Each script's --help, in one process (torch imported once, not once per script).
HELP_DRIVER = r"""
import contextlib, io, json, runpy, sys, traceback
out = {}
for path in sys.argv[1:]:
    sys.argv, text = [path, "--help"], io.StringIO()
    try:
        with contextlib.redirect_stdout(text):
            runpy.run_path(path, run_name="__main__")
        code = None
    except SystemExit as exc:
        code = exc.code
    except BaseException:
        code = traceback.format_exc()
    out[path] = {"code": code, "text": text.getvalue()}
print(json.dumps(out))
"""


def uses_cluster(script: Path) -> bool:
    return "train_many(" in script.read_text()


def cost(script: Path) -> int:
    """Roughly how long a script's short mode runs, to start the longest first: processes it starts."""
    text = script.read_text()
    return sum(text.count(marker) for marker in ("train_many(", "train_many_pool(", "subprocess.run("))


def environment(tmp: Path, scheduler: str | None = None) -> dict[str, str]:
    env = {**os.environ, "MPLBACKEND": "Agg", "OMP_NUM_THREADS": "1", "PYTHONUNBUFFERED": "1"}
    for name, sub in (("MNISTLIB_RUNS", "runs"), ("MNISTLIB_FIGURES", "figures"), ("MNISTLIB_REPORTS", "reports")):
        env[name] = str(tmp / sub)
    if scheduler:
        env["MNISTLIB_SCHEDULER"] = scheduler
    return env


def run(argv: list[str], env: dict[str, str]) -> tuple[subprocess.CompletedProcess, float]:
    """The finished process, and its wall time in seconds."""
    start = time.perf_counter()
    try:
        done = subprocess.run([sys.executable, *argv], cwd=ROOT, env=env, capture_output=True, text=True,
                              timeout=TIMEOUT)
    except subprocess.TimeoutExpired as exc:
        out = lambda b: b.decode(errors="replace") if isinstance(b, bytes) else (b or "")  # noqa: E731
        done = subprocess.CompletedProcess(exc.cmd, -9, out(exc.stdout), out(exc.stderr) + f"\n(timed out after {TIMEOUT} s)")
    return done, time.perf_counter() - start


def results_folder() -> dict[str, int]:
    return {p.name: p.stat().st_mtime_ns for p in RESULTS.iterdir()} if RESULTS.is_dir() else {}


@pytest.fixture(scope="module")
def short_runs(request, tmp_path_factory):
    """Every script's ``--short`` run and the --help driver, started at once, two at a time: name -> Future
    of its (CompletedProcess, seconds) ("--help" for the driver). The scripts that train through ``train_many`` go in
    once the session's Dask cluster is up; the others start while it starts."""
    tmp = tmp_path_factory.mktemp("benchmarks")
    before = results_folder()
    pool = ThreadPoolExecutor(max_workers=2)
    futures: dict[str, Future] = {}
    local = sorted((s for s in SCRIPTS if not uses_cluster(s)), key=lambda s: (-cost(s), s.name))
    for script in local:
        futures[script.name] = pool.submit(run, [str(script), "--short"], environment(tmp / script.stem))
    futures["--help"] = pool.submit(run, ["-c", HELP_DRIVER, *map(str, SCRIPTS)], environment(tmp / "help"))
    scheduler = request.getfixturevalue("dask_scheduler")
    for script in sorted((s for s in SCRIPTS if uses_cluster(s)), key=lambda s: (-cost(s), s.name)):
        futures[script.name] = pool.submit(run, [str(script), "--short"], environment(tmp / script.stem, scheduler))
    yield futures, before
    pool.shutdown(wait=True)


def test_the_benchmarks_are_found():
    assert len(SCRIPTS) >= 11 and BENCHMARKS / "bench_recipe_grid.py" in SCRIPTS


@pytest.mark.parametrize("script", SCRIPTS, ids=lambda path: path.name)
def test_short_mode_runs_and_checks_its_results(script, short_runs):
    done, seconds = short_runs[0][script.name].result()
    print(f"{script.name} --short: {seconds:.1f} s")  # shown with -s, or on failure
    assert done.returncode == 0, (f"{script.name} --short exited {done.returncode} after {seconds:.0f} s\n"
                                  f"--- stdout (tail)\n{done.stdout[-TAIL:]}\n--- stderr (tail)\n{done.stderr[-TAIL:]}")


def test_every_help_offers_the_short_mode(short_runs):
    done, _ = short_runs[0]["--help"].result()
    assert done.returncode == 0, done.stderr[-TAIL:]
    helps = json.loads(done.stdout.strip().splitlines()[-1])
    assert sorted(helps) == sorted(map(str, SCRIPTS))
    for path, answer in helps.items():
        assert answer["code"] in (0, None), f"{Path(path).name} --help: {answer['code']}"
        assert "--short" in answer["text"], f"{Path(path).name} --help does not mention --short:\n{answer['text']}"


def test_short_runs_write_no_results(short_runs):
    futures, before = short_runs
    for future in futures.values():
        future.result()
    assert results_folder() == before, "a short run wrote into benchmarks/results/"
