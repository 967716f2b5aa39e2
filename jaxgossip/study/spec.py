"""A checked experiment: the specs that ``jaxgossip.cli.config`` reads from a file.

The building (``jaxgossip.study.build``) and the runner
(``jaxgossip.study.experiment``) take these and nothing else, so an experiment
can also be written in Python without a TOML file.
"""

from __future__ import annotations

import dataclasses

PROBLEM_KINDS = ("quadratic", "logistic_regression", "least_squares")
RATE_AXES = ("compute_rate", "comm_rate")  # grid axes that multiply [clocks]


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
    precision: str = "float32"  # "float64": run under jax_enable_x64
    num_chunks: int = 1  # chunks per run; > 1 checkpoints between them, for resuming
