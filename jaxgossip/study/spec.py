"""A checked experiment: the specs that ``jaxgossip.cli.config`` reads from a file.

The building (``jaxgossip.study.build``) and the runner
(``jaxgossip.study.experiment``) take these and nothing else, so an experiment
can also be written in Python without a TOML file.
"""

from __future__ import annotations

import dataclasses

CONVEX_KINDS = ("quadratic", "logistic_regression", "least_squares")
PROBLEM_KINDS = (*CONVEX_KINDS, "supervised")
RATE_AXES = ("compute_rate", "comm_rate")  # grid axes that multiply [clocks]
MODEL_KINDS = ("mlp",)
ACTIVATIONS = ("relu", "tanh")


def metric_goals(kind: str) -> dict[str, str]:
    """Metric -> "min" or "max" that runs on a problem of ``kind`` record, known before
    it is built (a file is checked before anything is built); the built problem's
    ``metric_goals`` must agree (``jaxgossip.study.experiment.plan_sweeps`` checks).

    A supervised problem has a classification loss, so it records accuracies too.
    """
    if kind == "supervised":
        splits = ("node_test", "test", "train")
        goals = {f"{s}_{m}": g for s in splits for m, g in (("accuracy", "max"), ("loss", "min"))}
    else:
        goals = {"mean_suboptimality": "min", "suboptimality": "min"}
    return {**goals, "consensus": "min"}


def default_metric(kind: str) -> str:
    """The target metric of a problem kind: f(x̄) − f* for convex problems,
    the averaged model's test accuracy for learning ones."""
    return "test_accuracy" if kind == "supervised" else "suboptimality"


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
    # "synthetic", "sklearn:<name>", or an absolute path to a LIBSVM file; supervised:
    # a bundled classification set's name, or an absolute path to an .npz file
    data: str
    options: dict  # supervised: "model" is a dict (kind, width, depth, activation)

    @property
    def convex(self) -> bool:
        return self.kind in CONVEX_KINDS


@dataclasses.dataclass(frozen=True)
class GraphSpec:
    """One ``[graph]`` or ``[[graphs]]`` table: the generator and its arguments."""

    label: str
    kind: str
    args: dict
    key_path: str  # "graph" or "graphs[k]", for error messages


@dataclasses.dataclass(frozen=True)
class OptimizerSpec:
    """An ``[algorithms.optimizer]`` table: an optax constructor and its keyword arguments."""

    name: str  # a key of jaxgossip.study.build.OPTIMIZERS
    args: dict  # numeric arguments (array leaves) and booleans (static), as given


@dataclasses.dataclass(frozen=True)
class AlgorithmSpec:
    """One ``[[algorithms]]`` table.

    With ``optimizer``, grid axes may also be the optimizer's numeric arguments
    (``learning_rate``, ``momentum``, ...); ``optimizer_axes`` names them.
    """

    label: str
    name: str  # a key of jaxgossip.algorithms.METHODS
    fixed: dict  # hyperparameter -> number
    grid: dict  # axis -> list of numbers
    relative_to_theory: bool
    key_path: str
    optimizer: OptimizerSpec | None = None
    optimizer_axes: tuple = ()  # the grid axes that are arguments of the optimizer


@dataclasses.dataclass(frozen=True)
class Experiment:
    """A checked experiment file; build it with ``load_experiment`` or ``parse_experiment``."""

    file: str
    name: str
    seed: int
    seeds: int | tuple
    num_events: int
    num_records: int
    eps: float  # the target value of ``metric``
    max_batch: int
    problem: ProblemSpec
    graphs: tuple  # of GraphSpec
    compute_rate: float
    comm_rate: float
    algorithms: tuple  # of AlgorithmSpec
    output_dir: str
    figures: bool
    config: dict  # the file's tables as parsed, stored with every result
    precision: str = "float32"  # "float64": run under jax_enable_x64
    num_chunks: int = 1  # chunks per run; > 1 checkpoints between them, for resuming
    metric: str = "suboptimality"  # what eps targets, what the best settings are chosen by
    num_rounds: int | None = None  # rounds of each synchronous method's runs
