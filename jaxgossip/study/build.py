"""From specs to objects: the problem, the graphs and each algorithm's sweep callable.

Keys: ``seed`` s gives the problem key ``fold_in(key(s), 0)`` (a supervised
problem's model initialisation), the random graphs ``fold_in(key(s), 1)`` and
the data split ``fold_in(key(s), 2)``; a supervised problem's train/test split
is seeded by s itself. Every failure is an ``ExperimentError`` naming the file
and the table, raised before anything runs.
"""

from __future__ import annotations

import dataclasses
import inspect

import equinox as eqx
import jax
import numpy as np
import optax

from jaxgossip import problems
from jaxgossip.algorithms.base import hyperparameter, optional_hyperparameter
from jaxgossip.algorithms.local_optimizer import optimizer
from jaxgossip.algorithms.registry import REGISTRY
from jaxgossip.algorithms.synchronous import SYNC_REGISTRY
from jaxgossip.network.clocks import Clocks
from jaxgossip.network.factory import make_graph
from jaxgossip.network.mixing import metropolis_mixing
from jaxgossip.problems import datasets
from jaxgossip.problems.base import numpy_rng
from jaxgossip.problems.split import split
from jaxgossip.study.spec import (
    RATE_AXES,
    AlgorithmSpec,
    Experiment,
    ExperimentError,
    GraphSpec,
    OptimizerSpec,
)

# The optax constructors an [algorithms.optimizer] table may name: each checked to
# run with traced numeric arguments, so that a grid over them is one compiled sweep.
OPTIMIZERS = {
    name: getattr(optax, name)
    for name in (
        "sgd",
        "adam",
        "adamw",
        "nadam",
        "nadamw",
        "amsgrad",
        "adamax",
        "adabelief",
        "radam",
        "yogi",
        "rmsprop",
        "adagrad",
        "lion",
        "lamb",
        "novograd",
    )
}
# Constructor arguments that are neither numbers nor flags (dtypes, masks): not settable.
_NOT_SETTABLE = frozenset({"mu_dtype", "accumulator_dtype", "mask"})
ACTIVATION_FUNCTIONS = {"relu": jax.nn.relu, "tanh": jax.nn.tanh}


def experiment_key(seed: int, purpose: int):
    """``fold_in(key(seed), purpose)``: 0 the problem, 1 random graphs, 2 the data split."""
    return jax.random.fold_in(jax.random.key(seed), purpose)


def graph_key(seed: int):
    """The key of the random graphs of an experiment with this ``seed``."""
    return experiment_key(seed, 1)


def method(name: str) -> tuple[type, str]:
    """``(class, engine)`` of a registered method: ``REGISTRY``'s run on the event
    engine ("events"), ``SYNC_REGISTRY``'s on the round engine ("rounds").

    Read at each call, so that a method registered at run time is found too.
    """
    if name in REGISTRY:
        return REGISTRY[name], "events"
    return SYNC_REGISTRY[name], "rounds"


def method_names() -> list[str]:
    """Every registered method's name, sorted."""
    return sorted({*REGISTRY, *SYNC_REGISTRY})


def hyperparameters(cls) -> list[str]:
    """The hyperparameters of an algorithm class: its fields converted by ``hyperparameter``
    (or ``optional_hyperparameter``: a step size that an optimizer may replace).

    Other init fields (a problem, the graph's edges, ...) are not set in an
    experiment file; they come from ``from_theory`` or the class's defaults.
    """
    return [f.name for f in dataclasses.fields(cls) if f.init and _converter(f) in _CONVERTERS]


_CONVERTERS = (hyperparameter, optional_hyperparameter)


def _converter(field):
    return field.metadata.get("converter")


def optional_hyperparameters(cls) -> list[str]:
    """The hyperparameters that may be left unset (None), e.g. a step size that
    ``optimizer=`` replaces."""
    return [
        f.name
        for f in dataclasses.fields(cls)
        if f.init and _converter(f) is optional_hyperparameter
    ]


def takes_optimizer(cls) -> bool:
    """Whether an algorithm class takes ``optimizer=`` (an optax local step)."""
    return any(f.name == "optimizer" and f.init for f in dataclasses.fields(cls))


def optimizer_arguments(name: str) -> dict[str, type]:
    """Keyword arguments of ``OPTIMIZERS[name]`` settable in a file: name -> float or bool.

    A numeric argument (its default a number or None, e.g. ``momentum``) is an
    array leaf of the built optimizer, so it can be a grid axis; a flag (its
    default a boolean, e.g. ``nesterov``) is static.
    """
    arguments = {}
    for arg, parameter in inspect.signature(OPTIMIZERS[name]).parameters.items():
        default = parameter.default
        if arg in _NOT_SETTABLE:
            continue
        if isinstance(default, bool):
            arguments[arg] = bool
        elif default is None or default is parameter.empty or isinstance(default, (int, float)):
            arguments[arg] = float
    return arguments


