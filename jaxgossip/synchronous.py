"""The synchronous engine: whole-network rounds, for the optimal baselines.

A synchronous algorithm advances the whole network one round at a time: in a
typical round every node computes one local gradient and then takes one gossip
step with its neighbours. The state is one pytree whose per-node leaves have a
leading node axis (n, ...), as in the asynchronous engine; a round is written
on the whole network (it is matrix algebra: W @ X, gradients of every row),
and reports its own cost as a ``RoundCost``.

Gossip matrices are ``Mixing`` objects: a symmetric, doubly stochastic W stored
as its edge weights and applied in O(E d) with ``jax.ops.segment_sum``, never
as a dense (n, n) matrix. ``simulate_rounds`` runs a ``lax.scan`` over rounds,
records the same metrics as ``jaxgossip.simulate`` into the same ``Trace``,
and is compiled once per shape: hyperparameters are array leaves of the
algorithm, so new values reuse the compiled run and ``jax.vmap`` sweeps them.

A network that changes every round is a ``TimeVaryingMixing`` (K gossip
matrices on their union graph, cycled): round r sees ``mixing.at(r)``, a plain
``Mixing`` whose eigenvalues are the worst case over the sequence. Only
algorithms whose ``time_varying`` class flag is set (their theory covers it:
D-SGD, DIGing, ADOM+, and the centralized references, which ignore the
network) accept one.

Keys: ``simulate_rounds(key, ...)`` hands ``init`` an oracle keyed by
``init_key(key)`` and round r an oracle keyed by ``round_key(key, r)``; the
gradient of node i in that round uses ``jax.random.fold_in(oracle.key, i)``.
"""

from __future__ import annotations

import functools
from typing import Any, ClassVar, NamedTuple

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np

from jaxgossip.graphs import Graph, _weights, laplacian, union
from jaxgossip.problems.base import Problem
from jaxgossip.simulate import Trace, _initial_points, check_run_sizes, network_metrics

State = Any  # an algorithm's network state: a pytree, per-node leaves (n, ...)


def init_key(key: jax.Array) -> jax.Array:
    """The key of the oracle handed to ``SyncAlgorithm.init`` by ``simulate_rounds(key, ...)``."""
    return jax.random.split(key)[0]


def round_key(key: jax.Array, r) -> jax.Array:
    """The key of round r's oracle in ``simulate_rounds(key, ...)`` (r = 0, 1, ...)."""
    return jax.random.fold_in(jax.random.split(key)[1], r)


class Oracle(NamedTuple):
    """Gradient access for one round. Node i's randomness is ``fold_in(key, i)``.

    Deterministic problems ignore the key; for minibatch problems, every call
    within a round with the same node draws the same minibatch.
    """

    problem: Problem
    key: jax.Array  # this round's key

    def grads(self, xs: jax.Array) -> jax.Array:
        """Every node's local gradient at its own row: xs (n, d) -> (n, d)."""
        nodes = jnp.arange(self.problem.num_nodes)
        return jax.vmap(self.grad)(xs, nodes)

    def grad(self, x: jax.Array, node) -> jax.Array:
        """The gradient of one component f_node at x: (d,), int node -> (d,)."""
        return self.problem.local_grad(jax.random.fold_in(self.key, node), x, node)

    def full_grad(self, x: jax.Array) -> jax.Array:
        """The gradient of f = mean_i f_i at x (n component gradients): (d,) -> (d,)."""
        nodes = jnp.arange(self.problem.num_nodes)
        return jnp.mean(jax.vmap(self.grad, in_axes=(None, 0))(x, nodes), axis=0)


