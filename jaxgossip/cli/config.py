"""Reading TOML study files: an experiment file, and the readers of each section.

An experiment file becomes an ``Experiment`` (``load_experiment``); the
trade-off command (``jaxgossip.cli.tradeoff``) reads its files with the same
``Table`` (``jaxgossip.cli.toml_table``) and section readers: the problem
(``jaxgossip.cli.problem_section``), the algorithms
(``jaxgossip.cli.algorithm_section``), and here the target, the graphs, seeds
and precision. The schema is in ``jaxgossip.cli.experiment``.
Every key is checked: an unknown key is an error that suggests the closest
valid one; a wrong type or a value out of range is an ``ExperimentError``
naming the file, the key path (``algorithms[1].grid.step_size``, indices from
0) and what was expected.
"""

from __future__ import annotations

import os
import sys

from jaxgossip.cli.algorithm_section import read_algorithm, read_algorithms
from jaxgossip.cli.problem_section import read_problem
from jaxgossip.cli.toml_table import Table, check_type, read_label, toml_type
from jaxgossip.network.factory import (
    GRAPH_KINDS,
    complete_graph_args,
    graph_parameters,
    make_graph,
    unknown,
)
from jaxgossip.study.build import graph_key, method
from jaxgossip.study.spec import (
    RATE_AXES,
    Experiment,
    ExperimentError,
    GraphSpec,
    ProblemSpec,
    default_metric,
    metric_goals,
)

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib

__all__ = [
    "Table",
    "check_type",
    "load_experiment",
    "load_toml",
    "name_and_seed",
    "parse_experiment",
    "read_algorithm",
    "read_algorithms",
    "read_graphs",
    "read_precision",
    "read_problem",
    "read_seeds",
    "read_target",
    "requests_float64",
    "toml_type",
    "unknown",
]

_TOP = (
    "name",
    "seed",
    "seeds",
    "num_events",
    "num_records",
    "num_rounds",
    "metric",
    "eps",
    "max_batch",
    "num_chunks",
    "precision",
    "problem",
    "graph",
    "graphs",
    "clocks",
    "algorithms",
    "output",
)
PRECISIONS = ("float32", "float64")


def load_toml(path) -> tuple[dict, dict]:
    """``(config, context)``: the parsed file and the ``file``/``base_dir``/``name``
    keywords of ``parse_experiment`` (the name defaults to the file name without .toml).

    Raises:
      FileNotFoundError: no such file.
      ExperimentError: the file is not valid TOML.
    """
    path = os.fspath(path)
    with open(path, "rb") as file:
        try:
            config = tomllib.load(file)
        except tomllib.TOMLDecodeError as error:
            raise ExperimentError(path, "", f"invalid TOML: {error}") from None
    context = dict(
        file=path,
        base_dir=os.path.dirname(os.path.abspath(path)),
        name=os.path.splitext(os.path.basename(path))[0],
    )
    return config, context


def load_experiment(path) -> Experiment:
    """Reads and checks an experiment file.

    Raises:
      FileNotFoundError: no such file.
      ExperimentError: the file is not valid TOML or does not follow the schema.
    """
    config, context = load_toml(path)
    return parse_experiment(config, **context)


