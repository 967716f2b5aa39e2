"""Experiment files: a whole study in one TOML file, run by ``run_experiment``.

An experiment is one problem, one or more graphs, the clocks, and one or more
algorithms, each with fixed hyperparameters and a grid to sweep. Every graph
x algorithm pair is one ``jaxgossip.study.sweep.sweep`` call (the grid's points and
the seeds batched into compiled calls), saved as ``<graph>__<algorithm>.npz``.

Schema (every key is checked: an unknown key is an error that suggests the
closest valid one; a wrong type or a value out of range is an error naming the
file, the key path, e.g. ``algorithms[1].grid.step_size``, indices counting
from 0, and what was expected)::

    name = "step-sizes"     # default: the file name without .toml
    seed = 0                # key of the problem, the data split and random graphs
    seeds = 4               # runs per configuration; run s uses jax.random.key(s)
                            #   (or a list of distinct seeds >= 0)
    num_events = 20_000     # events per run (required)
    num_records = 100       # records per run; must divide num_events
    eps = 1e-3              # target f(x̄) - f* of the summary table
    max_batch = 1024        # runs per compiled batch

    [problem]
    kind = "logistic_regression"   # quadratic | logistic_regression | least_squares
    num_nodes = 16                 # n >= 2 (required)
    dim = 10                       # d (required for synthetic data)
    # quadratic:            kappa = 10.0, mu = 1.0, heterogeneity = 1.0
    # logistic_regression:  samples_per_node = 50, reg = 0.01, heterogeneity = 0.0,
    #                       batch_size (default: full local gradients)
    # least_squares:        samples_per_node = 50, reg = 0.0, heterogeneity = 1.0,
    #                       noise = 0.1, batch_size
    data = "synthetic"      # or "sklearn:<name>" (breast_cancer, diabetes, digits, iris,
                            # wine: needs scikit-learn), or a LIBSVM file, relative to
                            # this file's folder; not for quadratic
    iid = true              # data only: shuffle (true) or sort by label (false) into nodes
    standardize = true      # data only: features to zero mean, unit variance
    positive_class = 1      # data, logistic only: this label +1, others -1 (default: the
                            # data must have two classes; the larger label becomes +1)

    [graph]                 # one graph, or several as [[graphs]] tables with a `label`
    kind = "ring"           # ring, path, star, complete, grid, torus, hypercube,
                            # exponential, erdos_renyi, random_geometric, barbell
    # and the generator's arguments: n (default: problem.num_nodes), rows/cols,
    # dim, p, radius, clique_size/path_length, max_tries; n must equal num_nodes.
    label = "ring"          # default: kind; names the result files

    [clocks]
    compute_rate = 1.0      # per node (default 1)
    comm_rate = 1.0         # per edge (default 1)

    [[algorithms]]
    name = "async_gossip_sgd"   # a key of jaxgossip.algorithms.REGISTRY
    label = "sgd"               # default: name
    step_size = 0.05            # fixed hyperparameters; the others come from
                                # from_theory(problem, clocks) at the base rates
    relative_to_theory = false  # true: hyperparameter values (fixed and grid) are
                                # multiples of from_theory's values
    [algorithms.grid]           # axis -> values; the product of the axes is swept
    step_size = [0.01, 0.05, 0.1]
    comm_rate = [0.5, 1.0, 2.0]     # compute_rate/comm_rate multiply [clocks]

    [output]
    dir = "results/step-sizes"  # relative to the current folder; default results/<name>
    figures = true              # <graph>.png: the best configuration of each algorithm;
                                # <algorithm>__by_graph.png (several graphs): on each graph

Keys: ``seed`` s gives the problem key ``fold_in(key(s), 0)``, the random
graphs ``fold_in(key(s), 1)`` and the data split ``fold_in(key(s), 2)``.
"""

from __future__ import annotations

import dataclasses
import difflib
import inspect
import json
import math
import os
import re
import sys
import time
import unicodedata
from collections.abc import Callable

import equinox as eqx
import numpy as np

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib

PROBLEM_KINDS = ("quadratic", "logistic_regression", "least_squares")
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
RATE_AXES = ("compute_rate", "comm_rate")
_TOP = (
    "name",
    "seed",
    "seeds",
    "num_events",
    "num_records",
    "eps",
    "max_batch",
    "problem",
    "graph",
    "graphs",
    "clocks",
    "algorithms",
    "output",
)
# Problem options: key -> (type, default, kinds it applies to, "synthetic"/"data"/None).
_PROBLEM_OPTIONS = {
    "kappa": (float, 10.0, ("quadratic",), None),
    "mu": (float, 1.0, ("quadratic",), None),
    "heterogeneity": (float, None, PROBLEM_KINDS, "synthetic"),
    "samples_per_node": (int, 50, ("logistic_regression", "least_squares"), "synthetic"),
    "noise": (float, 0.1, ("least_squares",), "synthetic"),
    "reg": (float, None, ("logistic_regression", "least_squares"), None),
    "batch_size": (int, None, ("logistic_regression", "least_squares"), None),
    "iid": (bool, True, ("logistic_regression", "least_squares"), "data"),
    "standardize": (bool, True, ("logistic_regression", "least_squares"), "data"),
    "positive_class": (float, None, ("logistic_regression",), "data"),
}
_KIND_DEFAULTS = {  # defaults that differ between kinds
    "quadratic": {"heterogeneity": 1.0},
    "logistic_regression": {"heterogeneity": 0.0, "reg": 1e-2},
    "least_squares": {"heterogeneity": 1.0, "reg": 0.0},
}
_LABEL = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.+=-]*")