def neighbor_sum(graph: Graph, xs: jax.Array, weights: jax.Array | None = None) -> jax.Array:
    """(A @ xs) for the (weighted) adjacency A of ``graph``: xs (n, d) -> (n, d), O(E d).

    ``weights`` (E,) gives A_ij = A_ji = weights[e] on edge e = (i, j); ones when None.
    """
    n = graph.num_nodes
    from_receivers, from_senders = xs[graph.receivers], xs[graph.senders]  # (E, d)
    if weights is not None:
        from_receivers = weights[:, None] * from_receivers
        from_senders = weights[:, None] * from_senders
    return jax.ops.segment_sum(from_receivers, graph.senders, num_segments=n) + (
        jax.ops.segment_sum(from_senders, graph.receivers, num_segments=n)
    )


class Mixing(eqx.Module):
    """A symmetric gossip matrix W on ``graph``, applied in O(E d).

    W_ij = W_ji = weights[e] on edge e = (i, j), W_ii = self_weights[i], zero
    elsewhere. The constructors below make W doubly stochastic; its spectrum is
    summarized by the eigenvalues of I - W (computed in NumPy float64 at
    construction): 0 once (connected graph), then lambda_2 <= ... <= lambda_max.

    Attributes:
      graph: the communication graph.
      weights: (E,) off-diagonal weights w_ij = w_ji, aligned with graph.senders.
      self_weights: (n,) diagonal w_ii.
      lambda_2: () smallest nonzero eigenvalue of I - W (the spectral gap).
      lambda_max: () largest eigenvalue of I - W (< 2 for a convergent W).
    """

    graph: Graph
    weights: jax.Array  # (E,)
    self_weights: jax.Array  # (n,)
    lambda_2: jax.Array  # ()
    lambda_max: jax.Array  # ()
    # Edges of nonzero weight, when some of the graph's are off (a round of a
    # time-varying network on the union graph); None: all of them.
    active_edges: jax.Array | None = None

    @property
    def num_nodes(self) -> int:
        return self.graph.num_nodes

    @property
    def num_links(self):
        """Edges one gossip step uses: communications per step (an int, or traced)."""
        return self.graph.num_edges if self.active_edges is None else self.active_edges

    @property
    def eigenvalues(self) -> tuple[jax.Array, jax.Array]:
        """(lambda_2, lambda_max) of I - W."""
        return self.lambda_2, self.lambda_max

    def apply(self, xs: jax.Array) -> jax.Array:
        """W @ xs: (n, d) -> (n, d)."""
        return self.self_weights[:, None] * xs + neighbor_sum(self.graph, xs, self.weights)

    def laplacian_apply(self, xs: jax.Array) -> jax.Array:
        """(I - W) @ xs = sum_j w_ij (x_i - x_j): (n, d) -> (n, d).

        Computed from edge differences (for a stochastic W), not as xs - W xs,
        so it stays accurate near consensus.
        """
        n = self.graph.num_nodes
        diff = self.weights[:, None] * (xs[self.graph.senders] - xs[self.graph.receivers])
        return jax.ops.segment_sum(diff, self.graph.senders, num_segments=n) - (
            jax.ops.segment_sum(diff, self.graph.receivers, num_segments=n)
        )

    def to_dense(self) -> np.ndarray:
        """(n, n) float64 NumPy copy of W (for tests and set-up computations)."""
        return _dense(self.graph, np.asarray(self.weights), np.asarray(self.self_weights))


def _dense(graph: Graph, weights: np.ndarray, self_weights: np.ndarray) -> np.ndarray:
    e = graph.edges()
    w = np.diag(np.asarray(self_weights, np.float64))
    w[e[:, 0], e[:, 1]] = weights
    w[e[:, 1], e[:, 0]] = weights
    return w


def mixing_from_weights(graph: Graph, weights, self_weights) -> Mixing:
    """A ``Mixing`` from edge weights (E,) and self weights (n,) (NumPy set-up).

    The eigenvalues of I - W are computed here; W is not checked to be
    stochastic.
    """
    weights = np.asarray(weights, np.float64)
    self_weights = np.asarray(self_weights, np.float64)
    spectrum = np.linalg.eigvalsh(np.eye(graph.num_nodes) - _dense(graph, weights, self_weights))
    dtype = jnp.result_type(float)
    return Mixing(
        graph=graph,
        weights=jnp.asarray(weights, dtype),
        self_weights=jnp.asarray(self_weights, dtype),
        lambda_2=jnp.asarray(spectrum[1], dtype),
        lambda_max=jnp.asarray(spectrum[-1], dtype),
    )


