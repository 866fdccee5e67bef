"""The package's shape: its folders are its layers, every import runs down them, functions stay short,
and every module says its job in its first line."""
import ast
import re
from pathlib import Path

import mnistlib

PACKAGE = Path(mnistlib.__file__).parent


def module_name(path: Path) -> str:
    """'training.loop' for mnistlib/training/loop.py, 'data' for mnistlib/data/__init__.py, '' for the package."""
    parts = path.relative_to(PACKAGE).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


MODULES = {module_name(path): path for path in PACKAGE.rglob("*.py")}


def room(module: str) -> str:
    """The room a module belongs to: its top folder, or itself at the top."""
    return module.split(".")[0]


def floors() -> dict[str, int]:
    return {name: floor for floor, rooms in enumerate(mnistlib.LAYERS, 1) for name in rooms}


def imports(path: Path, module: str) -> set[str]:
    """The package modules ``module`` (at ``path``) imports, at the top or inside functions, each import
    resolved to the module it names (a package import names the package)."""
    package = module.split(".") if path.name == "__init__.py" else module.split(".")[:-1]
    out = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom) and node.level:
            base = package[:len(package) - node.level + 1] if node.level > 1 else package
            target = [*base, *(node.module.split(".") if node.module else [])]
        elif isinstance(node, ast.ImportFrom) and (node.module or "").startswith("mnistlib"):
            target = node.module.split(".")[1:]
        elif isinstance(node, ast.Import):
            names = [alias.name.split(".")[1:] for alias in node.names if alias.name.startswith("mnistlib.")]
            out |= {".".join(n) for n in names}
            continue
        else:
            continue
        for alias in node.names:  # `from . import paths`: the name may be a module itself
            candidate = ".".join([*target, alias.name])
            out.add(candidate if candidate in MODULES else ".".join(target))
    return out


def upward(modules: dict[str, Path]) -> list[str]:
    floor = floors()
    bad = []
    for name, path in modules.items():
        for dep in imports(path, name):
            if room(dep) != room(name) and floor[room(dep)] >= floor[room(name)]:
                bad.append(f"{name} (floor {floor[room(name)]}) imports {dep} (floor {floor[room(dep)]})")
    return bad


def test_every_module_is_in_a_room_of_the_layers():
    rooms = {room(name) for name in MODULES if name}
    assert rooms == set(floors()), rooms ^ set(floors())
    assert sum(len(names) for names in mnistlib.LAYERS) == len(floors())  # no room on two floors


def test_the_layer_check_walks_every_subpackage():
    assert {"data.mnist", "training.loop", "report.context", "store.store", "_util.files"} <= set(MODULES)
    assert len(MODULES) >= 45


def test_no_import_runs_up_the_layers():
    assert not upward(MODULES), upward(MODULES)


def test_within_a_room_imports_name_modules_not_the_package_and_never_circle():
    through_package, graph = [], {}
    for name, path in MODULES.items():
        deps = imports(path, name)
        through_package += [f"{name} imports {dep}" for dep in deps
                            if dep in MODULES and MODULES[dep].name == "__init__.py" and dep != room(name) and name]
        graph[name] = {dep for dep in deps if room(dep) == room(name) and dep != name}
    assert not through_package, through_package

    def cycle(node, path):
        if node in path:
            return path[path.index(node):] + [node]
        return next((found for dep in graph.get(node, ()) if (found := cycle(dep, path + [node]))), None)

    circles = [found for name in graph if (found := cycle(name, []))]
    assert not circles, circles


def test_the_check_can_fail(tmp_path):
    bad = tmp_path / "stats.py"
    bad.write_text("from .training.loop import train\n\ndef f():\n    from . import paths\n    from .store import identity\n")
    assert imports(bad, "stats") == {"training.loop", "paths", "store.identity"}
    assert sorted(upward({"stats": bad})) == ["stats (floor 1) imports paths (floor 1)",  # a room beside it, too
                                              "stats (floor 1) imports store.identity (floor 6)",
                                              "stats (floor 1) imports training.loop (floor 7)"]