class ExperimentError(ValueError):
    """A bad experiment file: ``str(error)`` is ``"<file>: <key path>: <what was expected>"``."""

    def __init__(self, file: str, key: str, message: str):
        self.file, self.key, self.message = file, key, message
        super().__init__(f"{file}: {key}: {message}" if key else f"{file}: {message}")

    def __reduce__(self):  # picklable, e.g. across processes
        return type(self), (self.file, self.key, self.message)


@dataclasses.dataclass(frozen=True)
class ProblemSpec:
    """The ``[problem]`` table, checked; ``options`` holds the kind's options with defaults."""

    kind: str
    num_nodes: int
    dim: int | None
    data: str  # "synthetic", "sklearn:<name>", or an absolute path to a LIBSVM file
    options: dict


@dataclasses.dataclass(frozen=True)
class GraphSpec:
    """One ``[graph]`` or ``[[graphs]]`` table: the generator and its arguments."""

    label: str
    kind: str
    args: dict
    key_path: str  # "graph" or "graphs[k]", for error messages


@dataclasses.dataclass(frozen=True)
class AlgorithmSpec:
    """One ``[[algorithms]]`` table."""

    label: str
    name: str
    fixed: dict  # hyperparameter -> number
    grid: dict  # axis -> list of numbers
    relative_to_theory: bool
    key_path: str


@dataclasses.dataclass(frozen=True)
class Experiment:
    """A checked experiment file; build it with ``load_experiment`` or ``parse_experiment``."""

    file: str
    name: str
    seed: int
    seeds: int | tuple
    num_events: int
    num_records: int
    eps: float
    max_batch: int
    problem: ProblemSpec
    graphs: tuple  # of GraphSpec
    compute_rate: float
    comm_rate: float
    algorithms: tuple  # of AlgorithmSpec
    output_dir: str
    figures: bool
    config: dict  # the file's tables as parsed, stored with every result


def load_experiment(path) -> Experiment:
    """Reads and checks an experiment file.

    Raises:
      FileNotFoundError: no such file.
      ExperimentError: the file is not valid TOML or does not follow the schema.
    """
    path = os.fspath(path)
    with open(path, "rb") as file:
        try:
            config = tomllib.load(file)
        except tomllib.TOMLDecodeError as error:
            raise ExperimentError(path, "", f"invalid TOML: {error}") from None
    default_name = os.path.splitext(os.path.basename(path))[0]
    return parse_experiment(
        config, file=path, base_dir=os.path.dirname(os.path.abspath(path)), name=default_name
    )


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
    top = _Table(file, "", config)
    top.done(valid=_TOP)  # a misspelt table name first: it explains what seems missing
    name, seed = name_and_seed(top, name)
    seeds = _seeds(top)
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
    eps = top.get("eps", float, 1e-3)
    if not eps > 0:
        raise top.error("eps", f"expected a number > 0, got {eps}")
    max_batch = top.get("max_batch", int, 1024)
    if max_batch < 1:
        raise top.error("max_batch", f"expected an integer >= 1, got {max_batch}")

    problem = _problem(top.table("problem"), os.fspath(base_dir))
    graphs = _graphs(top, problem, seed)
    clocks = top.table("clocks", required=False)
    rates = {key: clocks.get(key, float, 1.0) for key in RATE_AXES}
    for key, value in rates.items():
        if value < 0:
            raise clocks.error(key, f"expected a rate >= 0, got {value}")
    if not any(rates.values()):
        raise clocks.error("comm_rate", "compute_rate and comm_rate are both 0: no event happens")
    clocks.done()
    algorithms = _algorithms(top)
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
    )


# --- reading tables -----------------------------------------------------------------

_MISSING = object()
_TYPE_NAMES = {int: "an integer", float: "a number", bool: "a boolean", str: "a string"}


def name_and_seed(top: _Table, default_name: str) -> tuple[str, int]:
    """The top table's checked ``name`` (non-empty) and ``seed`` (in [0, 2**32))."""
    name = top.get("name", str, default_name)
    if not name.strip():
        raise top.error("name", "expected a non-empty string")
    seed = top.get("seed", int, 0)
    if not 0 <= seed < 2**32:
        raise top.error("seed", f"expected an integer in [0, 2**32), got {seed}")
    return name, seed


def _toml_type(value) -> str:
    names = {bool: "a boolean", int: "an integer", float: "a float", str: "a string"}
    names.update({dict: "a table", list: "an array"})
    return names.get(type(value), type(value).__name__)


