"""A vmapped batch writes an event's rows with two scatters, one run with one
(``_apply_event``); the registry's runs must not depend on which.

In float64 on a ring of 8 nodes, for every asynchronous method: a ``jax.vmap``
of ``simulate`` over keys and hyperparameters (``batched`` seen as True) equals
the same vmap told ``batched=False``, and each of its runs equals the single
run. Bit for bit, or to 1e-13 relative to the state's scale for a method that
``stores_time`` (as the waves contract: its exponentials, fused otherwise, may
round otherwise; measured: DADAO 3.5e-15, the others exact).
"""

import warnings

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import jaxgossip as jg
from jaxgossip.algorithms.registry import REGISTRY
from jaxgossip.testing import scale_leaves

NAMES = sorted(REGISTRY)


def _assert_close(got, want, name):
    rtol = 1e-13 if REGISTRY[name].stores_time else 0.0
    for a, b in zip(jax.tree.leaves(got), jax.tree.leaves(want)):
        a, b = np.asarray(a), np.asarray(b)
        scale = max(np.max(np.abs(b)), 1e-300)
        assert np.max(np.abs(a - b)) <= rtol * scale, (name, np.max(np.abs(a - b)) / scale)


@pytest.mark.parametrize("name", NAMES)
@pytest.mark.filterwarnings("ignore::jaxgossip.algorithms.base.TheoryConditionWarning")
def test_batched_writes_give_the_runs_of_single_writes(name, x64):
    n = 8
    problem = jg.problems.quadratic(jax.random.key(0), n, 3, kappa=5.0)
    clocks = jg.Clocks(jg.graphs.ring(n), compute_rate=1.0, comm_rate=1.0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        algorithm = REGISTRY[name].from_theory(problem, clocks)
    algorithms = jax.tree.map(
        lambda a, b: jnp.stack([a, b]), algorithm, scale_leaves(algorithm, 0.5)
    )
    keys = jax.random.split(jax.random.key(1), 2)
    x0 = jax.random.normal(jax.random.key(2), (n, 3))

    def run(key, algorithm, batched=None):
        trace = jg.simulate(
            key, algorithm, problem, clocks, num_events=400, num_records=2, x0=x0,
            schedule="sequential", batched=batched,
        )  # fmt: skip
        return trace.final_state

    two_writes = jax.vmap(run)(keys, algorithms)
    one_write = jax.vmap(lambda k, a: run(k, a, batched=False))(keys, algorithms)
    _assert_close(two_writes, one_write, name)
    for b in range(2):
        single = run(keys[b], jax.tree.map(lambda leaf, b=b: leaf[b], algorithms))
        _assert_close(jax.tree.map(lambda leaf, b=b: leaf[b], two_writes), single, name)


def test_batched_must_be_a_bool():
    problem = jg.problems.quadratic(jax.random.key(0), 4, 2)
    clocks = jg.Clocks(jg.graphs.ring(4), 1.0, 1.0)
    with pytest.raises(ValueError, match="batched must be True, False or None"):
        jg.simulate(
            jax.random.key(0), jg.algorithms.Gossip(), problem, clocks,
            num_events=10, num_records=1, batched=1,
        )  # fmt: skip
