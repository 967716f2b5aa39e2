"""MkDocs hook: the parts of pages that are generated from the code at build time.

A page asks for one with a comment on a line of its own, which GitHub does not
show either::

    <!-- generated: cli -->                        every command and flag (cli_pages)
    <!-- generated: experiment-keys -->            every key experiment files accept
    <!-- generated: tradeoff-keys -->              every key trade-off files accept
    <!-- generated: modules jaxgossip.network -->  a ::: block per public module
    <!-- generated: schema jaxgossip.cli.experiment -->  a docstring's annotated schema
    <!-- generated: names -->                      jg.<name> -> where it is documented
    <!-- generated: methods -->                    every registered method, family, counting

Nothing here is written by hand that the code already says, so the reference
cannot drift from it; an unknown marker fails the build.
"""

from __future__ import annotations

import importlib
import inspect
import os
import pkgutil
import re
import sys
import textwrap
import types

from mkdocs.exceptions import PluginError

import jaxgossip
from jaxgossip.algorithms.registry import COUNTING, METHODS

sys.path.insert(0, os.path.dirname(__file__))  # the sibling generators

import cli_pages  # noqa: E402
import schema_pages  # noqa: E402

MARKER = re.compile(r"^<!--\s*generated:\s*([\w-]+)\s*([^>]*?)\s*-->\s*$", re.MULTILINE)
# The packages and modules the reference pages render, one page each.
LAYERS = (
    "jaxgossip.distributed",
    "jaxgossip.network",
    "jaxgossip.problems",
    "jaxgossip.algorithms",
    "jaxgossip.engine",
    "jaxgossip.theory",
    "jaxgossip.io",
    "jaxgossip.study",
    "jaxgossip.plot",
    "jaxgossip.cli",
    "jaxgossip.testing",
)


def on_page_markdown(markdown: str, page, config, files) -> str:
    def expand(match: re.Match) -> str:
        what, argument = match.group(1), match.group(2)
        if what not in GENERATORS:
            raise PluginError(f"{page.file.src_path}: unknown generated part {what!r}")
        return GENERATORS[what](argument)

    return MARKER.sub(expand, markdown)


def public_modules(name: str) -> list[str]:
    """``name`` and, for a package, its public submodules, depth first in name order."""
    module = importlib.import_module(name)
    names = [name]
    if hasattr(module, "__path__"):
        for info in sorted(pkgutil.iter_modules(module.__path__), key=lambda i: i.name):
            if not info.name.startswith("_"):
                names += public_modules(f"{name}.{info.name}")
    return names


def modules(package: str) -> str:
    """A ``:::`` block per module; a package's own block shows its docstring only
    (its members are rendered where they are defined, so each has one anchor)."""
    blocks = []
    for name in public_modules(package):
        if hasattr(importlib.import_module(name), "__path__"):
            blocks.append(f"::: {name}\n    options:\n      members: false\n")
        else:
            blocks.append(f"::: {name}\n")
    return "\n".join(blocks)


def schema(module: str) -> str:
    """The literal block after the line ``Schema ...::`` of a module docstring, as TOML."""
    doc = importlib.import_module(module).__doc__ or ""
    found = re.search(r"^Schema\b[\s\S]*?::\n\n((?:[ \t]+.*\n|\n)+)", doc, re.MULTILINE)
    if not found:
        raise PluginError(f"{module}: its docstring has no 'Schema ...::' block")
    return f"```toml\n{textwrap.dedent(found.group(1)).strip()}\n```\n"


def names(_: str) -> str:
    """A table of ``jaxgossip.__all__``: each name, what it is, and where it is documented."""
    rendered = [m for layer in LAYERS for m in public_modules(layer)]
    rows = ["| name | what | documented at |", "|---|---|---|"]
    for name in sorted(jaxgossip.__all__, key=str.lower):
        obj = getattr(jaxgossip, name)
        if isinstance(obj, types.ModuleType):
            kind, module, path = "module", obj.__name__, obj.__name__
        elif inspect.isclass(obj) or inspect.isfunction(obj):
            kind = "class" if inspect.isclass(obj) else "function"
            module = obj.__module__
            # Its public name there (functools.wraps gives a wrapper the wrapped's __qualname__).
            public = [a for a, v in vars(sys.modules[module]).items() if v is obj and a[0] != "_"]
            path = f"{module}.{public[0] if public else obj.__qualname__}"
            own_doc = obj.__dict__.get("__doc__") if kind == "class" else obj.__doc__
            if not own_doc:  # not rendered: point to its module
                path = module
        else:  # a constant: the first module of the reference that holds it
            kind = type(obj).__name__
            holders = [m for m in rendered if getattr(sys.modules[m], name, None) is obj]
            module = path = holders[0] if holders else None
        where = f"[`{path}`][{path}]" if module in rendered else f"`{path}`"
        rows.append(f"| `jg.{name}` | {kind} | {where} |")
    return "\n".join(rows) + "\n"


def methods(_: str) -> str:
    """``jaxgossip.algorithms.registry.METHODS``: each method's family and counting."""
    rows = ["| name | class | family | counting |", "|---|---|---|---|"]
    for name, entry in METHODS.items():
        path = f"{entry.cls.__module__}.{entry.cls.__name__}"
        rows.append(
            f"| `{name}` | [`{entry.cls.__name__}`][{path}] | {entry.family} | {entry.counting} |"
        )
    rows += ["", "| counting | what is counted |", "|---|---|"]
    rows += [f"| {name} | {what} |" for name, what in COUNTING.items()]
    return "\n".join(rows) + "\n"


GENERATORS = {
    "cli": lambda _: cli_pages.render(),
    "experiment-keys": lambda _: schema_pages.experiment_keys(),
    "tradeoff-keys": lambda _: schema_pages.tradeoff_keys(),
    "modules": modules,
    "schema": schema,
    "names": names,
    "methods": methods,
}