class _Table:
    """A TOML table being read: knows its key path, and which keys were read."""

    def __init__(self, file: str, path: str, data: dict):
        self.file, self.path, self.data, self.read = file, path, data, set()

    def key(self, key: str) -> str:
        return f"{self.path}.{key}" if self.path else key

    def error(self, key: str | None, message: str) -> ExperimentError:
        return ExperimentError(self.file, self.path if key is None else self.key(key), message)

    def get(self, key: str, kind, default=_MISSING):
        """The value of ``key``, checked to be of ``kind`` (int, float, bool or str)."""
        self.read.add(key)
        if key not in self.data:
            if default is _MISSING:
                raise self.error(key, f"missing; expected {_TYPE_NAMES[kind]}{self._typo(key)}")
            return default
        return _check_type(self, key, self.data[key], kind)

    def table(self, key: str, *, required: bool = True) -> _Table:
        self.read.add(key)
        value = self.data.get(key, _MISSING)
        if value is _MISSING:
            if required:
                raise self.error(
                    key, f"missing; expected a [{self.key(key)}] table{self._typo(key)}"
                )
            value = {}
        if not isinstance(value, dict):
            raise self.error(key, f"expected a table, got {_toml_type(value)}")
        return _Table(self.file, self.key(key), value)

    def tables(self, key: str) -> list[_Table]:
        """An array of tables, ``[[key]]``."""
        self.read.add(key)
        value = self.data[key]
        if not isinstance(value, list) or not value or not all(isinstance(v, dict) for v in value):
            raise self.error(key, f"expected one or more [[{self.key(key)}]] tables")
        return [_Table(self.file, f"{self.key(key)}[{k}]", v) for k, v in enumerate(value)]

    def _typo(self, key: str) -> str:
        """A hint naming a key of the table that may be ``key`` misspelt."""
        close = difflib.get_close_matches(key, [k for k in self.data if k not in self.read], n=1)
        return f" (is {close[0]!r} a misspelling of {key!r}?)" if close else ""

    def done(self, *, valid=(), hints: dict | None = None) -> None:
        """Raises on the first key that was never read, suggesting the closest valid key."""
        for key in self.data:
            if key in self.read or key in valid:
                continue
            if hints and key in hints:
                raise self.error(key, hints[key])
            choices = sorted({*self.read, *valid})
            close = difflib.get_close_matches(key, choices, n=1)
            hint = f"; did you mean {close[0]!r}?" if close else ""
            raise self.error(key, f"unknown key {key!r}{hint} (valid keys: {', '.join(choices)})")


def _check_type(table: _Table, key: str, value, kind):
    if kind is float and isinstance(value, (int, float)) and not isinstance(value, bool):
        if not math.isfinite(value):
            raise table.error(key, f"expected a finite number, got {value}")
        return float(value)
    if kind is int and isinstance(value, float) and value.is_integer():
        raise table.error(
            key, f"expected an integer, got {value!r} (a float); write {int(value)} instead"
        )
    if isinstance(value, kind) and not (kind is int and isinstance(value, bool)):
        return value
    raise table.error(key, f"expected {_TYPE_NAMES[kind]}, got {value!r} ({_toml_type(value)})")


def _seeds(top: _Table):
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
    seeds = _check_type(top, "seeds", value, int)
    if seeds < 1:
        raise top.error("seeds", f"expected an integer >= 1 (the number of runs), got {seeds}")
    return seeds


def _problem(table: _Table, base_dir: str) -> ProblemSpec:
    kind = table.get("kind", str)
    if kind not in PROBLEM_KINDS:
        raise table.error("kind", _unknown("problem kind", kind, PROBLEM_KINDS))
    num_nodes = table.get("num_nodes", int)
    if num_nodes < 2:
        raise table.error("num_nodes", f"expected an integer >= 2, got {num_nodes}")
    data = table.get("data", str, "synthetic")
    source = "synthetic" if data == "synthetic" else "data"
    if source == "data":
        if kind == "quadratic":
            raise table.error("data", "quadratic problems are synthetic; remove data")
        if data.startswith("sklearn:"):
            from jaxgossip.problems.datasets import SKLEARN_DATASETS

            if data[len("sklearn:") :] not in SKLEARN_DATASETS:
                names = [f"sklearn:{n}" for n in SKLEARN_DATASETS]
                raise table.error("data", _unknown("data set", data, names))
        else:
            data = os.path.normpath(os.path.join(base_dir, os.path.expanduser(data)))
            if not os.path.isfile(data):
                raise table.error(
                    "data",
                    f"expected 'synthetic', 'sklearn:<name>' or a LIBSVM file; no file {data!r}",
                )
    dim = table.get("dim", int, None)
    if dim is None and source == "synthetic":
        raise table.error("dim", "missing; expected an integer >= 1 (the dimension)")
    if dim is not None and dim < 1:
        raise table.error("dim", f"expected an integer >= 1, got {dim}")

    options, hints = {}, {}
    for key, (kind_of, default, kinds, applies) in _PROBLEM_OPTIONS.items():
        usable = kind in kinds and applies in (None, source)
        if not usable:
            if kind not in kinds:
                hints[key] = f"{key} does not apply to {kind} (only to {', '.join(kinds)})"
            elif applies == "data":
                hints[key] = f"{key} applies only to real data (set data = ...)"
            else:
                hints[key] = f"{key} applies only to synthetic data; the data set fixes it"
            continue
        default = _KIND_DEFAULTS[kind].get(key, default)
        options[key] = table.get(key, kind_of, default)
    _check_problem_options(table, kind, options)
    table.done(valid=options, hints=hints)
    return ProblemSpec(kind=kind, num_nodes=num_nodes, dim=dim, data=data, options=options)


