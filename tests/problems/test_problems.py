"""Tests of jaxgossip.problems: gradients, optima, constants, sampling, partition."""

import importlib

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from jaxgossip.problems import (
    LeastSquares,
    LogisticRegression,
    Quadratic,
    least_squares,
    logistic_regression,
    logistic_regression_from_data,
    partition,
    quadratic,
    quadratic_from_arrays,
)

N, D, M = 4, 3, 20


@pytest.fixture
def key():
    return jax.random.key(0)


@pytest.fixture
def x64():
    previous = jax.config.jax_enable_x64
    jax.config.update("jax_enable_x64", True)
    yield
    jax.config.update("jax_enable_x64", previous)


def _least_squares(key, **kwargs):
    ka, kb = jax.random.split(key)
    A = np.asarray(jax.random.normal(ka, (N, M, D)), dtype=np.float64)
    b = np.asarray(jax.random.normal(kb, (N, M)), dtype=np.float64)
    return least_squares(A, b, **kwargs)


MAKERS = {
    "quadratic": lambda key: quadratic(key, N, D, kappa=10.0, mu=0.5, heterogeneity=1.0),
    "least_squares": lambda key: _least_squares(key, reg=0.1),
    "logistic": lambda key: logistic_regression(key, N, D, M, reg=0.05, heterogeneity=1.0),
}


@pytest.fixture(params=sorted(MAKERS))
def problem64(request, key, x64):
    return MAKERS[request.param](key)


def _points(key, problem, k=5):
    return problem.x_star + 2.0 * jax.random.normal(key, (k, problem.dim), problem.x_star.dtype)


def _over_nodes_and_points(fn, p, xs):
    """jit(vmap) of fn(x, node) over every node and every row of xs: -> (n, k, ...)."""
    nodes = jnp.arange(p.num_nodes, dtype=jnp.int32)
    per_point = jax.vmap(fn, in_axes=(0, None))
    return jax.jit(jax.vmap(per_point, in_axes=(None, 0)))(xs, nodes)


def test_local_grad_matches_autodiff(problem64, key):
    p = problem64
    assert p.x_star.dtype == jnp.float64
    xs = _points(key, p, 3)
    expected = _over_nodes_and_points(jax.grad(p.local_value), p, xs)
    got = _over_nodes_and_points(lambda x, i: p.local_grad(key, x, i), p, xs)
    np.testing.assert_allclose(got, expected, rtol=1e-10, atol=1e-10)


def test_optimum(problem64, key):
    p = problem64
    nodes = jnp.arange(p.num_nodes, dtype=jnp.int32)
    grads = jax.vmap(p.local_grad, in_axes=(None, None, 0))(key, p.x_star, nodes)
    assert float(jnp.max(jnp.abs(grads.mean(axis=0)))) < 1e-8
    np.testing.assert_allclose(p.value(p.x_star), p.f_star, rtol=1e-12, atol=1e-12)
    locals_ = jax.vmap(p.local_value, in_axes=(None, 0))(p.x_star, nodes)
    np.testing.assert_allclose(locals_.mean(), p.f_star, rtol=1e-12, atol=1e-12)
    xs = _points(key, p, 20)
    assert bool(jnp.all(p.values(xs) >= p.f_star))


def test_values_match_value(problem64, key):
    p = problem64
    xs = _points(key, p, 6)
    expected = jnp.stack([p.value(x) for x in xs])
    np.testing.assert_allclose(p.values(xs), expected, rtol=1e-12, atol=1e-12)
    # The aggregated fast path must agree with the mean of the local functions.
    mean_local = _over_nodes_and_points(p.local_value, p, xs).mean(axis=0)
    np.testing.assert_allclose(p.values(xs), mean_local, rtol=1e-10, atol=1e-10)


def test_constants_bound_hessians(problem64, key):
    p = problem64
    hessians = _over_nodes_and_points(jax.hessian(p.local_value), p, _points(key, p, 3))
    eigs = np.linalg.eigvalsh(np.asarray(hessians))  # (n, k, d)
    assert eigs.max() <= float(p.L) * (1 + 1e-10)
    assert eigs.min() >= float(p.mu) * (1 - 1e-10)


