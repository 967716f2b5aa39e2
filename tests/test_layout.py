"""The package's layout rules: imports flow one way, privately named things stay private.

- no module imports another module's private name (``from m import _x``);
- no function imports the package ``jaxgossip`` itself (a sign of a cycle);
- every module imports on its own in a fresh interpreter, in any order;
- each layer imports only itself and the layers before it: distributed
  (joining processes; JAX only) -> network -> problems -> algorithms ->
  engine -> theory -> io -> study -> testing -> plot -> cli
  (study computes and saves results; testing checks an algorithm against the
  contract, reusing study's table; plot draws results; cli, the front-ends,
  reads experiment files and writes figures).
"""

import ast
import pathlib
import random
import subprocess
import sys

import pytest

PACKAGE = pathlib.Path(__file__).resolve().parents[1] / "jaxgossip"

LAYERS = [
    "distributed",
    "network",
    "problems",
    "algorithms",
    "engine",
    "theory",
    "io",
    "study",
    "testing",
    "plot",
    "cli",
]


def module_name(path: pathlib.Path) -> str:
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


MODULES = sorted(module_name(p) for p in PACKAGE.rglob("*.py") if p.name not in ("__main__.py",))


def imports(path: pathlib.Path):
    """(node, module, names, inside_function) of every import statement of a file."""
    tree = ast.parse(path.read_text())
    functions = [
        n for n in ast.walk(tree) if isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef))
    ]
    nested = {id(n) for f in functions for n in ast.walk(f) if n is not f}
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            yield node, node.module, [a.name for a in node.names], id(node) in nested
        elif isinstance(node, ast.Import):
            for alias in node.names:
                yield node, alias.name, [], id(node) in nested


def layer(module: str) -> str | None:
    parts = module.split(".")
    if parts[0] != "jaxgossip" or len(parts) < 2:
        return None
    return parts[1] if parts[1] in LAYERS else None


FILES = sorted(PACKAGE.rglob("*.py"))


@pytest.mark.parametrize("path", FILES, ids=lambda p: module_name(p))
def test_no_private_name_is_imported_from_another_module(path):
    bad = [
        f"line {node.lineno}: from {module} import {name}"
        for node, module, names, _ in imports(path)
        if module.startswith("jaxgossip")
        for name in names
        if name.startswith("_")
    ]
    assert not bad, bad


@pytest.mark.parametrize("path", FILES, ids=lambda p: module_name(p))
def test_no_function_imports_the_package_itself(path):
    bad = [
        f"line {node.lineno}: import {module}"
        for node, module, names, inside in imports(path)
        if inside and (module == "jaxgossip" and (not names or isinstance(node, ast.Import)))
    ]
    bad += [
        f"line {node.lineno}: from jaxgossip import {', '.join(names)}"
        for node, module, names, inside in imports(path)
        if inside and module == "jaxgossip" and isinstance(node, ast.ImportFrom)
    ]
    assert not bad, bad


@pytest.mark.parametrize("path", FILES, ids=lambda p: module_name(p))
def test_imports_flow_downstream(path):
    here = layer(module_name(path))
    if here is None:  # the top-level package re-exports everything
        return
    rank = LAYERS.index(here)
    upstream_of_here = [
        f"line {node.lineno}: {module} ({layer(module)} is downstream of {here})"
        for node, module, _, _ in imports(path)
        if layer(module) is not None and LAYERS.index(layer(module)) > rank
    ]
    assert not upstream_of_here, upstream_of_here


# Importing any submodule runs jaxgossip/__init__ first, which imports
# everything; to see each module's own imports, the script below stands a bare
# package in for it, then imports each module first in turn (every jaxgossip
# module dropped from sys.modules before each). Every module comes first in a
# clean namespace whatever the order, so one shuffled order suffices.
ISOLATED_IMPORTS = """
import importlib, sys, types
root, names = sys.argv[1], sys.argv[2:]
for name in names:
    for cached in [m for m in sys.modules if m == "jaxgossip" or m.startswith("jaxgossip.")]:
        del sys.modules[cached]
    bare = types.ModuleType("jaxgossip")
    bare.__path__ = [root]
    sys.modules["jaxgossip"] = bare
    try:
        importlib.import_module(name)
    except Exception as error:
        raise SystemExit(f"importing {name} first failed: {error!r}")
"""


def test_every_module_imports_first_on_its_own():
    order = [m for m in MODULES if m != "jaxgossip"]
    random.Random(0).shuffle(order)
    result = subprocess.run(
        [sys.executable, "-c", ISOLATED_IMPORTS, str(PACKAGE), *order],
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stderr[-2000:]


def test_the_package_imports_in_a_fresh_interpreter():
    result = subprocess.run(
        [sys.executable, "-c", "import jaxgossip as jg; jg.simulate; jg.algorithms.METHODS"],
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stderr[-2000:]