def _check_problem_options(table: _Table, kind: str, options: dict) -> None:
    lower = {"kappa": (1.0, ">="), "mu": (0.0, ">"), "heterogeneity": (0.0, ">=")}
    lower |= {"samples_per_node": (1, ">="), "noise": (0.0, ">="), "batch_size": (1, ">=")}
    lower["reg"] = (0.0, ">" if kind == "logistic_regression" else ">=")
    for key, (bound, op) in lower.items():
        value = options.get(key)
        if value is None:
            continue
        if (op == ">" and not value > bound) or (op == ">=" and not value >= bound):
            raise table.error(key, f"expected a value {op} {bound:g}, got {value}")
    batch, samples = options.get("batch_size"), options.get("samples_per_node")
    if batch is not None and samples is not None and batch > samples:
        raise table.error(
            "batch_size", f"expected at most samples_per_node = {samples}, got {batch}"
        )


def _graphs(top: _Table, problem: ProblemSpec, seed: int) -> tuple:
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
            raise table.error("kind", _unknown("graph kind", kind, GRAPH_KINDS))
        label = _label(table, kind, labels, "graph")
        params = graph_parameters(kind)
        args = {
            name: table.get(name, int if annotation == "int" else float)
            for name, annotation in params.items()
            if name in table.data
        }
        table.done(valid=("kind", "label", *params))
        try:
            args = _complete_graph_args(kind, args, problem.num_nodes)
            make_graph(kind, num_nodes=problem.num_nodes, key=_graph_key(seed), **args)
        except ValueError as error:
            raise table.error(None, f"{kind}: {error}") from None
        specs.append(GraphSpec(label=label, kind=kind, args=args, key_path=table.path))
    return tuple(specs)


def _label(table: _Table, default: str, labels: dict, what: str) -> str:
    label = table.get("label", str, default)
    if not _LABEL.fullmatch(label) or "__" in label:
        raise table.error(
            "label",
            f"expected letters, digits and _ . + = - (not starting with a symbol, no '__'): "
            f"it names files; got {label!r}",
        )
    if label in labels:
        raise table.error(
            "label",
            f"{what} label {label!r} is already used by {labels[label]}; give each a "
            "distinct label",
        )
    labels[label] = table.path
    return label


def _algorithms(top: _Table) -> tuple:
    from jaxgossip.algorithms import REGISTRY

    if "algorithms" not in top.data:
        raise top.error("algorithms", "missing; expected one or more [[algorithms]] tables")
    specs, labels = [], {}
    for table in top.tables("algorithms"):
        name = table.get("name", str)
        if name not in REGISTRY:
            raise table.error("name", _unknown("algorithm", name, sorted(REGISTRY)))
        label = _label(table, name, labels, "algorithm")
        relative = table.get("relative_to_theory", bool, False)
        fields = hyperparameters(REGISTRY[name])
        fixed = {key: table.get(key, float) for key in fields if key in table.data}
        grid_table = table.table("grid", required=False)
        grid = {}
        for axis in grid_table.data:
            grid_table.read.add(axis)
            if axis not in (*fields, *RATE_AXES):
                close = difflib.get_close_matches(axis, [*fields, *RATE_AXES], n=1)
                hint = f"; did you mean {close[0]!r}?" if close else ""
                raise grid_table.error(
                    axis,
                    f"unknown grid axis {axis!r}{hint} (axes: the hyperparameters of {name}, "
                    f"{', '.join(fields) or 'none'}, and {', '.join(RATE_AXES)})",
                )
            if axis in fixed:
                raise grid_table.error(axis, f"{axis} is both fixed and swept; keep one")
            grid[axis] = _grid_values(grid_table, axis)
        table.done(valid=("name", "label", "relative_to_theory", "grid", *fields))
        specs.append(
            AlgorithmSpec(
                label=label,
                name=name,
                fixed=fixed,
                grid=grid,
                relative_to_theory=relative,
                key_path=table.path,
            )
        )
    return tuple(specs)


def _grid_values(table: _Table, axis: str) -> list:
    values = table.data[axis]
    if not isinstance(values, list) or not values:
        raise table.error(axis, f"expected a non-empty array of numbers, got {values!r}")
    for value in values:
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise table.error(
                axis, f"expected an array of numbers, got {value!r} ({_toml_type(value)})"
            )
        if not math.isfinite(value) or (axis in RATE_AXES and value < 0):
            what = "rate multipliers >= 0" if axis in RATE_AXES else "finite numbers"
            raise table.error(axis, f"expected {what}, got {value}")
    if len(set(values)) != len(values):
        raise table.error(axis, f"expected distinct values, got {values}")
    return [float(v) for v in values]


def _unknown(what: str, value: str, choices) -> str:
    close = difflib.get_close_matches(value, list(choices), n=1)
    hint = f"; did you mean {close[0]!r}?" if close else ""
    return f"unknown {what} {value!r}{hint} (expected one of {', '.join(choices)})"


def hyperparameters(cls) -> list[str]:
    """The hyperparameters of an algorithm class: its fields converted by ``hyperparameter``.

    Other init fields (a problem, the graph's edges, ...) are not set in an
    experiment file; they come from ``from_theory``.
    """
    from jaxgossip.algorithms import hyperparameter

    return [
        f.name
        for f in dataclasses.fields(cls)
        if f.init and f.metadata.get("converter") is hyperparameter
    ]


# --- graphs -------------------------------------------------------------------------


