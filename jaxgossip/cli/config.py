"""Reading TOML study files: a checked ``Table`` and the readers of each section.

An experiment file becomes an ``Experiment`` (``load_experiment``); the
trade-off command (``jaxgossip.cli.tradeoff``) reads its files with the same
``Table`` and section readers. The schema is in ``jaxgossip.cli.experiment``.
Every key is checked: an unknown key is an error that suggests the closest
valid one; a wrong type or a value out of range is an ``ExperimentError``
naming the file, the key path (``algorithms[1].grid.step_size``, indices from
0) and what was expected.
"""

from __future__ import annotations

import difflib
import math
import os
import re
import sys

from jaxgossip.algorithms.registry import REGISTRY
from jaxgossip.network.factory import (
    GRAPH_KINDS,
    complete_graph_args,
    did_you_mean,
    graph_parameters,
    make_graph,
    unknown,
)
from jaxgossip.problems.datasets import SKLEARN_DATASETS
from jaxgossip.study.build import graph_key, hyperparameters
from jaxgossip.study.spec import (
    PROBLEM_KINDS,
    RATE_AXES,
    AlgorithmSpec,
    Experiment,
    ExperimentError,
    GraphSpec,
    ProblemSpec,
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
    "read_algorithms",
    "read_graphs",
    "read_precision",
    "read_problem",
    "read_seeds",
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
# Problem options: key -> (type, default, kinds it applies to, "synthetic"/"data"/None).
_PROBLEM_OPTIONS = {
    "kappa": (float, 10.0, ("quadratic",), None),
    "mu": (float, 1.0, ("quadratic",), None),
    "shared_basis": (bool, False, ("quadratic",), None),
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
_MISSING = object()
_TYPE_NAMES = {int: "an integer", float: "a number", bool: "a boolean", str: "a string"}
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
    eps = top.get("eps", float, 1e-3)
    if not eps > 0:
        raise top.error("eps", f"expected a number > 0, got {eps}")
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
    )


# --- reading tables -----------------------------------------------------------------


def toml_type(value) -> str:
    """How TOML names the type of ``value``: "an integer", "a table", ..."""
    names = {bool: "a boolean", int: "an integer", float: "a float", str: "a string"}
    names.update({dict: "a table", list: "an array"})
    return names.get(type(value), type(value).__name__)


class Table:
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
        return check_type(self, key, self.data[key], kind)

    def table(self, key: str, *, required: bool = True) -> Table:
        self.read.add(key)
        value = self.data.get(key, _MISSING)
        if value is _MISSING:
            if required:
                raise self.error(
                    key, f"missing; expected a [{self.key(key)}] table{self._typo(key)}"
                )
            value = {}
        if not isinstance(value, dict):
            raise self.error(key, f"expected a table, got {toml_type(value)}")
        return Table(self.file, self.key(key), value)

    def tables(self, key: str) -> list[Table]:
        """An array of tables, ``[[key]]``."""
        self.read.add(key)
        value = self.data[key]
        if not isinstance(value, list) or not value or not all(isinstance(v, dict) for v in value):
            raise self.error(key, f"expected one or more [[{self.key(key)}]] tables")
        return [Table(self.file, f"{self.key(key)}[{k}]", v) for k, v in enumerate(value)]

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
            raise self.error(
                key,
                f"unknown key {key!r}{did_you_mean(key, choices)} "
                f"(valid keys: {', '.join(choices)})",
            )


def check_type(table: Table, key: str, value, kind):
    """``value`` of ``table[key]`` if it is of ``kind`` (an int is a float); else raises."""
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
    raise table.error(key, f"expected {_TYPE_NAMES[kind]}, got {value!r} ({toml_type(value)})")


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


# --- the sections -------------------------------------------------------------------


def read_problem(table: Table, base_dir: str) -> ProblemSpec:
    """The ``[problem]`` table; relative data paths are resolved against ``base_dir``."""
    kind = table.get("kind", str)
    if kind not in PROBLEM_KINDS:
        raise table.error("kind", unknown("problem kind", kind, PROBLEM_KINDS))
    num_nodes = table.get("num_nodes", int)
    if num_nodes < 2:
        raise table.error("num_nodes", f"expected an integer >= 2, got {num_nodes}")
    data = table.get("data", str, "synthetic")
    source = "synthetic" if data == "synthetic" else "data"
    if source == "data":
        if kind == "quadratic":
            raise table.error("data", "quadratic problems are synthetic; remove data")
        if data.startswith("sklearn:"):
            if data[len("sklearn:") :] not in SKLEARN_DATASETS:
                names = [f"sklearn:{n}" for n in SKLEARN_DATASETS]
                raise table.error("data", unknown("data set", data, names))
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


def _check_problem_options(table: Table, kind: str, options: dict) -> None:
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
        label = _label(table, kind, labels, "graph")
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


def _label(table: Table, default: str, labels: dict, what: str) -> str:
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


def read_algorithms(top: Table) -> tuple:
    """The ``[[algorithms]]`` tables: names of ``jaxgossip.algorithms.REGISTRY``."""
    if "algorithms" not in top.data:
        raise top.error("algorithms", "missing; expected one or more [[algorithms]] tables")
    specs, labels = [], {}
    for table in top.tables("algorithms"):
        name = table.get("name", str)
        if name not in REGISTRY:
            raise table.error("name", unknown("algorithm", name, sorted(REGISTRY)))
        label = _label(table, name, labels, "algorithm")
        relative = table.get("relative_to_theory", bool, False)
        fields = hyperparameters(REGISTRY[name])
        fixed = {key: table.get(key, float) for key in fields if key in table.data}
        grid_table = table.table("grid", required=False)
        grid = {}
        for axis in grid_table.data:
            grid_table.read.add(axis)
            if axis not in (*fields, *RATE_AXES):
                raise grid_table.error(
                    axis,
                    f"unknown grid axis {axis!r}{did_you_mean(axis, [*fields, *RATE_AXES])} "
                    f"(axes: the hyperparameters of {name}, "
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


def _grid_values(table: Table, axis: str) -> list:
    values = table.data[axis]
    if not isinstance(values, list) or not values:
        raise table.error(axis, f"expected a non-empty array of numbers, got {values!r}")
    for value in values:
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise table.error(
                axis, f"expected an array of numbers, got {value!r} ({toml_type(value)})"
            )
        if not math.isfinite(value) or (axis in RATE_AXES and value < 0):
            what = "rate multipliers >= 0" if axis in RATE_AXES else "finite numbers"
            raise table.error(axis, f"expected {what}, got {value}")
    if len(set(values)) != len(values):
        raise table.error(axis, f"expected distinct values, got {values}")
    return [float(v) for v in values]
