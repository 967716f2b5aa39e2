"""The keys study files accept, recorded while the readers check sample files.

The readers of ``jaxgossip.cli.config`` look every key up through
``jaxgossip.cli.toml_table.Table``. Instrumenting ``Table`` and reading sample
files that between them take every branch of the readers (each problem kind and
data source, one graph and several, an event method, a round method, an
optimizer) gives every key the code accepts: in which table, of which type,
with which default, and for which problems. The keys that a name decides (a
graph generator's arguments, a method's hyperparameters, an optimizer's
arguments) come from the functions the readers themselves ask.
"""

from __future__ import annotations

import contextlib
import dataclasses
import re

from jaxgossip.cli.config import parse_experiment
from jaxgossip.cli.toml_table import Table, toml_type
from jaxgossip.cli.tradeoff import parse_config
from jaxgossip.network.factory import GRAPH_KINDS, graph_parameters
from jaxgossip.study.build import (
    OPTIMIZERS,
    hyperparameters,
    method,
    method_names,
    optimizer_arguments,
    optional_hyperparameters,
    takes_optimizer,
)
from jaxgossip.study.spec import RATE_AXES

TYPES = {int: "integer", float: "number", bool: "boolean", str: "string"}
FILE_NAME = "<file name>"  # what the sample files are called: the default of `name`
# Sample [problem] tables, one per branch of the problem reader: label -> table.
PROBLEMS = {
    "quadratic": {"kind": "quadratic", "dim": 4},
    "logistic_regression (synthetic)": {"kind": "logistic_regression", "dim": 4},
    "logistic_regression (data)": {"kind": "logistic_regression", "data": "sklearn:iris"},
    "least_squares (synthetic)": {"kind": "least_squares", "dim": 4},
    "least_squares (data)": {"kind": "least_squares", "data": "sklearn:diabetes"},
    "supervised (split = iid)": {"kind": "supervised", "data": "digits"},
    "supervised (split = label)": {
        "kind": "supervised",
        "data": "digits",
        "split": "label",
        "model": "mlp",
    },
    "supervised (split = dirichlet)": {
        "kind": "supervised",
        "data": "digits",
        "split": "dirichlet",
        "alpha": 1.0,
        "model": {"kind": "mlp"},
    },
}
GRAPHS = [{"kind": "ring", "label": "a"}, {"kind": "torus", "label": "b"}]
OPTIMIZED = {"name": "async_gossip_sgd", "optimizer": {"name": "sgd", "learning_rate": 0.1}}
GIVEN = {"name": "async_gossip_sgd", "step_size": 0.1}  # learning problems have no from_theory


def experiment_keys() -> str:
    """The Markdown tables of every key of experiment files."""
    recorder = Recorder()
    for label, problem in PROBLEMS.items():
        algorithms = [GIVEN if problem["kind"] == "supervised" else {"name": "async_gossip_sgd"}]
        recorder.read(parse_experiment, _experiment(problem, algorithms), label, label)
    quadratic = PROBLEMS["quadratic"]
    samples = {
        "[[graphs]]": _experiment(quadratic, [{"name": "gossip"}], graphs=GRAPHS, seeds=[0, 3]),
        "a round method": _experiment(quadratic, [{"name": "dsgd"}], num_rounds=10),
        "an optimizer": _experiment(quadratic, [OPTIMIZED]),
    }
    for label, config in samples.items():
        recorder.read(parse_experiment, config, label, "quadratic")
    return render(recorder) + name_dependent(grid=True)


def tradeoff_keys() -> str:
    """The Markdown tables of every key of trade-off files."""
    recorder = Recorder()
    for label, problem in PROBLEMS.items():
        algorithms = [GIVEN] if problem["kind"] == "supervised" else ["async_gossip_sgd"]
        recorder.read(parse_config, _tradeoff(problem, algorithms), label, label)
    quadratic = PROBLEMS["quadratic"]
    samples = {
        "[[graphs]]": _tradeoff(quadratic, ["gossip"], graphs=GRAPHS, costs=[[1, 1]], ratios=[1]),
        "[[algorithms]] tables": _tradeoff(quadratic, [OPTIMIZED]),
    }
    for label, config in samples.items():
        recorder.read(parse_config, config, label, "quadratic")
    return render(recorder) + name_dependent(grid=False)


