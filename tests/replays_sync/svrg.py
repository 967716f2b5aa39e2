"""NumPy replay of SVRG, Option I (Johnson & Zhang 2013, Figure 1).

Written as the paper's two nested loops: for each epoch, w~ = w (the last
iterate), mu~ = grad f(w~), then m inner steps
w <- w - eta (grad f_i(w) - grad f_i(w~) + mu~) with i = rng_draws[k] for the
k-th inner step overall (the engine draws it from round k's key). Stops after
``num_rounds`` inner steps, possibly mid-epoch.
"""

import jax
import jax.numpy as jnp
import numpy as np

from jaxgossip.algorithms.synchronous.svrg import SVRGState
from jaxgossip.engine.rounds import round_key
from tests import reference


def rng_draws(key, num_rounds, num_nodes):
    """The component each round of ``simulate_rounds(key, ...)`` samples: (num_rounds,) NumPy.

    Round r draws ``jax.random.randint(round_key(key, r), (), 0, n)``; this
    calls the same JAX function, so the replay sees the engine's indices.
    """
    keys = jax.vmap(lambda r: round_key(key, r))(jnp.arange(num_rounds))
    return np.asarray(jax.vmap(lambda k: jax.random.randint(k, (), 0, num_nodes))(keys))


def replay(problem, mixing, algorithm, x0, num_rounds, rng_draws=None):
    """Runs ``num_rounds`` inner steps in float64; returns the final state (NumPy leaves)."""
    del mixing
    gradient = reference.gradient_of(problem)
    n = problem.num_nodes
    eta, m = float(algorithm.step_size), int(algorithm.epoch_length)
    draws = np.asarray(rng_draws)
    w = np.asarray(x0, np.float64).mean(axis=0)
    snapshot, mu = w, np.zeros_like(w)
    k = 0  # inner steps done overall
    while k < num_rounds:
        snapshot = w
        mu = np.mean([gradient(i, snapshot) for i in range(n)], axis=0)
        for _ in range(min(m, num_rounds - k)):
            i = draws[k]
            w = w - eta * (gradient(i, w) - gradient(i, snapshot) + mu)
            k += 1
    step = k % m
    return SVRGState(x=w, snapshot=snapshot, snapshot_grad=mu, step=np.int32(step), num_nodes=n)