def metropolis_mixing(graph: Graph) -> Mixing:
    """Metropolis–Hastings weights w_ij = 1 / (1 + max(deg_i, deg_j)), w_ii = 1 - sum_j w_ij.

    Symmetric and doubly stochastic with positive diagonal, so its eigenvalues
    lie in (-1, 1] (L. Xiao, S. Boyd, "Fast linear iterations for distributed
    averaging", Systems & Control Letters 53, 2004).
    """
    deg = graph.degrees()
    e = graph.edges()
    w = 1.0 / (1.0 + np.maximum(deg[e[:, 0]], deg[e[:, 1]]))
    row = np.zeros(graph.num_nodes)
    np.add.at(row, e[:, 0], w)
    np.add.at(row, e[:, 1], w)
    return mixing_from_weights(graph, w, 1.0 - row)


def laplacian_mixing(graph: Graph, weights=None) -> Mixing:
    """W = I - L / lambda_max(L) for the (optionally weighted) Laplacian L.

    Then I - W = L / lambda_max(L) has eigenvalues in (0, 1] besides the zero
    one, and W is symmetric, doubly stochastic and positive semidefinite.

    Args:
      graph: the graph.
      weights: optional (E,) nonnegative edge weights of L; ones when None.
    """
    w = _weights(graph, weights)
    scale = np.linalg.eigvalsh(laplacian(graph, w))[-1]
    e = graph.edges()
    degree = np.zeros(graph.num_nodes)
    np.add.at(degree, e[:, 0], w)
    np.add.at(degree, e[:, 1], w)
    return mixing_from_weights(graph, w / scale, 1.0 - degree / scale)


class TimeVaryingMixing(eqx.Module):
    """A network that changes every round: W(r) = W_{r mod K} for K gossip matrices.

    All K matrices live on one union graph (an edge absent from a round has
    weight 0 there, and is not counted as a communication). ``at(r)`` is the
    ``Mixing`` of round r; its eigenvalue leaves are the worst case over the
    sequence, lambda_2 = min_k lambda_2(W_k) and lambda_max = max_k
    lambda_max(W_k), the bounds that theory for time-varying networks assumes
    (e.g. chi = lambda_max / lambda_2 in Kovalev et al., NeurIPS 2021), so an
    algorithm configured from them (``from_theory``) is valid at every round.
    Build it with ``time_varying_mixing``; ``simulate_rounds`` accepts it for
    algorithms whose ``time_varying`` is True.
    """

    graph: Graph  # the union graph
    weights: jax.Array  # (K, E)
    self_weights: jax.Array  # (K, n)
    active_edges: jax.Array  # (K,) int32, edges of nonzero weight per matrix
    lambda_2: jax.Array  # () min over the sequence
    lambda_max: jax.Array  # () max over the sequence

    @property
    def num_nodes(self) -> int:
        return self.graph.num_nodes

    @property
    def num_matrices(self) -> int:
        return self.weights.shape[0]

    @property
    def eigenvalues(self) -> tuple[jax.Array, jax.Array]:
        return self.lambda_2, self.lambda_max

    def at(self, r) -> Mixing:
        """The ``Mixing`` of round r (traceable r), with the worst-case eigenvalues."""
        k = jnp.asarray(r) % self.num_matrices
        return Mixing(
            graph=self.graph,
            weights=self.weights[k],
            self_weights=self.self_weights[k],
            lambda_2=self.lambda_2,
            lambda_max=self.lambda_max,
            active_edges=self.active_edges[k],
        )