def graph_parameters(kind: str) -> dict[str, str]:
    """The arguments of generator ``jaxgossip.network.graphs.<kind>``, name -> "int" or "float"."""
    from jaxgossip.network import graphs

    signature = inspect.signature(getattr(graphs, kind))
    return {name: str(p.annotation) for name, p in signature.parameters.items() if name != "key"}


def _complete_graph_args(kind: str, args: dict, num_nodes: int | None) -> dict:
    """Fills in the size arguments that ``num_nodes`` determines."""
    args = dict(args)
    params = graph_parameters(kind)
    unknown = [name for name in args if name not in params]
    if unknown:
        close = difflib.get_close_matches(unknown[0], list(params), n=1)
        hint = f"; did you mean {close[0]!r}?" if close else ""
        raise ValueError(f"unknown argument {unknown[0]!r}{hint} (arguments: {', '.join(params)})")
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
    import jax

    from jaxgossip.network import graphs

    if kind not in GRAPH_KINDS:
        raise ValueError(_unknown("graph kind", kind, GRAPH_KINDS))
    args = _complete_graph_args(kind, args, num_nodes)
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


def _key(seed: int, purpose: int):
    import jax

    return jax.random.fold_in(jax.random.key(seed), purpose)


def _graph_key(seed: int):
    return _key(seed, 1)


# --- building and running -----------------------------------------------------------


def build_problem(experiment: Experiment):
    """The ``[problem]`` of ``experiment``, drawn or loaded.

    Raises:
      ExperimentError: the data cannot be loaded or do not fit the problem.
    """
    import jaxgossip as jg

    spec, seed = experiment.problem, experiment.seed
    o = spec.options
    try:
        if spec.kind == "quadratic":
            return jg.problems.quadratic(
                _key(seed, 0),
                spec.num_nodes,
                spec.dim,
                kappa=o["kappa"],
                mu=o["mu"],
                heterogeneity=o["heterogeneity"],
            )
        if spec.data == "synthetic":
            if spec.kind == "logistic_regression":
                return jg.problems.logistic_regression(
                    _key(seed, 0),
                    spec.num_nodes,
                    spec.dim,
                    o["samples_per_node"],
                    reg=o["reg"],
                    heterogeneity=o["heterogeneity"],
                    batch_size=o["batch_size"],
                )
            features, targets = _synthetic_regression(_key(seed, 0), spec)
        else:
            features, targets = _load_data(experiment)
    except ExperimentError:
        raise
    except ValueError as error:
        raise ExperimentError(experiment.file, "problem", str(error)) from None
    try:
        if spec.kind == "logistic_regression":
            return jg.problems.logistic_regression_from_data(
                features, targets, reg=o["reg"], batch_size=o["batch_size"]
            )
        return jg.problems.least_squares(
            features, targets, reg=o["reg"], batch_size=o["batch_size"]
        )
    except ValueError as error:
        raise ExperimentError(experiment.file, "problem", str(error)) from None


def _synthetic_regression(key, spec: ProblemSpec):
    """(n, m, d) features and (n, m) targets b = A_i w_i + noise, w_i = w + heterogeneity v_i."""
    from jaxgossip.problems.base import numpy_rng

    o, n, d = spec.options, spec.num_nodes, spec.dim
    rng = numpy_rng(key)
    w = rng.standard_normal(d)
    w_i = w + o["heterogeneity"] * rng.standard_normal((n, d))
    a = rng.standard_normal((n, o["samples_per_node"], d)) / np.sqrt(d)
    b = np.einsum("nmd,nd->nm", a, w_i) + o["noise"] * rng.standard_normal(a.shape[:2])
    return a, b


def _load_data(experiment: Experiment):
    """The data set, standardized, labelled for the problem and split over the nodes."""
    import jaxgossip as jg
    from jaxgossip.problems import datasets

    spec = experiment.problem
    o = spec.options
    try:
        if spec.data.startswith("sklearn:"):
            features, labels = datasets.load_sklearn(spec.data[len("sklearn:") :])
            if spec.dim is not None and features.shape[1] != spec.dim:
                raise ValueError(
                    f"{spec.data} has {features.shape[1]} features, not dim = {spec.dim}"
                )
        else:
            features, labels = datasets.load_libsvm(spec.data, dim=spec.dim)
        if spec.kind == "logistic_regression":
            classes = np.unique(labels)
            if o["positive_class"] is None and classes.size != 2:
                shown = ", ".join(f"{c:g}" for c in classes[:10])
                raise ValueError(
                    f"logistic regression needs 2 classes; {spec.data} has {classes.size} "
                    f"({shown}{', ...' if classes.size > 10 else ''}): set "
                    "problem.positive_class to one of them to classify it against the rest"
                )
            labels = datasets.to_binary_labels(labels, positive=o["positive_class"])
    except (ImportError, ValueError) as error:
        raise ExperimentError(experiment.file, "problem.data", str(error)) from None
    if o["standardize"]:
        scale = features.std(axis=0)
        features = (features - features.mean(axis=0)) / np.where(scale > 0, scale, 1.0)
    if features.shape[0] < spec.num_nodes:
        raise ExperimentError(
            experiment.file,
            "problem.num_nodes",
            f"{features.shape[0]} samples cannot be split over {spec.num_nodes} nodes",
        )
    return jg.problems.partition(
        _key(experiment.seed, 2), features, labels, spec.num_nodes, iid=o["iid"]
    )