def build_optimizer(spec: OptimizerSpec, **values):
    """``jaxgossip.algorithms.optimizer(OPTIMIZERS[name], **args, **values)``: numeric
    arguments become array leaves (``values``: e.g. a grid point's learning rate)."""
    return optimizer(OPTIMIZERS[spec.name], **spec.args, **values)


def build_problem(experiment: Experiment):
    """The ``[problem]`` of ``experiment``, drawn or loaded.

    Raises:
      ExperimentError: the data cannot be loaded or do not fit the problem.
    """
    spec, seed = experiment.problem, experiment.seed
    o = spec.options
    if spec.kind == "supervised":
        return _build_supervised(experiment)
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


def _build_supervised(experiment: Experiment):
    """A ``problems.supervised`` MLP classifier on the data set, split over the nodes."""
    spec, seed, file = experiment.problem, experiment.seed, experiment.file
    o = spec.options
    try:
        if spec.data in datasets.CLASSIFICATION_DATASETS:
            data = datasets.classification(
                spec.data,
                test_fraction=o["test_fraction"],
                seed=seed,
                standardize=o["standardize"],
            )
        else:
            data = datasets.load_npz(spec.data, test_fraction=o["test_fraction"], seed=seed)
            if o["standardize"]:
                data = _standardized(data)
    except (ImportError, OSError, ValueError) as error:
        raise ExperimentError(file, "problem.data", str(error)) from None
    # An MLP reads flat vectors: images (N, h, w) become (N, h w).
    train = data.train._replace(features=data.train.features.reshape(len(data.train[1]), -1))
    test = data.test._replace(features=data.test.features.reshape(len(data.test[1]), -1))
    try:
        shards = split(
            train,
            spec.num_nodes,
            by=o["split"],
            alpha=o["alpha"],
            classes_per_node=o["classes_per_node"],
            key=experiment_key(seed, 2),
        )
    except ValueError as error:
        raise ExperimentError(file, "problem.split", f"{data.name}: {error}") from None
    model = o["model"]

    def make_model(key):
        return eqx.nn.MLP(
            train.features.shape[1],
            data.num_classes,
            model["width"],
            model["depth"],
            activation=ACTIVATION_FUNCTIONS[model["activation"]],
            key=key,
        )

    try:
        return problems.supervised(
            make_model,
            o["loss"],
            shards,
            test=test,
            batch_size=o["batch_size"],
            init=o["init"],
            key=experiment_key(seed, 0),
            eval_size=o["eval_size"],
        )
    except ValueError as error:
        raise ExperimentError(file, "problem", str(error)) from None


def _standardized(data):
    """Features centred and scaled per feature by the train split's mean and deviation."""
    mean = data.train.features.mean(axis=0)
    std = data.train.features.std(axis=0)
    std = np.where(std > 0, std, 1.0)  # a constant feature stays 0 rather than NaN
    return data._replace(
        train=data.train._replace(features=(data.train.features - mean) / std),
        test=data.test._replace(features=(data.test.features - mean) / std),
    )


def build_graph(experiment: Experiment, spec: GraphSpec):
    """The graph of one ``[graph]`` / ``[[graphs]]`` table."""
    return make_graph(
        spec.kind,
        num_nodes=experiment.problem.num_nodes,
        key=graph_key(experiment.seed),
        **spec.args,
    )


def build_network(experiment: Experiment, graph, engine: str):
    """What a method runs on: ``Clocks`` at the experiment's rates for the event
    engine, ``metropolis_mixing(graph)`` for the round engine."""
    if engine == "events":
        return Clocks(graph, experiment.compute_rate, experiment.comm_rate)
    return metropolis_mixing(graph)


class _Build(eqx.Module):
    """``algorithm(**grid point)`` for ``sweep``: ``base`` with those hyperparameters replaced.

    Replacing leaves (rather than calling the class) serves every algorithm,
    whatever its ``__init__`` takes (some keep a problem or a graph's edges). A
    module, so that ``base``'s values are array leaves: ``sweep``'s compiled call
    is cached on this object's structure and is reused by another algorithm table
    of the same class and grid axes with other fixed values.
    """

    base: eqx.Module  # an Algorithm or a SyncAlgorithm
    optimizer_axes: tuple = eqx.field(static=True, default=())  # axes of base.optimizer

    def __call__(self, **point):
        names = [n for n in point if n not in self.optimizer_axes]
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
        swept = {n: hyperparameter(point[n]) for n in self.optimizer_axes if n in point}
        if swept:  # a new LocalOptimizer through its constructor, which checks the values
            local = algorithm.optimizer
            local = dataclasses.replace(local, hyperparams={**local.hyperparams, **swept})
            algorithm = eqx.tree_at(lambda a: a.optimizer, algorithm, local)
        return algorithm