def time_varying_mixing(mixings) -> TimeVaryingMixing:
    """The ``TimeVaryingMixing`` cycling through ``mixings`` (a sequence of ``Mixing``).

    Their graphs must have the same nodes; each need not be the same graph, but
    each must be connected (their own constructors check it).

    Raises:
      ValueError: no matrix, or matrices of different sizes.
    """
    mixings = list(mixings)
    if not mixings or not all(isinstance(m, Mixing) for m in mixings):
        raise ValueError("time_varying_mixing: give a non-empty sequence of Mixing objects.")
    graph, positions = union([m.graph for m in mixings])
    weights = np.zeros((len(mixings), graph.num_edges))
    for k, (m, where) in enumerate(zip(mixings, positions)):
        weights[k, where] = np.asarray(m.weights, np.float64)
    dtype = jnp.result_type(float)
    return TimeVaryingMixing(
        graph=graph,
        weights=jnp.asarray(weights, dtype),
        self_weights=jnp.stack([jnp.asarray(m.self_weights, dtype) for m in mixings]),
        active_edges=jnp.asarray((weights != 0).sum(axis=1), jnp.int32),
        lambda_2=jnp.asarray(min(float(m.lambda_2) for m in mixings), dtype),
        lambda_max=jnp.asarray(max(float(m.lambda_max) for m in mixings), dtype),
    )


class RoundCost(NamedTuple):
    """What one round cost."""

    computations: jax.Array  # int32 (): gradient computations (n per local gradient at every node)
    communications: jax.Array  # int32 (): messages, |E| per gossip step (each edge exchanges once)


def round_cost(computations, communications) -> RoundCost:
    """A ``RoundCost`` from (possibly Python) integers."""
    return RoundCost(
        computations=jnp.asarray(computations, jnp.int32),
        communications=jnp.asarray(communications, jnp.int32),
    )


class SyncAlgorithm(eqx.Module):
    """Base class of synchronous (round-based) algorithms.

    Subclasses hold numeric hyperparameters as array leaves
    (``eqx.field(converter=hyperparameter)``), and define ``init``, ``round``
    and usually ``params``; ``from_theory(problem, mixing)`` gives the paper's
    (or a documented) configuration.
    """

    # True when the method converges to x* exactly with constant parameters.
    exact: ClassVar[bool] = False
    # True when the method's theory covers networks that change every round
    # (TimeVaryingMixing); simulate_rounds refuses the others on such networks.
    time_varying: ClassVar[bool] = False

    @classmethod
    def from_theory(cls, problem: Problem, mixing: Mixing) -> SyncAlgorithm:
        """The algorithm configured from problem.L, problem.mu and the mixing eigenvalues."""
        raise NotImplementedError(f"{cls.__name__} does not define from_theory.")

    def init(self, xs0: jax.Array, oracle: Oracle, mixing: Mixing) -> State:
        """The network state from initial points xs0 (n, d)."""
        del oracle, mixing
        return xs0

    def params(self, state: State) -> jax.Array:
        """The iterates (n, d) metrics are computed on."""
        return state

    def round(self, state: State, oracle: Oracle, mixing: Mixing) -> tuple[State, RoundCost]:
        """One synchronous round: the new state and what it cost."""
        raise NotImplementedError(f"{type(self).__name__} does not define round.")

    def message_floats(self, dim: int) -> int:
        """Floats exchanged by one communication (both directions of an edge together)."""
        return 2 * dim


def _metrics(algorithm: SyncAlgorithm, problem: Problem, state) -> dict[str, jax.Array]:
    return network_metrics(problem, algorithm.params(state), state)


