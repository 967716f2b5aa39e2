"""The ``[[algorithms]]`` section of study files: a method, its values, optimizer and grid.

The schema is in ``jaxgossip.cli.experiment``; ``read_algorithm`` returns a
checked ``AlgorithmSpec`` that ``jaxgossip.study.build.configure_algorithm``
builds. Methods are those of ``REGISTRY`` (event engine) and ``SYNC_REGISTRY``
(round engine); an ``[algorithms.optimizer]`` names an optax constructor of
``jaxgossip.study.build.OPTIMIZERS``, whose numeric arguments may be grid axes.
"""

from __future__ import annotations

import math

from jaxgossip.cli.toml_table import Table, read_label, toml_type
from jaxgossip.network.factory import did_you_mean, unknown
from jaxgossip.study.build import (
    OPTIMIZERS,
    hyperparameters,
    method,
    method_names,
    optimizer_arguments,
    optional_hyperparameters,
    takes_optimizer,
)
from jaxgossip.study.spec import RATE_AXES, AlgorithmSpec, OptimizerSpec

__all__ = ["read_algorithm", "read_algorithms"]

# Bounds of optimizer arguments: a typo, not an experiment, outside them.
_OPTIMIZER_BOUNDS = {
    "learning_rate": (0.0, None, False),  # (low, high, low allowed)
    "momentum": (0.0, 1.0, True),
    "b1": (0.0, 1.0, True),
    "b2": (0.0, 1.0, True),
    "decay": (0.0, 1.0, True),
    "weight_decay": (0.0, None, True),
    "eps": (0.0, None, True),
    "eps_root": (0.0, None, True),
}


def read_algorithms(top: Table) -> tuple:
    """The ``[[algorithms]]`` tables: names of ``jaxgossip.algorithms.METHODS``."""
    if "algorithms" not in top.data:
        raise top.error("algorithms", "missing; expected one or more [[algorithms]] tables")
    labels = {}
    return tuple(read_algorithm(table, labels) for table in top.tables("algorithms"))


def read_algorithm(table: Table, labels: dict, *, grid: bool = True) -> AlgorithmSpec:
    """One ``[[algorithms]]`` table: a method, fixed hyperparameters, an optional
    ``[algorithms.optimizer]`` and (with ``grid``) an ``[algorithms.grid]``.

    Args:
      labels: label -> key path of the tables read so far (labels must differ).
      grid: whether a grid (and relative_to_theory) may be given.
    """
    name = table.get("name", str)
    if name not in method_names():
        raise table.error("name", unknown("algorithm", name, method_names()))
    cls, engine = method(name)
    events = engine == "events"
    label = read_label(table, name, labels, "algorithm")
    relative = table.get("relative_to_theory", bool, False) if grid else False
    fields = hyperparameters(cls)
    fixed = {key: table.get(key, float) for key in fields if key in table.data}
    optimizer = _read_optimizer(table, name, cls)
    arguments = {} if optimizer is None else optimizer_arguments(optimizer.name)
    numeric = [a for a, kind in arguments.items() if kind is float]
    replaced = optional_hyperparameters(cls) if optimizer is not None else []
    for key in replaced:
        if key in fixed:
            raise table.error(
                key, f"{key} and an [{table.key('optimizer')}] table exclude each other; keep one"
            )
    if optimizer is not None and relative:
        raise table.error(
            "relative_to_theory", "from_theory gives no optimizer arguments; remove one of them"
        )
    axes = [*(f for f in fields if f not in replaced), *numeric, *(RATE_AXES if events else ())]
    swept, given = {}, {**fixed, **(optimizer.args if optimizer else {})}
    if grid:
        grid_table = table.table("grid", required=False)
        for axis in grid_table.data:
            grid_table.read.add(axis)
            if axis not in axes:
                raise grid_table.error(axis, _grid_axis_error(axis, name, axes, replaced, events))
            if axis in given:
                raise grid_table.error(axis, f"{axis} is both fixed and swept; keep one")
            swept[axis] = _grid_values(grid_table, axis)
            if axis in numeric:
                for value in swept[axis]:
                    _check_optimizer_value(grid_table, axis, value)
    if optimizer is not None and "learning_rate" in arguments:
        if "learning_rate" not in optimizer.args and "learning_rate" not in swept:
            raise table.error(
                "optimizer.learning_rate",
                "missing; expected a number > 0 (or a grid axis learning_rate)",
            )
    extra = ("relative_to_theory", "grid") if grid else ()
    table.done(valid=("name", "label", "optimizer", *fields, *extra))
    return AlgorithmSpec(
        label=label,
        name=name,
        fixed=fixed,
        grid=swept,
        relative_to_theory=relative,
        key_path=table.path,
        optimizer=optimizer,
        optimizer_axes=tuple(a for a in swept if a in numeric),
    )


def _grid_axis_error(axis, name, axes, replaced, events) -> str:
    if axis in replaced:
        return f"{axis} is replaced by the optimizer; sweep its learning_rate instead"
    if axis in RATE_AXES and not events:
        return f"{name} is synchronous (it runs in rounds): it has no clock rates to sweep"
    return (
        f"unknown grid axis {axis!r}{did_you_mean(axis, axes)} (axes: the hyperparameters of "
        f"{name}, its optimizer's numeric arguments and the clock rates: "
        f"{', '.join(axes) or 'none'})"
    )


def _read_optimizer(table: Table, name: str, cls) -> OptimizerSpec | None:
    """``[algorithms.optimizer]``: ``name`` (an optax constructor) and its keyword arguments."""
    if "optimizer" not in table.data:
        return None
    if not takes_optimizer(cls):
        others = [n for n in method_names() if takes_optimizer(method(n)[0])]
        raise table.error(
            "optimizer", f"{name} takes no optimizer (those that do: {', '.join(others)})"
        )
    opt = table.table("optimizer")
    kind = opt.get("name", str)
    if kind not in OPTIMIZERS:
        raise opt.error("name", unknown("optimizer", kind, sorted(OPTIMIZERS)))
    arguments = optimizer_arguments(kind)
    args = {key: opt.get(key, arguments[key]) for key in arguments if key in opt.data}
    for key, value in args.items():
        if arguments[key] is float:
            _check_optimizer_value(opt, key, value)
    opt.done(valid=("name", *arguments))
    return OptimizerSpec(name=kind, args=args)


def _check_optimizer_value(table: Table, key: str, value: float) -> None:
    low, high, closed = _OPTIMIZER_BOUNDS.get(key, (None, None, True))
    if low is not None and (value < low or (value == low and not closed)):
        raise table.error(key, f"expected a number {'>=' if closed else '>'} {low:g}, got {value}")
    if high is not None and not value < high:
        raise table.error(key, f"expected a number < {high:g}, got {value}")


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