def parse_experiment(
    config: dict, *, file: str = "<experiment>", base_dir=".", name: str = "experiment"
) -> Experiment:
    """Checks a parsed experiment (the dict ``tomllib`` returns).

    Args:
      config: the parsed file.
      file: how error messages name the source.
      base_dir: the folder relative data paths are resolved against.
      name: the default of the ``name`` key.
    """
    top = Table(file, "", config)
    top.done(valid=_TOP)  # a misspelt table name first: it explains what seems missing
    name, seed = name_and_seed(top, name)
    seeds = read_seeds(top)
    num_events = top.get("num_events", int)
    if num_events <= 0:
        raise top.error("num_events", f"expected an integer > 0, got {num_events}")
    num_records = top.get("num_records", int, 100)
    if num_records <= 0:
        raise top.error("num_records", f"expected an integer > 0, got {num_records}")
    if num_events % num_records:
        raise top.error(
            "num_events",
            f"expected a multiple of num_records = {num_records}, got {num_events} "
            f"(e.g. {max(1, round(num_events / num_records)) * num_records})",
        )
    max_batch = top.get("max_batch", int, 1024)
    if max_batch < 1:
        raise top.error("max_batch", f"expected an integer >= 1, got {max_batch}")
    num_chunks = top.get("num_chunks", int, 1)
    if num_chunks < 1 or num_records % num_chunks:
        raise top.error(
            "num_chunks",
            f"expected an integer >= 1 that divides num_records = {num_records}, got {num_chunks}",
        )
    precision = read_precision(top)

    problem = read_problem(top.table("problem"), os.fspath(base_dir))
    metric, eps = read_target(top, problem, default_eps=1e-3)
    graphs = read_graphs(top, problem, seed)
    clocks = top.table("clocks", required=False)
    rates = {key: clocks.get(key, float, 1.0) for key in RATE_AXES}
    for key, value in rates.items():
        if value < 0:
            raise clocks.error(key, f"expected a rate >= 0, got {value}")
    if not any(rates.values()):
        raise clocks.error("comm_rate", "compute_rate and comm_rate are both 0: no event happens")
    clocks.done()
    algorithms = read_algorithms(top)
    sizes = dict(num_events=num_events, num_records=num_records, seed=seed, rates=rates)
    num_rounds = _num_rounds(top, algorithms, problem, graphs[0], **sizes)
    output = top.table("output", required=False)
    output_dir = output.get("dir", str, os.path.join("results", name))
    figures = output.get("figures", bool, True)
    output.done()
    top.done()
    return Experiment(
        file=file,
        name=name,
        seed=seed,
        seeds=seeds,
        num_events=num_events,
        num_records=num_records,
        eps=eps,
        max_batch=max_batch,
        problem=problem,
        graphs=graphs,
        compute_rate=rates["compute_rate"],
        comm_rate=rates["comm_rate"],
        algorithms=algorithms,
        output_dir=output_dir,
        figures=figures,
        config=config,
        precision=precision,
        num_chunks=num_chunks,
        metric=metric,
        num_rounds=num_rounds,
    )


def read_target(top: Table, problem: ProblemSpec, *, default_eps: float) -> tuple[str, float]:
    """``metric`` and ``eps``, its target value: reached at metric <= eps for a metric
    to minimize (suboptimality, losses), >= eps for one to maximize (accuracies).

    ``metric`` defaults to f(x̄) − f* (``suboptimality``) on convex problems and to
    ``test_accuracy`` on supervised ones; ``eps`` to ``default_eps`` for convex
    problems, and it is required for supervised ones (no target fits every data set).
    """
    goals = metric_goals(problem.kind)
    metric = top.get("metric", str, default_metric(problem.kind))
    if metric not in goals:
        note = ""
        if metric in metric_goals("supervised") and problem.convex:
            note = ' (learning metrics are recorded by kind = "supervised" problems)'
        elif metric in metric_goals("quadratic"):
            note = " (a learning problem has no f*: it records losses and accuracies)"
        raise top.error("metric", unknown("metric", metric, sorted(goals)) + note)
    if problem.convex:
        eps = top.get("eps", float, default_eps)
    else:
        if "eps" not in top.data:
            example = "0.9" if goals[metric] == "max" else "0.3"
            raise top.error(
                "eps",
                f"missing; expected the target value of {metric} (reached at {metric} "
                f"{'>=' if goals[metric] == 'max' else '<='} eps), e.g. eps = {example}",
            )
        eps = top.get("eps", float)
    if metric.endswith("accuracy") and not 0 < eps <= 1:
        raise top.error("eps", f"expected an accuracy in (0, 1] for metric {metric!r}, got {eps}")
    if not eps > 0:
        raise top.error("eps", f"expected a number > 0, got {eps}")
    return metric, eps