def build_graph(experiment: Experiment, spec: GraphSpec):
    """The graph of one ``[graph]`` / ``[[graphs]]`` table."""
    return make_graph(
        spec.kind,
        num_nodes=experiment.problem.num_nodes,
        key=_graph_key(experiment.seed),
        **spec.args,
    )


class _Build(eqx.Module):
    """``algorithm(**grid point)`` for ``sweep``: ``base`` with those hyperparameters replaced.

    Replacing leaves (rather than calling the class) serves every algorithm,
    whatever its ``__init__`` takes (some keep a problem or a graph's edges). A
    module, so that ``base``'s values are array leaves: ``sweep``'s compiled call
    is cached on this object's structure and is reused by another algorithm table
    of the same class and grid axes with other fixed values.
    """

    base: eqx.Module  # an Algorithm

    def __call__(self, **point):
        from jaxgossip.algorithms import hyperparameter

        names = list(point)
        algorithm = eqx.tree_at(
            lambda a: [getattr(a, n) for n in names],
            self.base,
            [hyperparameter(point[n]) for n in names],  # as the fields' converter would
            is_leaf=lambda x: x is None,
        )
        # As construction would: run the class's checks (they skip traced values).
        for kls in type(algorithm).__mro__:
            if "__check_init__" in kls.__dict__:
                kls.__dict__["__check_init__"](algorithm)
        return algorithm


def configure_algorithm(experiment: Experiment, spec: AlgorithmSpec, problem, clocks):
    """``(build, grid, values)`` for ``sweep``: the callable, its grid, and the fixed values.

    Hyperparameters neither fixed nor swept, and fields that are no
    hyperparameters, come from ``from_theory(problem, clocks)``; with
    ``relative_to_theory`` the given values multiply theory's.

    Raises:
      ExperimentError: ``from_theory`` is missing or fails, or the algorithm
        rejects the values.
    """
    from jaxgossip.algorithms import REGISTRY

    cls = REGISTRY[spec.name]
    names = hyperparameters(cls)
    missing = [n for n in names if n not in spec.fixed and n not in spec.grid]
    others = [f.name for f in dataclasses.fields(cls) if f.init and f.name not in names]
    theory = None
    if missing or others or spec.relative_to_theory:
        try:
            theory = cls.from_theory(problem, clocks)
        except NotImplementedError:
            needed = ", ".join(missing) or "relative_to_theory"
            raise ExperimentError(
                experiment.file,
                spec.key_path,
                f"{spec.name} has no from_theory defaults, which {needed} needs; "
                f"set {', '.join(names)}",
            ) from None
        except ValueError as error:
            raise ExperimentError(
                experiment.file, spec.key_path, f"{spec.name}.from_theory: {error}"
            ) from None
    scale = {}
    if spec.relative_to_theory:
        scale = {n: float(np.asarray(getattr(theory, n))) for n in names}
    fixed = {n: v * scale.get(n, 1.0) for n, v in spec.fixed.items()}
    grid = {axis: [v * scale.get(axis, 1.0) for v in values] for axis, values in spec.grid.items()}
    first = {axis: values[0] for axis, values in grid.items() if axis not in RATE_AXES}
    try:  # fail here, before anything runs, on values the algorithm rejects
        base = cls(**fixed, **first) if theory is None else theory
        build = _Build(_Build(base)(**fixed))
        build(**first)
    except (TypeError, ValueError) as error:
        raise ExperimentError(experiment.file, spec.key_path, str(error)) from None
    values = {
        n: float(np.asarray(getattr(build.base, n)))
        for n in names
        if n not in grid and np.ndim(getattr(build.base, n)) == 0
    }
    return build, grid, values


def output_paths(experiment: Experiment) -> list[str]:
    """Every file ``run_experiment`` writes, in ``experiment.output_dir``."""
    names = [f"{g.label}__{a.label}.npz" for g in experiment.graphs for a in experiment.algorithms]
    if experiment.figures:
        names += [name for name, _, _ in _figures(experiment)]
    names.append("summary.txt")
    return [os.path.join(experiment.output_dir, name) for name in names]


def _figures(experiment: Experiment) -> list[tuple[str, str, dict]]:
    """``(file name, title, {line label: result label})`` of each figure.

    One per graph, comparing the algorithms on it; with several graphs, also one
    per algorithm, comparing the graphs.
    """
    graphs, algorithms = experiment.graphs, experiment.algorithms
    figures = [
        (f"{g.label}.png", g.label, {a.label: f"{g.label}__{a.label}" for a in algorithms})
        for g in graphs
    ]
    if len(graphs) > 1:
        figures += [
            (
                f"{a.label}__by_graph.png",
                f"{a.label} on each graph",
                {g.label: f"{g.label}__{a.label}" for g in graphs},
            )
            for a in algorithms
        ]
    return figures


