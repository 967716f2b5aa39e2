"""``jaxgossip.testing.check_algorithm``: a correct algorithm passes, and each defect
of the contract is named by the property it breaks (and by no other).

The algorithms are written here, as a user would write theirs: a correct gossip
SGD that counts its local steps, and three copies each with one defect.
"""

from __future__ import annotations

from typing import NamedTuple

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
import pytest

import jaxgossip as jg
from jaxgossip.algorithms.base import Algorithm, hyperparameter

# Few events for the convergence run (the default is 204,800): every class here
# is inexact, and a tenfold decrease comes within a few thousand events.
BUDGET = 8 * 1024


class CountingState(NamedTuple):
    x: jax.Array  # (dim,) the node's estimate
    steps: jax.Array  # () int32, local gradient steps taken


class CountingGossipSGD(Algorithm):
    """Gossip SGD counting each node's gradient steps: x_i <- x_i - step_size g_i(x_i)
    on a compute event, x_i, x_j <- (x_i + x_j) / 2 on a communication."""

    step_size: jax.Array = eqx.field(converter=hyperparameter)

    @classmethod
    def from_theory(cls, problem, clocks):
        del clocks
        return cls(step_size=0.5 / problem.L)

    def init(self, x0, problem):
        del problem
        return CountingState(x0, jnp.zeros((), jnp.int32))

    def params(self, node):
        return node.x

    def on_compute(self, node, t, grad):
        del t
        return CountingState(node.x - self.step_size * grad(node.x), node.steps + 1)

    def on_communicate(self, node_i, node_j, t, edge):
        del t, edge
        average = (node_i.x + node_j.x) / 2
        return node_i._replace(x=average), node_j._replace(x=average)


# Defect (a): a shared "server" vector, outside the network state, that every
# communication reads and overwrites. The result then depends on the order in
# which the whole network's communications happen, not on each event's rows:
# the waves schedule, which reorders events on disjoint nodes, sees another
# run. (A callback is the only way a hook can reach state outside its rows.)
SERVER = {"value": np.zeros(3)}


def _swap_with_server(value):
    previous = SERVER["value"]
    SERVER["value"] = np.asarray(value, np.float64)
    # float32 on the way back: the callback runs on a thread that the test's
    # enable_x64 does not reach, where JAX would cast a float64 result anyway.
    return previous.astype(np.float32)


class ReadsSharedServer(CountingGossipSGD):
    """Pulls each pair's difference toward the last average the server saw (keeps the mean)."""

    def on_communicate(self, node_i, node_j, t, edge):
        del t, edge
        average = (node_i.x + node_j.x) / 2
        shape = jax.ShapeDtypeStruct(average.shape, jnp.float32)
        last = jax.pure_callback(_swap_with_server, shape, average, vmap_method="sequential")
        last = last.astype(average.dtype)
        pull = 0.01 * (last - average)
        return node_i._replace(x=average + pull), node_j._replace(x=average - pull)


# Defect (b): the step size is a static Python float, compiled into the program.
class StaticStepSize(CountingGossipSGD):
    """The correct method with ``step_size`` a static field instead of an array leaf."""

    step_size: float = eqx.field(static=True)

    @classmethod
    def from_theory(cls, problem, clocks):
        del clocks
        return cls(step_size=float(0.5 / problem.L))


# Defect (c): a communication that moves the network mean.
class WeightedAverage(CountingGossipSGD):
    """Both ends take (2 x_i + x_j) / 3: consensus, but not at the pair's mean."""

    def on_communicate(self, node_i, node_j, t, edge):
        del t, edge
        weighted = (2 * node_i.x + node_j.x) / 3
        return node_i._replace(x=weighted), node_j._replace(x=weighted)


# Two more defects, found without compiling anything.
class BranchesOnStepSize(CountingGossipSGD):
    """Branches in Python on its step size: untraceable once it is a traced leaf."""

    def on_compute(self, node, t, grad):
        step = self.step_size if self.step_size > 0 else 0.0
        return CountingState(node.x - step * grad(node.x), node.steps + 1)


