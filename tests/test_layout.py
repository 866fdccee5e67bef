"""The package's shape: modules import only down their layer order, functions stay short, and
every module says its job in its first line."""
import ast
import re
from pathlib import Path

import mnistlib

PACKAGE = Path(mnistlib.__file__).parent
MODULES = {path.stem: path for path in PACKAGE.glob("*.py")}


def layers() -> dict[str, int]:
    """Module -> layer number, from the package docstring's numbered list."""
    found = {}
    for number, names in re.findall(r"^\s+(\d+)\. (.+)$", mnistlib.__doc__, re.M):
        for name in names.split(","):
            found[name.strip()] = int(number)
    return found


def imports(path: Path) -> set[str]:
    """The package modules a module imports, at the top or inside functions."""
    out = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom) and node.level == 1:
            names = [node.module] if node.module else [alias.name for alias in node.names]
            out |= {name.split(".")[0] for name in names}
        elif isinstance(node, ast.ImportFrom) and (node.module or "").startswith("mnistlib."):
            out.add(node.module.split(".")[1])
    return out


def test_every_module_has_a_layer():
    assert set(layers()) == set(MODULES), set(layers()) ^ set(MODULES)


def test_no_import_runs_up_the_layers():
    layer = layers()
    upward = [f"{name} (layer {layer[name]}) imports {dep} (layer {layer[dep]})"
              for name, path in MODULES.items() for dep in imports(path)
              if dep in layer and layer[dep] >= layer[name] and dep != name]
    assert not upward, upward


def test_the_check_can_fail(tmp_path):
    bad = tmp_path / "stats.py"
    bad.write_text("from .training import train\n")
    assert "training" in imports(bad) and layers()["training"] > layers()["stats"]


def test_functions_are_short_and_modules_say_their_job():
    long = []
    for name, path in MODULES.items():
        tree = ast.parse(path.read_text())
        doc = ast.get_docstring(tree)
        assert doc and doc.splitlines()[0].strip(), f"{name}: no first line saying its job"
        for node in ast.walk(tree):
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)) and node.end_lineno - node.lineno >= 60:
                long.append(f"{name}.{node.name}: {node.end_lineno - node.lineno + 1} lines")
    assert not long, long


def test_train_reads_like_a_main():
    tree = ast.parse(MODULES["training"].read_text())
    train = next(n for n in tree.body if isinstance(n, ast.FunctionDef) and n.name == "train")
    assert train.end_lineno - train.lineno + 1 <= 50