def run_experiment(
    experiment, *, overwrite: bool = False, progress: Callable[[str], None] | None = print
) -> dict:
    """Runs every graph x algorithm sweep of ``experiment`` and saves the results.

    Writes into ``experiment.output_dir``: ``<graph>__<algorithm>.npz`` per pair
    (``jaxgossip.study.sweep.save_sweep``; its attrs hold the experiment), a figure
    ``<graph>.png`` per graph (median f(x̄) - f* against time, computations and
    communications for the best configuration of each algorithm), with several
    graphs also ``<algorithm>__by_graph.png`` per algorithm (its best
    configuration on each graph), and
    ``summary.txt``, the ``summary_table``.

    Args:
      experiment: an ``Experiment`` or the path of an experiment file.
      overwrite: replace existing result files.
      progress: called with a line of text before and after each sweep; None: silent.

    Returns:
      ``"<graph>__<algorithm>"`` -> the sweep's ``xarray.Dataset``, in run order.

    Raises:
      FileExistsError: some output files exist and ``overwrite`` is False; it
        names them all, and nothing has run.
      ExperimentError: the problem, a graph or an algorithm cannot be built;
        raised before the first sweep runs.
    """
    import jaxgossip as jg
    from jaxgossip.io import atomic_write
    from jaxgossip.study.sweep import save_sweep, sweep

    if not isinstance(experiment, Experiment):
        experiment = load_experiment(experiment)
    say = progress or (lambda line: None)
    out = experiment.output_dir
    if os.path.exists(out) and not os.path.isdir(out):
        raise FileExistsError(f"run_experiment: the output folder {out!r} is a file.")
    paths = output_paths(experiment)
    existing = [p for p in paths if os.path.exists(p)]
    if existing and not overwrite:
        raise FileExistsError(
            f"run_experiment: {len(existing)} output file(s) exist already: "
            f"{', '.join(existing)}; pass overwrite=True to replace them, or choose "
            "another output folder."
        )

    # Build everything first, so that a bad setting fails before any sweep runs.
    problem = build_problem(experiment)
    plans = []
    for g in experiment.graphs:
        graph = build_graph(experiment, g)
        clocks = jg.Clocks(graph, experiment.compute_rate, experiment.comm_rate)
        for a in experiment.algorithms:
            plans.append((g, a, clocks, *configure_algorithm(experiment, a, problem, clocks)))

    os.makedirs(out, exist_ok=True)
    described = _describe_problem(experiment, problem)
    results = {}
    for k, (g, a, clocks, build, grid, values) in enumerate(plans):
        num_configs = math.prod(len(v) for v in grid.values())
        num_seeds = experiment.seeds if isinstance(experiment.seeds, int) else len(experiment.seeds)
        say(
            f"[{k + 1}/{len(plans)}] {g.label} x {a.label}: {num_configs} configuration(s) x "
            f"{num_seeds} seed(s) x {experiment.num_events:,} events"
        )
        start = time.perf_counter()
        ds = sweep(
            build,
            problem,
            clocks,
            num_events=experiment.num_events,
            num_records=experiment.num_records,
            grid=grid,
            seeds=list(experiment.seeds) if isinstance(experiment.seeds, tuple) else num_seeds,
            max_batch=experiment.max_batch,
        )
        config = json.loads(ds.attrs.get("config", "{}"))
        config["algorithm"] = a.name
        ds.attrs.update(
            config=json.dumps(config),
            experiment=json.dumps(experiment.config),
            experiment_name=experiment.name,
            graph=g.label,
            graph_kind=g.kind,
            graph_args=json.dumps(g.args),
            algorithm=a.label,
            algorithm_name=a.name,
            hyperparameters=json.dumps(values),
            problem=json.dumps(described),
            compute_rate=experiment.compute_rate,
            comm_rate=experiment.comm_rate,
            eps=experiment.eps,
        )
        path = os.path.join(out, f"{g.label}__{a.label}.npz")
        save_sweep(path, ds, overwrite=overwrite)
        say(f"    {time.perf_counter() - start:.1f} s; saved {path}")
        results[f"{g.label}__{a.label}"] = ds

    if experiment.figures:
        for name, title, labels in _figures(experiment):
            lines = {line: results[label] for line, label in labels.items()}
            figure = plot_best(lines, experiment.eps, title=f"{experiment.name}: {title}")
            atomic_write(
                os.path.join(out, name),
                lambda f, figure=figure: figure.savefig(f, format="png", dpi=120),
                overwrite=overwrite,
            )
    table = summary_table(results, experiment.eps)
    atomic_write(
        os.path.join(out, "summary.txt"),
        lambda f: f.write((table + "\n").encode("utf-8")),
        overwrite=overwrite,
    )
    return results


def _describe_problem(experiment: Experiment, problem) -> dict:
    spec = experiment.problem
    described = {"kind": spec.kind, "data": spec.data, **spec.options}
    described.update(num_nodes=problem.num_nodes, dim=problem.dim, seed=experiment.seed)
    described.update(L=float(problem.L), mu=float(problem.mu), f_star=float(problem.f_star))
    return described


# --- reading results ----------------------------------------------------------------


def _grid_dims(ds) -> list[str]:
    return [d for d in ds["diverged"].dims if d not in ("seed", "record")]


def choose_best(ds, eps: float) -> tuple[dict, str] | None:
    """The best grid point of a sweep and the criterion that chose it, or None.

    The fewest median computations to reach ``eps`` (more than half the seeds
    must reach it), else the lowest median final f(x̄) - f*; a configuration with
    a diverged seed never wins. None when every configuration diverged.

    Returns:
      ``({axis: value, ...}, "to_reach" or "final")``.
    """
    from jaxgossip.study.sweep import best

    for criterion in ("to_reach", "final"):
        try:
            choice = best(ds, criterion=criterion, eps=eps)
        except ValueError:
            continue
        return {d: choice[d] for d in _grid_dims(ds)}, criterion
    return None