def _experiment(problem: dict, algorithms: list, **top) -> dict:
    config = {"num_events": 1000, "num_records": 10, "seeds": 2, "algorithms": algorithms}
    return _sample(config, problem, top)


def _tradeoff(problem: dict, algorithms: list, **top) -> dict:
    return _sample({"algorithms": algorithms}, problem, top)


def _sample(config: dict, problem: dict, top: dict) -> dict:
    config["problem"] = {"num_nodes": 16} | problem
    if problem["kind"] == "supervised":
        config["eps"] = 0.9  # required: no default target fits every data set
    if "graphs" not in top:
        config["graph"] = {"kind": "ring"}
    return config | top


# --- recording ------------------------------------------------------------------


@dataclasses.dataclass
class Key:
    """What the readers did with one key of one table, over the sample files."""

    types: set = dataclasses.field(default_factory=set)
    defaults: dict = dataclasses.field(default_factory=dict)  # sample -> shown default
    samples: set = dataclasses.field(default_factory=set)  # samples that accept it
    checked: bool = False  # read with Table.get, which knows the type


@dataclasses.dataclass(frozen=True)
class Sample:
    name: str  # what the sample file exercises
    problem: str  # its problem's label in PROBLEMS


class Recorder:
    def __init__(self):
        self.keys: dict[tuple[str, str], Key] = {}  # (table, key) -> what was done
        self.samples: list[Sample] = []

    def note(self, path: str, key: str) -> Key:
        table = re.sub(r"\[\d+\]", "[]", path)  # algorithms[1] -> algorithms[]
        entry = self.keys.setdefault((table, key), Key())
        entry.samples.add(self.samples[-1])
        return entry

    def read(self, parse, config: dict, name: str, problem: str) -> None:
        """Parses ``config`` with ``parse``, recording what it reads under the sample's name."""
        self.samples.append(Sample(name, problem))
        with instrumented(self):
            parse(config, name=FILE_NAME)


@contextlib.contextmanager
def instrumented(recorder: Recorder):
    """``Table`` reporting every key its readers look up to ``recorder``."""
    init, get, done = Table.__init__, Table.get, Table.done

    class Read(set):  # a table's set of keys read, noting each one
        def __init__(self, path):
            super().__init__()
            self.path = path

        def add(self, key):
            recorder.note(self.path, key)
            super().add(key)

    def recording_init(self, file, path, data):
        init(self, file, path, data)
        self.read = Read(path)

    def recording_get(self, key, kind, *default):
        entry = recorder.note(self.path, key)
        entry.types.add(TYPES[kind])
        entry.checked = True
        shown = _toml(default[0]) if default else "required"
        others = [k for k, v in self.data.items() if k != key and default and v == default[0]]
        if others and isinstance(default[0], str):  # a label defaults to the name or kind
            shown = f"the `{others[0]}`"
        entry.defaults[recorder.samples[-1]] = shown
        return get(self, key, kind, *default)

    def recording_done(self, *, valid=(), hints=None):
        if not self.path:  # the top level lists its keys (tables included) up front
            for key in valid:
                recorder.note("", key)
        for key in self.read:
            entry = recorder.note(self.path, key)
            if key in self.data and not entry.checked:  # read without get: its value's type
                entry.types.add(toml_type(self.data[key]).split(" ", 1)[1])
        return done(self, valid=valid, hints=hints)

    Table.__init__, Table.get, Table.done = recording_init, recording_get, recording_done
    try:
        yield
    finally:
        Table.__init__, Table.get, Table.done = init, get, done


# --- rendering ------------------------------------------------------------------

TABLES = {  # key path -> heading, in the order of the page
    "": "Top level",
    "problem": "`[problem]`",
    "problem.model": '`[problem.model]` (or `model = "mlp"`)',
    "graph": "`[graph]`",
    "graphs[]": "`[[graphs]]`",
    "clocks": "`[clocks]`",
    "algorithms[]": "`[[algorithms]]`",
    "algorithms[].optimizer": "`[algorithms.optimizer]`",
    "output": "`[output]`",
}