def _num_rounds(
    top, algorithms, problem, graph, *, num_events, num_records, seed, rates
) -> int | None:
    """``num_rounds``: the budget of the synchronous methods, required when there is one."""
    rounds = [a.label for a in algorithms if method(a.name)[1] == "rounds"]
    if not rounds:
        if "num_rounds" in top.data:
            top.read.add("num_rounds")
            raise top.error(
                "num_rounds", "applies only to synchronous algorithms (rounds); there is none"
            )
        return None
    if "num_rounds" not in top.data:
        # As many gradient computations per node as the event runs make in expectation.
        edges = make_graph(
            graph.kind, num_nodes=problem.num_nodes, key=graph_key(seed), **graph.args
        ).num_edges
        n, compute, comm = problem.num_nodes, rates["compute_rate"], rates["comm_rate"]
        per_node = num_events * compute / (n * compute + edges * comm)
        suggested = max(1, round(per_node / num_records)) * num_records
        raise top.error(
            "num_rounds",
            f"missing; expected the rounds of each run of {', '.join(rounds)} (synchronous), "
            f"a multiple of num_records = {num_records}, e.g. num_rounds = {suggested}: about "
            f"the gradient computations per node that num_events gives on {graph.label}",
        )
    num_rounds = top.get("num_rounds", int)
    if num_rounds <= 0 or num_rounds % num_records:
        raise top.error(
            "num_rounds",
            f"expected a multiple > 0 of num_records = {num_records}, got {num_rounds}",
        )
    return num_rounds


# --- reading tables -----------------------------------------------------------------


def name_and_seed(top: Table, default_name: str) -> tuple[str, int]:
    """The top table's checked ``name`` (non-empty) and ``seed`` (in [0, 2**32))."""
    name = top.get("name", str, default_name)
    if not name.strip():
        raise top.error("name", "expected a non-empty string")
    seed = top.get("seed", int, 0)
    if not 0 <= seed < 2**32:
        raise top.error("seed", f"expected an integer in [0, 2**32), got {seed}")
    return name, seed


def read_precision(top: Table) -> str:
    """``precision``: "float32" (JAX's default) or "float64" (``jax_enable_x64``)."""
    precision = top.get("precision", str, "float32")
    if precision not in PRECISIONS:
        raise top.error("precision", unknown("precision", precision, PRECISIONS))
    return precision


def requests_float64(config: dict) -> bool:
    """Whether a parsed file (checked or not) asks for float64, read before anything is built.

    A command enables ``jax_enable_x64`` before it checks the file, because
    checking builds the graphs: then every array is float64 from the start.
    """
    return config.get("precision") == "float64" or config.get("float64") is True


def read_seeds(top: Table) -> int | tuple:
    """``seeds``: a number of runs >= 1 (default 1), or a tuple of distinct seeds >= 0."""
    top.read.add("seeds")
    value = top.data.get("seeds", 1)
    if isinstance(value, list):
        if (
            value
            and all(isinstance(s, int) and not isinstance(s, bool) and s >= 0 for s in value)
            and len(set(value)) == len(value)
        ):
            return tuple(value)
        raise top.error(
            "seeds", f"expected a non-empty list of distinct integers >= 0, got {value}"
        )
    seeds = check_type(top, "seeds", value, int)
    if seeds < 1:
        raise top.error("seeds", f"expected an integer >= 1 (the number of runs), got {seeds}")
    return seeds


# --- the graphs ---------------------------------------------------------------------


def read_graphs(top: Table, problem: ProblemSpec, seed: int) -> tuple:
    """The ``[graph]`` table or the ``[[graphs]]`` tables, each built once to check it."""
    if "graph" in top.data and "graphs" in top.data:
        raise top.error("graphs", "give either one [graph] table or [[graphs]] tables, not both")
    if "graph" in top.data:
        tables = [top.table("graph")]
    elif "graphs" in top.data:
        tables = top.tables("graphs")
    else:
        raise top.error("graph", "missing; expected a [graph] table or [[graphs]] tables")
    specs, labels = [], {}
    for table in tables:
        kind = table.get("kind", str)
        if kind not in GRAPH_KINDS:
            raise table.error("kind", unknown("graph kind", kind, GRAPH_KINDS))
        label = read_label(table, kind, labels, "graph")
        params = graph_parameters(kind)
        args = {
            name: table.get(name, int if annotation == "int" else float)
            for name, annotation in params.items()
            if name in table.data
        }
        table.done(valid=("kind", "label", *params))
        try:
            args = complete_graph_args(kind, args, problem.num_nodes)
            make_graph(kind, num_nodes=problem.num_nodes, key=graph_key(seed), **args)
        except ValueError as error:
            raise table.error(None, f"{kind}: {error}") from None
        specs.append(GraphSpec(label=label, kind=kind, args=args, key_path=table.path))
    return tuple(specs)