def test_quadratic_constants(key, x64):
    p = quadratic(key, 5, 4, kappa=25.0, mu=0.2)
    np.testing.assert_allclose(p.L, 5.0, rtol=1e-14)
    np.testing.assert_allclose(p.mu, 0.2, rtol=1e-14)
    np.testing.assert_allclose(p.kappa, 25.0, rtol=1e-12)
    eigs = np.linalg.eigvalsh(np.asarray(p.A))
    np.testing.assert_allclose(eigs[:, 0], 0.2, rtol=1e-10)
    np.testing.assert_allclose(eigs[:, -1], 5.0, rtol=1e-10)
    # Local minima are 0 by construction, so f >= 0.
    local_min = jnp.linalg.solve(p.A, p.b[..., None])[..., 0]
    vals = jax.vmap(p.local_value)(local_min, jnp.arange(5))
    np.testing.assert_allclose(vals, 0.0, atol=1e-10)
    one_d = quadratic(key, 3, 1, kappa=4.0)
    np.testing.assert_allclose((one_d.L, one_d.mu), (4.0, 1.0), rtol=1e-14)


@pytest.mark.parametrize("shared_basis", [False, True])
def test_quadratic_drawn_in_node_blocks_equals_one_block(key, x64, monkeypatch, shared_basis):
    # Rotations and products are built in node blocks to bound memory at 10^6 nodes;
    # the draws and every array must not depend on the block size.
    module = importlib.import_module("jaxgossip.problems.quadratic")  # the name is shadowed

    whole = quadratic(key, 11, 3, shared_basis=shared_basis)
    monkeypatch.setattr(module, "_BLOCK", 4)
    blocked = quadratic(key, 11, 3, shared_basis=shared_basis)
    for name in ("A", "b", "c", "H", "A_inv", "x_star", "f_star"):
        np.testing.assert_array_equal(getattr(blocked, name), getattr(whole, name), err_msg=name)
    # The closed-form inverses are the inverses, and A exactly symmetric.
    A = np.asarray(whole.A)
    np.testing.assert_array_equal(A, np.swapaxes(A, 1, 2))
    np.testing.assert_allclose(
        np.asarray(whole.A_inv) @ A, np.broadcast_to(np.eye(3), A.shape), atol=1e-13
    )


def test_quadratic_homogeneous_minimizers_agree(key, x64):
    p = quadratic(key, 4, 3, heterogeneity=0.0)
    local_min = jnp.linalg.solve(p.A, p.b[..., None])[..., 0]
    np.testing.assert_allclose(local_min, jnp.broadcast_to(p.x_star, (4, 3)), atol=1e-10)


