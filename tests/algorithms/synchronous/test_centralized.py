"""Centralized references: gradient descent, Nesterov, SVRG, Katyusha.

One worker holds all n functions; each component gradient is one computation,
and nothing is communicated. Checked here: the engine equals an independent
NumPy replay (the stochastic methods fed the engine's own index draws), the
cost accounting, from_theory's constants, linear convergence to 1e-10 in
float64, and acceleration: computations to reach eps grow like kappa for
gradient descent and like sqrt(kappa) for Nesterov and Katyusha.

Acceleration is measured on quadratics whose local Hessians share one
eigenbasis and the extreme eigenvalues mu and kappa mu, so that the average
f has condition number kappa too. ``jg.problems.quadratic`` rotates each
node's Hessian at random: their average is then well conditioned (its
condition number stays near 3-4 for kappa = 10 to 1000), no method's cost
grows with kappa, and the gradient-descent claim fails there (see the
strict xfail below).
"""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import jaxgossip as jg
from jaxgossip.algorithms.synchronous.gradient_descent import GradientDescent
from jaxgossip.algorithms.synchronous.katyusha import Katyusha
from jaxgossip.algorithms.synchronous.nesterov import Nesterov
from jaxgossip.algorithms.synchronous.svrg import SVRG
from jaxgossip.engine.rounds import simulate_rounds
from jaxgossip.network.mixing import metropolis_mixing
from tests import measure, reference
from tests.replays_sync import gradient_descent, katyusha, nesterov, svrg

NUM_NODES, DIM = 8, 4
METHODS = {
    "gradient_descent": (GradientDescent, gradient_descent),
    "nesterov": (Nesterov, nesterov),
    "svrg": (SVRG, svrg),
    "katyusha": (Katyusha, katyusha),
}


def _problem(kind, key):
    return reference.small_problem(kind, key, NUM_NODES, DIM)


def _mixing():
    return metropolis_mixing(jg.graphs.ring(NUM_NODES))  # unused by centralized methods


def _replay_algorithm(name, problem):
    if name == "svrg":  # short epochs, so the replay crosses several snapshots
        return SVRG(step_size=0.2 / problem.L, epoch_length=7)
    return METHODS[name][0].from_theory(problem, _mixing())


@pytest.mark.parametrize("kind", ["quadratic", "logistic"])
@pytest.mark.parametrize("name", sorted(METHODS))
def test_engine_equals_numpy_replay(key, x64, name, kind):
    problem = _problem(kind, key)
    algorithm = _replay_algorithm(name, problem)
    x0 = np.asarray(jax.random.normal(jax.random.key(2), (NUM_NODES, DIM)))
    num_rounds = 100  # not a multiple of SVRG's 7 or Katyusha's 16: ends mid-epoch
    run_key = jax.random.key(5)
    trace = simulate_rounds(
        run_key, algorithm, problem, _mixing(), num_rounds=num_rounds, num_records=4, x0=x0
    )
    mixing_dense = _mixing().to_dense()
    module = METHODS[name][1]
    draws = None
    if hasattr(module, "rng_draws"):  # SVRG, Katyusha: the engine's own component indices
        draws = module.rng_draws(run_key, num_rounds, NUM_NODES)
    expected = module.replay(problem, mixing_dense, algorithm, x0, num_rounds, rng_draws=draws)
    assert type(trace.final_state) is type(expected)
    for got, want in zip(jax.tree.leaves(trace.final_state), jax.tree.leaves(expected)):
        np.testing.assert_allclose(got, want, rtol=1e-10, atol=1e-10)


def test_from_theory_constants(key, x64):
    quad, logistic = _problem("quadratic", key), _problem("logistic", key)
    eigs = np.linalg.eigvalsh(np.asarray(quad.H))  # the average's exact L_f, mu_f
    gd = GradientDescent.from_theory(quad, _mixing())
    np.testing.assert_allclose(gd.step_size, 1.0 / eigs[-1], rtol=1e-12)
    # Without a Hessian: the bound max_i L_i, a smaller, still convergent step.
    np.testing.assert_allclose(
        GradientDescent.from_theory(logistic, _mixing()).step_size, 1.0 / logistic.L, rtol=1e-12
    )
    agd = Nesterov.from_theory(quad, _mixing())
    root = np.sqrt(eigs[-1] / eigs[0])
    np.testing.assert_allclose(agd.momentum, (root - 1) / (root + 1), rtol=1e-12)
    vr = SVRG.from_theory(quad, _mixing())
    np.testing.assert_allclose(vr.step_size, 0.1 / quad.L, rtol=1e-12)
    assert int(vr.epoch_length) == int(np.ceil(50 * quad.L / eigs[0]))
    assert vr.epoch_length.dtype == jnp.int32  # not scaled by float sweeps
    kat = Katyusha.from_theory(quad, _mixing())
    m = 2 * NUM_NODES
    tau1 = min(np.sqrt(m * eigs[0] / (3 * quad.L)), 0.5)
    np.testing.assert_allclose([kat.tau1, kat.tau2], [tau1, 0.5], rtol=1e-12)
    np.testing.assert_allclose(kat.alpha, 1 / (3 * tau1 * quad.L), rtol=1e-12)
    assert int(kat.epoch_length) == m
    for algorithm in (gd, agd, vr, kat):
        assert type(algorithm).exact is True
        assert algorithm.message_floats(DIM) == 0


