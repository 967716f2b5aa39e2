"""The ``[problem]`` section of study files: convex problems and supervised learning ones.

The schema is in ``jaxgossip.cli.experiment``; ``read_problem`` returns a
checked ``ProblemSpec`` that ``jaxgossip.study.build.build_problem`` builds.
"""

from __future__ import annotations

import os

from jaxgossip.cli.toml_table import Table, toml_type
from jaxgossip.network.factory import did_you_mean, unknown
from jaxgossip.problems.datasets import CLASSIFICATION_DATASETS, SKLEARN_DATASETS
from jaxgossip.problems.losses import CLASSIFICATION_LOSSES
from jaxgossip.problems.split import SPLITS
from jaxgossip.problems.supervised import INITS
from jaxgossip.study.spec import ACTIVATIONS, CONVEX_KINDS, MODEL_KINDS, PROBLEM_KINDS, ProblemSpec

__all__ = ["read_problem"]

# Problem options: key -> (type, default, kinds it applies to, "synthetic"/"data"/None).
_PROBLEM_OPTIONS = {
    "kappa": (float, 10.0, ("quadratic",), None),
    "mu": (float, 1.0, ("quadratic",), None),
    "shared_basis": (bool, False, ("quadratic",), None),
    "heterogeneity": (float, None, CONVEX_KINDS, "synthetic"),
    "samples_per_node": (int, 50, ("logistic_regression", "least_squares"), "synthetic"),
    "noise": (float, 0.1, ("least_squares",), "synthetic"),
    "reg": (float, None, ("logistic_regression", "least_squares"), None),
    "batch_size": (int, None, ("logistic_regression", "least_squares"), None),
    "iid": (bool, True, ("logistic_regression", "least_squares"), "data"),
    "standardize": (bool, True, ("logistic_regression", "least_squares"), "data"),
    "positive_class": (float, None, ("logistic_regression",), "data"),
}
# Keys of supervised problems (read by _read_supervised), with their defaults.
_SUPERVISED_DEFAULTS = {
    "test_fraction": 0.2,
    "standardize": None,  # true for the bundled sets, false for .npz files
    "split": "iid",
    "alpha": None,
    "classes_per_node": 2,
    "model": "mlp",
    "loss": "softmax_cross_entropy",
    "batch_size": None,
    "init": "shared",
    "eval_size": 2048,
}
_MODEL_DEFAULTS = {"mlp": {"width": 32, "depth": 1, "activation": "relu"}}
_KIND_DEFAULTS = {  # defaults that differ between kinds
    "quadratic": {"heterogeneity": 1.0},
    "logistic_regression": {"heterogeneity": 0.0, "reg": 1e-2},
    "least_squares": {"heterogeneity": 1.0, "reg": 0.0},
}


def read_problem(table: Table, base_dir: str) -> ProblemSpec:
    """The ``[problem]`` table; relative data paths are resolved against ``base_dir``."""
    kind = table.get("kind", str)
    if kind not in PROBLEM_KINDS:
        raise table.error("kind", unknown("problem kind", kind, PROBLEM_KINDS))
    num_nodes = table.get("num_nodes", int)
    if num_nodes < 2:
        raise table.error("num_nodes", f"expected an integer >= 2, got {num_nodes}")
    if kind == "supervised":
        return _read_supervised(table, base_dir, num_nodes)
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
    for key in _SUPERVISED_DEFAULTS:
        hints.setdefault(key, f'{key} applies only to kind = "supervised" problems')
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


