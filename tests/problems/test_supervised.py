"""Learning problems: the model as a problem, its metrics, and runs on both engines."""

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest

import jaxgossip as jg
from jaxgossip.algorithms.local_optimizer import OptimizerState
from jaxgossip.network.clocks import COMPUTE
from jaxgossip.problems.supervised import NotConvexError

NUM_NODES, NUM_CLASSES, FEATURES, HIDDEN = 6, 3, 5, 8


def _data(seed=0, num=240):
    """Three Gaussian blobs in 5 dimensions, labels 0..2, a train and a test split."""
    rng = np.random.default_rng(seed)
    labels = rng.integers(0, NUM_CLASSES, num)
    centres = rng.normal(size=(NUM_CLASSES, FEATURES)) * 2.0
    features = centres[labels] + rng.normal(size=(num, FEATURES))
    return jg.datasets.from_arrays(features, labels, test_fraction=0.25, seed=seed)


def _params(seed=1):
    rng = np.random.default_rng(seed)
    return {
        "w1": rng.normal(size=(FEATURES, HIDDEN)) / np.sqrt(FEATURES),
        "b1": np.zeros(HIDDEN),
        "w2": rng.normal(size=(HIDDEN, NUM_CLASSES)) / np.sqrt(HIDDEN),
        "b2": np.zeros(NUM_CLASSES),
    }


def _apply(params, x):
    return jnp.tanh(x @ params["w1"] + params["b1"]) @ params["w2"] + params["b2"]


def _problem(by="dirichlet", batch_size=4, **options):
    data = _data()
    shards = jg.problems.split(
        data.train, NUM_NODES, by=by, alpha=0.5 if by == "dirichlet" else None
    )
    params = jax.tree.map(jnp.asarray, _params())
    return jg.problems.supervised(
        _apply, "softmax_cross_entropy", shards, test=data.test, batch_size=batch_size,
        params=params, **options,
    )  # fmt: skip


def _clocks():
    return jg.Clocks(jg.graphs.ring(NUM_NODES), compute_rate=1.0, comm_rate=1.0)


# --- the problem -------------------------------------------------------------------


def test_flat_parameters_round_trip_and_padding_is_masked(x64):
    problem = _problem()
    params = _params()
    flat = problem.start[0]
    assert problem.dim == sum(v.size for v in params.values())
    np.testing.assert_array_equal(problem.start, np.broadcast_to(flat, problem.start.shape))
    back = problem.unravel(flat)
    for name in params:
        np.testing.assert_array_equal(back[name], params[name])
    # f_i is the mean over the node's own samples only, whatever the padding.
    counts = np.asarray(problem.counts)
    assert len(set(counts)) > 1  # a Dirichlet split: unequal shards
    for node in range(NUM_NODES):
        features = np.asarray(problem.features[node, : counts[node]])
        labels = np.asarray(problem.labels[node, : counts[node]])
        logits = _apply(back, features)
        want = np.mean(optax.softmax_cross_entropy_with_integer_labels(logits, labels))
        np.testing.assert_allclose(problem.local_value(flat, node), want, rtol=1e-12)


def test_minibatch_gradient_draws_from_the_nodes_own_samples(x64):
    problem = _problem(batch_size=5)
    x, node, key = problem.start[0], 2, jax.random.key(4)
    count = int(problem.counts[node])
    idx = np.asarray(jax.random.randint(key, (5,), 0, count))
    feats, labels = problem.features[node, idx], problem.labels[node, idx]

    def loss(x):
        logits = _apply(problem.unravel(x), feats)
        return jnp.mean(optax.softmax_cross_entropy_with_integer_labels(logits, labels))

    np.testing.assert_allclose(problem.local_grad(key, x, node), jax.grad(loss)(x), rtol=1e-12)
    full = problem.with_batch_size(None)
    np.testing.assert_allclose(
        full.local_grad(key, x, node), jax.grad(full.local_value)(x, node), rtol=1e-12
    )


