"""The report's parameters have one typed home: notebooks declare only its fields, with its defaults."""
import ast
import dataclasses
import re

import nbformat
import papermill
import pytest

from mnistlib import ConfigError
from mnistlib.report.parameters import ReportParameters
from mnistlib.report.runner import GRID_NAMES, notebook_grids, notebook_paths

NOTEBOOKS = notebook_paths()
DEFAULTS = {f.name: f.default for f in dataclasses.fields(ReportParameters) if f.init}


def _plain(value):
    return list(value) if isinstance(value, (list, tuple)) else value


@pytest.mark.parametrize("path", NOTEBOOKS, ids=[p.stem for p in NOTEBOOKS])
def test_every_notebook_parameter_is_a_field_with_its_default(path):
    declared = papermill.inspect_notebook(str(path))
    assert declared, path.name
    for name, info in declared.items():
        assert name in DEFAULTS, f"{path.name}: {name} is not a ReportParameters field"
        assert _plain(ast.literal_eval(info["default"])) == _plain(DEFAULTS[name]), f"{path.name}: {name}"


def test_the_rule_can_fail(tmp_path):
    """The check above reads the cell: a drifted literal is caught."""
    nb = nbformat.read(NOTEBOOKS[2], as_version=4)
    cell = next(c for c in nb.cells if "parameters" in c.metadata.get("tags", []))
    cell.source = cell.source.replace("batch_size = 64", "batch_size = 32")
    nbformat.write(nb, tmp_path / "drift.ipynb")
    default = papermill.inspect_notebook(str(tmp_path / "drift.ipynb"))["batch_size"]["default"]
    assert ast.literal_eval(default) != DEFAULTS["batch_size"]


CALLS = {"original": r"ctx\.(original_runs|all_runs|seed_runs|all_seed_runs|run)\(", "beyond": r"ctx\.(beyond_runs|stored_beyond)\(",
         "reproduce": r"ctx\.reproduce_runs\(", "recipes": r"ctx\.recipe_runs\("}


@pytest.mark.parametrize("path", NOTEBOOKS, ids=[p.stem for p in NOTEBOOKS])
def test_each_notebook_declares_the_grids_it_asks_for(path):
    source = "\n".join(c.source for c in nbformat.read(path, as_version=4).cells if c.cell_type == "code")
    used = {grid for grid, pattern in CALLS.items() if re.search(pattern, source)}
    assert notebook_grids(path) == used and used <= set(GRID_NAMES), path.name


def test_numbers_as_people_write_them_and_bad_values():
    params = ReportParameters(weight_decays=["1e-4", 1e-3], lambdas=("3e-3",), noise_stds=[0.1])
    assert params.weight_decays == (1e-4, 1e-3) and params.lambdas == (3e-3,)
    for values, match in [({"weight_decays": ["abc"]}, "weight_decays must be a number, got the text 'abc'"),
                          ({"weight_decays": "1e-3"}, "weight_decays must be a non-empty list"),
                          ({"noise_stds": [-0.1]}, "noise_stds must be >= 0, got -0.1"),
                          ({"nonsense": 1}, "unknown report parameter 'nonsense'"),
                          ({"profile": "fast"}, "unknown profile .fast.; choose one of full, quick, smoke")]:
        with pytest.raises(ConfigError, match=match):
            ReportParameters.from_mapping(values)


def test_a_params_file_value_that_a_notebook_does_not_take_is_reported(tmp_path):
    from mnistlib.report.runner import run_report

    lines = []
    with pytest.raises(ConfigError):  # stops at the bad value after the notes, before any work
        run_report("smoke", {"seed": 1, "weight_decays": ["x"]}, reports_dir=tmp_path, log=lines.append)
    assert "note: seed does not apply to 06_beyond_the_original" in lines, lines


def test_a_params_file_with_lambdas_as_everyone_writes_them(tmp_path):
    """YAML 1.1 reads 1e-4 (no dot) as the string '1e-4'; the report takes it as the number."""
    from mnistlib.report.runner import load_params_file

    path = tmp_path / "p.yaml"
    path.write_text("weight_decays: [1e-4, 1e-3]\nlambdas: [3e-3]\n")
    values = load_params_file(path)
    assert values["weight_decays"] == ["1e-4", "1e-3"]  # what YAML gives
    params = ReportParameters.from_mapping(values)
    assert params.weight_decays == (1e-4, 1e-3) and params.lambdas == (3e-3,)