def test_the_docstring_map_is_the_layers():
    """The package docstring draws the floors top down, a room a line: the floor's number on its first."""
    drawn, floor = {}, None
    for line in mnistlib.__doc__.splitlines():
        found = re.match(r"^ {3}([ \d]\d)  ([a-z_]+)/? ", line) or re.match(r"^ {7}([a-z_]+)/? ", line)
        if found and len(found.groups()) == 2:
            floor = int(found.group(1))
        if found:
            drawn.setdefault(floor, set()).add(found.groups()[-1])
    assert drawn == {floor: set(rooms) for floor, rooms in enumerate(mnistlib.LAYERS[:-1], 1)}


def test_functions_are_short_and_modules_say_their_job():
    long = []
    for name, path in MODULES.items():
        tree = ast.parse(path.read_text())
        doc = ast.get_docstring(tree)
        assert doc and doc.splitlines()[0].strip(), f"{name or 'mnistlib'}: no first line saying its job"
        for node in ast.walk(tree):
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)) and node.end_lineno - node.lineno >= 60:
                long.append(f"{name}.{node.name}: {node.end_lineno - node.lineno + 1} lines")
    assert not long, long


def test_paths_finds_the_checkout_from_where_it_sits():
    """paths.py resolves the project root from its own place in the package: moved, runs/ would silently
    become the working folder's and everything would retrain."""
    from mnistlib import paths

    assert Path(paths.__file__).parent == PACKAGE
    assert (paths.project_root() / "pyproject.toml").exists() and (paths.project_root() / "notebooks").is_dir()


def test_package_data_is_declared_where_it_lies():
    """Every non-Python file of the package is covered by pyproject.toml's package-data, so a wheel carries it."""
    import tomllib

    declared = tomllib.loads((PACKAGE.parent / "pyproject.toml").read_text())["tool"]["setuptools"]["package-data"]
    covered = {path for package, globs in declared.items()
               for glob in globs for path in (PACKAGE.parent / package.replace(".", "/")).glob(glob) if path.is_file()}
    files = {path for path in PACKAGE.rglob("*") if path.is_file() and path.suffix not in (".py", ".pyc")
             and "__pycache__" not in path.parts}
    assert files and files == covered, files ^ covered


def test_a_module_of_mnistlib_0_1_says_in_one_line_where_it_went():
    """No aliases of the old flat modules (one name for each thing); an old import names the new module."""
    import importlib

    import pytest

    from mnistlib._util.moved import MOVED

    for old, new in MOVED.items():
        with pytest.raises(ModuleNotFoundError) as caught:
            importlib.import_module(f"mnistlib.{old}")
        message = str(caught.value)
        assert "\n" not in message and f"mnistlib.{old} was mnistlib 0.1's" in message and new in message
        assert importlib.import_module(new.split()[0]) and old not in MODULES  # the new home exists, the old is gone
    with pytest.raises(ModuleNotFoundError, match="No module named 'mnistlib.nonsense'"):
        importlib.import_module("mnistlib.nonsense")  # a name that never was: Python's own message
    # a name 0.1's module gave, from the package that module became
    for statement, new in (("from mnistlib.data import MEAN", "mnistlib.data.mnist.MEAN"),
                           ("from mnistlib.training import optimizer_text", "mnistlib.words.optimizer_text"),
                           ("from mnistlib.training import train_one_epoch", "mnistlib.training.loop.train_epoch"),
                           ("from mnistlib.original import beside_original", "mnistlib.analysis.claims.beside_original")):
        with pytest.raises(ImportError, match=f"was mnistlib 0.1's; since 0.2 it is {new}"):
            exec(statement, {})
    with pytest.raises(ImportError, match="cannot import name 'nothing_like_it'"):
        exec("from mnistlib.data import nothing_like_it", {})
