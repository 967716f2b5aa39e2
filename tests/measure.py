"""Measuring convergence in tests: counts to reach eps, log-log slopes, linear rates.

Also the quadratics whose global condition number is known, on which those
measurements mean something. A trace here is a ``Trace`` of either engine,
possibly batched (leading axes, from vmap); its records are compared with
the first one, so every eps is relative to the initial suboptimality.
"""

import jax
import jax.numpy as jnp
import numpy as np

import jaxgossip as jg
from jaxgossip.engine.rounds import simulate_rounds
from jaxgossip.network.mixing import laplacian_mixing

KAPPAS = (10.0, 100.0, 1000.0)


def stack(trees):
    """One pytree whose leaves stack those of ``trees`` (same structure and shapes)."""
    return jax.tree.map(lambda *leaves: jnp.stack(leaves), *trees)


def batched(run, keys, *columns):
    """``run(key, *row)`` for every row of ``columns`` and every key, as one vmapped call.

    ``columns`` are lists of pytrees of one shape each (algorithms, problems,
    clocks...), all as long; the result's leaves are (rows, len(keys), ...).
    """
    rows = [stack(column) for column in columns]
    return jax.vmap(lambda *row: jax.vmap(lambda k: run(k, *row))(keys))(*rows)


def aligned_quadratic(kappa, num_nodes, dim, *, seed=0, heterogeneity=1.0):
    """Quadratics f_i = 1/2 (x - z_i)^T A_i (x - z_i) whose A_i share one eigenbasis.

    Each A_i = Q diag(s_i) Q^T with s_i in [1, kappa] and both endpoints on the
    same axes at every node, so each f_i and f = mean_i f_i have mu = 1 and
    L = kappa. (``jg.problems.quadratic`` rotates each A_i independently: its
    kappa is the local one, and the mean f is much better conditioned.) The
    minimizers z_i = z + heterogeneity * (a node's offset); 0 makes them equal.
    """
    rng = np.random.default_rng(seed)
    q, _ = np.linalg.qr(rng.standard_normal((dim, dim)))
    s = rng.uniform(1.0, kappa, (num_nodes, dim))
    s[:, 0], s[:, 1] = 1.0, kappa
    hessians = np.einsum("ij,nj,kj->nik", q, s, q)
    z = rng.standard_normal(dim) + heterogeneity * rng.standard_normal((num_nodes, dim))
    return jg.problems.quadratic_from_arrays(hessians, np.einsum("nij,nj->ni", hessians, z))


def first_reaching(trace, counter, eps):
    """``trace.<counter>`` at the first record with suboptimality < eps x the initial one.

    One value per run of a batched trace; NaN for a run that never gets there.
    ``counter`` names a field: "time", "num_computations", "num_communications".
    """
    sub = np.asarray(trace.suboptimality)
    hit = sub < eps * sub[..., :1]
    first = np.argmax(hit, axis=-1)
    values = np.asarray(getattr(trace, counter))
    counts = np.take_along_axis(values, first[..., None], -1)[..., 0].astype(float)
    return np.where(hit.any(-1), counts, np.nan)


def to_reach(trace, counter, eps):
    """``first_reaching``, failing if a run never reaches eps."""
    counts = first_reaching(trace, counter, eps)
    assert not np.any(np.isnan(counts)), (counts, np.asarray(trace.suboptimality)[..., -1])
    return counts


def loglog_slope(x, y) -> float:
    """The least-squares slope of log y against log x: the exponent of y ~ x^p."""
    return float(np.polyfit(np.log(x), np.log(y), 1)[0])


def assert_linear(trace, floor=1e-13):
    """Log-suboptimality falls at a steady rate (a sublinear method slows down).

    The records above ``floor`` (the first excepted), split in two halves: the
    slope of log f(x_bar) - f* against time on the second is within a factor 3
    of that on the first.
    """
    subopt, t = np.asarray(trace.suboptimality), np.asarray(trace.time)
    above = np.flatnonzero(subopt > floor)
    above = above[above > 0]
    assert above.size >= 8, subopt
    half = above.size // 2
    first, second = (
        np.polyfit(t[i], np.log(subopt[i]), 1)[0] for i in (above[:half], above[half:])
    )
    assert first < 0 and second < 0 and 1 / 3 < second / first < 3, (first, second)


def assert_steady_decades(sub, levels=(1e-7, 1e-10, 1e-13), slack=10, context=()):
    """Linear: from levels[1] to levels[2] takes at most twice the records from levels[0]
    to levels[1], plus ``slack`` (a sublinear rate would need about 1000x more).

    ``sub`` is one run's suboptimality per record; each level must be crossed
    after the one before, and the first after record 0 (past the transient).
    """
    reach = [int(np.argmax(np.asarray(sub) < eps)) for eps in levels]
    assert 0 < reach[0] < reach[1] < reach[2], (*context, reach)
    assert reach[2] - reach[1] <= 2 * (reach[1] - reach[0]) + slack, (*context, reach)


def assert_exact(trace, tol=1e-10):
    """The final record of a run: f(x_bar) - f*, mean_i f(x_i) - f* and consensus below tol."""
    assert float(trace.suboptimality[-1]) < tol, trace.suboptimality[-1]
    assert float(trace.mean_suboptimality[-1]) < tol, trace.mean_suboptimality[-1]
    assert float(trace.consensus[-1]) < tol and not trace.diverged[-1], trace.consensus[-1]


def computations_to_reach(
    cls, problems, mixing, *, num_rounds, num_records, eps=1e-6, keys=None, x0=None
):
    """Computations for ``cls.from_theory`` to reach eps on each problem (same shapes).

    One vmapped call over the problems and ``keys`` (default: the single key 0);
    per problem, the geometric mean over the keys, NaN where a run did not reach eps.
    """
    keys = jax.random.key(0)[None] if keys is None else keys
    algorithms = [cls.from_theory(p, mixing) for p in problems]
    traces = batched(
        lambda k, a, p: simulate_rounds(
            k, a, p, mixing, num_rounds=num_rounds, num_records=num_records, x0=x0
        ),
        keys,
        algorithms,
        problems,
    )
    return np.exp(np.mean(np.log(first_reaching(traces, "num_computations", eps)), axis=1))


def rounds_to_reach(key, make, settings, *, num_rounds, num_records, counter, eps=1e-6):
    """For each (problem, mixing) of ``settings``: ``counter`` when ``make(problem, mixing)``
    first reaches eps on the round engine; fails if one never does."""
    return np.array([
        to_reach(
            simulate_rounds(
                key, make(p, m), p, m, num_rounds=num_rounds, num_records=num_records
            ),
            counter,
            eps,
        )
        for p, m in settings
    ])  # fmt: skip


def gossip_steps_on_rings(key, cls, problem_of, sizes=(8, 16, 32, 64), num_rounds=200):
    """(1 / eigengap, gossip steps to 1e-6) of ``cls.from_theory`` on Laplacian rings.

    The eigengap is lambda_2 / lambda_max of each ring's mixing; a gossip step is
    one message per edge (communications / |E|). ``problem_of(n)`` builds the problem.
    """
    mixings = [laplacian_mixing(jg.graphs.ring(n)) for n in sizes]
    comms = rounds_to_reach(
        key,
        cls.from_theory,
        [(problem_of(n), m) for n, m in zip(sizes, mixings)],
        num_rounds=num_rounds,
        num_records=num_rounds,
        counter="num_communications",
    )
    gaps = np.array([float(m.lambda_2 / m.lambda_max) for m in mixings])
    steps = [int(c) // m.graph.num_edges for c, m in zip(comms, mixings)]
    return 1.0 / gaps, steps