@functools.partial(jax.jit, static_argnames=("num_rounds", "num_records"))
def simulate_rounds(
    key: jax.Array,
    algorithm: SyncAlgorithm,
    problem: Problem,
    mixing: Mixing | TimeVaryingMixing,
    *,
    num_rounds: int,
    num_records: int,
    x0=None,
) -> Trace:
    """Runs ``num_rounds`` synchronous rounds of ``algorithm`` and records metrics.

    Compiled once per shape: new hyperparameter values, keys, initial points
    or mixing weights reuse the compiled run, and the whole function can be
    ``jax.vmap``-ed over any of them.

    Args:
      key: a JAX PRNG key (see ``init_key`` and ``round_key``).
      algorithm: a ``SyncAlgorithm`` (hyperparameters are array leaves).
      problem: a ``Problem`` with ``num_nodes == mixing.num_nodes``.
      mixing: the gossip matrix and its graph, or a ``TimeVaryingMixing``
        (round r uses ``mixing.at(r)``; only for algorithms with ``time_varying``).
      num_rounds: rounds to run (static), a positive multiple of num_records.
      num_records: records after the initial one (static); record r follows
        r * num_rounds / num_records rounds.
      x0: optional initial point, (dim,) for all nodes or (n, dim); zeros by default.

    Returns:
      A ``Trace``: ``time`` is the number of rounds done (float),
      ``num_computations`` / ``num_communications`` sum the rounds' ``RoundCost``,
      ``bytes_sent`` = communications * message_floats(dim) * itemsize.
    """
    n, dim = mixing.num_nodes, problem.dim
    check_run_sizes("simulate_rounds", problem, n, "num_rounds", num_rounds, num_records)
    per_record = num_rounds // num_records
    dtype = problem.x_star.dtype
    xs0 = _initial_points(x0, n, dim, dtype)
    varying = isinstance(mixing, TimeVaryingMixing)
    if varying and not algorithm.time_varying:
        raise ValueError(
            f"simulate_rounds: {type(algorithm).__name__} is not meant for time-varying "
            "networks (its time_varying is False); give it a fixed Mixing."
        )
    state = algorithm.init(xs0, Oracle(problem, init_key(key)), mixing.at(0) if varying else mixing)
    _, run_key = jax.random.split(key)

    def one_round(carry, r):
        state, computations, communications = carry
        oracle = Oracle(problem, jax.random.fold_in(run_key, r))
        state, cost = algorithm.round(state, oracle, mixing.at(r) if varying else mixing)
        computations = computations + jnp.asarray(cost.computations, jnp.int32)
        communications = communications + jnp.asarray(cost.communications, jnp.int32)
        return (state, computations, communications), None

    def one_record(carry, record):
        state, diverged = carry
        zero = jnp.zeros((), jnp.int32)
        rounds = record * per_record + jnp.arange(per_record)
        (state, computations, communications), _ = jax.lax.scan(
            one_round, (state, zero, zero), rounds
        )
        metrics = _metrics(algorithm, problem, state)
        metrics["diverged"] = metrics["diverged"] | diverged
        metrics["num_computations"] = computations
        metrics["num_communications"] = communications
        return (state, metrics["diverged"]), metrics

    initial = _metrics(algorithm, problem, state)
    (state, _), records = jax.lax.scan(
        one_record, (state, initial["diverged"]), jnp.arange(num_records)
    )

    def with_initial(name, value):
        return jnp.concatenate([jnp.asarray(value, records[name].dtype)[None], records[name]])

    num_computations = jnp.cumsum(with_initial("num_computations", 0))
    num_communications = jnp.cumsum(with_initial("num_communications", 0))
    bytes_per_message = algorithm.message_floats(dim) * dtype.itemsize
    return Trace(
        time=jnp.arange(num_records + 1, dtype=dtype) * per_record,
        num_computations=num_computations,
        num_communications=num_communications,
        bytes_sent=num_communications.astype(dtype) * bytes_per_message,
        suboptimality=with_initial("suboptimality", initial["suboptimality"]),
        mean_suboptimality=with_initial("mean_suboptimality", initial["mean_suboptimality"]),
        consensus=with_initial("consensus", initial["consensus"]),
        diverged=with_initial("diverged", initial["diverged"]),
        final_state=state,
    )
