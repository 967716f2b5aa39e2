"""From specs to objects: the problem, the graphs and each algorithm's sweep callable.

Keys: ``seed`` s gives the problem key ``fold_in(key(s), 0)``, the random
graphs ``fold_in(key(s), 1)`` and the data split ``fold_in(key(s), 2)``.
Every failure is an ``ExperimentError`` naming the file and the table, raised
before anything runs.
"""

from __future__ import annotations

import dataclasses

import equinox as eqx
import jax
import numpy as np

from jaxgossip import problems
from jaxgossip.algorithms.base import hyperparameter
from jaxgossip.algorithms.registry import REGISTRY
from jaxgossip.network.factory import make_graph
from jaxgossip.problems import datasets
from jaxgossip.problems.base import numpy_rng
from jaxgossip.study.spec import RATE_AXES, AlgorithmSpec, Experiment, ExperimentError, GraphSpec


def experiment_key(seed: int, purpose: int):
    """``fold_in(key(seed), purpose)``: 0 the problem, 1 random graphs, 2 the data split."""
    return jax.random.fold_in(jax.random.key(seed), purpose)


def graph_key(seed: int):
    """The key of the random graphs of an experiment with this ``seed``."""
    return experiment_key(seed, 1)


def hyperparameters(cls) -> list[str]:
    """The hyperparameters of an algorithm class: its fields converted by ``hyperparameter``.

    Other init fields (a problem, the graph's edges, ...) are not set in an
    experiment file; they come from ``from_theory``.
    """
    return [
        f.name
        for f in dataclasses.fields(cls)
        if f.init and f.metadata.get("converter") is hyperparameter
    ]


def build_problem(experiment: Experiment):
    """The ``[problem]`` of ``experiment``, drawn or loaded.

    Raises:
      ExperimentError: the data cannot be loaded or do not fit the problem.
    """
    spec, seed = experiment.problem, experiment.seed
    o = spec.options
    try:
        if spec.kind == "quadratic":
            return problems.quadratic(
                experiment_key(seed, 0),
                spec.num_nodes,
                spec.dim,
                kappa=o["kappa"],
                mu=o["mu"],
                heterogeneity=o["heterogeneity"],
                shared_basis=o.get("shared_basis", False),
            )
        if spec.data == "synthetic":
            if spec.kind == "logistic_regression":
                return problems.logistic_regression(
                    experiment_key(seed, 0),
                    spec.num_nodes,
                    spec.dim,
                    o["samples_per_node"],
                    reg=o["reg"],
                    heterogeneity=o["heterogeneity"],
                    batch_size=o["batch_size"],
                )
            features, targets = _synthetic_regression(experiment_key(seed, 0), spec)
        else:
            features, targets = _load_data(experiment)
    except ExperimentError:
        raise
    except ValueError as error:
        raise ExperimentError(experiment.file, "problem", str(error)) from None
    try:
        if spec.kind == "logistic_regression":
            return problems.logistic_regression_from_data(
                features, targets, reg=o["reg"], batch_size=o["batch_size"]
            )
        return problems.least_squares(features, targets, reg=o["reg"], batch_size=o["batch_size"])
    except ValueError as error:
        raise ExperimentError(experiment.file, "problem", str(error)) from None


def _synthetic_regression(key, spec):
    """(n, m, d) features and (n, m) targets b = A_i w_i + noise, w_i = w + heterogeneity v_i."""
    o, n, d = spec.options, spec.num_nodes, spec.dim
    rng = numpy_rng(key)
    w = rng.standard_normal(d)
    w_i = w + o["heterogeneity"] * rng.standard_normal((n, d))
    a = rng.standard_normal((n, o["samples_per_node"], d)) / np.sqrt(d)
    b = np.einsum("nmd,nd->nm", a, w_i) + o["noise"] * rng.standard_normal(a.shape[:2])
    return a, b


def _load_data(experiment: Experiment):
    """The data set, standardized, labelled for the problem and split over the nodes."""
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
    return problems.partition(
        experiment_key(experiment.seed, 2), features, labels, spec.num_nodes, iid=o["iid"]
    )


def build_graph(experiment: Experiment, spec: GraphSpec):
    """The graph of one ``[graph]`` / ``[[graphs]]`` table."""
    return make_graph(
        spec.kind,
        num_nodes=experiment.problem.num_nodes,
        key=graph_key(experiment.seed),
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