def test_quadratic_from_arrays_roundtrip(key, x64):
    p = quadratic(key, 3, 2)
    q = quadratic_from_arrays(p.A, p.b, p.c)
    assert isinstance(q, Quadratic)
    np.testing.assert_allclose(q.x_star, p.x_star, rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(q.f_star, p.f_star, rtol=1e-10, atol=1e-12)
    r = Quadratic.from_arrays(p.A, p.b)
    np.testing.assert_allclose(r.x_star, p.x_star, rtol=1e-12, atol=1e-12)


def test_default_dtype_is_float32(key):
    p = MAKERS["logistic"](key)
    assert p.x_star.dtype == jnp.float32 and p.features.dtype == jnp.float32
    q = MAKERS["quadratic"](key)
    assert q.A.dtype == jnp.float32
    # Instances are generated in float64 NumPy: same problem in both modes.
    np.testing.assert_allclose(q.L, 5.0, rtol=1e-6)


def test_jit_with_traced_node(key):
    p = MAKERS["least_squares"](key).with_batch_size(5)
    f = jax.jit(lambda prob, k, x, i: prob.local_grad(k, x, i))
    g = f(p, key, p.x_star, jnp.int32(2))
    assert g.shape == (D,) and g.dtype == jnp.float32


@pytest.mark.parametrize("kind", ["least_squares", "logistic"])
def test_minibatch_gradient_is_unbiased(kind, key, x64):
    p = MAKERS[kind](key)
    b = 3
    ps = p.with_batch_size(b)
    assert ps.batch_size == b and p.batch_size is None
    x = p.x_star + 1.0
    node = jnp.int32(1)
    full = p.local_grad(key, x, node)
    keys = jax.random.split(jax.random.key(1), 20_000)
    samples = jax.jit(jax.vmap(ps.local_grad, in_axes=(0, None, None)))(keys, x, node)
    assert float(jnp.std(samples, axis=0).min()) > 1e-3  # really stochastic
    mean = samples.mean(axis=0)
    stderr = samples.std(axis=0) / np.sqrt(len(keys))
    np.testing.assert_array_less(jnp.abs(mean - full), 5.0 * stderr)
    # The tolerance is tight enough to catch a biased sampler, e.g. one that
    # never draws the last index: its expectation sits outside 5 standard errors.
    per_sample = jax.vmap(lambda i: _single_sample_grad(p, x, node, i))(jnp.arange(M))
    np.testing.assert_allclose(per_sample.mean(axis=0), full, rtol=1e-10, atol=1e-10)
    biased = per_sample[:-1].mean(axis=0)
    assert bool(jnp.any(jnp.abs(biased - full) > 5.0 * stderr))


def _single_sample_grad(p, x, node, i):
    """Gradient of sample i of node's loss, plus the regularizer."""
    if isinstance(p, LeastSquares):
        a, y = p.A[node, i], p.b[node, i]
        return a * (a @ x - y) + p.reg * x
    assert isinstance(p, LogisticRegression)
    a, y = p.features[node, i], p.labels[node, i]
    return -y * jax.nn.sigmoid(-y * (a @ x)) * a + p.reg * x


@pytest.mark.parametrize("kind", ["least_squares", "logistic"])
def test_full_batch_size_is_exact(kind, key, x64):
    p = MAKERS[kind](key)
    x = p.x_star - 0.5
    for k in jax.random.split(key, 3):
        np.testing.assert_allclose(
            p.with_batch_size(M).local_grad(k, x, jnp.int32(0)),
            p.local_grad(k, x, jnp.int32(0)),
            rtol=0,
            atol=0,
        )


def test_logistic_labels_and_minimizer(key, x64):
    p = logistic_regression(key, N, D, M)
    assert set(np.unique(np.asarray(p.labels)).tolist()) == {-1.0, 1.0}
    np.testing.assert_allclose(p.mu, 0.01, rtol=1e-14)
    # {0, 1} labels map to {-1, +1} and give the same problem.
    q = logistic_regression_from_data(p.features, (np.asarray(p.labels) + 1) / 2, reg=0.01)
    np.testing.assert_allclose(q.x_star, p.x_star, rtol=1e-12, atol=1e-12)
    assert float(jnp.max(jnp.abs(p.grad(p.x_star)))) < 1e-12
    # Heterogeneity moves the local minimizers apart.
    homo = logistic_regression(key, N, D, 200, heterogeneity=0.0)
    het = logistic_regression(key, N, D, 200, heterogeneity=3.0)

    def grad_spread(prob):
        nodes = jnp.arange(N, dtype=jnp.int32)
        g = jax.vmap(prob.local_grad, in_axes=(None, None, 0))(key, prob.x_star, nodes)
        return float(jnp.linalg.norm(g, axis=1).mean())

    assert grad_spread(het) > 3.0 * grad_spread(homo)


def test_partition(key):
    total, d = 103, 2
    labels = np.repeat(np.arange(4), [26, 26, 26, 25])
    features = np.column_stack([labels, np.arange(total)]).astype(np.float32)
    f_iid, y_iid = partition(key, features, labels, 4, iid=True)
    f_non, y_non = partition(key, features, labels, 4, iid=False)
    for f, y in ((f_iid, y_iid), (f_non, y_non)):
        assert f.shape == (4, 25, d) and y.shape == (4, 25)
        assert f.dtype == np.float32 and y.dtype == labels.dtype
        np.testing.assert_array_equal(f[..., 0], y)  # rows stay paired with labels
        assert len(np.unique(f[..., 1])) == 100  # no sample used twice
    majority = lambda y: np.mean([np.bincount(row).max() / len(row) for row in y])
    assert majority(y_non) >= 0.9
    assert majority(y_iid) < 0.7
    # Different keys shuffle differently; the same key reproduces.
    np.testing.assert_array_equal(partition(key, features, labels, 4)[0], f_iid)
    assert not np.array_equal(partition(jax.random.key(5), features, labels, 4)[0], f_iid)


def test_partition_feeds_logistic(key):
    features = np.asarray(jax.random.normal(key, (50, 3)))
    labels = (features[:, 0] > 0).astype(np.int32)
    f, y = partition(key, features, labels, 5, iid=False)
    p = logistic_regression_from_data(f, y, batch_size=2)
    assert p.num_nodes == 5 and p.num_samples == 10 and p.dim == 3


@pytest.mark.parametrize(
    ("make", "match"),
    [
        (lambda k: quadratic(k, 0, 3), "num_nodes"),
        (lambda k: quadratic(k, 2, 0), "dim"),
        (lambda k: quadratic(k, 2, 3, kappa=0.5), "kappa"),
        (lambda k: quadratic(k, 2, 3, mu=0.0), "mu"),
        (lambda k: quadratic(k, 2, 3, heterogeneity=-1.0), "heterogeneity"),
        (lambda k: quadratic_from_arrays(np.ones((2, 3, 3)), np.ones((2, 3))), "positive definite"),
        (
            lambda k: quadratic_from_arrays(np.triu(np.ones((2, 3, 3))), np.ones((2, 3))),
            "symmetric",
        ),
        (lambda k: quadratic_from_arrays(np.stack([np.eye(3)] * 2), np.ones((2, 4))), "b must"),
        (lambda k: least_squares(np.ones((2, 5, 3)), np.ones((2, 5))), "reg > 0"),
        (lambda k: least_squares(np.ones((2, 5)), np.ones((2, 5))), "A must have 3"),
        (lambda k: least_squares(np.ones((2, 5, 3)), np.ones((2, 4)), reg=1.0), "b must"),
        (lambda k: least_squares(np.ones((2, 5, 3)), np.ones((2, 5)), reg=-1.0), "reg"),
        (lambda k: _least_squares(k, reg=0.1, batch_size=M + 1), "batch_size"),
        (lambda k: _least_squares(k, reg=0.1).with_batch_size(0), "batch_size"),
        (lambda k: logistic_regression(k, 2, 3, 10, reg=0.0), "reg must be > 0"),
        (lambda k: logistic_regression(k, 2, 3, 0), "samples_per_node"),
        (lambda k: logistic_regression(k, 2, 3, 10, batch_size=11), "batch_size"),
        (
            lambda k: logistic_regression_from_data(np.ones((2, 4, 3)), np.full((2, 4), 2.0)),
            "labels must be in",
        ),
        (
            lambda k: logistic_regression_from_data(np.ones((2, 4, 3)), np.ones((2, 5))),
            "labels must have shape",
        ),
        (lambda k: partition(k, np.ones((3, 2)), np.ones(3), 4), "cannot split"),
        (lambda k: partition(k, np.ones((3, 2)), np.ones(4), 1), "labels must have shape"),
        (lambda k: partition(k, np.ones(3), np.ones(3), 1), "features must have shape"),
    ],
)
def test_bad_inputs(make, match, key):
    with pytest.raises(ValueError, match=match):
        make(key)


def test_shared_basis_quadratic_has_the_condition_number_of_its_average():
    with jax.enable_x64(True):
        for kappa in (10.0, 1000.0):
            shared = quadratic(jax.random.key(0), 8, 4, kappa=kappa, shared_basis=True)
            eigs = np.linalg.eigvalsh(np.asarray(shared.A).mean(0))
            np.testing.assert_allclose(eigs.max() / eigs.min(), kappa, rtol=1e-10)
        rotated = quadratic(jax.random.key(0), 8, 4, kappa=1000.0)
        eigs = np.linalg.eigvalsh(np.asarray(rotated.A).mean(0))
        assert eigs.max() / eigs.min() < 100  # independent bases average the spectrum out


# --- logistic regression's conjugate gradient (damped Newton) ---------------------


def _relative_residuals(p, xs, ys, nodes):
    """|grad f_i(x) - y| / |y| per row, the gradient in float64 NumPy: xs, ys (k, d)."""
    a, labels = np.asarray(p.features, np.float64), np.asarray(p.labels, np.float64)
    xs, ys = np.asarray(xs, np.float64), np.asarray(ys, np.float64)
    out = []
    for x, y, i in zip(xs, ys, np.asarray(nodes)):
        weights = -labels[i] * 0.5 * (1.0 - np.tanh(0.5 * labels[i] * (a[i] @ x)))
        grad = a[i].T @ weights / a.shape[1] + float(p.reg) * x
        out.append(np.linalg.norm(grad - y) / np.linalg.norm(y))
    return np.array(out)


@pytest.mark.parametrize("reg", [0.1, 1e-3])
def test_logistic_conjugate_grad_inverts_the_local_gradient(key, x64, reg):
    # grad f_i is onto R^d (reg > 0): any y, small or far outside the loss
    # gradients' range (|y| = 1e4: x ~ y / reg, every sample saturated).
    p = logistic_regression(key, N, D, M, reg=reg, heterogeneity=1.0)
    scales = jnp.repeat(jnp.array([1e-2, 1.0, 30.0, 1e4]), 2 * N)  # (8 N,)
    ys = scales[:, None] * jax.random.normal(jax.random.key(1), (scales.size, D))
    nodes = jnp.arange(scales.size, dtype=jnp.int32) % N
    solve = jax.jit(jax.vmap(p.local_conjugate_grad))
    xs = solve(ys, nodes)
    assert _relative_residuals(p, xs, ys, nodes).max() < 1e-10
    # At y = grad f_i(x*) it returns x*.
    at_optimum = jax.vmap(lambda i: p.local_grad(key, p.x_star, i))(jnp.arange(N))
    np.testing.assert_allclose(
        solve(at_optimum, jnp.arange(N, dtype=jnp.int32)),
        jnp.broadcast_to(p.x_star, (N, D)),
        rtol=1e-10,
        atol=1e-10,
    )


def test_logistic_conjugate_grad_matches_an_independent_solver(key, x64):
    from tests.reference import logistic_conjugate_gradient

    p = logistic_regression(key, N, D, M, reg=0.05, heterogeneity=1.0)
    reference = logistic_conjugate_gradient(p)  # scipy's hybrid Powell root finder
    scales = jnp.array([0.1, 0.1, 1.0, 1.0, 5.0, 5.0])[:, None]
    ys = scales * jax.random.normal(jax.random.key(2), (6, D))
    solve = jax.jit(lambda y, i: p.local_conjugate_grad(y, i))
    for k, y in enumerate(ys):
        want = reference(k % N, np.asarray(y))
        np.testing.assert_allclose(solve(y, k % N), want, rtol=1e-10, atol=1e-12)


def test_logistic_conjugate_grad_vmaps_over_nodes_and_points(key, x64):
    p = logistic_regression(key, N, D, M, reg=0.05, heterogeneity=1.0)
    ys = jax.random.normal(jax.random.key(3), (5, D))
    nodes = jnp.arange(N, dtype=jnp.int32)
    grid = _over_nodes_and_points(p.local_conjugate_grad, p, ys)  # (n, k, d)
    single = jax.jit(lambda y, i: p.local_conjugate_grad(y, i))
    for i in range(N):
        for k in range(ys.shape[0]):
            np.testing.assert_allclose(grid[i, k], single(ys[k], nodes[i]), rtol=1e-12, atol=1e-14)
    residuals = _relative_residuals(
        p, grid.reshape(-1, D), jnp.tile(ys, (N, 1)), jnp.repeat(nodes, ys.shape[0])
    )
    assert residuals.max() < 1e-10


def test_logistic_conjugate_grad_in_float32(key):
    p = logistic_regression(key, N, D, M, reg=0.1, heterogeneity=1.0)
    ys = jax.random.normal(jax.random.key(4), (4 * N, D))
    nodes = jnp.arange(4 * N, dtype=jnp.int32) % N
    xs = jax.jit(jax.vmap(p.local_conjugate_grad))(ys, nodes)
    assert xs.dtype == jnp.float32 and bool(jnp.all(jnp.isfinite(xs)))
    assert _relative_residuals(p, xs, ys, nodes).max() < 1e-4