def test_convex_constants_and_theory_are_refused_with_what_to_give():
    problem = _problem()
    assert problem.convex is False
    for name in ("L", "mu", "x_star", "f_star"):
        with pytest.raises(NotConvexError, match="not convex"):
            getattr(problem, name)
    with pytest.raises(ValueError, match=r"AsyncGossipSGD\(step_size=\.\.\.\)"):
        jg.algorithms.AsyncGossipSGD.from_theory(problem, _clocks())
    with pytest.raises(ValueError, match=r"A2CiD2\(step_size=\.\.\., eta=\.\.\."):
        jg.algorithms.A2CiD2.from_theory(problem, _clocks())
    mixing = jg.metropolis_mixing(jg.graphs.ring(NUM_NODES))
    with pytest.raises(ValueError, match=r"DSGD\(step_size=\.\.\.\)"):
        jg.algorithms.synchronous.DSGD.from_theory(problem, mixing)
    with pytest.raises(ValueError, match="convex"):
        jg.theory.report(problem, _clocks())
    jg.check_precision(problem, 1e-30, "test")  # no f*, no floor: silent


def test_metrics_are_the_problems_and_per_node_ones_can_be_skipped(key, x64):
    problem = _problem()
    algorithm = jg.algorithms.AsyncGossipSGD(step_size=0.1)
    trace = jg.simulate(key, algorithm, problem, _clocks(), num_events=600, num_records=3)
    assert trace.suboptimality is None and trace.mean_suboptimality is None
    assert set(trace.metrics) == set(problem.metric_goals)
    assert problem.metric_goals["test_accuracy"] == "max"
    # The averaged model's test accuracy, recomputed by hand at the final state.
    x_bar = np.mean(np.asarray(trace.final_state), axis=0)
    logits = _apply(problem.unravel(jnp.asarray(x_bar)), problem.test_features)
    accuracy = np.mean(np.argmax(logits, -1) == np.asarray(problem.test_labels))
    np.testing.assert_allclose(trace.metrics["test_accuracy"][-1], accuracy, rtol=1e-12)
    per_node = np.mean(
        [
            np.mean(np.argmax(_apply(problem.unravel(x), problem.test_features), -1)
                    == np.asarray(problem.test_labels))
            for x in trace.final_state
        ]
    )  # fmt: skip
    np.testing.assert_allclose(trace.metrics["node_test_accuracy"][-1], per_node, rtol=1e-12)
    skipped = jg.simulate(
        key, algorithm, problem, _clocks(), num_events=600, num_records=3, node_suboptimality=False
    )
    assert np.all(np.isnan(skipped.metrics["node_test_accuracy"]))
    assert not np.any(skipped.diverged)
    np.testing.assert_array_equal(skipped.metrics["test_loss"], trace.metrics["test_loss"])


def test_per_node_initialisation_draws_one_model_per_node(key):
    data = _data()
    shards = jg.problems.split(data.train, NUM_NODES)
    factory = lambda k: eqx.nn.MLP(FEATURES, NUM_CLASSES, 8, 1, key=k)  # noqa: E731
    per_node = jg.problems.supervised(
        factory, "softmax_cross_entropy", shards, test=data.test, init="per_node", key=key
    )
    assert len({tuple(np.asarray(row[:4])) for row in per_node.start}) == NUM_NODES
    shared = jg.problems.supervised(factory(key), "softmax_cross_entropy", shards, test=data.test)
    assert np.all(np.asarray(shared.start) == np.asarray(shared.start[0]))
    with pytest.raises(ValueError, match="needs a key"):
        jg.problems.supervised(factory, "softmax_cross_entropy", shards, test=data.test)
    with pytest.raises(ValueError, match="unknown loss"):
        jg.problems.supervised(factory(key), "hinge", shards, test=data.test)


# --- runs ---------------------------------------------------------------------------


