"""The contract of SYNC_REGISTRY, as ``tests/test_contract.py`` states it for REGISTRY.

Every synchronous method, configured by ``from_theory`` on one setting:

- the engine equals its independent NumPy replay (``tests/replays_sync/<name>.py``)
  to 1e-10 in float64, on a strongly convex quadratic and on l2-logistic regression;
- exact methods reach f(x̄) − f* < 1e-10 in float64 on both and end there, at a
  linear rate: the log-suboptimality falls at a steady slope, the second half of
  the records above 1e-13 within a factor 3 of the first (``assert_linear``; a
  sublinear method slows down);
- D-SGD, the inexact one, has an error floor that shrinks with its step size.

Jit, vmap, stable shapes and no recompilation are checked over the same
registry in ``tests/test_synchronous.py``. A method added to SYNC_REGISTRY
joins these tests; it needs a replay module and a round budget below.
"""

import importlib
import inspect

import jax
import numpy as np
import pytest

import jaxgossip as jg
from jaxgossip.algorithms.synchronous import SYNC_REGISTRY
from jaxgossip.engine.rounds import simulate_rounds
from jaxgossip.network.mixing import metropolis_mixing
from tests import reference
from tests.algorithms.synchronous.test_opapc import assert_linear

N, DIM = 8, 3
NAMES = sorted(SYNC_REGISTRY)
REPLAY_MODULE = {"adom_plus_multi": "adom_plus"}  # registry names sharing a replay
# Rounds for from_theory to reach 1e-10 on both problems, with margin (the
# centralized methods count a round as one component gradient or one iteration).
ROUNDS = {  # measured to 1e-10: 3849 / 687 / 234 / 117 / 18 / 210 / 39 / 12 / 57 / 111 / 231 / 594
    "adom_plus": 6000,
    "adom_plus_multi": 1050,
    "diging": 450,
    "extra": 240,
    "gradient_descent": 60,
    "katyusha": 450,
    "msda": 90,
    "nesterov": 60,
    "opapc": 120,
    "push_pull": 240,
    "push_pull_device_sampling": 450,
    "svrg": 900,
}


def _problem(kind, key):
    return reference.small_problem(kind, key, N, DIM)


def _mixing():
    return metropolis_mixing(jg.graphs.erdos_renyi(jax.random.key(5), N, 0.4))


def _replay(name):
    return importlib.import_module(f"tests.replays_sync.{REPLAY_MODULE.get(name, name)}")


def _draws(module, algorithm, run_key, num_rounds):
    """The engine's random draws, for replays of randomized methods (None otherwise).

    ``rng_draws(key, num_rounds, num_nodes, ...)``: parameters beyond those are
    hyperparameters, read from the algorithm by name.
    """
    if not hasattr(module, "rng_draws"):
        return None
    names = list(inspect.signature(module.rng_draws).parameters)[3:]
    extra = {name: getattr(algorithm, name) for name in names}
    return module.rng_draws(run_key, num_rounds, N, **extra)


def test_every_method_has_a_replay_and_a_budget():
    for name in NAMES:
        assert callable(_replay(name).replay), name
    assert set(ROUNDS) == set(NAMES) - {"dsgd"}


@pytest.mark.parametrize("kind", ["quadratic", "logistic"])
@pytest.mark.parametrize("name", NAMES)
def test_engine_equals_numpy_replay(name, kind, key, x64):
    problem, mixing = _problem(kind, key), _mixing()
    algorithm = SYNC_REGISTRY[name].from_theory(problem, mixing)
    x0 = np.asarray(jax.random.normal(jax.random.key(2), (N, DIM)))
    num_rounds, run_key = 30, jax.random.key(7)
    trace = simulate_rounds(
        run_key, algorithm, problem, mixing, num_rounds=num_rounds, num_records=3, x0=x0
    )
    module = _replay(name)
    draws = _draws(module, algorithm, run_key, num_rounds)
    expected = module.replay(problem, mixing.to_dense(), algorithm, x0, num_rounds, draws)
    assert jax.tree.structure(trace.final_state) == jax.tree.structure(expected)
    for got, want in zip(jax.tree.leaves(trace.final_state), jax.tree.leaves(expected)):
        np.testing.assert_allclose(got, want, rtol=1e-10, atol=1e-10)


def _rounds_to(trace, relative):
    sub = np.asarray(trace.suboptimality)
    below = np.flatnonzero(sub <= relative * sub[0])
    return float(trace.time[below[0]]) if below.size else np.inf


@pytest.mark.parametrize("kind", ["quadratic", "logistic"])
@pytest.mark.parametrize("name", [n for n in NAMES if SYNC_REGISTRY[n].exact])
def test_exact_methods_converge_linearly_to_high_precision(name, kind, key, x64):
    problem, mixing = _problem(kind, key), _mixing()
    algorithm = SYNC_REGISTRY[name].from_theory(problem, mixing)
    num_rounds = ROUNDS[name]
    trace = simulate_rounds(
        key, algorithm, problem, mixing, num_rounds=num_rounds, num_records=num_rounds,
        x0=np.full(DIM, 2.0),
    )  # fmt: skip
    sub = np.asarray(trace.suboptimality)
    tail = sub[-max(1, len(sub) // 10) :]  # randomized and non-monotone methods hover at the end
    assert np.all(tail < 1e-10), sub[:: max(1, len(sub) // 10)]
    print(name, kind, "rounds to 1e-10:", _rounds_to(trace, 1e-10 / sub[0]))
    assert_linear(trace)


@pytest.mark.parametrize("name", [n for n in NAMES if not SYNC_REGISTRY[n].exact])
def test_inexact_methods_floor_shrinks_with_step_size(name, key, x64):
    problem = jg.problems.quadratic(key, N, DIM, kappa=10.0, heterogeneity=1.0)
    mixing = _mixing()
    base = SYNC_REGISTRY[name].from_theory(problem, mixing)
    floors = []
    for factor in (1.0, 0.25):
        algorithm = jax.tree.map(
            lambda leaf, factor=factor: (
                leaf * factor if jax.numpy.issubdtype(leaf.dtype, jax.numpy.floating) else leaf
            ),
            base,
        )
        trace = simulate_rounds(
            key, algorithm, problem, mixing, num_rounds=8000, num_records=80, x0=np.full(DIM, 2.0)
        )
        floors.append(float(np.mean(np.asarray(trace.suboptimality)[-10:])))
    print(name, "floors at step x1 and x1/4", floors)
    assert np.all(np.isfinite(floors)) and floors[1] < 0.5 * floors[0], floors
