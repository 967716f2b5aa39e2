"""The contract every registered method meets, on either engine, run over the whole registry.

Every method of ``jaxgossip.algorithms.registry.METHODS``, configured by its
``from_theory`` on its engine's setting, must:

- run under jit and vmap with finite output and stable state shapes and dtypes,
  and not recompile on new hyperparameter values: ``jaxgossip.testing``'s
  ``check_algorithm`` (properties ``jit_vmap``, ``recompile``,
  ``stable_state``), the check users run on their own algorithms;
- equal an independent NumPy replay of the same run (``tests/replays/<name>.py``
  for the event engine, ``tests/replays_sync/<name>.py`` for rounds) to 1e-10
  in float64, on each problem its replay covers;
- when ``exact``, reach f(x̄) − f* < 1e-10 in float64 and stay there; on rounds,
  whose records are dense enough to tell, at a linear rate
  (``measure.assert_linear``: a sublinear method slows down);
- else, show an error floor that shrinks with the step size.

The properties are written once below; what differs between the engines
(the network, how to run, how to replay, the budgets) is in the two adapters.
A method added to a registry joins these tests; it needs a replay module and,
on rounds, a round budget.
"""

import importlib
import inspect

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
import pytest

import jaxgossip as jg
from jaxgossip.algorithms.registry import METHODS
from jaxgossip.engine.rounds import simulate_rounds
from jaxgossip.network.mixing import metropolis_mixing
from tests import reference
from tests.measure import assert_linear, first_reaching

NUM_NODES = 8


class Events:
    """The event engine: Poisson clocks on a ring of 8, d = 4."""

    dim = 4
    # 200k events reach round-off within 3 of 200 records: too coarse to fit a rate
    # to, so only the precision reached (and kept) is asserted.
    measures_rate = False

    @staticmethod
    def _replay_module(name):
        return importlib.import_module(f"tests.replays.{name}")

    def kinds(self, name):
        return getattr(self._replay_module(name), "PROBLEMS", ("quadratic", "logistic"))

    def problem(self, kind, key=None, heterogeneity=1.0):
        key = jax.random.key(0) if key is None else key
        if kind == "quadratic":
            return jg.problems.quadratic(
                key, NUM_NODES, self.dim, kappa=10.0, heterogeneity=heterogeneity
            )
        if kind == "least_squares":
            features = jax.random.normal(key, (NUM_NODES, 10, self.dim))
            targets = jax.random.normal(jax.random.fold_in(key, 1), (NUM_NODES, 10))
            return jg.problems.least_squares(features, targets, reg=0.1)
        return jg.problems.logistic_regression(key, NUM_NODES, self.dim, 20, reg=0.1)

    def network(self, comm_rate=5.0):
        return jg.Clocks(jg.graphs.ring(NUM_NODES), compute_rate=1.0, comm_rate=comm_rate)

    def replay(self, key, name, kind):
        """(engine's final state, replay's) on one event trace, rates differing per node."""
        problem = self.problem(kind)
        clocks = self.network(comm_rate=np.linspace(0.5, 2.0, NUM_NODES))
        algorithm = METHODS[name].cls.from_theory(problem, clocks)
        events = jg.sample_events(jax.random.key(3), clocks, 1500)
        x0 = np.asarray(jax.random.normal(jax.random.key(2), (NUM_NODES, self.dim)))
        trace = jg.simulate(
            key, algorithm, problem, clocks, num_events=1500, num_records=3, x0=x0, events=events
        )
        return trace.final_state, self._replay_module(name).replay(events, problem, algorithm, x0)

    def exact_run(self, key, name, kind):
        problem, clocks = self.problem(kind), self.network()
        algorithm = METHODS[name].cls.from_theory(problem, clocks)
        return jg.simulate(
            key, algorithm, problem, clocks, num_events=200_000, num_records=200,
            x0=jnp.ones(self.dim),
        )  # fmt: skip

    def floors(self, key, name, factors):
        """Median over 8 seeds of the error floor at each multiple of from_theory's step."""
        problem, clocks = self.problem("quadratic", heterogeneity=3.0), self.network()
        algorithm = METHODS[name].cls.from_theory(problem, clocks)

        def final_error(k, step_size):
            run = eqx.tree_at(lambda a: a.step_size, algorithm, step_size)
            trace = jg.simulate(k, run, problem, clocks, num_events=100_000, num_records=10)
            return jnp.mean(trace.suboptimality[-5:])  # average over the last records: the floor

        steps = algorithm.step_size * jnp.asarray(factors)
        keys = jax.random.split(key, 8)
        errors = jax.vmap(jax.vmap(final_error, (0, None)), (None, 0))(keys, steps)
        return np.median(errors, axis=1)