def _replay_momentum_gossip(problem, events, gradient_key, lr, momentum):
    """A plain loop over the events: the node's own momentum SGD step, pairwise
    averaging of the models only; gradients recomputed from the hand-written model."""
    x = np.array(problem.start, np.float64)
    buffers = np.zeros_like(x)
    counts = np.asarray(problem.counts)
    features, labels = np.asarray(problem.features), np.asarray(problem.labels)

    @jax.jit
    def gradient(x, feats, labs):
        def loss(x):
            logits = _apply(problem.unravel(x), feats)
            return jnp.mean(optax.softmax_cross_entropy_with_integer_labels(logits, labs))

        return jax.grad(loss)(x)

    kinds, nodes_i, nodes_j = (np.asarray(a) for a in (events.kind, events.i, events.j))
    for k in range(events.num_events):
        i, j = nodes_i[k], nodes_j[k]
        if kinds[k] == COMPUTE:
            key = jax.random.fold_in(gradient_key, k)
            idx = np.asarray(jax.random.randint(key, (problem.batch_size,), 0, counts[i]))
            g = np.asarray(gradient(x[i], features[i, idx], labels[i, idx]))
            buffers[i] = momentum * buffers[i] + g
            x[i] = x[i] - lr * buffers[i]
        else:
            x[i] = x[j] = 0.5 * (x[i] + x[j])
    return x, buffers


def test_learning_run_equals_a_plain_replay_of_the_same_events(key, x64):
    problem = _problem(batch_size=4)
    clocks = _clocks()
    events = jg.sample_events(jax.random.key(3), clocks, 400)
    lr, momentum = 0.1, 0.9
    algorithm = jg.algorithms.AsyncGossipSGD(optimizer=optax.sgd(lr, momentum=momentum))
    trace = jg.simulate(
        key, algorithm, problem, clocks, num_events=400, num_records=2, events=events
    )
    _, gradient_key = jg.split_key(key)
    x, buffers = _replay_momentum_gossip(problem, events, gradient_key, lr, momentum)
    assert isinstance(trace.final_state, OptimizerState)
    np.testing.assert_allclose(trace.final_state.x, x, rtol=1e-10, atol=1e-10)
    # Momentum buffers stay at their node: a communication never mixes them.
    (trace_buffer,) = [s.trace for s in trace.final_state.opt_state if hasattr(s, "trace")]
    np.testing.assert_allclose(trace_buffer, buffers, rtol=1e-10, atol=1e-10)


def test_communication_averages_models_and_keeps_optimizer_states():
    algorithm = jg.algorithms.AsyncGossipSGD(optimizer=optax.adam(0.01))
    a = algorithm.init(jnp.ones(3), None)
    b = algorithm.init(jnp.zeros(3), None)
    a = algorithm.on_compute(a, 0.0, lambda x: x)
    new_a, new_b = algorithm.on_communicate(a, b, 0.0, 0)
    np.testing.assert_array_equal(new_a.x, new_b.x)
    np.testing.assert_array_equal(new_a.x, 0.5 * (a.x + b.x))
    for got, want in zip(jax.tree.leaves(new_a.opt_state), jax.tree.leaves(a.opt_state)):
        np.testing.assert_array_equal(got, want)
    for got, want in zip(jax.tree.leaves(new_b.opt_state), jax.tree.leaves(b.opt_state)):
        np.testing.assert_array_equal(got, want)


def test_waves_equal_time_order_on_a_network_of_models(key, x64):
    data = _data(num=640)
    shards = jg.problems.split(data.train, 64)
    params = jax.tree.map(jnp.asarray, _params())
    problem = jg.problems.supervised(
        _apply, "softmax_cross_entropy", shards, test=data.test, batch_size=2, params=params
    )
    clocks = jg.Clocks(jg.graphs.ring(64), compute_rate=1.0, comm_rate=1.0)
    algorithm = jg.algorithms.AsyncGossipSGD(optimizer=optax.sgd(0.1, momentum=0.9))
    runs = [
        jg.simulate(key, algorithm, problem, clocks, num_events=2048, num_records=2, schedule=s)
        for s in ("sequential", "waves")
    ]
    np.testing.assert_allclose(runs[0].final_state.x, runs[1].final_state.x, rtol=0, atol=1e-13)
    np.testing.assert_allclose(
        runs[0].metrics["test_loss"], runs[1].metrics["test_loss"], rtol=1e-12
    )