def _read_supervised(table: Table, base_dir: str, num_nodes: int) -> ProblemSpec:
    """A ``kind = "supervised"`` table: an MLP classifier trained on a split data set."""
    o = {}
    data = table.get("data", str)
    name = data[len("sklearn:") :] if data.startswith("sklearn:") else data
    if name in CLASSIFICATION_DATASETS:
        data = name
    elif name in SKLEARN_DATASETS:
        raise table.error("data", f"{name!r} is a regression set; expected one with classes")
    elif data.endswith(".npz"):
        data = os.path.normpath(os.path.join(base_dir, os.path.expanduser(data)))
        if not os.path.isfile(data):
            raise table.error("data", f"no file {data!r}")
    else:
        raise table.error(
            "data",
            f"expected a bundled classification set ({', '.join(CLASSIFICATION_DATASETS)})"
            f"{did_you_mean(name, CLASSIFICATION_DATASETS)} or an .npz file; got {data!r}",
        )
    o["test_fraction"] = table.get("test_fraction", float, _SUPERVISED_DEFAULTS["test_fraction"])
    if not 0 < o["test_fraction"] < 1:
        raise table.error("test_fraction", f"expected a number in (0, 1), got {o['test_fraction']}")
    o["standardize"] = table.get("standardize", bool, data in CLASSIFICATION_DATASETS)
    o["split"] = table.get("split", str, _SUPERVISED_DEFAULTS["split"])
    if o["split"] not in SPLITS:
        raise table.error("split", unknown("split", o["split"], SPLITS))
    hints = {}
    if o["split"] == "dirichlet":
        if "alpha" not in table.data:
            raise table.error(
                "alpha",
                'missing; split = "dirichlet" needs alpha > 0 (0.1: skewed, 100: near i.i.d.)',
            )
        o["alpha"] = table.get("alpha", float)
        if not o["alpha"] > 0:
            raise table.error("alpha", f"expected a number > 0, got {o['alpha']}")
    else:
        o["alpha"] = None
        hints["alpha"] = 'alpha applies only to split = "dirichlet"'
    o["classes_per_node"] = _SUPERVISED_DEFAULTS["classes_per_node"]
    if o["split"] == "label":
        o["classes_per_node"] = table.get("classes_per_node", int, o["classes_per_node"])
        if o["classes_per_node"] < 1:
            raise table.error(
                "classes_per_node", f"expected an integer >= 1, got {o['classes_per_node']}"
            )
    else:
        hints["classes_per_node"] = 'classes_per_node applies only to split = "label"'
    o["model"] = _read_model(table)
    o["loss"] = table.get("loss", str, _SUPERVISED_DEFAULTS["loss"])
    if o["loss"] not in CLASSIFICATION_LOSSES:
        losses = sorted(CLASSIFICATION_LOSSES)
        raise table.error("loss", unknown("classification loss", o["loss"], losses))
    o["batch_size"] = table.get("batch_size", int, None)
    if o["batch_size"] is not None and o["batch_size"] < 1:
        raise table.error("batch_size", f"expected an integer >= 1, got {o['batch_size']}")
    o["init"] = table.get("init", str, _SUPERVISED_DEFAULTS["init"])
    if o["init"] not in INITS:
        raise table.error("init", unknown("init", o["init"], INITS))
    o["eval_size"] = table.get("eval_size", int, _SUPERVISED_DEFAULTS["eval_size"])
    if o["eval_size"] < 1:
        raise table.error("eval_size", f"expected an integer >= 1, got {o['eval_size']}")
    for key, (_, _, kinds, _) in _PROBLEM_OPTIONS.items():
        hints.setdefault(key, f"{key} does not apply to supervised (only to {', '.join(kinds)})")
    hints["dim"] = "dim does not apply to supervised: the model and the data fix it"
    table.done(hints=hints)  # valid: the keys read, which depend on split
    return ProblemSpec(kind="supervised", num_nodes=num_nodes, dim=None, data=data, options=o)


def _read_model(table: Table) -> dict:
    """``model``: a kind ("mlp") or a table with ``kind`` and that kind's keys."""
    table.read.add("model")
    value = table.data.get("model", _SUPERVISED_DEFAULTS["model"])
    if isinstance(value, str):
        value = {"kind": value}
    elif not isinstance(value, dict):
        raise table.error("model", f"expected a model kind or a table, got {toml_type(value)}")
    model = Table(table.file, table.key("model"), value)
    kind = model.get("kind", str, "mlp")
    if kind not in MODEL_KINDS:
        raise model.error("kind", unknown("model kind", kind, MODEL_KINDS))
    defaults = _MODEL_DEFAULTS[kind]
    width = model.get("width", int, defaults["width"])
    depth = model.get("depth", int, defaults["depth"])
    if width < 1:
        raise model.error("width", f"expected an integer >= 1, got {width}")
    if depth < 0:
        raise model.error("depth", f"expected an integer >= 0 (hidden layers), got {depth}")
    activation = model.get("activation", str, defaults["activation"])
    if activation not in ACTIVATIONS:
        raise model.error("activation", unknown("activation", activation, ACTIVATIONS))
    model.done()
    return {"kind": kind, "width": width, "depth": depth, "activation": activation}