def test_cost_accounting_and_broadcast(key, x64):
    problem = _problem("quadratic", key)
    mixing = _mixing()

    def run(algorithm, num_rounds):
        return simulate_rounds(
            key, algorithm, problem, mixing, num_rounds=num_rounds, num_records=num_rounds
        )

    gd = run(GradientDescent.from_theory(problem, mixing), 10)
    np.testing.assert_array_equal(gd.num_computations, NUM_NODES * np.arange(11))
    # SVRG: 2 component gradients per inner step, n more when an epoch opens (every 5 rounds).
    vr = run(SVRG(step_size=0.01, epoch_length=5), 20)
    rounds = np.arange(20)
    per_round = 2 + NUM_NODES * (rounds % 5 == 0)
    np.testing.assert_array_equal(np.diff(vr.num_computations), per_round)
    kat = run(Katyusha.from_theory(problem, mixing), 40)
    per_round = 2 + NUM_NODES * (np.arange(40) % 16 == 0)
    np.testing.assert_array_equal(np.diff(kat.num_computations), per_round)
    for trace in (gd, vr, kat):
        np.testing.assert_array_equal(trace.num_communications, 0)
        np.testing.assert_array_equal(trace.bytes_sent, 0)
        np.testing.assert_allclose(trace.consensus, 0.0, atol=1e-30)
        assert not np.any(trace.diverged)


# Rounds to run (records every ``per`` rounds): full-gradient methods take one
# step a round, SVRG and Katyusha one inner step.
BUDGETS = {"gradient_descent": 400, "nesterov": 400, "svrg": 4000, "katyusha": 2000}


@pytest.mark.parametrize("kind", ["quadratic", "logistic"])
@pytest.mark.parametrize("name", sorted(METHODS))
def test_converges_linearly_to_high_precision(key, x64, name, kind):
    problem = _problem(kind, key)
    algorithm = METHODS[name][0].from_theory(problem, _mixing())
    num_rounds = BUDGETS[name]
    x0 = jax.random.normal(jax.random.key(1), (DIM,))
    trace = simulate_rounds(
        key, algorithm, problem, _mixing(), num_rounds=num_rounds, num_records=num_rounds, x0=x0
    )
    gap = np.asarray(trace.suboptimality)
    assert not np.any(trace.diverged)
    assert np.all(gap[-num_rounds // 4 :] < 1e-10), gap[-1]
    # Linear: the decades from 1e-7 to 1e-10 take about as many rounds as those
    # from 1e-4 to 1e-7 (a sublinear method would slow down by orders of magnitude).
    measure.assert_steady_decades(gap, levels=(1e-4, 1e-7, 1e-10), slack=20)


def _slope(algorithm_class, problems, num_rounds, seeds=1):
    """Log-log slope over kappa of the (geometric mean over seeds) computations to reach eps."""
    counts = measure.computations_to_reach(
        algorithm_class,
        problems,
        _mixing(),
        num_rounds=num_rounds,
        num_records=num_rounds,
        keys=jax.random.split(jax.random.key(7), seeds),
        x0=jax.random.normal(jax.random.key(1), (DIM,)),
    )
    return measure.loglog_slope(measure.KAPPAS, counts), counts


def test_acceleration_over_kappa(x64):
    problems = [measure.aligned_quadratic(kappa, NUM_NODES, DIM) for kappa in measure.KAPPAS]
    gd_slope, gd = _slope(GradientDescent, problems, 4000)
    agd_slope, agd = _slope(Nesterov, problems, 400)
    # Katyusha samples components: the geometric mean over 8 seeds.
    kat_slope, kat = _slope(Katyusha, problems, 1000, seeds=8)
    # Measured: gradient descent 0.89 (400, 3280, 23736 computations),
    # Nesterov 0.44 (152, 464, 1176), Katyusha 0.29 (320, 440, 1200).
    assert gd_slope >= 0.8, gd
    assert agd_slope <= 0.65, agd
    assert kat_slope <= 0.65, kat
    # And acceleration pays at kappa = 1000.
    assert agd[-1] < gd[-1] / 10 and kat[-1] < gd[-1] / 10


@pytest.mark.xfail(
    strict=True,
    reason="jg.problems.quadratic's randomly rotated local Hessians average to an f of "
    "condition number ~3-4 for every kappa: gradient descent's cost does not grow with "
    "kappa there (measured slope 0.06: 120, 152, 160 computations).",
)
def test_gradient_descent_slope_on_randomly_rotated_quadratics(key, x64):
    problems = [jg.problems.quadratic(key, NUM_NODES, DIM, kappa=kappa) for kappa in measure.KAPPAS]
    slope, _ = _slope(GradientDescent, problems, 400)
    assert slope >= 0.8