def test_optax_sgd_step_equals_the_plain_step_bit_for_bit(key):
    problem = _problem()
    clocks = _clocks()
    mixing = jg.metropolis_mixing(clocks.graph)
    sync = jg.algorithms.synchronous

    def run(algorithm):
        if isinstance(algorithm, jg.algorithms.SyncAlgorithm):
            trace = jg.simulate_rounds(
                key, algorithm, problem, mixing, num_rounds=30, num_records=3
            )
        else:
            trace = jg.simulate(key, algorithm, problem, clocks, num_events=800, num_records=4)
        state = trace.final_state
        return np.asarray(getattr(state, "x", state))

    sweepable = jg.algorithms.optimizer(optax.sgd, learning_rate=0.05)
    plain = run(jg.algorithms.AsyncGossipSGD(step_size=0.05))
    for optimizer in (optax.sgd(0.05), sweepable):
        np.testing.assert_array_equal(run(jg.algorithms.AsyncGossipSGD(optimizer=optimizer)), plain)
    for cls in (jg.algorithms.ADPSGD, sync.DSGD, sync.AllReduceSGD):
        want = run(cls(step_size=0.05))
        np.testing.assert_array_equal(run(cls(optimizer=sweepable)), want, err_msg=cls.__name__)
    with pytest.raises(ValueError, match="exactly one"):
        jg.algorithms.AsyncGossipSGD(step_size=0.1, optimizer=optax.sgd(0.1))
    with pytest.raises(ValueError, match="exactly one"):
        jg.algorithms.AsyncGossipSGD()
    with pytest.raises(TypeError, match="optimizer must be"):
        jg.algorithms.AsyncGossipSGD(optimizer="sgd")


def test_vmapped_sweep_over_learning_rates_equals_single_runs(key, x64):
    problem = _problem()
    clocks = _clocks()
    rates = [0.02, 0.05, 0.2]

    def make(learning_rate):
        optimizer = jg.algorithms.optimizer(optax.sgd, learning_rate=learning_rate, momentum=0.9)
        return jg.algorithms.AsyncGossipSGD(optimizer=optimizer)

    ds = jg.sweep(
        make, problem, clocks, num_events=600, num_records=3, grid={"learning_rate": rates}
    )
    assert "test_accuracy" in ds and "suboptimality" not in ds
    for index, rate in enumerate(rates):
        trace = jg.simulate(
            jax.random.key(0), make(rate), problem, clocks, num_events=600, num_records=3
        )
        for name in ("test_loss", "train_accuracy", "node_test_loss"):
            np.testing.assert_allclose(
                ds[name].isel(learning_rate=index, seed=0), trace.metrics[name], rtol=1e-12
            )
    reached = jg.to_reach(ds, 0.0, metric="test_accuracy", by="num_computations")
    np.testing.assert_array_equal(reached, 0.0)  # goal "max": every run has accuracy >= 0


def test_digits_reach_ninety_percent_test_accuracy_with_iid_data(key):
    data = jg.datasets.digits()
    shards = jg.problems.split(data.train, 16, by="iid", key=key)
    model = eqx.nn.MLP(64, 10, width_size=32, depth=1, key=key)
    problem = jg.problems.supervised(
        model, jg.problems.losses.softmax_cross_entropy, shards, test=data.test, batch_size=16
    )
    algorithm = jg.algorithms.AsyncGossipSGD(optimizer=optax.sgd(0.1, momentum=0.9))
    clocks = jg.Clocks(jg.graphs.exponential(16), compute_rate=1.0, comm_rate=0.5)
    trace = jg.simulate(key, algorithm, problem, clocks, num_events=24_000, num_records=4)
    accuracy = np.asarray(trace.metrics["test_accuracy"])
    assert accuracy[0] < 0.3 and accuracy[-1] >= 0.9, accuracy


def test_convergence_plot_draws_learning_metrics(key, tmp_path):
    problem = _problem()
    algorithm = jg.algorithms.AsyncGossipSGD(step_size=0.1)
    trace = jg.simulate(key, algorithm, problem, _clocks(), num_events=300, num_records=3)
    fig = jg.plot_convergence(
        {"sgd": trace}, metric=("test_accuracy", "train_loss"), path=tmp_path / "f.png"
    )
    assert (tmp_path / "f.png").exists()
    top, bottom = fig.axes[0], fig.axes[len(fig.axes) // 2]
    assert top.get_yscale() == "linear" and bottom.get_yscale() == "log"
    np.testing.assert_allclose(top.get_lines()[0].get_ydata(), trace.metrics["test_accuracy"])
    with pytest.raises(ValueError, match="did not record 'suboptimality'"):
        jg.plot_convergence({"sgd": trace})