def point_trace(ds, point: dict | None = None):
    """The runs of one grid point as a ``Trace`` with a leading seed axis (no final state)."""
    from jaxgossip.engine.trace import Trace

    selected = ds.sel(point or {})
    names = [f.name for f in dataclasses.fields(Trace) if f.name != "final_state"]
    return Trace(
        **{name: selected[name].transpose("seed", "record").values for name in names},
        final_state=None,
    )


def format_point(point: dict) -> str:
    """``"step_size=0.05, comm_rate=2"``; ``"-"`` for an empty grid."""
    return ", ".join(f"{k}={v:.4g}" for k, v in point.items()) or "-"


def plot_best(results: dict, eps: float, *, title: str | None = None):
    """Figure: each sweep's best configuration (``choose_best``), labelled by its grid point.

    Args:
      results: label -> sweep Dataset, one line each.
      eps: the target that ``choose_best`` ranks by.
    """
    from jaxgossip.plot import plot_convergence

    traces = {}
    for label, ds in results.items():
        chosen = choose_best(ds, eps)
        if chosen is None:
            point, text = {d: ds[d].values[0] for d in _grid_dims(ds)}, "all diverged"
        else:
            point, text = chosen[0], format_point(chosen[0])
        traces[label if text == "-" else f"{label} ({text})"] = point_trace(ds, point)
    figure = plot_convergence(traces, x_axes=("time", "num_computations", "num_communications"))
    if title:
        subtitle = figure.get_suptitle()
        figure.suptitle(f"{title}\n{subtitle}" if subtitle else title, fontsize="medium")
    return figure


def summary_table(results: dict, eps: float) -> str:
    """One row per sweep: the best settings and what they cost to reach ``eps``.

    Columns: graph, algorithm, best grid point (``choose_best``; ``*`` when no
    configuration reached ``eps`` and the lowest final suboptimality chose it),
    seeds reaching eps, the median computations, communications and simulated
    time to reach eps (``-`` when fewer than half the seeds reach it), the
    median final f(x̄) - f*, and the number of configurations with a diverged seed.

    Args:
      results: ``"<graph>__<algorithm>"`` -> sweep Dataset, as ``run_experiment``
        returns; the labels come from the datasets' attrs when present.
      eps: the target suboptimality.
    """
    from jaxgossip.study.sweep import divergence_summary, to_reach

    header = (
        "graph",
        "algorithm",
        "best settings",
        "reached",
        "computations to ε",
        "communications to ε",
        "time to ε",
        "final f(x̄) − f*",
        "diverged",
    )
    rows = []
    num_seeds = set()
    for label, ds in results.items():
        graph, _, algorithm = label.partition("__")
        graph, algorithm = ds.attrs.get("graph", graph), ds.attrs.get("algorithm", algorithm)
        num_configs = math.prod(ds.sizes[d] for d in _grid_dims(ds))
        diverged = f"{len(divergence_summary(ds))}/{num_configs}"
        seeds = ds.sizes["seed"]
        num_seeds.add(seeds)
        chosen = choose_best(ds, eps)
        if chosen is None:
            rows.append((graph, algorithm, "all diverged", "-", "-", "-", "-", "-", diverged))
            continue
        point, criterion = chosen
        selected = ds.sel(point)
        costs = []
        for by in ("num_computations", "num_communications", "time"):
            values = to_reach(selected, eps, by=by).values
            costs.append(values)
        reached = int(np.sum(np.isfinite(costs[0])))
        medians = [float(np.median(np.where(np.isfinite(c), c, np.inf))) for c in costs]
        final = float(np.median(selected["suboptimality"].isel(record=-1).values))
        rows.append(
            (
                graph,
                algorithm,
                format_point(point) + ("" if criterion == "to_reach" else " *"),
                f"{reached}/{seeds}",
                *(_count(m) for m in medians[:2]),
                "-" if not np.isfinite(medians[2]) else f"{medians[2]:.4g}",
                f"{final:.3e}",
                diverged,
            )
        )
    seeds_text = "/".join(str(s) for s in sorted(num_seeds)) or "0"
    footer = (
        f"(ε = {eps:g}: medians over {seeds_text} seeds of the best settings, the fewest "
        "computations to reach ε;\n * where none reached ε for most seeds: the lowest final "
        "f(x̄) − f*; diverged: configurations with a diverged seed)"
    )
    return _format_rows(header, rows) + "\n" + footer


def _count(value: float) -> str:
    return "-" if not np.isfinite(value) else f"{value:,.0f}"


def _width(text: str) -> int:
    """Printed width: the macron of x̄ is a combining character, drawn over the x."""
    return sum(not unicodedata.combining(c) for c in text)


def _format_rows(header, rows) -> str:
    widths = [max(_width(h), *(_width(row[c]) for row in rows)) for c, h in enumerate(header)]

    def line(cells):
        # Text columns (the first three) align left, numbers right.
        return "  ".join(
            (c + " " * (w - _width(c))) if k < 3 else (" " * (w - _width(c)) + c)
            for k, (c, w) in enumerate(zip(cells, widths))
        ).rstrip()

    return "\n".join([line(header), "  ".join("-" * w for w in widths), *map(line, rows)])