def render(recorder: Recorder) -> str:
    # Keys that a method's or an optimizer's name decides have tables of their own.
    by_name = {f for n in method_names() for f in hyperparameters(method(n)[0])}
    by_name |= {a for n in OPTIMIZERS for a in optimizer_arguments(n)}
    out = []
    for table in sorted({t for t, _ in recorder.keys}, key=list(TABLES).index):
        problem = table.startswith("problem")
        out += ["", f"### {TABLES[table]}", ""]
        out += ["| key | type | default | for |", "|---|---|---|---|"] if problem else []
        out += [] if problem else ["| key | type | default |", "|---|---|---|"]
        for (where, key), entry in recorder.keys.items():
            if where != table or (table.startswith("algorithms") and key in by_name):
                continue
            types = " or ".join(sorted(entry.types)) or "table"
            row = f"| `{key}` | {types} | {_default(entry, recorder)} |"
            out.append(row + (f" {_problems(entry, recorder)} |" if problem else ""))
    return "\n".join(out) + "\n"


def _collapse(labels: set) -> str:
    """Problem labels, a kind named alone when all its samples are there."""
    names = []
    for kind in dict.fromkeys(label.split(" ")[0] for label in PROBLEMS):
        of_kind = {label for label in PROBLEMS if label.split(" ")[0] == kind}
        names += [kind] if of_kind <= labels else sorted(of_kind & labels)
    return ", ".join(names)


def _problems(entry: Key, recorder: Recorder) -> str:
    where = {s.problem for s in entry.samples}
    return "every problem" if where == {s.problem for s in recorder.samples} else _collapse(where)


def _default(entry: Key, recorder: Recorder) -> str:
    """The default (or ``required``); where it differs, each one with its problems,
    or with its samples where the problem does not decide it."""
    if not entry.defaults:
        return "—"
    shown = set(entry.defaults.values())
    if len(shown) == 1 and set(entry.defaults) == entry.samples:
        return shown.pop()
    by_problem = {}
    for sample, value in entry.defaults.items():
        by_problem.setdefault(sample.problem, set()).add(value)
    if all(len(values) == 1 for values in by_problem.values()) and len(by_problem) == len(
        {s.problem for s in entry.samples}
    ):
        groups = {}
        for problem, values in by_problem.items():
            groups.setdefault(values.pop(), set()).add(problem)
        return "; ".join(f"{value} ({_collapse(problems)})" for value, problems in groups.items())
    groups = {}
    for sample, value in entry.defaults.items():
        groups.setdefault(value, set()).add(sample.name)
    return "; ".join(f"{value} ({', '.join(sorted(names))})" for value, names in groups.items())


def _toml(value) -> str:
    if value is None:
        return "none"
    if isinstance(value, bool):
        return f"`{str(value).lower()}`"
    if isinstance(value, str):
        return f'`"{value}"`'
    return f"`{value!r}`"


def name_dependent(*, grid: bool) -> str:
    """The keys a name decides: graph arguments, hyperparameters, optimizer arguments."""
    out = ["", "### Graph generators' arguments (in `[graph]` / `[[graphs]]`)", ""]
    out += ["| kind | arguments |", "|---|---|"]
    for kind in GRAPH_KINDS:
        arguments = ", ".join(f"`{a}` ({t})" for a, t in graph_parameters(kind).items())
        out.append(f"| `{kind}` | {arguments} |")
    axes = " and grid axes" if grid else ""
    out += ["", f"### Methods: `name`, its hyperparameters{axes} (in `[[algorithms]]`)", ""]
    out += ["| name | class | engine | hyperparameters (numbers) | `[algorithms.optimizer]` |"]
    out.append("|---|---|---|---|---|")
    for name in method_names():
        cls, engine = method(name)
        fields = ", ".join(f"`{f}`" for f in hyperparameters(cls)) or "none"
        if grid and engine == "events":
            fields += "; grid axes too: " + ", ".join(f"`{a}`" for a in RATE_AXES)
        optimizer = "no"
        if takes_optimizer(cls):
            replaced = ", ".join(f"`{f}`" for f in optional_hyperparameters(cls))
            optimizer = f"yes (replaces {replaced})"
        out.append(f"| `{name}` | `{cls.__name__}` | {engine} | {fields} | {optimizer} |")
    out += ["", "### Optimizers: `name` and arguments of `[algorithms.optimizer]`", ""]
    out += ["| name | arguments |", "|---|---|"]
    for name in OPTIMIZERS:
        arguments = ", ".join(f"`{a}` ({TYPES[t]})" for a, t in optimizer_arguments(name).items())
        out.append(f"| `{name}` | {arguments} |")
    return "\n".join(out) + "\n"
