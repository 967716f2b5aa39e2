"""Graphs by name: ``make_graph("torus", num_nodes=16)``.

The generators of ``jaxgossip.network.graphs`` take their own size arguments
(a ring ``n``, a torus ``rows`` and ``cols``, a hypercube ``dim``); this
factory fills them in from one ``num_nodes``, so that experiment files and the
``theory`` command name a topology and a size and nothing more.
"""

from __future__ import annotations

import difflib
import inspect
import math

import jax

from jaxgossip.network import graphs

GRAPH_KINDS = (
    "ring",
    "path",
    "star",
    "complete",
    "grid",
    "torus",
    "hypercube",
    "exponential",
    "erdos_renyi",
    "random_geometric",
    "barbell",
)


def did_you_mean(value: str, choices) -> str:
    """``"; did you mean 'ring'?"`` for the choice closest to ``value``, or ``""``."""
    close = difflib.get_close_matches(value, list(choices), n=1)
    return f"; did you mean {close[0]!r}?" if close else ""


def unknown(what: str, value: str, choices) -> str:
    """The message for a name that is not one of ``choices``, with the closest one."""
    return (
        f"unknown {what} {value!r}{did_you_mean(value, choices)} "
        f"(expected one of {', '.join(choices)})"
    )


def graph_parameters(kind: str) -> dict[str, str]:
    """The arguments of generator ``jaxgossip.network.graphs.<kind>``, name -> "int" or "float"."""
    signature = inspect.signature(getattr(graphs, kind))
    return {name: str(p.annotation) for name, p in signature.parameters.items() if name != "key"}


def complete_graph_args(kind: str, args: dict, num_nodes: int | None) -> dict:
    """``args`` with the size arguments that ``num_nodes`` determines filled in.

    Raises:
      ValueError: an argument ``kind`` does not take, or sizes that cannot
        make ``num_nodes`` nodes.
    """
    args = dict(args)
    params = graph_parameters(kind)
    unknown_args = [name for name in args if name not in params]
    if unknown_args:
        raise ValueError(
            f"unknown argument {unknown_args[0]!r}{did_you_mean(unknown_args[0], params)} "
            f"(arguments: {', '.join(params)})"
        )
    if num_nodes is None:
        return args
    if "n" in params:
        args.setdefault("n", num_nodes)
    elif kind == "hypercube" and "dim" not in args:
        if num_nodes & (num_nodes - 1):
            raise ValueError(f"hypercubes have 2**dim nodes; num_nodes = {num_nodes} is not one")
        args["dim"] = num_nodes.bit_length() - 1
    elif kind in ("grid", "torus"):
        if "rows" not in args and "cols" not in args:
            side = math.isqrt(num_nodes)
            if side * side != num_nodes:
                raise ValueError(f"set rows and cols: num_nodes = {num_nodes} is not a square")
            args["rows"] = args["cols"] = side
        for given, other in (("rows", "cols"), ("cols", "rows")):
            if given in args and other not in args:
                if args[given] < 1 or num_nodes % args[given]:
                    raise ValueError(f"{given} = {args[given]} does not divide {num_nodes}")
                args[other] = num_nodes // args[given]
    elif kind == "barbell" and "clique_size" not in args:
        rest = num_nodes - args.get("path_length", 0)
        if rest < 4 or rest % 2:
            raise ValueError(f"set clique_size: 2 * clique_size + path_length = {num_nodes}")
        args["clique_size"] = rest // 2
    return args


def make_graph(kind: str, *, num_nodes: int | None = None, key=None, **args):
    """The graph ``graphs.<kind>(**args)``, with sizes filled in from ``num_nodes``.

    ``n`` defaults to ``num_nodes``; so do a hypercube's ``dim`` (log2), a grid's
    or torus's ``rows``/``cols`` (a square, or the other side) and a barbell's
    ``clique_size``. Random graphs use ``key`` (default ``jax.random.key(0)``).

    Raises:
      ValueError: an unknown kind or argument (with a suggestion), an argument
        the generator rejects, or a graph of other than ``num_nodes`` nodes.
    """
    if kind not in GRAPH_KINDS:
        raise ValueError(unknown("graph kind", kind, GRAPH_KINDS))
    args = complete_graph_args(kind, args, num_nodes)
    generator = getattr(graphs, kind)
    parameters = inspect.signature(generator).parameters
    missing = [
        name
        for name, p in parameters.items()
        if name != "key" and p.default is p.empty and name not in args
    ]
    if missing:
        hint = " (the number of nodes)" if missing == ["n"] else ""
        raise ValueError(f"{kind} needs {', '.join(missing)}{hint}")
    if "key" in parameters:
        args["key"] = jax.random.key(0) if key is None else key
    graph = generator(**args)
    if num_nodes is not None and graph.num_nodes != num_nodes:
        raise ValueError(f"the graph has {graph.num_nodes} nodes, not num_nodes = {num_nodes}")
    return graph