class Downcasts(CountingGossipSGD):
    """Hands back its estimate in float16 after a gradient step."""

    def on_compute(self, node, t, grad):
        new = super().on_compute(node, t, grad)
        return new._replace(x=new.x.astype(jnp.float16))


def _check(cls):
    return jg.testing.check_algorithm(cls, preserves_mean=True, budget=BUDGET)


def test_a_correct_algorithm_passes_every_property():
    report = _check(CountingGossipSGD)
    assert [r.name for r in report.results] == [
        "jit_vmap",
        "recompile",
        "stable_state",
        "waves",
        "preserves_mean",
        "converges",
    ]
    assert report.passed, str(report)
    assert report.raise_if_failed() is report
    assert report["recompile"].figure == 0 and report["waves"].figure == 0
    assert report["preserves_mean"].figure < 1e-13
    text = str(report)
    assert "CountingGossipSGD" in text and "all passed" in text and "FAILED" not in text


@pytest.mark.parametrize(
    "cls, broken",
    [
        (ReadsSharedServer, "waves"),
        (StaticStepSize, "recompile"),
        (WeightedAverage, "preserves_mean"),
    ],
    ids=["global-read", "static-float", "moves-mean"],
)
def test_each_defect_fails_the_property_that_names_it_and_no_other(cls, broken):
    report = _check(cls)
    assert [r.name for r in report.failed] == [broken], str(report)
    failure = report[broken]
    with pytest.raises(AssertionError, match=f"{cls.__name__} fails 1 contract properties"):
        report.raise_if_failed()
    with pytest.raises(AssertionError, match=broken):
        report.raise_if_failed()
    assert "FAILED" in str(report)
    if broken == "waves":
        assert failure.figure > 1e-6  # far from round-off: another run
    if broken == "recompile":
        assert failure.figure >= 1 and "step_size" in failure.message
    if broken == "preserves_mean":
        assert failure.figure > 1e-3


def test_an_instance_a_problem_factory_chosen_properties_and_invariants():
    # An instance is cast to float64 for the float64 checks; a factory is called there.
    report = jg.testing.check_algorithm(
        CountingGossipSGD(step_size=0.05),
        problem=lambda: jg.problems.quadratic(jax.random.key(1), 8, 3, kappa=10.0),
        properties=["stable_state", "invariants"],
        invariants={"total steps": lambda state: jnp.sum(state.steps)},
    )
    assert [r.name for r in report.results] == ["stable_state", "invariant[total steps]"]
    assert report.passed and report["invariant[total steps]"].figure == 0


def test_an_untraceable_hook_and_a_dtype_change_are_reported_not_raised():
    report = jg.testing.check_algorithm(BranchesOnStepSize, properties=["jit_vmap"])
    failure = report["jit_vmap"]
    assert not failure.passed and "raised TracerBoolConversionError" in failure.message
    report = jg.testing.check_algorithm(Downcasts, properties=["stable_state"])
    failure = report["stable_state"]
    assert not failure.passed and failure.figure >= 1, failure
    assert "on_compute .x: float16[3] != float32[3]" in failure.message


def test_errors():
    with pytest.raises(KeyError, match="was not checked"):
        jg.testing.Report("A", ())["waves"]
    with pytest.raises(ValueError, match="unknown or inapplicable"):
        jg.testing.check_algorithm(CountingGossipSGD, properties=["speed"])
    with pytest.raises(ValueError, match="unknown or inapplicable"):
        jg.testing.check_algorithm(jg.algorithms.synchronous.DSGD, properties=["waves"])
    with pytest.raises(ValueError, match="invariants are checked on communication events"):
        jg.testing.check_algorithm(jg.algorithms.synchronous.DSGD, preserves_mean=True)
    with pytest.raises(TypeError, match="Algorithm or SyncAlgorithm"):
        jg.testing.check_algorithm(object)