class Rounds:
    """The round engine: Metropolis weights on an Erdős–Rényi graph of 8, d = 3."""

    dim = 3
    measures_rate = True  # one record a round
    REPLAY_MODULE = {"adom_plus_multi": "adom_plus"}  # registry names sharing a replay
    # Rounds for from_theory to reach 1e-10 on both problems, with margin (the
    # centralized methods count a round as one component gradient or one iteration).
    # Measured to 1e-10: 3849 / 687 / 234 / 117 / 18 / 210 / 39 / 12 / 57 / 111 / 231 / 594.
    BUDGET = {
        "adom_plus": 6000,
        "adom_plus_multi": 1050,
        "all_reduce_sgd": 60,  # measured 28 (quadratic), 13 (logistic)
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

    def _replay_module(self, name):
        return importlib.import_module(f"tests.replays_sync.{self.REPLAY_MODULE.get(name, name)}")

    def kinds(self, name):
        return ("quadratic", "logistic")

    def problem(self, kind, key=None):
        key = jax.random.key(0) if key is None else key
        return reference.small_problem(kind, key, NUM_NODES, self.dim)

    def network(self):
        return metropolis_mixing(jg.graphs.erdos_renyi(jax.random.key(5), NUM_NODES, 0.4))

    def _draws(self, module, algorithm, run_key, num_rounds):
        """The engine's random draws, for replays of randomized methods (None otherwise).

        ``rng_draws(key, num_rounds, num_nodes, ...)``: parameters beyond those are
        hyperparameters, read from the algorithm by name.
        """
        if not hasattr(module, "rng_draws"):
            return None
        names = list(inspect.signature(module.rng_draws).parameters)[3:]
        extra = {name: getattr(algorithm, name) for name in names}
        return module.rng_draws(run_key, num_rounds, NUM_NODES, **extra)

    def replay(self, key, name, kind):
        """(engine's final state, replay's) after 30 rounds, fed the engine's random draws."""
        problem, mixing = self.problem(kind, key), self.network()
        algorithm = METHODS[name].cls.from_theory(problem, mixing)
        x0 = np.asarray(jax.random.normal(jax.random.key(2), (NUM_NODES, self.dim)))
        num_rounds, run_key = 30, jax.random.key(7)
        trace = simulate_rounds(
            run_key, algorithm, problem, mixing, num_rounds=num_rounds, num_records=3, x0=x0
        )
        module = self._replay_module(name)
        draws = self._draws(module, algorithm, run_key, num_rounds)
        expected = module.replay(problem, mixing.to_dense(), algorithm, x0, num_rounds, draws)
        return trace.final_state, expected

    def exact_run(self, key, name, kind):
        problem, mixing = self.problem(kind, key), self.network()
        algorithm = METHODS[name].cls.from_theory(problem, mixing)
        num_rounds = self.BUDGET[name]
        trace = simulate_rounds(
            key, algorithm, problem, mixing, num_rounds=num_rounds, num_records=num_rounds,
            x0=np.full(self.dim, 2.0),
        )  # fmt: skip
        reach = first_reaching(trace, "time", 1e-10 / float(trace.suboptimality[0]))
        print(name, kind, "rounds to 1e-10:", reach)
        return trace

    def floors(self, key, name, factors):
        """The error floor (mean of the last 10 of 80 records) at each multiple of every
        hyperparameter, on heterogeneous quadratics."""
        problem = jg.problems.quadratic(key, NUM_NODES, self.dim, kappa=10.0, heterogeneity=1.0)
        mixing = self.network()
        base = METHODS[name].cls.from_theory(problem, mixing)
        floors = []
        for factor in factors:
            trace = simulate_rounds(
                key, jg.testing.scale_leaves(base, factor), problem, mixing, num_rounds=8000,
                num_records=80, x0=np.full(self.dim, 2.0),
            )  # fmt: skip
            floors.append(float(np.mean(np.asarray(trace.suboptimality)[-10:])))
        return np.array(floors)


ENGINES = {"events": Events(), "rounds": Rounds()}
NAMES = list(METHODS)
OPTIMIZERS = [name for name in NAMES if name != "gossip"]  # gossip only averages
EXACT = [name for name in OPTIMIZERS if METHODS[name].cls.exact]
INEXACT = [name for name in OPTIMIZERS if not METHODS[name].cls.exact]


def _engine(name):
    return ENGINES[METHODS[name].engine]


def _with_kinds(names):
    """(name, problem kind) pairs over each method's replayed problems, with readable ids."""
    pairs = [(name, kind) for name in names for kind in _engine(name).kinds(name)]
    return pytest.mark.parametrize("name, kind", pairs, ids=[f"{n}-{k}" for n, k in pairs])


def test_every_method_has_a_replay_and_exact_round_methods_a_budget():
    for name in NAMES:
        assert callable(_engine(name)._replay_module(name).replay), name
    exact_on_rounds = {name for name in EXACT if METHODS[name].engine == "rounds"}
    assert set(Rounds.BUDGET) == exact_on_rounds


@pytest.mark.parametrize("name", NAMES)
def test_runs_under_jit_and_vmap_with_stable_state_and_no_recompilation(name, key):
    engine = _engine(name)
    jg.testing.check_algorithm(
        METHODS[name].cls,
        problem=engine.problem("quadratic"),
        network=engine.network(),
        key=key,
        properties=("jit_vmap", "recompile", "stable_state"),
    ).raise_if_failed()


@_with_kinds(NAMES)
# The replay runs DADAO on clocks where chi1 chi2 > 1/2: the dynamics are what is checked.
@pytest.mark.filterwarnings("ignore::jaxgossip.algorithms.base.TheoryConditionWarning")
def test_engine_equals_numpy_replay(name, kind, key, x64):
    got, want = _engine(name).replay(key, name, kind)
    assert jax.tree.structure(got) == jax.tree.structure(want)
    for a, b in zip(jax.tree.leaves(got), jax.tree.leaves(want)):
        np.testing.assert_allclose(a, b, rtol=1e-10, atol=1e-10, err_msg=f"{name}, {kind}")


@_with_kinds(EXACT)
def test_exact_methods_converge_linearly_to_high_precision(name, kind, key, x64):
    engine = _engine(name)
    trace = engine.exact_run(key, name, kind)
    sub = np.asarray(trace.suboptimality)
    tail = sub[-max(1, len(sub) // 10) :]  # randomized and non-monotone methods hover at the end
    assert np.all(tail < 1e-10), sub[:: max(1, len(sub) // 10)]
    if engine.measures_rate:
        assert_linear(trace)


@pytest.mark.parametrize("name", INEXACT)
def test_inexact_methods_floor_shrinks_with_step_size(name, key, x64):
    # Heterogeneous local functions: a constant step size leaves an error floor
    # that shrinks with it; a quarter of the step must give under half the floor.
    large, small = _engine(name).floors(key, name, (1.0, 0.25))
    print(name, "floors at step x1 and x1/4", large, small)
    assert np.isfinite(large) and np.isfinite(small) and small < 0.5 * large, (large, small)


@pytest.mark.parametrize("name", NAMES)
@pytest.mark.parametrize("L, mu", [(10.0, 0.0), (1.0, 2.0), (np.inf, 1.0)])
def test_from_theory_refuses_degenerate_constants(name, L, mu):
    """mu = 0 or mu > L would give inf or NaN hyperparameters: an error names them."""
    engine = _engine(name)
    problem = engine.problem("quadratic")
    problem = eqx.tree_at(lambda p: (p.L, p.mu), problem, (jnp.asarray(L), jnp.asarray(mu)))
    with pytest.raises(ValueError, match=r"from_theory needs .*0 < mu <= L"):
        METHODS[name].cls.from_theory(problem, engine.network())
