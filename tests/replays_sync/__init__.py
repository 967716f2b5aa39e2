"""NumPy replays of the synchronous algorithms, written independently of the JAX code.

Each module exposes ``replay(problem, mixing_dense_W, algorithm, x0, num_rounds,
rng_draws=None)``: it runs ``num_rounds`` rounds of the paper's matrix
recursion in float64 with a dense (n, n) gossip matrix and returns the final
state as the algorithm's state pytree of NumPy arrays.
"""

import jax
import jax.numpy as jnp
import numpy as np

import jaxgossip as jg

KAPPAS = (10.0, 100.0, 1000.0)


def aligned_quadratic(seed: int, num_nodes: int, dim: int, kappa: float):
    """Quadratics f_i = 1/2 (x - z_i)^T A_i (x - z_i) whose A_i share one eigenbasis.

    Each A_i = Q diag(s_i) Q^T with s_i in [1, kappa] and both endpoints on the
    same axes at every node, so f = mean_i f_i has condition number exactly
    kappa. (``jg.problems.quadratic`` rotates each A_i independently: its kappa
    is the local one, and the mean f is much better conditioned.)
    """
    rng = np.random.default_rng(seed)
    q, _ = np.linalg.qr(rng.standard_normal((dim, dim)))
    s = rng.uniform(1.0, kappa, (num_nodes, dim))
    s[:, 0], s[:, 1] = 1.0, kappa
    A = np.einsum("ij,nj,kj->nik", q, s, q)
    z = rng.standard_normal(dim) + rng.standard_normal((num_nodes, dim))
    return jg.problems.quadratic_from_arrays(A, np.einsum("nij,nj->ni", A, z))


def global_condition_number(problem) -> float:
    """L_f / mu_f of f = mean_i f_i for a quadratic problem (from its Hessian H)."""
    eigs = np.linalg.eigvalsh(np.asarray(problem.H, np.float64))
    return float(eigs[-1] / eigs[0])


def computations_to_reach(
    cls, problems, mixing, *, num_rounds: int, num_records: int, rel_eps: float = 1e-6
):
    """Gradient computations for from_theory to reach f(x_bar) - f* <= rel_eps * initial.

    The problems (same shapes) run as one vmapped call; NaN where not reached.
    """
    algorithms = [cls.from_theory(p, mixing) for p in problems]
    stack = lambda trees: jax.tree.map(lambda *leaves: jnp.stack(leaves), *trees)  # noqa: E731
    traces = jax.vmap(
        lambda a, p: jg.simulate_rounds(
            jax.random.key(0), a, p, mixing, num_rounds=num_rounds, num_records=num_records
        )
    )(stack(algorithms), stack(problems))
    counts = []
    for sub, comps in zip(np.asarray(traces.suboptimality), np.asarray(traces.num_computations)):
        hit = np.nonzero(sub <= rel_eps * sub[0])[0]
        counts.append(float(comps[hit[0]]) if len(hit) else np.nan)
    return np.array(counts)


def log_log_slope(kappas, counts) -> float:
    return float(np.polyfit(np.log(kappas), np.log(counts), 1)[0])