def configure_algorithm(experiment: Experiment, spec: AlgorithmSpec, problem, network):
    """``(build, grid, values)`` for ``sweep``: the callable, its grid, and the fixed values.

    Hyperparameters neither fixed nor swept, and fields that are no
    hyperparameters and have no default, come from ``from_theory(problem,
    network)``; with ``relative_to_theory`` the given values multiply theory's.
    With an ``[algorithms.optimizer]`` the method takes that optax step
    (``optimizer=``) instead of a step size, and grid axes that are the
    optimizer's arguments replace its leaves.

    Args:
      network: the method's ``Clocks`` (event engine) or ``Mixing`` (round engine).

    Returns:
      ``values``: the fixed hyperparameters by name, and with an optimizer
      ``"optimizer"`` (its name) and its fixed arguments as ``"optimizer.<arg>"``.

    Raises:
      ExperimentError: ``from_theory`` is missing or fails (a learning problem
        has none: the message says what to set), or the algorithm rejects the values.
    """
    cls, _ = method(spec.name)
    names = hyperparameters(cls)
    optional = optional_hyperparameters(cls) if spec.optimizer is not None else []
    missing = [n for n in names if n not in spec.fixed and n not in spec.grid and n not in optional]
    required = [
        f.name
        for f in dataclasses.fields(cls)
        if f.init
        and f.name not in names
        and f.name != "optimizer"
        and f.default is dataclasses.MISSING
        and f.default_factory is dataclasses.MISSING
    ]
    theory = None
    if missing or required or spec.relative_to_theory:
        theory = _from_theory(experiment, spec, cls, problem, network, missing, required)
    scale = {}
    if spec.relative_to_theory:
        scale = {n: float(np.asarray(getattr(theory, n))) for n in names}
    fixed = {n: v * scale.get(n, 1.0) for n, v in spec.fixed.items()}
    grid = {axis: [v * scale.get(axis, 1.0) for v in values] for axis, values in spec.grid.items()}
    first = {axis: values[0] for axis, values in grid.items() if axis not in RATE_AXES}
    own = {n: v for n, v in first.items() if n not in spec.optimizer_axes}
    try:  # fail here, before anything runs, on values the algorithm rejects
        if spec.optimizer is None:
            base = cls(**fixed, **own) if theory is None else theory
        else:  # the optimizer's swept arguments start at their first values
            swept = {n: v for n, v in first.items() if n in spec.optimizer_axes}
            base = cls(**fixed, **own, optimizer=build_optimizer(spec.optimizer, **swept))
        build = _Build(_Build(base)(**fixed), optimizer_axes=spec.optimizer_axes)
        build(**first)
    except (TypeError, ValueError) as error:
        raise ExperimentError(experiment.file, spec.key_path, str(error)) from None
    values = {}
    for n in names:
        value = getattr(build.base, n)
        if n not in grid and value is not None and np.ndim(value) == 0:
            values[n] = float(np.asarray(value))
    if spec.optimizer is not None:
        values["optimizer"] = spec.optimizer.name
        values.update({f"optimizer.{k}": v for k, v in spec.optimizer.args.items()})
    return build, grid, values


def _from_theory(experiment, spec, cls, problem, network, missing, required):
    """``cls.from_theory(problem, network)``, its failures as ``ExperimentError``s that say
    which keys to set instead."""
    needs = ", ".join(missing or required) or "relative_to_theory"
    try:
        return cls.from_theory(problem, network)
    except NotImplementedError:
        raise ExperimentError(
            experiment.file,
            spec.key_path,
            f"{spec.name} has no from_theory defaults, which {needs} needs; "
            f"set {', '.join(hyperparameters(cls))}",
        ) from None
    except ValueError as error:
        hint = ""
        if not getattr(problem, "convex", True):
            if required:
                hint = (
                    f" {spec.name} is built by from_theory only (it keeps {', '.join(required)}),"
                    " so it cannot run on a learning problem."
                )
            elif spec.relative_to_theory and not missing:
                hint = " In the experiment file, remove relative_to_theory and give the values."
            else:
                instead = " (or an [algorithms.optimizer] table)" if takes_optimizer(cls) else ""
                hint = f" In the experiment file, set {needs}{instead} in this table."
        raise ExperimentError(
            experiment.file, spec.key_path, f"{spec.name}.from_theory: {error}{hint}"
        ) from None
